"""Accounts, sign-in, roles and classification, checked in the library (where the data is).

The leak test gives a third of the demo library a higher level, some of it a group, and checks
for users at each clearance, with and without the group, that nothing above their access shows
on any surface (search, facets, near-duplicate hints, more-like-this, the library list, the
document page, dashboard counts, the review queue, the audit trail, packs), over random queries
and filters (hypothesis), and that what they may see still does."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from errors import (
    AccountError,
    AccountLocked,
    DocumentNotFound,
    PackError,
    PermissionDenied,
    SignInError,
)
from index import browse
from index.access import LEVELS, OPERATOR, Access
from index.accounts import create_user, reset_password, set_user, sign_in, sso_sign_in
from index.catalog import scope
from index.classification import set_document_access
from index.datadir import DataDir
from index.filters import Filters
from index.library import Store
from index.library.packs import add_passages, create_pack, get_pack, list_packs, share_pack
from index.review_audit import list_events
from index.reviews import pending_corrections, review_passage, review_queue
from index.search import Searcher
from ingest.markings import marking_of
from settings import Settings

SETTINGS = Settings()
QUERIES = (
    "rapid deployment lessons",
    "protection of civilians",
    "women peace and security",
    "SHIRBRIG",
    "training of police units",
    "conduct and discipline",
    "African Union partnership",
)


# -- accounts and sign-in --------------------------------------------------------------------------
def test_passwords_are_argon2id_hashes_never_logged(tmp_path: Path) -> None:
    store = Store(tmp_path / "lessons.db")
    _, password = create_user(store, "amina", roles=["reviewer"], clearance="confidential")
    assert password and len(password) >= 16
    raw = sqlite3.connect(tmp_path / "lessons.db")
    stored = raw.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and password not in stored
    dump = "\n".join(raw.iterdump())
    assert password not in dump  # not in the security log, nowhere
    access = sign_in(store, "amina", password, SETTINGS, client="10.0.0.7")
    assert access.username == "amina" and access.clearance == "confidential"
    events = [e.event for e in store.security_events()]
    assert events[0] == "sign_in" and "user_created" in events
    assert store.user("amina").last_sign_in is not None  # type: ignore[union-attr]


def test_wrong_password_lockout_and_disabled(tmp_path: Path) -> None:
    store = Store(tmp_path / "lessons.db")
    create_user(store, "lars", roles=["officer"], clearance="unclassified", password="x" * 12)
    with pytest.raises(SignInError, match="wrong username or password"):
        sign_in(store, "nobody", "x" * 12, SETTINGS)  # the same words as a wrong password
    for _ in range(4):
        with pytest.raises(SignInError, match="wrong username or password"):
            sign_in(store, "lars", "wrong", SETTINGS)
    with pytest.raises(AccountLocked):
        sign_in(store, "lars", "wrong", SETTINGS)  # the fifth failure locks
    with pytest.raises(AccountLocked):
        sign_in(store, "lars", "x" * 12, SETTINGS)  # even the right one, while locked
    assert "account_locked" in [e.event for e in store.security_events()]
    new = reset_password(store, "lars")  # an administrator's reset clears the lock
    assert sign_in(store, "lars", new, SETTINGS).username == "lars"
    set_user(store, "lars", disabled=True)
    with pytest.raises(SignInError, match="disabled"):
        sign_in(store, "lars", new, SETTINGS)


@pytest.mark.parametrize(
    "name", ["bad name", "ad\x00min", "tab\tbed", "new\nline", "", "ä" * 70, "-leading"]
)
def test_bad_usernames_are_refused_clearly(tmp_path: Path, name: str) -> None:
    store = Store(tmp_path / "lessons.db")
    with pytest.raises(AccountError, match="a username is"):
        create_user(store, name, roles=["officer"], clearance="unclassified")
    with pytest.raises(AccountError, match="unknown role"):
        create_user(store, "ok", roles=["wizard"], clearance="unclassified")
    with pytest.raises(AccountError, match="unknown classification"):
        create_user(store, "ok", roles=["officer"], clearance="secret")
    assert store.users() == []


def test_only_admins_manage_accounts(tmp_path: Path) -> None:
    store = Store(tmp_path / "lessons.db")
    officer = Access("lars", frozenset({"officer"}))
    with pytest.raises(PermissionDenied):
        create_user(store, "eve", roles=["admin"], clearance="unclassified", actor=officer)
    admin = Access("root", frozenset({"admin"}))
    create_user(store, "eve", roles=["officer"], clearance="unclassified", actor=admin)
    assert store.security_events()[0].actor == "root"


def test_single_sign_on_maps_the_email_to_an_account(tmp_path: Path) -> None:
    store = Store(tmp_path / "lessons.db")
    access = sso_sign_in(store, "fatou@example.org", "Fatou", SETTINGS)
    assert access.roles == frozenset({"officer"}) and access.clearance == "unclassified"
    again = sso_sign_in(store, "fatou@example.org", "Fatou", SETTINGS)
    assert again.username == access.username and len(store.users()) == 1
    closed = Settings(sso_create_accounts=False)
    with pytest.raises(SignInError, match="no account"):
        sso_sign_in(store, "eve@example.org", "Eve", closed)


# -- markings ------------------------------------------------------------------------------
def test_markings_are_stamped_lines_not_mentions() -> None:
    assert marking_of(["CONFIDENTIAL"]) == "confidential"
    assert marking_of(["STRICTLY CONFIDENTIAL – NOT FOR DISTRIBUTION"]) == "strictly_confidential"
    assert marking_of(["CONFIDENTIAL", "STRICTLY CONFIDENTIAL"]) == "strictly_confidential"
    assert marking_of(["The board kept its confidential sources."]) is None
    assert marking_of(["Confidential"]) is None  # not stamped in capitals
    assert (
        marking_of(["CONFIDENTIAL BRIEFING ON THE SITUATION IN THE REGION AND ITS NEIGHBOURS"])
        is None
    )


def test_a_marked_pdf_is_stored_at_its_marking_never_lower(tmp_path: Path) -> None:
    from fpdf import FPDF

    from pipeline import ingest_paths

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for page in range(2):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(0, 6, "CONFIDENTIAL", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for n in range(12):
            pdf.multi_cell(
                0,
                6,
                f"{page * 12 + n + 1}. The mission reviewed its convoy escort procedures after "
                "the ambush and agreed new liaison arrangements with the host-state police "
                "and the humanitarian country team.",
                new_x="LMARGIN",
                new_y="NEXT",
            )
    src = tmp_path / "src"
    src.mkdir()
    pdf.output(str(src / "marked.pdf"))
    data = Settings(data_dir=tmp_path / "data")
    report = ingest_paths([src], data)
    outcome = report.files[0]
    assert outcome.status == "ok", outcome.reason
    assert any("marked CONFIDENTIAL" in n for n in outcome.notes)
    with DataDir(data.data_dir) as dd:
        assert dd.store.documents()[0].classification == "confidential"
    # asked for more: the higher wins
    again = ingest_paths([src], data, force=True, classification="strictly_confidential")
    assert again.files[0].status == "ok"
    with DataDir(data.data_dir) as dd:
        assert dd.store.documents()[0].classification == "strictly_confidential"


# -- the leak test --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classified(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo library with every third document confidential and every ninth strictly
    confidential for the group MINUSMA; a review on a secret passage; a pack shared with all."""
    data = tmp_path_factory.mktemp("classified") / "data"
    shutil.copytree(demo_dir, data, ignore=shutil.ignore_patterns(".lock"))
    with DataDir(data, write=True) as dd:
        store = dd.store
        docs = store.documents()
        for n, doc in enumerate(docs):
            if n % 9 == 0:
                set_document_access(
                    store, doc.id, level="strictly_confidential", groups=["MINUSMA"]
                )
            elif n % 3 == 0:
                set_document_access(store, doc.id, level="confidential")
        secret = docs[0]
        pid = store.passage_ids(secret.id)[0]
        shown = store.tags_for([pid])[pid]
        review_passage(store, pid, a4p=["politics"], reviewer="amina", expected=shown)
        pack = create_pack(store, "Everything")
        add_passages(store, pack.id, [store.passage_ids(d.id)[0] for d in docs[:6]])
        share_pack(store, pack.id, everyone=True)
    return data


