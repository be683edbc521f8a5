"""End to end in a real browser: `streamlit run app.py` on a copy of the demo library, driven by
Playwright through Debian's chromium. One server and one browser for the whole session."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e_support import CHROMIUM, serve, sign_in, wait_idle

QUERY = "SHIRBRIG rapid reaction lessons"


E2E_USER, E2E_PASSWORD = "e2e", "a long e2e passphrase"


@pytest.fixture(scope="session")
def e2e_data(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from index.access import ROLES
    from index.accounts import create_user
    from index.library import Store

    data = tmp_path_factory.mktemp("e2e") / "data"
    shutil.copytree(demo_dir, data, ignore=shutil.ignore_patterns(".lock"))
    from index.classification import set_document_access
    from index.library.packs import add_passages, create_pack, share_pack

    store = Store(data / "lessons.db")
    create_user(
        store, E2E_USER, roles=ROLES, clearance="strictly_confidential", password=E2E_PASSWORD
    )
    for name, roles, clearance in ACCOUNTS:
        create_user(store, name, roles=roles, clearance=clearance, password=E2E_PASSWORD)
    # One document is confidential; a liaison's pack shared with everyone holds an excerpt of
    # it and one of an unclassified document.
    secret = next(d for d in store.documents() if "shirbrig-closure" in d.file_name)
    set_document_access(store, secret.id, level="confidential")
    public = next(d for d in store.documents() if "shirbrig-standby" in d.file_name)
    liaison = next(a for a in _accesses(store) if a.username == "liaison1")
    pack = create_pack(store, SHARED_PACK, by=liaison)
    add_passages(
        store,
        pack.id,
        [store.passage_ids(secret.id)[0], store.passage_ids(public.id)[0]],
        by=liaison,
    )
    share_pack(store, pack.id, everyone=True, by=liaison)
    store.close()
    return data


ACCOUNTS = (
    ("officer1", ("officer",), "unclassified"),
    ("cleared", ("officer",), "confidential"),
    ("liaison1", ("officer", "liaison"), "strictly_confidential"),
    ("locky", ("officer",), "unclassified"),
)
SHARED_PACK = "Shared lessons on standby forces"


def _accesses(store: Any) -> list[Any]:
    from index.accounts import access_of

    return [access_of(u) for u in store.users()]


@pytest.fixture(scope="session")
def app_url(e2e_data: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make setup` as root to install it")
    with serve(e2e_data) as url:
        yield url


@pytest.fixture(scope="session")
def chromium(app_url: str, web_browser: Any) -> Any:
    return web_browser


@pytest.fixture
def anonymous(chromium: Any) -> Iterator[Any]:
    """A browser tab of its own (own cookies), signed in as nobody."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(120_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def page(anonymous: Any, app_url: str) -> Any:
    """A tab signed in through the form as an account with every role."""
    sign_in(anonymous, app_url, E2E_USER, E2E_PASSWORD)
    return anonymous


def titles_of(data: Path, fragment: str) -> set[str]:
    conn = sqlite3.connect(str(data / "lessons.db"))
    try:
        rows = conn.execute(
            "SELECT title FROM documents WHERE file_name LIKE ?", (f"%{fragment}%",)
        ).fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def search(page: Any, base: str, query: str) -> None:
    page.goto(base + "/")
    wait_idle(page)
    box = page.get_by_label("Search the library")
    box.fill(query)
    box.press("Enter")
    page.locator(".ll-title").first.wait_for()
    wait_idle(page)


def test_search_shows_the_shirbrig_document_first(page: Any, app_url: str, e2e_data: Path) -> None:
    search(page, app_url, QUERY)
    first = page.locator(".ll-title").first.inner_text()
    assert first.startswith("1.")
    assert first.removeprefix("1.").strip() in titles_of(e2e_data, "shirbrig")
    assert page.locator(".ll-passage mark").count() > 0
    assert "p. " in page.locator(".ll-cite").first.inner_text()
    assert "q=SHIRBRIG" in page.url  # the search can be bookmarked and shared


def first_card(page: Any) -> Any:
    return page.locator('[class*="st-key-result-"]').first


def link_params(card: Any) -> dict[str, str]:
    href = card.get_by_role("link", name="Open document").get_attribute("href")
    return {k: v[0] for k, v in parse_qs(urlparse(href).query).items()}


def test_a_correction_shows_in_search_results(page: Any, app_url: str) -> None:
    search(page, app_url, QUERY)
    card = first_card(page)
    params = link_params(card)
    passage_id, doc_id = int(params["passage"]), int(params["doc"])
    before = card.locator(".ll-cite-row .ll-chip").all_inner_texts()
    assert "Women, peace and security" not in before

    page.goto(f"{app_url}/review?passage={passage_id}")
    page.locator('[data-testid="stButtonGroup"]').first.wait_for()
    wait_idle(page)
    page.get_by_role("button", name=re.compile(r"^Women, peace and security")).first.click()
    wait_idle(page)
    page.get_by_role("button", name=re.compile(r"^Save changes")).click()
    page.get_by_text("Correction saved").first.wait_for()
    wait_idle(page)

    search(page, app_url, QUERY)
    card = page.locator(f".st-key-result-{doc_id}")
    assert link_params(card)["passage"] == str(passage_id)
    after = card.locator(".ll-cite-row .ll-chip").all_inner_texts()
    assert "Women, peace and security" in after
    assert set(before) <= set(after)


