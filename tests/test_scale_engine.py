"""The local engine's large-library path, forced at small sizes (`approximate_from`): the IVF
index's recall against brute force, filters applied inside it, writes while it is rebuilt in
the background, the keyword delta, and what is saved and read back. Random clustered vectors
(real embeddings cluster by topic; uniform random ones would make any approximate index look
bad), no model. The shared suite (tests/test_engines.py) also runs the approximate path,
scanning every list, against the exact engine."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from index.engine import EngineFilter, IndexedPassage, open_engine
from index.engine import ann as ann_module
from index.engine.base import DIMENSION
from index.engine.local import COMPACT_SHARE, LocalEngine
from tests.test_engines import LABELS, WORDS, FakeLibrary

N = 4000


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int, seed: int = 5, start: int = 1) -> list[IndexedPassage]:
    rng = np.random.default_rng(seed)
    centres = unit(np.random.default_rng(0).normal(size=(40, DIMENSION)))
    vectors = unit(centres[rng.integers(0, 40, n)] + rng.normal(0, 0.05, (n, DIMENSION)))
    out = []
    for i, v in zip(range(start, start + n), vectors, strict=True):
        words = rng.choice(WORDS, size=int(rng.integers(5, 30)))
        labels = frozenset(rng.choice(LABELS, size=int(rng.integers(0, 3)), replace=False))
        out.append(IndexedPassage(i, 1 + i // 50, " ".join(words), v, labels))
    return out


def queries(count: int = 20) -> np.ndarray:
    rng = np.random.default_rng(9)
    centres = unit(np.random.default_rng(0).normal(size=(40, DIMENSION)))
    return unit(centres[rng.integers(0, 40, count)] + rng.normal(0, 0.05, (count, DIMENSION)))


def brute(lib: FakeLibrary, q: np.ndarray, k: int, where: EngineFilter | None = None) -> list[int]:
    ps = [
        p for p in lib.passages.values() if where is None or where.admits(p.id, p.doc_id, p.labels)
    ]
    return [p.id for p in sorted(ps, key=lambda p: (-float(p.vector @ q), p.id))[:k]]


def large(folder: Path, lib: FakeLibrary, **kw: int) -> LocalEngine:
    """A writable engine on its approximate path, index built."""
    kw.setdefault("approximate_from", 1000)
    engine = LocalEngine(folder, lib, writable=True, **kw)
    engine.sync()
    engine.wait_for_index()
    return engine


@pytest.fixture(scope="module")
def lib() -> FakeLibrary:
    return FakeLibrary(clustered(N))


def test_recall_against_brute_force(lib: FakeLibrary, tmp_path: Path) -> None:
    engine = large(tmp_path, lib)
    assert engine.approximate and engine.approximate_index is not None
    recall = [
        len(set(engine.dense_top(q, 10).ids.tolist()) & set(brute(lib, q, 10))) / 10
        for q in queries()
    ]
    assert np.mean(recall) >= 0.95
    top = engine.dense_top(queries()[0], 10)  # scores are exact inner products
    assert np.allclose(
        top.scores, [float(lib.passages[int(i)].vector @ queries()[0]) for i in top.ids]
    )


def test_filters_apply_inside_the_index(lib: FakeLibrary, tmp_path: Path) -> None:
    engine = large(tmp_path, lib)
    calls = []
    search = ann_module.AnnIndex.search

    def counted(self: ann_module.AnnIndex, *args: object, **kw: object) -> object:
        calls.append(args[2] is not None)  # a bitmap went in
        return search(self, *args, **kw)  # type: ignore[arg-type]

    ann_module.AnnIndex.search = counted  # type: ignore[method-assign,assignment]
    try:
        for where in (
            EngineFilter(doc_ids=frozenset(range(1, 41))),  # about half the passages
            EngineFilter(label_groups=(frozenset({"wps"}),), exclude_docs=frozenset({3, 4})),
        ):
            for q in queries(5):
                top = engine.dense_top(q, 100, where)
                assert len(top.ids) == 100  # a full list...
                assert all(  # ...of allowed passages only
                    where.admits(int(i), lib.passages[int(i)].doc_id, lib.passages[int(i)].labels)
                    for i in top.ids
                )
                expected = brute(lib, q, 10, where)
                assert len(set(top.ids[:10].tolist()) & set(expected)) >= 8
    finally:
        ann_module.AnnIndex.search = search  # type: ignore[method-assign]
    assert calls and all(calls)


def test_a_very_selective_filter_is_scanned_exactly(lib: FakeLibrary, tmp_path: Path) -> None:
    engine = large(tmp_path, lib)
    where = EngineFilter(doc_ids=frozenset({7, 8}))  # 100 passages: under half the threshold
    search = ann_module.AnnIndex.search
    ann_module.AnnIndex.search = None  # type: ignore[assignment,method-assign]
    try:
        for q in queries(5):
            assert engine.dense_top(q, 20, where).ids.tolist() == brute(lib, q, 20, where)
    finally:
        ann_module.AnnIndex.search = search  # type: ignore[method-assign]


def test_a_filter_far_from_the_query_scans_more_lists(tmp_path: Path) -> None:
    # Each document is one topic (cluster): a query on one topic, filtered to another, finds
    # no allowed passage in the lists it scans first, and must widen its scan (not fall back
    # to an exact scan of everything allowed).
    rng = np.random.default_rng(4)
    centres = unit(rng.normal(size=(30, DIMENSION)))
    passages = [
        IndexedPassage(
            i + 1, i // 100, "patrol", unit(centres[i // 100] + rng.normal(0, 0.05, DIMENSION))
        )
        for i in range(3000)
    ]
    lib = FakeLibrary(passages)
    engine = large(tmp_path, lib, approximate_from=100, probes=2)  # start narrow
    where = EngineFilter(doc_ids=frozenset({7}))
    probes: list[int] = []
    search = ann_module.AnnIndex.search

    def counted(self: ann_module.AnnIndex, *args: object, **kw: object) -> object:
        probes.append(int(args[3]))  # type: ignore[call-overload]
        return search(self, *args, **kw)  # type: ignore[arg-type]

    ann_module.AnnIndex.search = counted  # type: ignore[method-assign,assignment]
    try:
        q = centres[3]
        top = engine.dense_top(q, 60, where)
    finally:
        ann_module.AnnIndex.search = search  # type: ignore[method-assign]
    assert len(probes) > 1 and probes == sorted(probes)  # widened, round after round
    assert top.ids.tolist() == brute(lib, q, 60, where)


def test_writes_while_the_index_is_rebuilt(tmp_path: Path) -> None:
    lib = FakeLibrary(clustered(N))
    engine = large(tmp_path, lib)
    release = threading.Event()
    build = ann_module.build

    def slow(*args: object, **kw: object) -> ann_module.AnnIndex:
        assert release.wait(10)
        return build(*args, **kw)  # type: ignore[arg-type]

    ann_module.build = slow
    try:
        assert engine.rebuild_index(full=True) and engine.rebuilding
        new = clustered(50, seed=77, start=10_001)
        gone = [p.id for p in lib.passages.values() if p.doc_id == 5]
        lib.commit(add=new, remove=gone)
        engine.upsert(new)
        engine.delete(gone)
        assert engine.rebuilding  # the writes did not wait for the job
        for p in new[:5]:  # seen at once, through the old index's pending rows
            assert engine.dense_top(p.vector, 1).ids.tolist() == [p.id]
        release.set()
        engine.wait_for_index()
    finally:
        ann_module.build = build
        release.set()
    assert not engine.rebuilding
    for p in new[:5]:  # the new index took the snapshot; passages added after stay pending
        assert engine.dense_top(p.vector, 1).ids.tolist() == [p.id]
    for q in queries(5):
        assert not set(gone) & set(engine.dense_top(q, 200).ids.tolist())
    assert engine.count() == N + 50 - len(gone)


def test_the_keyword_delta_scores_like_a_rebuilt_index(tmp_path: Path) -> None:
    lib = FakeLibrary(clustered(N))
    engine = large(tmp_path / "a", lib)
    engine.keyword_top("patrol", 5)  # the base index is built
    new = [
        IndexedPassage(20_000 + i, 900, f"zebra crossing patrol {WORDS[i]}", p.vector)
        for i, p in enumerate(clustered(20, seed=3))
    ]
    lib.commit(add=new)
    engine.upsert(new)
    reference = open_engine("exact", tmp_path / "b", lib)
    reference.sync()
    assert set(engine.keyword_top("zebra patrol", 20).ids.tolist()) == {p.id for p in new}
    for query in ("zebra patrol", "convoy ceasefire", "radio"):
        got = engine.keyword_top(query, 20)
        # idf is exact; lengths are weighed against the base's average until the rebuild
        want = reference.keyword_scores(query, got.ids)
        assert np.allclose(got.scores, want, rtol=0.02), query


def test_saved_index_round_trip_and_catch_up(tmp_path: Path) -> None:
    lib = FakeLibrary(clustered(N))
    engine = large(tmp_path, lib)
    engine.flush()
    assert {"vectors.faiss", "vectors.json", "keyword", "ann"} <= {
        p.name for p in tmp_path.iterdir()
    }
    q = queries()[0]
    again = LocalEngine(tmp_path, lib, approximate_from=1000)  # read-only: loads the files
    assert again.dense_top(q, 10).ids.tolist() == engine.dense_top(q, 10).ids.tolist()
    assert again.approximate_index is not None and not again.rebuilding  # read, not rebuilt
    # Another process wrote and flushed without rewriting the base: the reader catches up
    # from the library by id.
    faiss_written = (tmp_path / "vectors.faiss").stat().st_mtime_ns
    new = clustered(30, seed=11, start=50_001)
    gone = [p.id for p in lib.passages.values() if p.doc_id == 9]
    gone_vector = lib.passages[gone[0]].vector
    lib.commit(add=new, remove=gone)
    engine.upsert(new)
    engine.delete(gone)
    engine.flush()
    assert (tmp_path / "vectors.faiss").stat().st_mtime_ns == faiss_written
    assert again.sync()
    assert again.count() == N + 30 - len(gone)
    assert again.dense_top(new[3].vector, 1).ids.tolist() == [new[3].id]
    assert not set(gone) & set(again.dense_top(gone_vector, 100).ids.tolist())
    # A damaged index file: searches scan exactly while a new one is built in the background.
    (tmp_path / "ann" / "index.faiss").write_bytes(b"garbage")
    fresh = LocalEngine(tmp_path, lib, approximate_from=1000)
    assert fresh.dense_top(q, 10).ids.tolist() == brute(lib, q, 10)
    fresh.wait_for_index()
    assert fresh.approximate_index is not None


def test_flush_rewrites_the_base_only_after_many_changes(tmp_path: Path) -> None:
    lib = FakeLibrary(clustered(N))
    engine = large(tmp_path, lib)
    engine.flush()
    written = (tmp_path / "vectors.faiss").stat().st_mtime_ns
    many = clustered(int(1.2 * COMPACT_SHARE * N), seed=21, start=30_001)
    lib.commit(add=many)
    engine.upsert(many)
    engine.flush()
    assert (tmp_path / "vectors.faiss").stat().st_mtime_ns != written
    saved = json.loads((tmp_path / "vectors.json").read_text())
    assert saved["passages"] == len(lib.passages) == LocalEngine(tmp_path, lib).count()