USERS = {
    "public": Access("public", frozenset({"officer"}), "unclassified"),
    "confidential": Access("conf", frozenset({"officer"}), "confidential"),
    "strict, no group": Access("strict", frozenset({"officer"}), "strictly_confidential"),
    "strict, MINUSMA": Access(
        "strictm", frozenset({"officer"}), "strictly_confidential", frozenset({"MINUSMA"})
    ),
}


def assert_only(res: Any, allowed: set[int]) -> None:
    """Search results, their passages, hints and facets hold only the `allowed` documents."""
    shown = {d.doc_id for d in res.documents} | {p.doc_id for p in res.passages}
    shown |= {p.doc_id for d in res.documents for p in d.passages}
    assert shown <= allowed
    assert {d for p in res.passages for d in p.also_in} <= allowed
    assert sum(res.facets.get("doc_types", {}).values()) <= len(allowed)


def visible_ids(store: Store, access: Access) -> set[int]:
    return {d.id for d in store.documents() if access.may_see(d.classification, d.groups)}


@pytest.fixture(scope="module")
def handle(classified: Path):  # type: ignore[no-untyped-def]
    dd = DataDir(classified)
    yield dd, Searcher(dd)
    dd.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    who=st.sampled_from(sorted(USERS)),
    query=st.sampled_from(QUERIES),
    a4p=st.lists(st.sampled_from(["protection", "wps", "politics", "partnerships"]), max_size=2),
    years=st.one_of(st.none(), st.sampled_from(["1990-2030", "2005-2015", "2000-"])),
    mode=st.sampled_from(["hybrid", "bm25", "dense"]),
)
def test_nothing_above_a_users_access_shows_in_search(
    handle, who: str, query: str, a4p: list[str], years: str | None, mode: str
) -> None:  # type: ignore[no-untyped-def]
    dd, searcher = handle
    access = USERS[who]
    allowed = visible_ids(dd.store, access)
    items = [f"a4p={','.join(a4p)}"] if a4p else []
    items += [f"year={years}"] if years else []
    filters = Filters.parse(items)
    res = searcher.search(query, filters=filters, k=20, mode=mode, access=access)
    assert_only(res, allowed)
    assert res.total_documents <= len(allowed)
    facets = searcher.facets(access=access)
    assert sum(facets["doc_types"].values()) == len(allowed)
    # what they may see still does: the operator's results, cut to their documents, are theirs
    full = searcher.search(query, filters=filters, k=60, mode=mode, access=OPERATOR)
    theirs = [d.doc_id for d in full.documents if d.doc_id in allowed]
    assert set(theirs[:3]) <= {d.doc_id for d in res.documents} or len(res.documents) == 20


