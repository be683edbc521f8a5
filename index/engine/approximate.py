"""Dense retrieval in a large library: the approximate index's candidates, re-scored exactly.

The local engine (local.py) hands its dense retrievals here once its library reaches
APPROXIMATE_FROM passages. A query asks the IVF index (ann.py) for candidates among the rows its
filter allows (a bitmap of ids, applied while the index scans), adds the allowed rows the index
does not hold yet, and re-scores them all with the exact vectors (rows.py). A filter that leaves
few rows is scanned exactly instead; one whose rows lie in lists far from the query (a mission's
reports, searched for another subject) makes the index scan four times as many lists per round
until the page is full.

The index is kept in step with the table without a search ever waiting. The table's `covered`
column marks the rows the index holds with their current vector; deleted rows are kept out of
its results by the bitmap. When the rows it lacks reach PENDING_ROWS, its deleted entries
STALE_SHARE of it, or the library has grown or shrunk REFIT times, a background job makes a new
index from a snapshot of the table (the missing rows folded into a copy, or one built anew); the
next call swaps it in, if the table is still the one the snapshot was taken from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from errors import SearchError
from index.engine import ann
from index.engine.base import EngineFilter, Scored
from index.engine.rows import Rows

RERANK = 200  # candidates asked of the index at least, re-scored exactly
PENDING_ROWS = 20_000  # rows the index may lack before a background job adds them
STALE_SHARE = 0.2  # share of deleted entries in the index that calls for a new one
REFIT = 4.0  # a library this many times larger (or smaller) than the index's lists were
# sized for gets a new index
SELECTIONS_KEPT = 8
_NONE = np.zeros(0, dtype=np.int64)


class ApproximateSearch:
    """The approximate index of one engine's table: searches through it, and its upkeep.
    `probes` overrides the lists a query scans first (all of them: results are exact)."""

    def __init__(self, folder: Path, *, probes: int | None = None) -> None:
        self.folder = folder
        self.probes = probes
        self.index: ann.AnnIndex | None = None
        self.saved = False  # the index on disk is this one
        self._loaded = False
        self._job: ann.Background[ann.AnnIndex] | None = None
        self._plan: tuple[Rows | None, str, np.ndarray, np.ndarray] = (None, "", _NONE, _NONE)
        self._coverage: tuple[Rows | None, int, int] = (None, -1, 0)
        self._selections: dict[EngineFilter | None, tuple[Rows, int, Any, np.ndarray]] = {}

    # -- the index ----------------------------------------------------------------------------
    def load(self, rows: Rows) -> None:
        """The saved index, read when first needed (a writer that only deletes never reads
        it)."""
        if self._loaded:
            return
        self._loaded = True
        loaded = ann.load(self.folder)
        if loaded is not None:
            self.index, self.saved = loaded, True
            rows.covered[:] = np.isin(rows.ids, loaded.ids) & rows.alive
            rows.changed()

    @property
    def loaded(self) -> bool:
        return self._loaded

    def save(self, generation: int) -> None:
        if self.index is not None and not self.saved:
            ann.save(self.index, self.folder, generation)
            self.saved = True

    def _covered_live(self, rows: Rows) -> int:
        if self._coverage[0] is not rows or self._coverage[1] != rows.version:
            held = int(np.count_nonzero(rows.covered & rows.alive))
            self._coverage = (rows, rows.version, held)
        return self._coverage[2]

    def due(self, rows: Rows) -> str:
        """What the index needs: "build" (none, sized for another library, or too many
        deleted entries), "extend" (too many rows it lacks) or ""."""
        self.load(rows)
        index = self.index
        if index is None:
            return "build"
        live, held = rows.live, self._covered_live(rows)
        if live > REFIT * index.trained_for or live * REFIT < index.trained_for:
            return "build"
        if len(index.ids) - held > STALE_SHARE * len(index.ids):
            return "build"
        return "extend" if live - held >= PENDING_ROWS else ""

    # -- background jobs ----------------------------------------------------------------------
    @property
    def rebuilding(self) -> bool:
        return self._job is not None and not self._job.done()

    def tick(self, rows: Rows) -> None:
        """Swap in a finished job; start one when the index needs it."""
        if self._job is not None and self._job.done():
            self.finish(rows)
        if self._job is None:
            self.start(rows, self.due(rows))

    def start(self, rows: Rows, kind: str, *, threads: int = 1) -> bool:
        """Start a job of `kind` ("build" or "extend") on a snapshot of the table. It reads
        only what no later write changes: the base's view, rows added so far (appends go past
        them), copies of the vectors to add."""
        if not kind or self._job is not None:
            return False
        self.load(rows)
        job: Callable[[], ann.AnnIndex]
        if kind == "build" or self.index is None:
            live = np.flatnonzero(rows.alive)
            ids = rows.ids[live].copy()
            self._plan = (rows, "build", live, _NONE)

            def job() -> ann.AnnIndex:
                return ann.build(ids, lambda pos: rows.vectors_of(live[pos]))

        else:
            add = np.flatnonzero(rows.alive & ~rows.covered)
            gone = np.flatnonzero(rows.covered & ~rows.alive)
            new_ids, vectors = rows.ids[add].copy(), rows.vectors_of(add)
            removed, old = rows.ids[gone].copy(), self.index
            self._plan = (rows, "extend", add, gone)

            def job() -> ann.AnnIndex:
                return old.extended(new_ids, vectors, removed)

        self._job = ann.Background(job, threads=threads)
        return True

    def finish(self, rows: Rows) -> None:
        """Wait for the running job, if any, and swap its index in."""
        job, self._job = self._job, None
        if job is None:
            return
        try:
            made = job.result()
        except Exception as exc:
            raise SearchError(
                f"the approximate index of {self.folder} could not be built: {exc}"
            ) from exc
        planned_on, kind, added, gone = self._plan
        if planned_on is not rows:
            return  # the table was rebuilt meanwhile: the next tick plans again
        if kind == "build":
            rows.covered[:] = False
        rows.covered[added] = True
        rows.covered[gone] = False
        rows.changed()
        self.index, self.saved = made, False

    def run_now(self, rows: Rows) -> None:
        """Do what the index needs in this thread, with every core (a writer's flush)."""
        import faiss

        self.finish(rows)
        if self.start(rows, self.due(rows), threads=faiss.omp_get_max_threads()):
            self.finish(rows)

    def close(self) -> None:
        if self._job is not None:
            self._job.result()  # never leave a thread reading files about to be replaced
            self._job = None

    # -- search -------------------------------------------------------------------------------
    def top(
        self, rows: Rows, queries: Sequence[np.ndarray], k: int, where: EngineFilter | None
    ) -> list[Scored]:
        """The k best rows per query among those `where` allows (see the module's doc)."""
        self.tick(rows)
        mask = rows.mask(where)
        allowed = rows.live if mask is None else int(np.count_nonzero(mask))
        index = self.index
        if index is None:  # the first index is being built: scan exactly meanwhile
            every = np.flatnonzero(rows.alive if mask is None else mask)
            return [rows.top(every, q, k) for q in queries]
        bits, pending = self._selection(rows, where, mask)
        want = max(k, RERANK)
        share = allowed / max(rows.live, 1)
        # A filter leaves fewer allowed rows in each list: scan more lists, so that the
        # candidates still number `want` if the allowed rows were spread evenly...
        expected = share * index.scanned_share * len(index.ids) + 1
        probes = self.probes or int(np.ceil(index.probes * max(1.0, 2 * want / expected)))
        out: list[Scored | None] = [None] * len(queries)
        todo = list(range(len(queries)))
        while todo:
            found, _ = index.search(np.vstack([queries[i] for i in todo]), want, bits, probes)
            short = []
            for i, ids in zip(todo, found, strict=True):
                hit = rows.lookup(ids[ids >= 0])
                hit = hit[hit >= 0]
                hit = hit[rows.covered[hit]]  # an entry replaced since is scanned as pending
                result = rows.top(np.concatenate([hit, pending]), queries[i], k)
                if len(result.ids) >= min(k, allowed):
                    out[i] = result
                elif probes < index.lists:
                    short.append(i)
                else:  # every list scanned and still short: the index lacks them
                    every = np.flatnonzero(rows.alive if mask is None else mask)
                    out[i] = rows.top(every, queries[i], k)
            # ...and when they sit in lists far from the query, scan four times as many until
            # the page is full: a disallowed code costs one bit test, far less than an exact
            # scan of every allowed row.
            todo, probes = short, min(index.lists, 4 * probes)
        return [r for r in out if r is not None]

    def _selection(
        self, rows: Rows, where: EngineFilter | None, mask: np.ndarray | None
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """For a filter: the bitmap of ids the index may return (allowed, live, held with
        their current vector; None when that is every id it holds) and the allowed rows it
        lacks. Kept per filter until the table changes."""
        key = None if where is None or where.empty else where
        hit = self._selections.get(key)
        if hit is not None and hit[0] is rows and hit[1] == rows.version:
            return hit[2], hit[3]
        assert self.index is not None
        allowed = rows.alive if mask is None else mask
        whole = key is None and self._covered_live(rows) == len(self.index.ids)
        bits = None if whole else ann.bitmap(rows.ids[allowed & rows.covered])
        pending = np.flatnonzero(allowed & ~rows.covered)
        if len(self._selections) >= SELECTIONS_KEPT:
            self._selections.pop(next(iter(self._selections)))
        self._selections[key] = (rows, rows.version, bits, pending)
        return bits, pending
