"""One test-suite for every search engine, on random vectors and random texts (no model).

Each engine is opened on the same small library built here; what one engine returns is checked
against brute force and against the exact engine, so a new engine joins by adding its name to
ENGINES. "milvus" runs against a real server (Milvus Lite's, started for the session: the
`milvus_uri` fixture), one fresh collection per test."""

from __future__ import annotations

import random
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from index import fusion
from index.engine import EngineFilter, IndexedPassage, SearchEngine, open_engine
from index.engine.base import DIMENSION
from index.engine.local import LocalEngine

# "local-approximate": the local engine on its approximate path (the IVF index a large library
# uses, here from the first passage) scanning every list, so its results must be exact too.
ENGINES = ("local", "local-approximate", "exact", "milvus")
WORDS = [
    "patrol",
    "convoy",
    "ceasefire",
    "election",
    "police",
    "mandate",
    "civilians",
    "protection",
    "women",
    "training",
    "planning",
    "budget",
    "logistics",
    "border",
    "militia",
    "disarmament",
    "reintegration",
    "justice",
    "prison",
    "radio",
    "outreach",
    "liaison",
    "brigade",
    "headquarters",
    "helicopter",
    "engineers",
    "medical",
    "rapid",
    "deployment",
]
LABELS = ("politics", "wps", "protection", "planning", "training")


class FakeLibrary:
    """A PassageSource held in memory, with generations like the store's."""

    def __init__(self, passages: list[IndexedPassage]) -> None:
        self.passages = {p.id: p for p in passages}
        self.generation = 1
        self.tags_generation = 1

    def passage_count(self) -> int:
        return len(self.passages)

    def iter_indexed(self, batch: int = 4096, after: int = 0) -> Iterator[list[IndexedPassage]]:
        ps = [self.passages[i] for i in sorted(self.passages) if i > after]
        for i in range(0, len(ps), batch):
            yield ps[i : i + batch]

    def passage_texts(self, batch: int = 4096, after: int = 0) -> Iterator[list[tuple[int, str]]]:
        for chunk in self.iter_indexed(batch, after):
            yield [(p.id, p.text) for p in chunk]

    def passage_docs(self) -> Iterator[tuple[int, int]]:
        for p in self.passages.values():
            yield p.id, p.doc_id

    def passage_labels(self) -> Iterator[tuple[int, str]]:
        for p in self.passages.values():
            for label in p.labels:
                yield p.id, label

    # what the write path does to the store before it tells the engine
    def commit(self, add: list[IndexedPassage] = (), remove: list[int] = ()) -> None:  # type: ignore[assignment]
        for p in add:
            self.passages[p.id] = p
        for pid in remove:
            self.passages.pop(pid, None)
        self.generation += 1

    def relabel(self, pid: int, labels: frozenset[str]) -> None:
        p = self.passages[pid]
        self.passages[pid] = IndexedPassage(p.id, p.doc_id, p.text, p.vector, labels)
        self.tags_generation += 1


def random_passages(n: int, seed: int = 7, start: int = 1) -> list[IndexedPassage]:
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    out = []
    for i in range(start, start + n):
        vec = nrng.normal(size=DIMENSION).astype(np.float32)
        vec /= np.linalg.norm(vec)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))
        labels = frozenset(rng.sample(LABELS, rng.randint(0, 2)))
        out.append(IndexedPassage(i, 1 + i % 9, text, vec, labels))
    return out


def open_named(
    name: str, folder: Path, lib: FakeLibrary, request: pytest.FixtureRequest
) -> SearchEngine:
    """A writable engine by its name in ENGINES ("milvus": a new collection on the server)."""
    if name == "milvus":
        uri = request.getfixturevalue("milvus_uri")
        return open_engine(uri, folder, lib, writable=True, library_id=uuid.uuid4().hex)
    if name == "local-approximate":
        engine = LocalEngine(folder, lib, writable=True, approximate_from=0, probes=1 << 16)
        engine.sync()
        engine.wait_for_index()
        return engine
    return open_engine(name, folder, lib, writable=True)


@pytest.fixture(params=ENGINES)
def setup(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[SearchEngine, FakeLibrary]]:
    lib = FakeLibrary(random_passages(300))
    engine = open_named(request.param, tmp_path, lib, request)
    engine.sync()
    yield engine, lib
    engine.close()


