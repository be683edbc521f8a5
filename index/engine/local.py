"""The local engine: FAISS and bm25s on one machine, exact below a size and approximate above.

    data/
      vectors.faiss, vectors.json   the base's exact vectors, memory-mapped (vector_file.py)
      keyword/g<gen>/               BM25 over the base (keyword.py)
      ann/                          the approximate index, once a library reaches
                                    APPROXIMATE_FROM passages (ann.py)

All are derived from the library and written atomically. In memory the engine keeps a table of
rows (rows.py): the base's passages, then those added since; a delete marks a row dead.

Below APPROXIMATE_FROM live passages every retrieval is exact and as it always was: a query's
dense scores are one matrix-vector product over the rows, its keyword scores one bm25s pass,
and after a write the next retrieval rebuilds the keyword index from the library.

From APPROXIMATE_FROM on (measured in docs/benchmarks.md, "A million passages on one machine"):
- dense retrieval goes through the approximate index (approximate.py: candidates among the
  passages the filter allows, re-scored exactly, kept in step by background jobs); a filter
  that leaves fewer than half of APPROXIMATE_FROM passages is scanned exactly instead, which is
  then both fast and exact;
- a write is an append or a tombstone, seen by the next search at once; passages added since
  the keyword base are scored by a `KeywordDelta`;
- `flush` rewrites the base only when the changes outgrow COMPACT_SHARE of it. Otherwise the
  saved files and the library are enough: on open the engine reads the base and catches up with
  the library by id (ids are never reused, so a passage missing from the base is new and one
  the library lacks is gone).

This is the only module, with its parts, that imports FAISS or bm25s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from errors import SearchError
from index.engine import ann, keyword, vector_file
from index.engine.approximate import PENDING_ROWS, ApproximateSearch
from index.engine.base import (
    DIMENSION,
    EngineFilter,
    EngineState,
    Ids,
    IndexedPassage,
    PassageSource,
    Scored,
    SearchEngine,
)
from index.engine.rows import Rows, best
from index.engine.vector_file import FAISS_NAME, VECTORS_MANIFEST

__all__ = ["FAISS_NAME", "VECTORS_MANIFEST", "LocalEngine"]

APPROXIMATE_FROM = 50_000  # live passages from which dense retrieval is approximate
COMPACT_SHARE = 0.1  # flush rewrites the base when the changes since outgrow this share


class LocalEngine(SearchEngine):
    """FAISS + bm25s over one data folder. `writable=False` never writes a file: what it has
    to rebuild it keeps in memory. `approximate_from` moves the size at which dense retrieval
    becomes approximate (tests use a small one); `probes` overrides the lists the approximate
    index scans per query (all of them: its results are exact)."""

    name = "local"

    def __init__(
        self,
        folder: Path,
        source: PassageSource,
        *,
        writable: bool = False,
        approximate_from: int = APPROXIMATE_FROM,
        probes: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.source = source
        self.writable = writable
        self.approximate_from = approximate_from
        self._rows: Rows | None = None
        self._generation = -1  # library generation the engine reflects
        self._tags_generation = -1
        self._base_generation = -1  # generation the saved base holds (-1: none saved)
        self._keyword: keyword.KeywordIndex | None = None  # over the base rows
        self._delta: keyword.KeywordDelta | None = None  # over the rows added since
        self._approximate = ApproximateSearch(self.folder, probes=probes)
        self._appended = 0  # rows this engine appended since it opened
        self._cache: dict[str, tuple[Any, np.ndarray]] = {}  # last query's full score vectors

    # -- state ----------------------------------------------------------------------------
    @property
    def state(self) -> EngineState:
        rows = self._rows
        return EngineState(
            self._generation, self._tags_generation, 0 if rows is None else rows.live
        )

    def count(self) -> int:
        return self._table().live

    @property
    def approximate(self) -> bool:
        """Whether dense retrieval is approximate now (the library is large enough)."""
        return self._table().live >= self.approximate_from

    def sync(self) -> bool:
        generation = self.source.generation
        changed = False
        if self._rows is None:
            self._open()
            changed = True
        elif self._generation != generation:
            self._catch_up(generation)
            changed = True
        if self._tags_generation != self.source.tags_generation:
            # A review or a retagging elsewhere: only the labels need reading again.
            self._read_labels()
            changed = True
        return changed

    def _table(self) -> Rows:
        if self._rows is None:
            self._open()
        assert self._rows is not None
        return self._rows

    def _open(self) -> None:
        """The saved base, caught up with the library; or, with none, the library itself."""
        generation = self.source.generation
        saved = vector_file.read(self.folder)
        if saved is None:
            self._rebuild(generation)
        else:
            vectors, owner = self._held(saved)
            self._set_table(Rows(saved.ids, np.full(len(saved.ids), -1), vectors, owner))
            self._base_generation = saved.generation
            self._catch_up(generation, docs_known=False)
        self._read_labels()
        kw = keyword.load(self.folder, self._base_generation)
        if kw is not None and np.array_equal(kw.ids, self._table().ids[: self._table().base]):
            self._keyword = kw

    def _rebuild(self, generation: int) -> None:
        """The table from the library, written as the base when writable (as before)."""
        ids: list[np.ndarray] = []
        docs: list[np.ndarray] = []
        vecs: list[np.ndarray] = []
        for batch in self.source.iter_indexed():
            ids.append(np.fromiter((p.id for p in batch), dtype=np.int64, count=len(batch)))
            docs.append(np.fromiter((p.doc_id for p in batch), dtype=np.int64, count=len(batch)))
            vecs.append(np.vstack([p.vector for p in batch]).astype(np.float32))
        all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        matrix = np.vstack(vecs) if vecs else np.zeros((0, DIMENSION), dtype=np.float32)
        self._set_table(Rows(all_ids, np.concatenate(docs) if docs else all_ids, matrix))
        self._generation = generation
        self._base_generation = -1
        if self.writable:
            self._write_base(generation)

    def _set_table(self, rows: Rows) -> None:
        self._rows = rows
        self._keyword, self._delta = None, None
        self._cache.clear()

    def _catch_up(self, generation: int, *, docs_known: bool = True) -> None:
        """Bring the table level with the library. Ids are never reused and grow, so the
        passages above the table's highest id are the new ones; and when the library then
        holds as many passages as the table, none was deleted and no other id needs reading.
        Otherwise (or when the table's documents are not known yet, on open) every id is
        read: passages the library no longer has die, any other it lacks is added."""
        rows = self._table()
        top = int(rows.ids.max()) if rows.n else 0
        for batch in self.source.iter_indexed(after=top):
            self._append(batch)
        if not docs_known or self.source.passage_count() != rows.live:
            pairs = np.fromiter(
                (x for pair in self.source.passage_docs() for x in pair), dtype=np.int64
            ).reshape(-1, 2)
            found = rows.lookup(pairs[:, 0])
            held = found >= 0
            rows.docs[found[held]] = pairs[held, 1]
            present = np.zeros(rows.n, dtype=bool)
            present[found[held]] = True
            rows.kill(np.flatnonzero(rows.alive & ~present))
            missing = set(pairs[~held, 0].tolist())
            if missing:
                for batch in self.source.iter_indexed(after=min(missing) - 1):
                    new = [p for p in batch if p.id in missing]
                    if new:
                        self._append(new)
        rows.changed()
        self._generation = generation
        self._cache.clear()

    def _read_labels(self) -> None:
        self._tags_generation = self.source.tags_generation
        self._table().load_labels(self.source.passage_labels())

    # -- persistence ----------------------------------------------------------------------
    def _write_base(self, generation: int) -> None:
        """Write the live rows as the new base and map it back in place of the table."""
        rows = self._table()
        live = np.flatnonzero(rows.alive)
        live = live[np.argsort(rows.ids[live], kind="stable")]
        vector_file.write(
            self.folder, rows.ids[live], lambda pos: rows.vectors_of(live[pos]), generation
        )
        saved = vector_file.read(self.folder)
        if saved is None or not np.array_equal(saved.ids, rows.ids[live]):
            raise SearchError(f"the vectors just written to {self.folder} cannot be read back")
        keep = self._keyword if rows.clean else None
        self._set_table(rows.compacted(*self._held(saved)))
        if keep is not None:  # the same passages: saved again under the base's generation
            keep.generation = generation
        self._keyword = keep
        self._base_generation = generation

    def _held(self, saved: vector_file.VectorFile) -> tuple[np.ndarray, Any]:
        """How the base's vectors are held: mapped for a large library (searched through the
        approximate index, rows read a few at a time), in memory for a small one (scanned
        whole by every query, which BLAS does five times faster on aligned memory; at most
        APPROXIMATE_FROM * 1.5 kB)."""
        if len(saved.ids) >= self.approximate_from:
            return saved.vectors, saved
        return np.array(saved.vectors), None

    def checkpoint(self) -> None:
        """The vectors only: the keyword index is rebuilt from the library in seconds, and a
        large library's base needs nothing (the library holds what was added since)."""
        if not self.writable:
            raise SearchError("this engine was opened read-only")
        self._generation = self.source.generation
        if self.approximate:
            self._approximate.save(self._generation)
        elif self._base_generation != self._generation:
            self._write_base(self._generation)

    def flush(self) -> None:
        if not self.writable:
            raise SearchError("this engine was opened read-only")
        rows = self._table()
        self._generation = generation = self.source.generation
        if not self.approximate:
            if self._base_generation != generation or not rows.clean:
                self._write_base(generation)
            self._keyword_ready()
        else:
            changes = (rows.n - rows.base) + rows.dead
            if self._base_generation < 0 or changes > COMPACT_SHARE * rows.live:
                self._approximate.finish(rows)
                self._write_base(generation)
                self._keyword_ready()
            elif not keyword.is_saved(self.folder, self._base_generation):
                self._keyword_ready()
            # The index is kept up to date by whoever used it; a writer that did not (deletes,
            # a few appends) leaves the saved one, and searches scan what it lacks exactly.
            search = self._approximate
            if search.loaded or self._appended >= PENDING_ROWS or not ann.is_saved(self.folder):
                search.run_now(self._table())
                search.save(generation)
        kw = self._keyword
        if kw is not None and not keyword.is_saved(self.folder, kw.generation):
            keyword.save(kw, self.folder)

    def close(self) -> None:
        self._approximate.close()

    # -- writes ---------------------------------------------------------------------------
    def upsert(self, passages: Sequence[IndexedPassage]) -> None:
        if not passages:
            return
        self._table()
        unique = list({p.id: p for p in passages}.values())
        self._append(unique)
        self._appended += len(unique)
        self._written()

    def _append(self, passages: Sequence[IndexedPassage]) -> None:
        added = self._table().append(passages)
        if self._delta is not None:
            self._delta.add(added, [p.text for p in passages])

    def delete(self, ids: Ids) -> None:
        if len(ids) == 0:
            return
        rows = self._table()
        rows.kill(rows.lookup(ids))
        self._written()

    def _written(self) -> None:
        """After a write the library has committed: the engine reflects its generation."""
        self._generation = self.source.generation
        self._cache.clear()

    def set_labels(self, labels: Mapping[int, frozenset[str]], tags_generation: int) -> None:
        if self._rows is None:
            return  # the table reads the labels from the library when it loads
        self._rows.set_labels(labels)
        self._tags_generation = tags_generation

    # -- keyword --------------------------------------------------------------------------
    def _keyword_ready(self) -> keyword.KeywordIndex:
        """The keyword index over the base, and the delta over rows added since. Below the
        approximate size a table that changed is first rebuilt, as before: the library's
        texts, ascending, become both the base and the keyword index."""
        rows = self._table()
        if not self.approximate and (not rows.clean or self._keyword is None):
            if not rows.clean:
                self._set_table(rows.compacted())
                rows = self._table()
            self._keyword = self._build_keyword(rows, self._generation)
        elif self._keyword is None:
            self._keyword = self._build_keyword(rows, self._base_generation)
        base = self._keyword
        if rows.n > rows.base and (self._delta is None or self._delta.rows < rows.n - rows.base):
            self._delta = keyword.KeywordDelta(rows.base, base.avgdl)
            added = np.arange(rows.base, rows.n)
            texts = dict(self._texts(rows.ids[added]))
            keep = np.asarray([int(i) in texts for i in rows.ids[added]], dtype=bool)
            self._delta.add(added[keep], [texts[int(i)] for i in rows.ids[added[keep]]])
            self._delta.rows = rows.n - rows.base
        return base

    def _build_keyword(self, rows: Rows, generation: int) -> keyword.KeywordIndex:
        """BM25 over the base rows' texts, read from the library."""
        base_ids = rows.ids[: rows.base]
        wanted = set(base_ids.tolist())
        index = keyword.build(
            ([(i, t) for i, t in batch if i in wanted] for batch in self.source.passage_texts()),
            generation,
        )
        if not np.array_equal(index.ids, base_ids):
            raise SearchError(
                f"the keyword and vector indexes of {self.folder} hold different passages; "
                "re-run `python cli.py ingest` on the same folder to rebuild them"
            )
        if self.writable and generation == self._base_generation:
            keyword.save(index, self.folder)
        return index

    def _texts(self, ids: np.ndarray) -> Iterator[tuple[int, str]]:
        if len(ids) == 0:
            return
        wanted = set(ids.tolist())
        for batch in self.source.passage_texts(after=int(ids.min()) - 1):
            yield from ((i, t) for i, t in batch if i in wanted)

    def _keyword_all(self, text: str) -> np.ndarray:
        hit = self._cache.get("keyword")
        if hit is not None and hit[0] == text:
            return hit[1]
        base = self._keyword_ready()
        scores = keyword.scores(base, self._delta, text)
        self._cache["keyword"] = (text, scores)
        return scores

    def keyword_top(self, text: str, k: int, where: EngineFilter | None = None) -> Scored:
        if where is not None and where.allows_nothing():
            return Scored.empty()
        scores = self._keyword_all(text)
        rows = self._table()
        mask = rows.mask(where)
        hits = np.flatnonzero(scores > 0)
        if mask is not None:
            hits = hits[mask[hits]]
        top = hits[best(rows.ids[hits], scores[hits], k)]
        if len(top) < k:  # too few passages hold a query word: zero scores fill the list
            zero = (
                np.flatnonzero(scores <= 0)
                if mask is None
                else np.flatnonzero(mask & (scores <= 0))
            )
            need = k - len(top)
            if len(zero) > need:
                zero = zero[np.argpartition(rows.ids[zero], need - 1)[:need]]
            top = np.concatenate([top, zero[np.argsort(rows.ids[zero], kind="stable")]])
        return Scored(rows.ids[top], scores[top].astype(np.float32))

    def keyword_scores(self, text: str, ids: Ids) -> np.ndarray:
        return self._gather(self._keyword_all(text), ids)

    def _gather(self, scores: np.ndarray, ids: Ids) -> np.ndarray:
        found = self._table().lookup(ids)
        out = np.zeros(len(found), dtype=np.float32)
        out[found >= 0] = scores[found[found >= 0]]
        return out

    # -- dense ----------------------------------------------------------------------------
    def _dense_all(self, vector: np.ndarray) -> np.ndarray:
        """Every row's exact inner product with `vector` (below the approximate size)."""
        q = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        key = q.tobytes()
        hit = self._cache.get("dense")
        if hit is not None and hit[0] == key:
            return hit[1]
        self._keyword_ready()  # a changed table is rebuilt first, as before
        scores = self._table().products(q)
        self._cache["dense"] = (key, scores)
        return scores

    def dense_top(self, vector: np.ndarray, k: int, where: EngineFilter | None = None) -> Scored:
        if where is not None and where.allows_nothing():
            return Scored.empty()
        rows = self._table()
        if not self.approximate:
            scores = self._dense_all(vector)
            rows = self._table()
            mask = rows.mask(where)
            cand = np.arange(rows.n) if mask is None else np.flatnonzero(mask)
            top = cand[best(rows.ids[cand], scores[cand], k)]
            return Scored(rows.ids[top], scores[top])
        return self._dense_large([vector], k, where)[0]

    def dense_scores(self, vector: np.ndarray, ids: Ids) -> np.ndarray:
        if not self.approximate:
            return self._gather(self._dense_all(vector), ids)
        rows = self._table()
        found = rows.lookup(ids)
        out = np.zeros(len(found), dtype=np.float32)
        out[found >= 0] = rows.products(vector, found[found >= 0])
        return out

    def neighbours(self, vectors: np.ndarray, k: int) -> list[Scored]:
        """Straight from the table, so passages upserted a moment ago are seen without any
        rebuild (an ingest links near-duplicates after every document)."""
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        rows = self._table()
        if self.approximate:
            return self._dense_large(list(queries), k, None)
        live = np.flatnonzero(rows.alive)
        # One query comes back as one score per row: keep the (rows, queries) shape.
        scores = rows.products(queries).reshape(len(rows.alive), len(queries))[live]
        out = []
        for column in scores.T:
            top = best(rows.ids[live], column, k)
            out.append(Scored(rows.ids[live[top]], column[top].astype(np.float32)))
        return out

    def _dense_large(
        self, queries: Sequence[np.ndarray], k: int, where: EngineFilter | None
    ) -> list[Scored]:
        """Through the approximate index; exactly when the filter leaves few passages (fewer
        than half of APPROXIMATE_FROM: a scan as cheap as the index, and exact)."""
        rows = self._table()
        mask = rows.mask(where)
        if mask is not None and np.count_nonzero(mask) < self.approximate_from // 2:
            allowed = np.flatnonzero(mask)
            return [rows.top(allowed, q, k) for q in queries]
        return self._approximate.top(rows, queries, k, where)

    # -- the approximate index's upkeep ---------------------------------------------------
    @property
    def approximate_index(self) -> ann.AnnIndex | None:
        """The approximate index searches use now (None: none yet, or a small library)."""
        return self._approximate.index

    @property
    def rebuilding(self) -> bool:
        """Whether a background job on the approximate index is running."""
        return self._approximate.rebuilding

    def wait_for_index(self) -> None:
        """Do the approximate index's due work now and swap it in (tests and benchmarks call
        this; searches never wait: they use the index they have, or scan exactly)."""
        if self.approximate:
            self._approximate.tick(self._table())
            self._approximate.finish(self._table())

    def rebuild_index(self, *, full: bool = True) -> bool:
        """Start, in the background, a new approximate index (`full`) or one with the passages
        added since folded in; searches go on with the current one until it is swapped in.
        Returns False when there is nothing to do (a small library, or a job running)."""
        if not self.approximate:
            return False
        return self._approximate.start(self._table(), "build" if full else "extend")

    # -- lookups --------------------------------------------------------------------------
    def vectors(self, ids: Ids) -> np.ndarray:
        rows = self._table()
        found = rows.lookup(ids)
        out = np.zeros((len(found), DIMENSION), dtype=np.float32)
        out[found >= 0] = rows.vectors_of(found[found >= 0])
        return out

    def doc_passages(self, doc_id: int) -> np.ndarray:
        rows = self._table()
        return np.sort(rows.ids[rows.doc_rows(doc_id)])

    def doc_ids(self, ids: Ids) -> np.ndarray:
        rows = self._table()
        found = rows.lookup(ids)
        return rows.docs[found[found >= 0]]
