"""The local engine: FAISS for dense retrieval, bm25s for keyword retrieval, on one machine.

    data/
      vectors.faiss      IndexIDMap2(IndexFlatIP): exact inner product, keyed by passage id
      vectors.json       format, generation and passage count the FAISS file was written at
      keyword/g<gen>/    the BM25 index of that generation (index/engine/keyword.py)

Both files are derived from the library and written atomically; a missing, unreadable or stale
one is rebuilt from the library on open (`sync`). In memory the engine also keeps a table of
rows in ascending passage id: the vectors as one matrix (a query's dense scores are one
matrix-vector product), each row's document, and one boolean column per label, so a filter is a
row mask applied before the top k is taken.

This is the only module, with its keyword part, that imports FAISS or bm25s.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from atomic import write_json_atomic
from errors import SearchError
from index.engine import keyword
from index.engine.base import (
    DIMENSION,
    EngineFilter,
    EngineState,
    Ids,
    IndexedPassage,
    PassageSource,
    Scored,
    SearchEngine,
    top_rows,
)

FAISS_NAME = "vectors.faiss"
VECTORS_MANIFEST = "vectors.json"
LEGACY_MANIFEST = "manifest.json"  # folders written before vectors.json kept the generation here
VECTORS_FORMAT = 1


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _blas_limit() -> Any:
    """One BLAS thread for the matrix-vector product: it is memory-bound, and OpenBLAS's idle
    workers spin on both cores afterwards, slowing the next query's embedding threefold
    (measured: median search 114 ms -> 41 ms on realdocs)."""
    return _blas_controller().limit(limits=1, user_api="blas")


# -- FAISS --------------------------------------------------------------------------------------
def _new_faiss() -> Any:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION))


def _faiss_add(index: Any, ids: np.ndarray, vectors: np.ndarray) -> None:
    if len(ids):
        index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32),
            np.ascontiguousarray(ids, dtype=np.int64),
        )


def _faiss_write(index: Any, path: Path) -> None:
    """Write beside the target, flush to disk, then rename over it."""
    import faiss

    tmp = path.with_name(path.name + ".part")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class _Table:
    """Rows in ascending passage id, aligned with the keyword index."""

    ids: np.ndarray  # passage id per row
    doc_of: np.ndarray  # document id per row
    matrix: np.ndarray  # normalised vector per row
    row_of: dict[int, int]
    labels: dict[str, np.ndarray]  # label -> boolean column
    tags_generation: int


class LocalEngine(SearchEngine):
    """FAISS + bm25s over one data folder. `writable=False` never writes a file: what it has
    to rebuild it keeps in memory."""

    name = "local"

    def __init__(self, folder: Path, source: PassageSource, *, writable: bool = False) -> None:
        self.folder = Path(folder)
        self.source = source
        self.writable = writable
        self._faiss: Any = None
        self._faiss_generation = -1
        self._faiss_dirty = False
        self._keyword: keyword.KeywordIndex | None = None
        self._table: _Table | None = None
        self._docs: dict[int, int] = {}  # passage id -> document id
        self._cache: dict[str, tuple[Any, np.ndarray]] = {}  # last query's full score vectors

    # -- state ----------------------------------------------------------------------------
    @property
    def state(self) -> EngineState:
        return EngineState(
            self._faiss_generation,
            -1 if self._table is None else self._table.tags_generation,
            0 if self._faiss is None else int(self._faiss.ntotal),
        )

    def count(self) -> int:
        return int(self._index().ntotal)

    def sync(self) -> bool:
        generation = self.source.generation
        changed = False
        if self._faiss is None or self._faiss_generation != generation:
            self._load_or_rebuild(generation)
            changed = True
        if self._table is not None and self._table_stale():
            self._table = None
            changed = True
        if self._table is not None and self._table.tags_generation != self.source.tags_generation:
            # A review or a retagging elsewhere: only the labels need reading again.
            self._table.labels, self._table.tags_generation = self._labels(self._table.row_of)
            changed = True
        return changed

    def _labels(self, row_of: dict[int, int]) -> tuple[dict[str, np.ndarray], int]:
        """One boolean column per label, from the library, and the tags generation read."""
        generation = self.source.tags_generation
        labels: dict[str, np.ndarray] = {}
        for pid, label in self.source.passage_labels():
            row = row_of.get(pid)
            if row is not None:
                labels.setdefault(label, np.zeros(len(row_of), dtype=bool))[row] = True
        return labels, generation

    def _index(self) -> Any:
        if self._faiss is None:
            self._load_or_rebuild(self.source.generation)
        return self._faiss

    def _saved_generation(self) -> int | None:
        for name in (VECTORS_MANIFEST, LEGACY_MANIFEST):
            try:
                meta = json.loads((self.folder / name).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if name == VECTORS_MANIFEST and meta.get("format_version") != VECTORS_FORMAT:
                return None
            if isinstance(meta.get("generation"), int):
                return int(meta["generation"])
        return None

    def _load_or_rebuild(self, generation: int) -> None:
        """The FAISS index of `generation`: read when the saved one matches, else rebuilt."""
        import faiss

        index = None
        path = self.folder / FAISS_NAME
        if path.exists() and self._saved_generation() == generation:
            try:
                index = faiss.read_index(str(path))
            except Exception:  # unreadable file: rebuild below
                index = None
            if index is not None and index.ntotal != self.source.passage_count():
                index = None
        rebuilt = index is None
        if index is None:
            index = _new_faiss()
            for batch in self.source.iter_indexed():
                _faiss_add(
                    index,
                    np.asarray([p.id for p in batch], dtype=np.int64),
                    np.vstack([p.vector for p in batch]),
                )
        self._faiss, self._faiss_generation = index, generation
        self._docs = dict(self.source.passage_docs())
        self._table = None
        self._cache.clear()
        if rebuilt and self.writable:
            self._write_vectors()

    def _table_stale(self) -> bool:
        kw = self._keyword
        return kw is None or kw.generation != self._faiss_generation

    # -- persistence ----------------------------------------------------------------------
    def _write_vectors(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _faiss_write(self._faiss, self.folder / FAISS_NAME)
        write_json_atomic(
            self.folder / VECTORS_MANIFEST,
            {
                "format_version": VECTORS_FORMAT,
                "generation": self._faiss_generation,
                "passages": int(self._faiss.ntotal),
                "dimension": DIMENSION,
                "index": "IndexIDMap2(IndexFlatIP)",
                "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        self._faiss_dirty = False

    def checkpoint(self) -> None:
        """The vectors only: the keyword index is rebuilt from the library in seconds."""
        if not self.writable:
            raise SearchError("this engine was opened read-only")
        self._faiss_generation = self.source.generation
        self._write_vectors()

    def flush(self) -> None:
        if not self.writable:
            raise SearchError("this engine was opened read-only")
        self._index()
        self._faiss_generation = self.source.generation
        if self._faiss_dirty or self._saved_generation() != self._faiss_generation:
            self._write_vectors()
        index = self._keyword_index()  # built and saved here when missing
        if not keyword.is_saved(self.folder, self._faiss_generation):
            keyword.save(index, self.folder)  # built in memory during the writes

    # -- writes ---------------------------------------------------------------------------
    def upsert(self, passages: Sequence[IndexedPassage]) -> None:
        if not passages:
            return
        index = self._index()
        ids = np.asarray([p.id for p in passages], dtype=np.int64)
        index.remove_ids(ids)
        _faiss_add(index, ids, np.vstack([p.vector for p in passages]))
        self._docs.update((p.id, p.doc_id) for p in passages)
        self._written()

    def delete(self, ids: Ids) -> None:
        if len(ids) == 0:
            return
        self._index().remove_ids(np.asarray(list(ids), dtype=np.int64))
        for pid in ids:
            self._docs.pop(int(pid), None)
        self._written()

    def _written(self) -> None:
        """After a write that the library has committed: the engine now reflects the library's
        generation; the keyword index and the table follow on the next retrieval."""
        self._faiss_generation = self.source.generation
        self._faiss_dirty = True
        self._table = None
        self._cache.clear()

    def set_labels(self, labels: Mapping[int, frozenset[str]], tags_generation: int) -> None:
        t = self._table
        if t is None:
            return  # the next table reads the labels from the library
        for pid, new in labels.items():
            row = t.row_of.get(int(pid))
            if row is None:
                continue
            for label, column in t.labels.items():
                column[row] = label in new
            for label in new - t.labels.keys():
                column = np.zeros(len(t.ids), dtype=bool)
                column[row] = True
                t.labels[label] = column
        t.tags_generation = tags_generation

    # -- the table ------------------------------------------------------------------------
    def _keyword_index(self) -> keyword.KeywordIndex:
        generation = self._faiss_generation
        if self._keyword is not None and self._keyword.generation == generation:
            return self._keyword
        index = None if self._faiss_dirty else keyword.load(self.folder, generation)
        if index is None:
            index = keyword.build(self.source.passage_texts(), generation)
            if self.writable and not self._faiss_dirty:
                keyword.save(index, self.folder)
        self._keyword = index
        return index

    def _rows(self) -> _Table:
        self._index()
        if self._table is not None and not self._table_stale():
            return self._table
        import faiss

        kw = self._keyword_index()
        index = self._faiss
        ids = kw.ids
        n = int(index.ntotal)
        if len(ids) != n:
            raise SearchError(
                f"the keyword and vector indexes of {self.folder} disagree; "
                "re-run `python cli.py ingest` on the same folder to rebuild them"
            )
        if n:
            faiss_ids = faiss.vector_to_array(index.id_map).astype(np.int64)
            vecs = index.index.reconstruct_n(0, n)
            order = np.argsort(faiss_ids)
            pos = np.minimum(np.searchsorted(faiss_ids[order], ids), n - 1)
            if not np.array_equal(faiss_ids[order][pos], ids):
                raise SearchError(
                    f"the keyword and vector indexes of {self.folder} hold different passages; "
                    "re-run `python cli.py ingest` on the same folder to rebuild them"
                )
            matrix = np.ascontiguousarray(vecs[order][pos], dtype=np.float32)
        else:
            matrix = np.zeros((0, DIMENSION), dtype=np.float32)
        row_of = {int(pid): i for i, pid in enumerate(ids.tolist())}
        doc_of = np.asarray([self._docs.get(int(pid), -1) for pid in ids], dtype=np.int64)
        labels, tags_generation = self._labels(row_of)
        self._table = _Table(ids, doc_of, matrix, row_of, labels, tags_generation)
        self._cache.clear()
        return self._table

    def _mask(self, t: _Table, where: EngineFilter | None) -> np.ndarray | None:
        if where is None or where.empty:
            return None
        mask = np.ones(len(t.ids), dtype=bool)
        if where.doc_ids is not None:
            mask &= np.isin(t.doc_of, np.fromiter(where.doc_ids, dtype=np.int64))
        for group in where.label_groups:
            keep = np.zeros(len(t.ids), dtype=bool)
            for label in group:
                column = t.labels.get(label)
                if column is not None:
                    keep |= column
            mask &= keep
        for pid in where.exclude_ids:
            row = t.row_of.get(int(pid))
            if row is not None:
                mask[row] = False
        if where.exclude_docs:
            mask &= ~np.isin(t.doc_of, np.fromiter(where.exclude_docs, dtype=np.int64))
        return mask

    # -- retrieval ------------------------------------------------------------------------
    def _keyword_all(self, t: _Table, text: str) -> np.ndarray:
        hit = self._cache.get("keyword")
        if hit is not None and hit[0] == text:
            return hit[1]
        scores = self._keyword_index().scores(text)
        self._cache["keyword"] = (text, scores)
        return scores

    def _dense_all(self, t: _Table, vector: np.ndarray) -> np.ndarray:
        q = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        key = q.tobytes()
        hit = self._cache.get("dense")
        if hit is not None and hit[0] == key:
            return hit[1]
        if len(t.ids):
            with _blas_limit():
                scores = t.matrix @ q
        else:
            scores = np.zeros(0, dtype=np.float32)
        self._cache["dense"] = (key, scores)
        return scores

    def _top(self, t: _Table, scores: np.ndarray, k: int, where: EngineFilter | None) -> Scored:
        if where is not None and where.allows_nothing():
            return Scored.empty()
        rows = top_rows(scores, self._mask(t, where), k)
        return Scored(t.ids[rows], scores[rows].astype(np.float32))

    def keyword_top(self, text: str, k: int, where: EngineFilter | None = None) -> Scored:
        t = self._rows()
        return self._top(t, self._keyword_all(t, text), k, where)

    def dense_top(self, vector: np.ndarray, k: int, where: EngineFilter | None = None) -> Scored:
        t = self._rows()
        return self._top(t, self._dense_all(t, vector), k, where)

    def _lookup(self, t: _Table, scores: np.ndarray, ids: Ids) -> np.ndarray:
        out = np.zeros(len(ids), dtype=np.float32)
        for i, pid in enumerate(ids):
            row = t.row_of.get(int(pid))
            if row is not None:
                out[i] = scores[row]
        return out

    def keyword_scores(self, text: str, ids: Ids) -> np.ndarray:
        t = self._rows()
        return self._lookup(t, self._keyword_all(t, text), ids)

    def dense_scores(self, vector: np.ndarray, ids: Ids) -> np.ndarray:
        t = self._rows()
        return self._lookup(t, self._dense_all(t, vector), ids)

    def vectors(self, ids: Ids) -> np.ndarray:
        t = self._rows()
        out = np.zeros((len(ids), DIMENSION), dtype=np.float32)
        for i, pid in enumerate(ids):
            row = t.row_of.get(int(pid))
            if row is not None:
                out[i] = t.matrix[row]
        return out

    def doc_passages(self, doc_id: int) -> np.ndarray:
        t = self._rows()
        return t.ids[t.doc_of == doc_id]

    def doc_ids(self, ids: Ids) -> np.ndarray:
        t = self._rows()
        rows = [t.row_of[int(pid)] for pid in ids if int(pid) in t.row_of]
        return t.doc_of[np.asarray(rows, dtype=np.int64)]

    def neighbours(self, vectors: np.ndarray, k: int) -> list[Scored]:
        """Straight from FAISS, so it sees passages upserted a moment ago without building the
        table (an ingest links near-duplicates after every document)."""
        index = self._index()
        queries = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        if index.ntotal == 0 or len(queries) == 0:
            return [Scored.empty() for _ in range(len(queries))]
        scores, found = index.search(queries, min(k, int(index.ntotal)))
        out = []
        for row_scores, row_ids in zip(scores, found, strict=True):
            keep = row_ids >= 0
            out.append(Scored(row_ids[keep].astype(np.int64), row_scores[keep]))
        return out