def brute_dense(lib: FakeLibrary, q: np.ndarray, where: EngineFilter | None) -> list[int]:
    ps = [
        p for p in lib.passages.values() if where is None or where.admits(p.id, p.doc_id, p.labels)
    ]
    return [p.id for p in sorted(ps, key=lambda p: (-float(p.vector @ q), p.id))]


def query_vector(seed: int = 3) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=DIMENSION).astype(np.float32)
    return q / np.linalg.norm(q)


def test_dense_top_is_exact(setup: tuple[SearchEngine, FakeLibrary]) -> None:
    engine, lib = setup
    q = query_vector()
    top = engine.dense_top(q, 10)
    assert top.ids.tolist() == brute_dense(lib, q, None)[:10]
    assert np.allclose(top.scores, [float(lib.passages[i].vector @ q) for i in top.ids], atol=1e-5)
    assert engine.count() == 300


def test_filters_apply_inside_retrieval(setup: tuple[SearchEngine, FakeLibrary]) -> None:
    engine, lib = setup
    q = query_vector()
    where = EngineFilter(
        doc_ids=frozenset({2, 3, 5}),
        label_groups=(frozenset({"wps", "protection"}),),
        exclude_ids=frozenset({brute_dense(lib, q, None)[0]}),
        exclude_docs=frozenset({3}),
    )
    expected = brute_dense(lib, q, where)
    assert len(expected) >= 10, "the filter must leave enough to fill a page"
    top = engine.dense_top(q, 10, where)
    assert top.ids.tolist() == expected[:10]  # a full page, all allowed
    kw = engine.keyword_top("women protection patrol", 10, where)
    assert len(kw.ids) == 10
    assert all(
        where.admits(int(i), lib.passages[int(i)].doc_id, lib.passages[int(i)].labels)
        for i in kw.ids
    )
    assert len(engine.dense_top(q, 10, EngineFilter(doc_ids=frozenset())).ids) == 0


def test_keyword_scores_match_the_reference(
    setup: tuple[SearchEngine, FakeLibrary], tmp_path: Path
) -> None:
    engine, lib = setup
    reference = open_engine("exact", tmp_path / "ref", lib)
    reference.sync()
    for query in ("women protection patrol", "rapid deployment brigade", "radio", "zebra"):
        top = engine.keyword_top(query, 20)
        ref = reference.keyword_top(query, 20)
        assert np.allclose(top.scores, ref.scores, atol=1e-4), query
        assert set(top.ids[top.scores > 0].tolist()) <= set(ref.ids.tolist()) or np.allclose(
            top.scores, 0
        )
        looked_up = engine.keyword_scores(query, top.ids)
        assert np.allclose(looked_up, top.scores, atol=1e-5)
    assert engine.keyword_scores("radio", [999_999]).tolist() == [0.0]


def test_score_lookups_and_vectors(setup: tuple[SearchEngine, FakeLibrary]) -> None:
    engine, lib = setup
    q = query_vector()
    ids = [5, 17, 250, 999_999]
    scores = engine.dense_scores(q, ids)
    assert np.allclose(scores[:3], [float(lib.passages[i].vector @ q) for i in ids[:3]], atol=1e-5)
    assert scores[3] == 0.0
    vecs = engine.vectors(ids)
    assert np.allclose(vecs[0], lib.passages[5].vector) and not vecs[3].any()
    assert engine.doc_ids([5, 999_999]).tolist() == [lib.passages[5].doc_id]
    assert engine.doc_passages(4).tolist() == sorted(
        p.id for p in lib.passages.values() if p.doc_id == 4
    )


def test_writes_are_seen_at_once(setup: tuple[SearchEngine, FakeLibrary]) -> None:
    engine, lib = setup
    new = random_passages(5, seed=99, start=1000)
    lib.commit(add=new, remove=[1, 2, 3])
    engine.delete([1, 2, 3])
    engine.upsert(new)
    assert engine.count() == 302
    top = engine.dense_top(new[0].vector, 1)
    assert top.ids.tolist() == [1000] and top.scores[0] == pytest.approx(1.0, abs=1e-5)
    assert not {1, 2, 3} & set(engine.dense_top(lib.passages[4].vector, 300).ids.tolist())
    neighbours = engine.neighbours(np.vstack([p.vector for p in new[:2]]), 3)
    assert [n.ids[0] for n in neighbours] == [1000, 1001]
    # one vector alone (a one-passage document's near-duplicate check) is a list of one
    (alone,) = engine.neighbours(new[2].vector[None, :], 3)
    assert alone.ids[0] == 1002 and len(alone.ids) == 3
    # an upsert of a known id replaces it
    moved = IndexedPassage(1000, 42, "helicopter", new[1].vector, frozenset())
    lib.commit(add=[moved])
    engine.upsert([moved])
    assert engine.count() == 302
    assert engine.doc_ids([1000]).tolist() == [42]