@pytest.mark.parametrize("who", sorted(USERS))
def test_nothing_above_a_users_access_shows_anywhere_else(handle, who: str) -> None:  # type: ignore[no-untyped-def]
    dd, searcher = handle
    store = dd.store
    access = USERS[who]
    allowed = visible_ids(store, access)
    hidden = {d.id for d in store.documents()} - allowed
    assert (not hidden) == (who == "strict, MINUSMA")

    # more-like-this: never from, never to, a hidden document
    for doc_id in hidden:
        with pytest.raises(Exception, match="no document"):
            searcher.more_like_this(doc_id=doc_id, access=access)
        with pytest.raises(Exception, match="no passage"):
            searcher.more_like_this(passage_id=store.passage_ids(doc_id)[0], access=access)
    source = sorted(allowed)[0]
    like = searcher.more_like_this(doc_id=source, access=access)
    assert {d.doc_id for d in like.documents} <= allowed

    # the library list, the document page, the dashboard
    assert {d.doc_id for d in browse.library(store, access)} == allowed
    for doc_id in hidden:
        with pytest.raises(DocumentNotFound):
            browse.document_detail(store, doc_id, access)
        with pytest.raises(DocumentNotFound):
            browse.passage(store, store.passage_ids(doc_id)[0], access)
    stats = browse.dashboard(store, access)
    assert stats.documents == len(allowed)
    assert stats.passages == store.passage_count(allowed)
    assert sum(c.documents for c in stats.years) <= len(allowed)

    # the review queue and the audit trail
    page = review_queue(dd, limit=200, evidence=False, access=access)
    docs_in_queue = {i.doc_id for i in page.items}
    assert docs_in_queue <= allowed and page.total <= store.passage_count(allowed)
    events = list_events(store, doc_ids=scope(store, access))
    secret_doc = store.documents()[0].id
    if secret_doc in hidden:
        assert not events  # the only review is on a hidden document
        assert pending_corrections(dd, access) == 0 < pending_corrections(dd)  # not even counted
    else:
        assert events
        assert pending_corrections(dd, access) == pending_corrections(dd) > 0

    # a pack shared with everyone shows each viewer their part, and says how much is hidden
    (summary,) = list_packs(store, access)
    pack = get_pack(store, summary.id, access=access)
    assert all(access.may_see(i.classification, i.groups) for i in pack.items)
    assert summary.items == len(pack.items)
    assert pack.hidden == 6 - len(pack.items)
    assert pack.classification == max(
        (i.classification for i in pack.items), key=LEVELS.index, default="unclassified"
    )