def test_a_pack_of_three_passages_exports_to_docx_with_citations(
    page: Any, app_url: str, e2e_data: Path, tmp_path: Path
) -> None:
    from docx import Document

    from briefing.citation import citation
    from briefing.outline import clean
    from index.access import OPERATOR
    from index.datadir import DataDir
    from index.library.packs import find_pack

    name = "E2E rapid deployment pack"
    page.goto(f"{app_url}/packs")
    wait_idle(page)
    page.get_by_label("New pack").fill(name)
    page.get_by_role("button", name="Create pack").click()
    page.get_by_text("This pack has no excerpts yet").wait_for()
    wait_idle(page)

    search(page, app_url, QUERY)
    for _ in range(3):
        page.get_by_role("button", name="Add to briefing pack").first.click()
        page.get_by_text("Added to").first.wait_for()
        wait_idle(page)
    assert page.get_by_role("button", name="In the pack").count() == 3

    page.goto(f"{app_url}/packs")
    page.locator(".ll-passage").first.wait_for()
    wait_idle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Word (DOCX)").click()
    path = tmp_path / "pack.docx"
    download.value.save_as(path)

    with DataDir(e2e_data) as dd:
        pack = find_pack(dd.store, name, access=OPERATOR)
    assert len(pack.items) == 3
    doc = Document(str(path))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert name in text
    for item in pack.items:
        assert clean(citation(item)) in text, citation(item)


# -- sign-in and access --------------------------------------------------------------------------
def test_nothing_is_shown_before_a_sign_in_and_a_wrong_password_is_refused(
    anonymous: Any, app_url: str
) -> None:
    anonymous.goto(app_url + "/search?q=SHIRBRIG")
    anonymous.get_by_role("button", name="Sign in").wait_for()
    wait_idle(anonymous)
    assert anonymous.get_by_label("Search the library").count() == 0
    assert anonymous.locator(".ll-title").count() == 0
    anonymous.get_by_label("Username", exact=True).fill("officer1")
    anonymous.get_by_label("Password", exact=True).fill("not the password")
    anonymous.get_by_role("button", name="Sign in").click()
    anonymous.get_by_text("wrong username or password").wait_for()
    assert anonymous.get_by_role("button", name="Sign out").count() == 0


def _attempt(page: Any, base: str, username: str, password: str) -> str:
    """One sign-in from a freshly loaded page; returns what the page then says."""
    page.goto(base + "/")
    page.get_by_role("button", name="Sign in").wait_for()
    wait_idle(page)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.locator('[data-testid="stAlert"]').first.wait_for()
    wait_idle(page)
    return str(page.locator('[data-testid="stAlert"]').first.inner_text())


def test_five_failures_lock_the_account(anonymous: Any, app_url: str) -> None:
    said = [_attempt(anonymous, app_url, "locky", "wrong guess") for _ in range(5)]
    assert all("wrong username or password" in s for s in said[:4])
    assert "locked until" in said[4]
    # Even the right password is refused while locked.
    assert "locked until" in _attempt(anonymous, app_url, "locky", E2E_PASSWORD)
    assert anonymous.get_by_role("button", name="Sign out").count() == 0


def test_an_officer_sees_no_correction_or_upload_controls(anonymous: Any, app_url: str) -> None:
    sign_in(anonymous, app_url, "officer1", E2E_PASSWORD)
    nav = anonymous.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Search" in nav and "Review" not in nav and "Accounts" not in nav
    anonymous.goto(app_url + "/library")
    wait_idle(anonymous)
    assert anonymous.locator('[data-testid="stFileUploader"]').count() == 0
    assert anonymous.get_by_role("button", name="Add to the library").count() == 0
    anonymous.goto(app_url + "/review")
    wait_idle(anonymous)
    assert anonymous.get_by_role("button", name=re.compile("Save changes")).count() == 0


def _titles(page: Any, base: str) -> list[str]:
    search(page, base, "SHIRBRIG closure lessons rapid deployment")
    return page.locator(".ll-title").all_inner_texts()


def test_a_confidential_document_is_found_only_by_the_cleared(
    anonymous: Any, chromium: Any, app_url: str, e2e_data: Path
) -> None:
    (secret,) = titles_of(e2e_data, "shirbrig-closure")
    sign_in(anonymous, app_url, "officer1", E2E_PASSWORD)
    assert not any(secret in t for t in _titles(anonymous, app_url))
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        cleared = context.new_page()
        sign_in(cleared, app_url, "cleared", E2E_PASSWORD)
        assert any(secret in t for t in _titles(cleared, app_url))
    finally:
        context.close()


def test_a_shared_pack_hides_what_the_viewer_may_not_see(anonymous: Any, app_url: str) -> None:
    sign_in(anonymous, app_url, "officer1", E2E_PASSWORD)
    anonymous.goto(app_url + "/packs")
    wait_idle(anonymous)
    anonymous.get_by_role("button", name=re.compile(SHARED_PACK)).first.click()
    wait_idle(anonymous)
    anonymous.get_by_text("1 excerpt is not shown: above your access").wait_for()
    assert anonymous.locator(".ll-passage").count() == 1