def test_copies_score_alike_and_zero_scores_fill_the_list(
    setup: tuple[SearchEngine, FakeLibrary],
) -> None:
    engine, lib = setup
    p = lib.passages[5]
    twins = [IndexedPassage(pid, p.doc_id, p.text + " zebra", p.vector) for pid in (2002, 2001)]
    lib.commit(add=twins)
    engine.upsert(twins)
    assert set(engine.dense_top(p.vector, 3).ids.tolist()) == {5, 2001, 2002}
    kw = engine.keyword_top("zebra", 5)
    assert set(kw.ids[:2].tolist()) == {2001, 2002} and kw.scores[0] == kw.scores[1] > 0
    assert len(kw.ids) == 5 and not kw.scores[2:].any()  # zero scores included
    where = EngineFilter(doc_ids=frozenset({4}))
    padded = engine.keyword_top("zebra", 3, where)
    assert len(padded.ids) == 3 and all(lib.passages[int(i)].doc_id == 4 for i in padded.ids)


def test_labels_follow_reviews(setup: tuple[SearchEngine, FakeLibrary]) -> None:
    engine, lib = setup
    q = query_vector()
    only = EngineFilter(label_groups=(frozenset({"conduct"}),))
    assert len(engine.dense_top(q, 10, only).ids) == 0
    lib.relabel(7, frozenset({"conduct"}))
    engine.set_labels({7: frozenset({"conduct"})}, lib.tags_generation)
    assert engine.dense_top(q, 10, only).ids.tolist() == [7]
    # a review saved by another process: the engine catches up on sync
    lib.relabel(8, frozenset({"conduct"}))
    engine.sync()
    assert sorted(engine.dense_top(q, 10, only).ids.tolist()) == [7, 8]


def test_sync_catches_up_after_another_writer(
    setup: tuple[SearchEngine, FakeLibrary], tmp_path: Path
) -> None:
    engine, lib = setup
    engine.flush()
    lib.commit(add=random_passages(3, seed=5, start=2000), remove=[10])
    assert engine.sync()
    assert engine.count() == 302 and engine.state.generation == lib.generation
    assert not engine.sync()  # nothing more to do


def test_local_engine_persists_and_rebuilds(tmp_path: Path) -> None:
    lib = FakeLibrary(random_passages(50))
    engine = open_engine("local", tmp_path, lib, writable=True)
    engine.sync()
    engine.flush()
    files = {p.name for p in tmp_path.iterdir()}
    assert {"vectors.faiss", "vectors.json", "keyword"} <= files
    again = open_engine("local", tmp_path, lib)  # read-only: loads the saved files
    again.sync()
    q = query_vector()
    assert again.dense_top(q, 5).ids.tolist() == engine.dense_top(q, 5).ids.tolist()
    (tmp_path / "vectors.faiss").write_bytes(b"garbage")  # damaged: rebuilt from the library
    shutil.rmtree(tmp_path / "keyword")
    fresh = open_engine("local", tmp_path, lib)
    fresh.sync()
    assert fresh.count() == 50
    assert (
        fresh.keyword_top("patrol", 5).ids.tolist() == engine.keyword_top("patrol", 5).ids.tolist()
    )
    assert (tmp_path / "vectors.faiss").read_bytes() == b"garbage"  # read-only wrote nothing


def test_fusion_is_the_same_on_every_engine(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    lib = FakeLibrary(random_passages(300))
    results = []
    q, text = query_vector(11), "ceasefire police training"
    for name in ENGINES:
        engine = open_named(name, tmp_path / name, lib, request)
        engine.sync()
        kw, dense = engine.keyword_top(text, 50), engine.dense_top(q, 50)
        fused = fusion.fuse(
            kw.ids,
            kw.scores,
            dense.ids,
            dense.scores,
            keyword_of=lambda ids, e=engine: e.keyword_scores(text, ids),
            dense_of=lambda ids, e=engine: e.dense_scores(q, ids),
        )
        results.append(fused.ids[:20].tolist())
        engine.close()
    assert all(r == results[0] for r in results[1:])