def test_roles_are_checked_by_the_library(classified: Path, tmp_path: Path) -> None:
    from index.reviews import retrain
    from index.writes import delete_document

    data = tmp_path / "data"
    shutil.copytree(classified, data, ignore=shutil.ignore_patterns(".lock"))
    officer = Access(
        "lars", frozenset({"officer"}), "strictly_confidential", frozenset({"MINUSMA"})
    )
    with DataDir(data, write=True) as dd:
        store = dd.store
        doc = store.documents()[1]
        pid = store.passage_ids(doc.id)[0]
        shown = store.tags_for([pid])[pid]
        with pytest.raises(PermissionDenied, match="reviewer"):
            review_passage(store, pid, a4p=["wps"], reviewer=officer, expected=shown)
        with pytest.raises(PermissionDenied, match="librarian"):
            delete_document(dd, doc.id, by=officer)
        with pytest.raises(PermissionDenied, match="librarian"):
            set_document_access(store, doc.id, level="unclassified", by=officer)
        with pytest.raises(PermissionDenied, match="reviewer"):
            retrain(dd, by=officer)
        pack = create_pack(store, "Mine", by=officer)
        with pytest.raises(PermissionDenied, match="liaison"):
            share_pack(store, pack.id, everyone=True, by=officer)
        other = Access("eve", frozenset({"officer", "liaison"}), "strictly_confidential")
        with pytest.raises(PackError, match="no pack"):  # not shared with her: not there
            share_pack(store, pack.id, everyone=True, by=other)
        share_pack(store, pack.id, everyone=True)  # the operator shares it with everyone
        with pytest.raises(PermissionDenied, match="owner"):  # she may read it, not change it
            share_pack(store, pack.id, users=["eve"], by=other)
        assert get_pack(store, pack.id, access=other).owner == "lars"
        # a reviewer without clearance for the document: it is not there for them
        low = Access("low", frozenset({"reviewer"}), "unclassified")
        secret = store.documents()[0]
        spid = store.passage_ids(secret.id)[0]
        with pytest.raises(Exception, match="no longer in the library"):
            review_passage(store, spid, a4p=["wps"], reviewer=low, expected=shown)
        # the signed-in reviewer is who the audit trail names
        reviewer = Access("amina", frozenset({"reviewer"}), "strictly_confidential")
        review_passage(store, pid, a4p=["wps"], reviewer=reviewer, expected=shown)
        assert list_events(store, passage_id=pid)[0].reviewer == "amina"


