"""Hybrid search over passages: BM25 and MiniLM fused, documents ranked from their passages.

How a query is answered (each choice measured in benchmarks/search.py, docs/benchmarks.md):
1. The query is expanded through the glossary and gazetteer (nlp/query.py).
2. Every passage allowed by the filters gets a BM25 score and a cosine score. Each is turned
   into a z-score against that retriever's own top candidates, and the two are mixed 0.7/0.3.
   Raw BM25 and cosine live on unrelated scales; reciprocal-rank fusion throws the margins
   away and scored 0.03 lower. The weights were chosen on one half of the queries (split by
   mission) and the same values won on the other half.
3. A document scores the sum of its best five passages' fused scores, weighted 1, 1/2, 1/4...:
   a report that treats the subject in several paragraphs beats one passing mention.
4. Documents of a mission or country the query names, and of the period it names, get a soft
   boost (they rise; others still appear).
5. Passages copied across documents are folded: one slot, "also in N other documents".

`mode="bm25"` and `mode="dense"` are the single-retriever baselines over the same index, with
no expansion, no boost, and a document ranked by its best passage.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from errors import SearchError
from index.catalog import Catalog, DocumentInfo, facet_counts
from index.datadir import DataDir
from index.embeddings import encode
from index.filters import Filters
from index.snippets import make_snippet, query_stems
from nlp.query import ParsedQuery, missions_in, parse_query

MODES = ("hybrid", "bm25", "dense")
KEYWORD_WEIGHT = 0.7  # share of the BM25 z-score in the fused score
NORM_DEPTH = 1000  # each retriever's top NORM_DEPTH passages are the candidates, and the
# z-scores are taken against them
CANDIDATES = 3000  # passages a single-retriever baseline ranks documents from
QUERY_CACHE = 64  # query embeddings kept
DOC_PASSAGES = 5  # a document scores its best DOC_PASSAGES passages...
DOC_DECAY = 0.5  # ...weighted 1, DOC_DECAY, DOC_DECAY**2
PLACE_BOOST = 1.0  # added (in z units) to documents of the mission or country named
PERIOD_BOOST = 1.0  # added to documents dated in the period named (or the year after it)


@dataclass(frozen=True)
class SearchHit:
    """One passage in the results."""

    rank: int
    doc_id: int
    source: str
    title: str
    page: int
    page_end: int
    passage_id: int
    score: float
    snippet: str
    highlights: tuple[tuple[int, int], ...] = ()
    a4p: list[str] = field(default_factory=list)
    pillars: list[str] = field(default_factory=list)
    symbol: str | None = None
    date: str | None = None
    paragraph: int | None = None
    paragraph_end: int | None = None
    heading: str | None = None
    also_in: tuple[int, ...] = ()  # documents holding a near-duplicate of this passage
    scores: dict[str, float] = field(default_factory=dict)  # keyword, dense, fused

    @property
    def citation(self) -> str:
        pages = (
            f"p. {self.page}" if self.page_end == self.page else f"pp. {self.page}–{self.page_end}"
        )
        if self.paragraph is None:
            return pages
        if self.paragraph_end not in (None, self.paragraph):
            return f"{pages}, ¶¶ {self.paragraph}–{self.paragraph_end}"
        return f"{pages}, ¶ {self.paragraph}"

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["highlights"] = [list(s) for s in self.highlights]
        out["also_in"] = list(self.also_in)
        out["citation"] = self.citation
        return out


@dataclass(frozen=True)
class DocumentResult:
    rank: int
    doc_id: int
    source: str
    title: str
    symbol: str | None
    date: str | None
    missions: tuple[str, ...]
    doc_type: str | None
    score: float
    a4p: list[str]
    pillars: list[str]
    passages: tuple[SearchHit, ...]  # best first
    scores: dict[str, float] = field(default_factory=dict)  # passages, boost

    def to_json(self) -> dict[str, object]:
        out = {k: v for k, v in asdict(self).items() if k != "passages"}
        out["missions"] = list(self.missions)
        out["passages"] = [p.to_json() for p in self.passages]
        return out


@dataclass(frozen=True)
class SearchResults:
    query: str
    documents: tuple[DocumentResult, ...]
    passages: tuple[SearchHit, ...]
    facets: dict[str, dict[str, int]]
    took_ms: float
    parsed: ParsedQuery | None = None
    total_documents: int = 0  # documents with at least one candidate passage


@dataclass
class _Table:
    """Passage rows aligned across the keyword index and the embedding matrix."""

    generation: int
    ids: np.ndarray  # passage id per row
    doc_of: np.ndarray  # document id per row
    matrix: np.ndarray  # normalised embedding per row
    row_of: dict[int, int]


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _blas_limit() -> Any:
    """One BLAS thread for the matrix-vector product: it is memory-bound, and OpenBLAS's idle
    workers spin on both cores afterwards, slowing the next query's embedding threefold
    (measured: median search 114 ms -> 41 ms on realdocs)."""
    return _blas_controller().limit(limits=1, user_api="blas")


def _stats(top: np.ndarray) -> tuple[float, float]:
    """Mean and spread of a retriever's top scores (the spread never 0)."""
    if len(top) == 0:
        return 0.0, 1.0
    spread = float(top.std())
    return float(top.mean()), spread if spread > 1e-9 else 1.0


