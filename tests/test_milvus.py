"""The Milvus engine end to end, against a real server (Milvus Lite's gRPC server, started for
the session by the `milvus_uri` fixture): two demo PDFs ingested through the one write path,
searched (the same top documents as the local engine), reviewed, deleted; an engine that cannot
be reached, or that missed a change, is one clear line and nothing is lost; `engine sync`
repairs it, also after an interrupted sync. The shared engine suite runs on Milvus too
(tests/test_engines.py)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest

import cli
from errors import EngineStale, EngineUnavailable
from index.access import OPERATOR
from index.datadir import DataDir
from index.engine import EngineFilter
from index.engine import milvus as milvus_engine
from index.engine.milvus import MilvusEngine
from index.filters import Filters
from index.library import Store
from index.library.database import LIBRARY_ID_KEY
from index.reviews import review_passage
from index.search import Searcher
from index.writes import delete_document
from nlp.labels import all_labels
from pipeline import ingest_paths
from settings import Settings
from tests.conftest import corpus_file
from tests.milvus_support import free_port

QUERY = "convoy protection against improvised explosive devices"


def dead_address() -> str:
    """The address of a Milvus server that is not there."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def milvus_library(milvus_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two demo PDFs ingested with the Milvus engine configured (LESSONS_ENGINE), as an
    operator would."""
    folder = tmp_path_factory.mktemp("milvus-pdfs")
    for fragment in ("shirbrig-standby", "minusma-convoys"):
        src = corpus_file(fragment)
        shutil.copy(src, folder / src.name)
    data = tmp_path_factory.mktemp("milvus-library") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LESSONS_ENGINE", milvus_uri)
        report = ingest_paths([folder], Settings.from_env(data_dir=data))
    assert report.status_counts()["ok"] == 2
    return data


def own_copy(data: Path, tmp_path: Path, milvus_uri: str) -> Path:
    """A copy of the library with an identity of its own (a copy would otherwise share the
    original's collection), given its engine copy by `engine sync`."""
    copy = tmp_path / "data"
    shutil.copytree(data, copy, ignore=shutil.ignore_patterns(".lock"))
    store = Store(copy / "lessons.db")
    with store.transaction():
        store.set_meta(LIBRARY_ID_KEY, uuid.uuid4().hex)
    store.close()
    assert cli.main(["engine", "sync", "--engine", milvus_uri, "--data-dir", str(copy)]) == 0
    return copy


def test_search_matches_the_local_engine(milvus_library: Path, milvus_uri: str) -> None:
    results = {}
    for engine in (milvus_uri, "local"):
        with DataDir(milvus_library, engine_name=engine) as dd:
            assert dd.engine.count() == dd.store.counts()["passages"] > 0
            searcher = Searcher(dd)
            results[engine] = {
                mode: searcher.search(QUERY, k=5, mode=mode, access=OPERATOR)
                for mode in ("hybrid", "bm25", "dense")
            }
    for mode, local in results["local"].items():
        remote = results[milvus_uri][mode]
        assert [d.doc_id for d in remote.documents] == [d.doc_id for d in local.documents]
        assert [h.passage_id for h in remote.passages] == [h.passage_id for h in local.passages]
        for mine, theirs in zip(remote.passages, local.passages, strict=True):
            for kind in ("keyword", "dense", "fused"):
                assert mine.scores[kind] == pytest.approx(theirs.scores[kind], abs=2e-3), mode
    assert "minusma" in results[milvus_uri]["hybrid"].documents[0].source


def test_review_and_delete_reach_the_engine(
    milvus_library: Path, milvus_uri: str, tmp_path: Path
) -> None:
    data = own_copy(milvus_library, tmp_path, milvus_uri)
    with DataDir(data, engine_name=milvus_uri) as dd:
        searcher = Searcher(dd)
        first = searcher.search(QUERY, k=3, access=OPERATOR)
        hit = first.passages[0]
        shown = dd.store.tags_for([hit.passage_id])[hit.passage_id]
        new = next(
            lb.slug for lb in all_labels() if lb.axis == "a4p" and lb.slug not in shown["a4p"]
        )
        tagged = Filters(a4p=(new,))
        before = searcher.search(QUERY, k=10, filters=tagged, access=OPERATOR)
        assert hit.passage_id not in {h.passage_id for h in before.passages}
        # A review saved beside the read handle, as the app saves one.
        editor = dd.editor()
        review_passage(
            editor, hit.passage_id, a4p=[new], reviewer="tester", expected={"a4p": shown["a4p"]}
        )
        editor.close()
        after = searcher.search(QUERY, k=10, filters=tagged, access=OPERATOR)
        assert hit.passage_id in {h.passage_id for h in after.passages}
        vec = dd.engine.vectors([hit.passage_id])[0]
        only = EngineFilter(label_groups=(frozenset({new}),))
        assert dd.engine.dense_top(vec, 1, only).ids.tolist() == [hit.passage_id]
    with DataDir(data, write=True, engine_name=milvus_uri) as dd:
        gone = delete_document(dd, hit.doc_id)
        assert gone.passages_removed > 0
    with DataDir(data, engine_name=milvus_uri) as dd:
        res = Searcher(dd).search(QUERY, k=10, access=OPERATOR)
        assert hit.doc_id not in {d.doc_id for d in res.documents}
        assert len(dd.engine.doc_passages(hit.doc_id)) == 0
        assert dd.engine.count() == dd.store.counts()["passages"]


def test_an_unreachable_engine_is_one_clear_line(
    milvus_library: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = dead_address()
    with DataDir(milvus_library, engine_name=address) as dd:
        assert dd.store.counts()["documents"] == 2  # the library opens; only searching fails
        with pytest.raises(EngineUnavailable, match="cannot be reached"):
            Searcher(dd).search(QUERY, access=OPERATOR)
    argv = ["search", QUERY, "--engine", address, "--data-dir", str(milvus_library)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and address in err and "Traceback" not in err


def test_a_missed_write_is_refused_until_sync_catches_up(
    milvus_library: Path,
    milvus_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = own_copy(milvus_library, tmp_path, milvus_uri)
    with DataDir(data) as dd:
        doc = dd.store.documents()[0]

    # The server goes away between the library's commit and the engine's write.
    def down(self: MilvusEngine, ids: object) -> None:
        raise EngineUnavailable(f"the search engine at {self.uri} cannot be reached")

    with monkeypatch.context() as mp:
        mp.setattr(MilvusEngine, "delete", down)
        with (
            DataDir(data, write=True, engine_name=milvus_uri) as dd,
            pytest.raises(EngineUnavailable),
        ):
            delete_document(dd, doc.id)
    with DataDir(data, engine_name=milvus_uri) as dd:
        assert doc.id not in {d.id for d in dd.store.documents()}  # committed: nothing lost
        monkeypatch.setattr(milvus_engine, "STALE_GRACE_S", 0.0)
        with pytest.raises(EngineStale, match="engine sync"):
            Searcher(dd).search(QUERY, access=OPERATOR)
    capsys.readouterr()
    argv = ["search", QUERY, "--engine", milvus_uri, "--data-dir", str(data)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "python cli.py engine sync" in err

    # A sync interrupted after its first batch keeps what it uploaded; the next finishes.
    with DataDir(data, write=True, engine_name=milvus_uri) as dd:
        engine = dd.engine
        assert isinstance(engine, MilvusEngine)
        engine._api().drop_collection(engine.collection)
        monkeypatch.setattr(milvus_engine, "UPLOAD_BATCH", 3)

        def killed(n: int) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            engine.catch_up(progress=killed)
        total = dd.store.counts()["passages"]
        assert engine.count() == 3 < total
    with DataDir(data, engine_name=milvus_uri) as dd, pytest.raises(EngineStale):
        Searcher(dd).search(QUERY, access=OPERATOR)
    capsys.readouterr()
    assert cli.main(["engine", "sync", "--engine", milvus_uri, "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"{total} passages checked, {total - 3} uploaded" in out
    with DataDir(data, engine_name=milvus_uri) as dd:
        res = Searcher(dd).search(QUERY, k=10, access=OPERATOR)
        assert res.documents and doc.id not in {d.doc_id for d in res.documents}
        assert dd.engine.count() == total
    assert cli.main(["engine", "sync", "--engine", milvus_uri, "--data-dir", str(data)]) == 0
    assert f"{total} passages checked, 0 uploaded, 0 removed" in capsys.readouterr().out


def test_the_app_says_the_engine_cannot_be_reached(
    milvus_library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_app import run_app
    from ui.common import md_escape

    data = tmp_path / "data"  # a folder of its own: the app caches the library per folder
    shutil.copytree(milvus_library, data, ignore=shutil.ignore_patterns(".lock"))
    address = dead_address()
    monkeypatch.setenv("LESSONS_ENGINE", address)
    at = run_app(data, monkeypatch)
    at.text_input(key="q").set_value(QUERY).run()
    assert not at.exception
    shown = [e.value for e in at.error]  # Markdown-escaped, as every message in the app
    assert any("cannot be reached" in e and md_escape(address) in e for e in shown), shown


def test_ties_and_zero_scores_are_ordered_as_the_reference_orders_them(
    milvus_uri: str, tmp_path: Path
) -> None:
    """Lower id first among equal scores, zero-scored passages last in ascending id: what the
    exact engine does (the local one orders ties at its cut by partition order)."""
    from index.engine import IndexedPassage, open_engine
    from tests.test_engines import FakeLibrary, random_passages

    lib = FakeLibrary(random_passages(60))
    p = lib.passages[5]
    lib.commit(add=[IndexedPassage(i, 3, p.text + " zebra", p.vector) for i in (62, 61)])
    milvus = open_engine(milvus_uri, tmp_path, lib, writable=True, library_id=uuid.uuid4().hex)
    exact = open_engine("exact", tmp_path, lib)
    for engine in (milvus, exact):
        engine.sync()
    where = EngineFilter(doc_ids=frozenset({3, 4}), exclude_ids=frozenset({4}))
    for query, k in (("zebra", 6), ("zebra patrol", 40), ("nothing indexed", 4)):
        got, want = milvus.keyword_top(query, k, where), exact.keyword_top(query, k, where)
        assert got.ids.tolist() == want.ids.tolist(), query
        assert np.allclose(got.scores, want.scores, atol=1e-4)
    assert milvus.keyword_top("zebra", 4).ids.tolist() == [61, 62, 1, 2]
    milvus.close()


def test_filters_become_one_expression() -> None:
    from index.engine import milvus_schema as ms

    where = EngineFilter(
        doc_ids=frozenset({3, 1}),
        label_groups=(frozenset({"wps", 'x"y'}), frozenset({"planning"})),
        exclude_ids=frozenset({7}),
        exclude_docs=frozenset({2}),
    )
    assert ms.expression(where) == (
        'doc_id in [1,3] and array_contains_any(labels, ["wps","x\\"y"]) and '
        'array_contains_any(labels, ["planning"]) and id not in [7] and doc_id not in [2]'
    )
    assert ms.expression(None) == "" and ms.expression(EngineFilter()) == ""
    assert ms.matches_nothing(EngineFilter(label_groups=(frozenset(),)))
    assert ms.matches_nothing(EngineFilter(doc_ids=frozenset()))
    assert ms.bm25_score(-2.2) == pytest.approx(1.0) == ms.bm25_score(2.2)
    assert ms.text_hash("a") == ms.text_hash("a") != ms.text_hash("b")
