"""The local engine's table of passages: one row per passage, in the order rows were added.

    rows 0 .. base-1    the passages of the saved base (vectors.faiss and the keyword index),
                        in ascending id; their vectors are a view of the memory-mapped file
    rows base .. n-1    passages added since, their vectors held here

A delete marks a row dead; an upsert of a known id marks the old row dead and adds a row. Row
numbers never move, so the keyword index, the approximate index's coverage (`covered`) and the
cached filter masks stay aligned with them; `compacted()` makes a new table of the live rows
when the engine rewrites its files.

A filter becomes a boolean row mask once per filter and table version (documents through a
lookup array, labels as one boolean column each) and is kept, so a user's access filter costs
one pass over the rows on their first search and nothing on the next ones.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from index.engine.base import DIMENSION, EngineFilter, Ids, IndexedPassage, Scored

MASKS_KEPT = 8  # filters whose masks are kept (a few users' access filters, their facets)
SCAN_ROWS = 8192  # rows copied at a time when a full scan reads an unaligned mapped base


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> Any:
    """One BLAS thread for the matrix-vector products: they are memory-bound, and OpenBLAS's
    idle workers spin on both cores afterwards, slowing the next query's embedding threefold
    (measured: median search 114 ms -> 41 ms on realdocs)."""
    return _blas_controller().limit(limits=1, user_api="blas")


def best(ids: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores, best first, ties to the lower id."""
    n = len(ids)
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    if n > k:
        kth = np.partition(scores, n - k)[n - k]
        pick = np.flatnonzero(scores >= kth)
    else:
        pick = np.arange(n)
    return pick[np.lexsort((ids[pick], -scores[pick]))[:k]]


def _grown(array: np.ndarray, need: int) -> np.ndarray:
    """`array` with room for `need` rows; capacity doubles, so appends cost O(1) amortised."""
    if len(array) >= need:
        return array
    out = np.zeros((max(need, 2 * len(array), 256), *array.shape[1:]), dtype=array.dtype)
    out[: len(array)] = array
    return out