def _top(scores: np.ndarray, allowed: np.ndarray | None, k: int) -> np.ndarray:
    """Row numbers of the k best allowed scores, best first."""
    rows = np.flatnonzero(allowed) if allowed is not None else np.arange(len(scores))
    if len(rows) == 0:
        return rows
    if len(rows) > k:
        part = np.argpartition(-scores[rows], k - 1)[:k]
        rows = rows[part]
    return rows[np.argsort(-scores[rows], kind="stable")]


class Searcher:
    """Search one data folder. Cheap to create; the passage table and models load on first use
    and are reused until the store changes."""

    def __init__(self, dd: DataDir, *, threads: int = 2) -> None:
        self.dd = dd
        self.threads = threads
        self.catalog = Catalog(dd.store)
        self._table: _Table | None = None
        self._query_cache: dict[str, np.ndarray] = {}

    # -- state ----------------------------------------------------------------------------
    def _passages(self) -> _Table:
        generation = self.dd.store.generation
        if self._table is not None and self._table.generation == generation:
            return self._table
        # An ingest in another process may commit while the two indexes load: try again.
        for _ in range(3):
            table = self._load_table(generation)
            if table is not None:
                self._table = table
                return table
            generation = self.dd.store.generation
        raise SearchError(
            f"the keyword and vector indexes of {self.dd.path} disagree; "
            "re-run `python cli.py ingest` on the same folder to rebuild them"
        )

    def _load_table(self, generation: int) -> _Table | None:
        import faiss

        kw = self.dd.keyword_index()
        index = self.dd.vector_index()
        ids = kw.ids
        n = index.ntotal
        if len(ids) != n:
            return None
        if n:
            faiss_ids = faiss.vector_to_array(index.id_map).astype(np.int64)
            vecs = index.index.reconstruct_n(0, n)
            order = np.argsort(faiss_ids)
            pos = np.minimum(np.searchsorted(faiss_ids[order], ids), n - 1)
            if not np.array_equal(faiss_ids[order][pos], ids):
                return None
            matrix = np.ascontiguousarray(vecs[order][pos], dtype=np.float32)
        else:
            matrix = np.zeros((0, 384), dtype=np.float32)
        doc_of = np.zeros(len(ids), dtype=np.int64)
        row_of = {int(pid): i for i, pid in enumerate(ids.tolist())}
        for pid, doc_id in self.dd.store.conn.execute("SELECT id, doc_id FROM passages"):
            if pid in row_of:
                doc_of[row_of[pid]] = doc_id
        return _Table(generation, ids, doc_of, matrix, row_of)

    def _allowed(self, t: _Table, filters: Filters | None) -> np.ndarray | None:
        if filters is None or filters.empty:
            return None
        mask = np.ones(len(t.ids), dtype=bool)
        if filters.document_level:
            docs = [d.id for d in self.catalog.documents.values() if d.matches(filters)]
            mask &= np.isin(t.doc_of, np.asarray(docs, dtype=np.int64))
        for axis, labels in (("a4p", filters.a4p), ("pillars", filters.pillars)):
            if labels:
                marks = ",".join("?" * len(labels))
                tagged = [
                    t.row_of[r[0]]
                    for r in self.dd.store.conn.execute(
                        f"SELECT DISTINCT passage_id FROM passage_tags WHERE axis = ?"
                        f" AND label IN ({marks})",
                        (axis, *labels),
                    )
                    if r[0] in t.row_of
                ]
                keep = np.zeros(len(t.ids), dtype=bool)
                keep[tagged] = True
                mask &= keep
        return mask

    # -- scoring --------------------------------------------------------------------------
    def _raw_scores(
        self, t: _Table, pq: ParsedQuery, mode: str, qvec: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(keyword, dense) score of every row; a retriever the mode does not use scores 0."""
        n = len(t.ids)
        kw = np.zeros(n, dtype=np.float32)
        dense = np.zeros(n, dtype=np.float32)
        if mode != "dense":
            kw = self.dd.keyword_index().scores(pq.text if mode == "bm25" else pq.keyword_text)
        if mode != "bm25" and n:
            if qvec is None:
                qvec = self.query_vector(pq.text if mode == "dense" else pq.dense_text)
            with _blas_limit():
                dense = t.matrix @ qvec
        return kw, dense

    def query_vector(self, text: str) -> np.ndarray:
        """The query's embedding; the last few are kept, since changing a filter or a page
        re-runs the same query."""
        vec = self._query_cache.get(text)
        if vec is None:
            vec = encode([text], threads=self.threads)[0]
            if len(self._query_cache) >= QUERY_CACHE:
                self._query_cache.pop(next(iter(self._query_cache)))
            self._query_cache[text] = vec
        return vec

    def forget_queries(self) -> None:
        self._query_cache.clear()

    def _ranked_rows(
        self,
        t: _Table,
        pq: ParsedQuery,
        mode: str,
        allowed: np.ndarray | None,
        qvec: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(candidate rows best first, fused, keyword, dense scores by row)."""
        kw, dense = self._raw_scores(t, pq, mode, qvec)
        if mode != "hybrid":
            single = kw if mode == "bm25" else dense
            rows = _top(single, allowed, CANDIDATES)
            if mode == "bm25":
                rows = rows[kw[rows] > 0]
            return rows, single, kw, dense
        # Candidates are each retriever's top NORM_DEPTH; the z-scores use the same lists.
        fused = np.full(len(t.ids), -np.inf, dtype=np.float32)
        dense_rows = _top(dense, allowed, NORM_DEPTH)
        mean_d, sd_d = _stats(dense[dense_rows])
        kw_rows = _top(kw, allowed, NORM_DEPTH)
        kw_rows = kw_rows[kw[kw_rows] > 0]
        if len(kw_rows) == 0:  # no query word is indexed: dense alone
            fused[dense_rows] = (dense[dense_rows] - mean_d) / sd_d
            return dense_rows, fused, kw, dense
        mean_k, sd_k = _stats(kw[kw_rows])
        cand = np.union1d(kw_rows, dense_rows)
        fused[cand] = (
            KEYWORD_WEIGHT * (kw[cand] - mean_k) / sd_k
            + (1 - KEYWORD_WEIGHT) * (dense[cand] - mean_d) / sd_d
        )
        return cand[np.argsort(-fused[cand], kind="stable")], fused, kw, dense

    def _boosts(self, pq: ParsedQuery, docs: dict[int, DocumentInfo]) -> dict[int, float]:
        place_missions = set(pq.missions) if pq.missions else missions_in(pq.countries)
        boosts: dict[int, float] = {}
        for d in docs.values():
            b = 0.0
            if place_missions and place_missions & set(d.missions):
                b += PLACE_BOOST
            if pq.years and d.year is not None and pq.years[0] <= d.year <= pq.years[1] + 1:
                # a report covers the months before its date, so the year after counts too
                b += PERIOD_BOOST
            if b:
                boosts[d.id] = b
        return boosts

    # -- public ---------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        filters: Filters | None = None,
        k: int = 10,
        mode: str = "hybrid",
        passages_per_doc: int = 3,
    ) -> SearchResults:
        if mode not in MODES:
            raise SearchError(f"unknown search mode {mode!r}: choose from {', '.join(MODES)}")
        if not query.strip():
            raise SearchError("type something to search for")
        started = time.perf_counter()
        pq = parse_query(query)
        return self._run(pq, filters, k, mode, passages_per_doc, started)

    def more_like_this(
        self,
        *,
        passage_id: int | None = None,
        doc_id: int | None = None,
        k: int = 10,
        filters: Filters | None = None,
    ) -> SearchResults:
        """Passages and documents like a passage (or a whole document), excluding itself."""
        started = time.perf_counter()
        t = self._passages()
        if (passage_id is None) == (doc_id is None):
            raise SearchError("more like this needs either a passage or a document")
        if passage_id is not None:
            row = t.row_of.get(passage_id)
            if row is None:
                raise SearchError(f"no passage {passage_id} in {self.dd.path}")
            rows = np.asarray([row])
            exclude_doc = None
        else:
            rows = np.flatnonzero(t.doc_of == doc_id)
            if len(rows) == 0:
                raise SearchError(f"no document {doc_id} in {self.dd.path}")
            exclude_doc = doc_id
        qvec = t.matrix[rows].mean(axis=0)
        qvec /= float(np.linalg.norm(qvec)) or 1.0
        texts = self.dd.store.passages_by_ids(int(t.ids[r]) for r in rows[:5])
        # The keyword side reads the source's first words: enough for its distinctive terms
        # without making a 250-word query.
        words = " ".join(r["text"] for r in texts.values()).split()[:80]
        pq = ParsedQuery(text=" ".join(words))
        allowed = self._allowed(t, filters)
        base = np.ones(len(t.ids), dtype=bool) if allowed is None else allowed
        base[rows] = False
        if exclude_doc is not None:
            base &= t.doc_of != exclude_doc
        dups = self.dd.store.duplicate_groups(int(t.ids[r]) for r in rows)
        for copies in dups.values():
            for pid, _ in copies:
                if pid in t.row_of:
                    base[t.row_of[pid]] = False
        return self._run(pq, None, k, "hybrid", 3, started, allowed=base, qvec=qvec)

    def facets(self, filters: Filters | None = None) -> dict[str, dict[str, int]]:
        """Documents per filter value over the whole library (or the filtered part of it)."""
        docs = list(self.catalog.documents.values())
        if filters is not None and not filters.empty:
            docs = [d for d in docs if d.matches(filters)]
        return facet_counts(docs)

    # -- the ranking ----------------------------------------------------------------------
    def _run(
        self,
        pq: ParsedQuery,
        filters: Filters | None,
        k: int,
        mode: str,
        passages_per_doc: int,
        started: float,
        *,
        allowed: np.ndarray | None = None,
        qvec: np.ndarray | None = None,
    ) -> SearchResults:
        t = self._passages()
        if allowed is None:
            allowed = self._allowed(t, filters)
        if len(t.ids) == 0 or (allowed is not None and not allowed.any()):
            return SearchResults(pq.text, (), (), {}, _ms(started), pq, 0)
        rows, fused, kw, dense = self._ranked_rows(t, pq, mode, allowed, qvec)
        docs_info = self.catalog.documents
        by_doc: dict[int, list[int]] = {}
        for r in rows.tolist():
            by_doc.setdefault(int(t.doc_of[r]), []).append(r)
        boosts = self._boosts(pq, docs_info) if mode == "hybrid" else {}
        doc_scores: dict[int, float] = {}
        for doc_id, doc_rows in by_doc.items():
            if mode == "hybrid":
                s = sum(
                    float(fused[r]) * DOC_DECAY**j for j, r in enumerate(doc_rows[:DOC_PASSAGES])
                )
                doc_scores[doc_id] = s + boosts.get(doc_id, 0.0)
            else:
                doc_scores[doc_id] = float(fused[doc_rows[0]])
        ranked_docs = sorted(doc_scores, key=lambda d: -doc_scores[d])
        shown_docs = ranked_docs[:k]
        shown_rows = [r for d in shown_docs for r in by_doc[d][: passages_per_doc * 2]]
        flat_rows = rows[: k * 3].tolist()
        copies = self.dd.store.duplicate_groups({int(t.ids[r]) for r in shown_rows + flat_rows})

        def pick(rows_in_order: list[int], limit: int, seen: set[int]) -> list[int]:
            """The first `limit` passages not in `seen`, one per near-duplicate group."""
            taken: list[int] = []
            for r in rows_in_order:
                pid = int(t.ids[r])
                if pid in seen:
                    continue
                seen.add(pid)
                seen.update(other for other, _ in copies.get(pid, ()))
                taken.append(pid)
                if len(taken) == limit:
                    break
            return taken

        # A paragraph copied into several reports is shown once, under the best-ranked of
        # them; the others show their own next-best passages (or the copy, if they have
        # nothing else).
        shown_groups: set[int] = set()
        doc_pids: dict[int, list[int]] = {}
        for d in shown_docs:
            doc_pids[d] = pick(by_doc[d], passages_per_doc, shown_groups) or pick(
                by_doc[d], 1, set()
            )
        flat_pids = pick(flat_rows, k, set())
        stems = query_stems(pq.terms or (pq.text,))
        hits = self._hits(
            t,
            {p for ps in doc_pids.values() for p in ps} | set(flat_pids),
            fused,
            kw,
            dense,
            stems,
            copies,
        )

        documents: list[DocumentResult] = []
        for doc_id in shown_docs:
            info = docs_info.get(doc_id)
            if info is None:
                continue
            documents.append(
                DocumentResult(
                    rank=len(documents) + 1,
                    doc_id=doc_id,
                    source=info.file_name,
                    title=info.title,
                    symbol=info.symbol,
                    date=info.date,
                    missions=info.missions,
                    doc_type=info.doc_type,
                    score=round(doc_scores[doc_id], 4),
                    a4p=list(info.a4p),
                    pillars=list(info.pillars),
                    passages=tuple(_ranked([hits[p] for p in doc_pids[doc_id] if p in hits])),
                    scores={"boost": boosts.get(doc_id, 0.0)},
                )
            )
        flat = [hits[p] for p in flat_pids if p in hits]
        candidate_docs = [docs_info[d] for d in ranked_docs if d in docs_info]
        facets = facet_counts(candidate_docs)
        return SearchResults(
            query=pq.text,
            documents=tuple(documents),
            passages=tuple(_ranked(flat)),
            facets=facets,
            took_ms=_ms(started),
            parsed=pq,
            total_documents=len(candidate_docs),
        )

    def _hits(
        self,
        t: _Table,
        pids: set[int],
        fused: np.ndarray,
        kw: np.ndarray,
        dense: np.ndarray,
        stems: frozenset[str],
        groups: dict[int, list[tuple[int, int]]],
    ) -> dict[int, SearchHit]:
        store = self.dd.store
        rows = store.passages_by_ids(pids)
        tags = store.tags_for(pids)
        out: dict[int, SearchHit] = {}
        for pid in pids:
            row = rows.get(pid)
            if row is None:  # the index and store disagree: never show a wrong passage
                continue
            r = t.row_of[pid]
            text, spans = make_snippet(row["text"], stems)
            out[pid] = SearchHit(
                rank=0,
                doc_id=row["doc_id"],
                source=row["file_name"],
                title=row["title"],
                page=row["page_start"],
                page_end=row["page_end"],
                passage_id=pid,
                score=round(float(fused[r]), 4),
                snippet=text,
                highlights=spans,
                a4p=tags[pid].get("a4p", []),
                pillars=tags[pid].get("pillars", []),
                symbol=row["symbol"],
                date=row["doc_date"],
                paragraph=row["para_start"],
                paragraph_end=row["para_end"],
                heading=row["heading"],
                also_in=tuple(
                    sorted({doc for _, doc in groups.get(pid, []) if doc != row["doc_id"]})
                ),
                scores={
                    "keyword": round(float(kw[r]), 4),
                    "dense": round(float(dense[r]), 4),
                    "fused": round(float(fused[r]), 4),
                },
            )
        return out


def _ranked(hits: list[SearchHit]) -> list[SearchHit]:
    return [replace(h, rank=i) for i, h in enumerate(hits, start=1)]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def search(dd: DataDir, query: str, **kwargs: Any) -> SearchResults:
    """One-off search (the CLI's); long-lived callers keep a `Searcher`."""
    return Searcher(dd).search(query, **kwargs)