def test_the_cli_shows_what_a_user_would_get(
    classified: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import cli

    data = tmp_path / "data"
    shutil.copytree(classified, data, ignore=shutil.ignore_patterns(".lock"))
    assert (
        cli.main(
            [
                "users",
                "add",
                "lars",
                "--role",
                "officer",
                "--clearance",
                "unclassified",
                "--generate-password",
                "--data-dir",
                str(data),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    password = out.split("password (shown once, not stored in clear): ")[1].split()[0]
    assert password not in (data / "lessons.db").read_bytes().decode("latin-1")
    assert cli.main(["stats", "--as", "lars", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    with DataDir(data) as dd:
        allowed = visible_ids(dd.store, USERS["public"])
        assert f"documents:   {len(allowed)}" in out
    assert (
        cli.main(
            [
                "search",
                "rapid deployment",
                "--as",
                "lars",
                "--json",
                "--k",
                "40",
                "--data-dir",
                str(data),
            ]
        )
        == 0
    )
    import json

    rows = json.loads(capsys.readouterr().out)
    assert {r["doc_id"] for r in rows} <= allowed
    assert cli.main(["search", "x", "--as", "nobody", "--data-dir", str(data)]) == 2
    assert cli.main(["audit", "--csv", str(tmp_path / "log.csv"), "--data-dir", str(data)]) == 0
    log = (tmp_path / "log.csv").read_text()
    assert "user_created" in log and "classification_changed" in log and password not in log


def test_bad_uploads_are_refused_clearly_and_stay_in_the_uploads_folder(tmp_path: Path) -> None:
    from ingest.uploads import UPLOADS_DIR, save_upload
    from pipeline import ingest_paths
    from tests.conftest import corpus_file

    data = tmp_path / "data"
    fake = save_upload(data, "../../x.pdf", b"This is a text file, not a PDF.\n")
    big = save_upload(data, "..\\..\\big.pdf", corpus_file("shirbrig").read_bytes())
    uploads = (data / UPLOADS_DIR).resolve()
    assert fake.path.resolve().parent == uploads and big.path.resolve().parent == uploads
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path.parent / "x.pdf").exists()
    report = ingest_paths([fake.path, big.path], Settings(data_dir=data, max_file_mb=0.001))
    reasons = {Path(f.path).name: f.reason_code for f in report.files}
    assert reasons == {"x.pdf": "not_a_pdf", "big.pdf": "too_large"}
    assert all(f.reason for f in report.files)  # each with a sentence saying why
    with pytest.raises(AccountError, match="unknown classification"):
        ingest_paths([fake.path], Settings(data_dir=data), classification="secret")


def test_exports_carry_the_highest_classification_of_what_they_show(classified: Path) -> None:
    import io

    import pypdfium2
    from docx import Document

    from briefing.export import render_pack

    with DataDir(classified) as dd:
        summary = list_packs(dd.store, OPERATOR)[0]
        full = get_pack(dd.store, summary.id, access=OPERATOR)
        public = get_pack(dd.store, summary.id, access=USERS["public"])
    assert (
        full.classification == "strictly_confidential" and public.classification == "unclassified"
    )
    md = render_pack(full, "md").decode("utf-8")
    assert md.startswith("**STRICTLY CONFIDENTIAL**") and md.rstrip().endswith(
        "**STRICTLY CONFIDENTIAL**"
    )
    doc = Document(io.BytesIO(render_pack(full, "docx")))
    assert doc.paragraphs[0].text == "STRICTLY CONFIDENTIAL"
    assert doc.sections[0].header.paragraphs[0].text == "STRICTLY CONFIDENTIAL"
    assert doc.sections[0].footer.paragraphs[0].text == "STRICTLY CONFIDENTIAL"
    pdf = pypdfium2.PdfDocument(render_pack(full, "pdf"))
    for n in range(len(pdf)):  # every page, the title page included
        assert pdf[n].get_textpage().get_text_range().count("STRICTLY CONFIDENTIAL") >= 2, n
    assert render_pack(public, "md").decode("utf-8").startswith("**UNCLASSIFIED**")