class Rows:
    """The passages an engine holds: ids, documents, liveness, labels and vectors per row."""

    def __init__(
        self, ids: np.ndarray, docs: np.ndarray, vectors: np.ndarray, owner: Any = None
    ) -> None:
        """A table whose base is `ids` (ascending), their documents and their vectors (an
        array, or a view of a memory-mapped file whose `owner` must outlive it)."""
        n = len(ids)
        self.base = n
        self.n = n
        self._ids = np.array(ids, dtype=np.int64)
        self._docs = np.array(docs, dtype=np.int64)
        self._alive = np.ones(n, dtype=bool)
        self._covered = np.zeros(n, dtype=bool)
        self._base_vectors = vectors
        self._owner = owner
        self._added = np.zeros((0, DIMENSION), dtype=np.float32)
        self._labels: dict[str, np.ndarray] = {}
        self.dead = 0
        self.version = 0  # bumped by every change: what cached masks are keyed on
        self._sorted = bool(n < 2 or np.all(np.diff(self._ids) > 0))
        self._order: tuple[int, np.ndarray, np.ndarray] | None = None
        self._masks: OrderedDict[EngineFilter | None, tuple[int, np.ndarray]] = OrderedDict()

    # -- columns ----------------------------------------------------------------------------
    @property
    def ids(self) -> np.ndarray:
        return self._ids[: self.n]

    @property
    def docs(self) -> np.ndarray:
        return self._docs[: self.n]

    @property
    def alive(self) -> np.ndarray:
        return self._alive[: self.n]

    @property
    def covered(self) -> np.ndarray:
        """Rows the approximate index holds with their current vector (the engine sets it)."""
        return self._covered[: self.n]

    @property
    def live(self) -> int:
        return self.n - self.dead

    @property
    def clean(self) -> bool:
        """No row added or removed since the base."""
        return self.n == self.base and self.dead == 0

    def changed(self) -> None:
        self.version += 1

    # -- writes -----------------------------------------------------------------------------
    def append(self, passages: Sequence[IndexedPassage]) -> np.ndarray:
        """Add passages (distinct ids); a known id's old row dies. Returns the new rows."""
        m = len(passages)
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        ids = np.fromiter((p.id for p in passages), dtype=np.int64, count=m)
        self.kill(self.lookup(ids))
        start, end = self.n, self.n + m
        if self._sorted and (
            (start and ids[0] <= self._ids[start - 1]) or bool(np.any(np.diff(ids) <= 0))
        ):
            self._sorted = False
        self._ids = _grown(self._ids, end)
        self._docs = _grown(self._docs, end)
        self._alive = _grown(self._alive, end)
        self._covered = _grown(self._covered, end)
        self._added = _grown(self._added, end - self.base)
        self._ids[start:end] = ids
        self._docs[start:end] = [p.doc_id for p in passages]
        self._alive[start:end] = True
        self._covered[start:end] = False
        self._added[start - self.base : end - self.base] = np.vstack(
            [np.asarray(p.vector, dtype=np.float32).reshape(DIMENSION) for p in passages]
        )
        for name in list(self._labels):
            self._labels[name] = _grown(self._labels[name], end)
            self._labels[name][start:end] = False
        for row, p in enumerate(passages, start=start):
            for label in p.labels:
                self._column(label)[row] = True
        self.n = end
        self.changed()
        return np.arange(start, end, dtype=np.int64)

    def kill(self, rows: np.ndarray) -> int:
        """Mark rows dead (negative rows, unknown ids, are skipped). Returns how many died."""
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        rows = rows[rows >= 0]
        rows = rows[self._alive[rows]]
        if len(rows):
            self._alive[rows] = False
            self.dead += len(rows)
            self.changed()
        return len(rows)

    # -- lookups ----------------------------------------------------------------------------
    def _keys(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Sorted ids and their rows (None: the ids column is itself sorted)."""
        if self._sorted:
            return self.ids, None
        if self._order is None or self._order[0] != self.version:
            live = np.flatnonzero(self.alive)
            order = np.argsort(self._ids[live], kind="stable")
            self._order = (self.version, self._ids[live][order], live[order])
        return self._order[1], self._order[2]

    def lookup(self, ids: Ids) -> np.ndarray:
        """The live row of each id, -1 for ids not held."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        keys, rows = self._keys()
        if len(keys) == 0 or len(wanted) == 0:
            return np.full(len(wanted), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        found = keys[pos] == wanted
        out = pos if rows is None else rows[pos]
        found &= self._alive[out]
        return np.where(found, out, -1).astype(np.int64)

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of the given (valid) rows."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), DIMENSION), dtype=np.float32)
        in_base = rows < self.base
        if in_base.all():
            return np.asarray(self._base_vectors[rows], dtype=np.float32)
        out[in_base] = self._base_vectors[rows[in_base]]
        out[~in_base] = self._added[rows[~in_base] - self.base]
        return out

    def products(self, vector: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Inner products with the given rows, or with every row (dead ones too): a vector
        gives one score per row; a matrix of queries gives (rows, queries)."""
        q = np.ascontiguousarray(vector, dtype=np.float32)
        q = q.reshape(DIMENSION) if q.size == DIMENSION else q.T
        with one_blas_thread():
            if rows is not None:
                return np.asarray(self.vectors_of(rows) @ q, dtype=np.float32)
            parts = [self._base_products(q)]
            added = self._added[: self.n - self.base]
            if len(added):
                parts.append(added @ q)
            return np.concatenate(parts).astype(np.float32, copy=False)

    def _base_products(self, q: np.ndarray) -> np.ndarray:
        """The base's products. A memory-mapped base sits at an unaligned offset of its file,
        where NumPy cannot use BLAS (a loop five times slower): it goes through aligned copies
        of SCAN_ROWS rows at a time (copy and product together: twice one aligned pass)."""
        base = self._base_vectors
        if base.flags.aligned:
            return np.asarray(base @ q)
        out = np.empty((len(base), *q.shape[1:]), dtype=np.float32)
        for start in range(0, len(base), SCAN_ROWS):
            chunk = np.array(base[start : start + SCAN_ROWS])
            out[start : start + len(chunk)] = chunk @ q
        return out

    def top(self, cand: np.ndarray, vector: np.ndarray, k: int) -> Scored:
        """The k best of the rows `cand` by exact inner product with `vector`: gathered when
        they are few, from one pass over every row when they are most of the table."""
        most = len(cand) > self.n // 4
        scores = self.products(vector)[cand] if most else self.products(vector, cand)
        top = best(self.ids[cand], scores, k)
        return Scored(self.ids[cand[top]], scores[top])

    def doc_rows(self, doc_id: int) -> np.ndarray:
        return np.flatnonzero((self.docs == doc_id) & self.alive)

    # -- labels -----------------------------------------------------------------------------
    def _column(self, label: str) -> np.ndarray:
        column = self._labels.get(label)
        if column is None:
            column = self._labels[label] = np.zeros(len(self._ids), dtype=bool)
        return column

    def set_labels(self, labels: Mapping[int, frozenset[str]]) -> None:
        """Replace the labels of the given passages (a review)."""
        for pid, new in labels.items():
            row = int(self.lookup([int(pid)])[0])
            if row < 0:
                continue
            for name, column in self._labels.items():
                column[row] = name in new
            for name in new:
                self._column(name)[row] = True
        self.changed()

    def load_labels(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Every label from the library: (passage id, label) pairs."""
        by_label: dict[str, list[int]] = {}
        for pid, label in pairs:
            by_label.setdefault(label, []).append(pid)
        self._labels = {}
        for label, pids in by_label.items():
            rows = self.lookup(pids)
            self._column(label)[rows[rows >= 0]] = True
        self.changed()

    # -- filters ----------------------------------------------------------------------------
    def mask(self, where: EngineFilter | None) -> np.ndarray | None:
        """Live rows `where` allows, or None when it allows every row of the table."""
        key = None if where is None or where.empty else where
        if key is None and self.dead == 0:
            return None
        hit = self._masks.get(key)
        if hit is not None and hit[0] == self.version:
            self._masks.move_to_end(key)
            return hit[1]
        mask = self.alive.copy()
        if key is not None:
            if key.doc_ids is not None:
                mask &= self._docs_in(key.doc_ids)
            for group in key.label_groups:
                keep = np.zeros(self.n, dtype=bool)
                for label in group:
                    column = self._labels.get(label)
                    if column is not None:
                        keep |= column[: self.n]
                mask &= keep
            if key.exclude_ids:
                rows = self.lookup(np.fromiter(key.exclude_ids, dtype=np.int64))
                mask[rows[rows >= 0]] = False
            if key.exclude_docs:
                mask &= ~self._docs_in(key.exclude_docs)
        self._masks[key] = (self.version, mask)
        while len(self._masks) > MASKS_KEPT:
            self._masks.popitem(last=False)
        return mask

    def _docs_in(self, doc_ids: frozenset[int]) -> np.ndarray:
        """Rows of the given documents: one gather through a document lookup array."""
        if not doc_ids or self.n == 0:
            return np.zeros(self.n, dtype=bool)
        wanted = np.fromiter(doc_ids, dtype=np.int64)
        wanted = wanted[wanted >= 0]
        top = max(int(self.docs.max()), int(wanted.max(initial=0)))
        table = np.zeros(top + 1, dtype=bool)
        table[wanted] = True
        return table[np.maximum(self.docs, 0)] & (self.docs >= 0)

    # -- compaction -------------------------------------------------------------------------
    def compacted(self, vectors: np.ndarray | None = None, owner: Any = None) -> Rows:
        """The live rows in ascending id as a new table, labels and coverage kept. `vectors`
        (with its `owner`) holds them already (a file just written); else they are copied."""
        live = np.flatnonzero(self.alive)
        live = live[np.argsort(self._ids[live], kind="stable")]
        out = Rows(
            self._ids[live],
            self._docs[live],
            self.vectors_of(live) if vectors is None else vectors,
            owner,
        )
        out._covered = self._covered[live].copy()
        out._labels = {name: column[live].copy() for name, column in self._labels.items()}
        return out
