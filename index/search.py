"""Hybrid search over passages: BM25 and MiniLM fused, documents ranked from their passages.

How a query is answered (each choice measured in benchmarks/search.py, docs/benchmarks.md):
1. The query is expanded through the glossary and gazetteer (nlp/query.py).
2. The engine (index/engine/) returns each retriever's top candidates among the passages the
   filters allow: the filters go into the retrieval, so a page of results stays full.
3. The two lists are fused, documents ranked from their passages and boosted for the places
   and period the query names (pure functions in index/fusion.py).
4. Passages copied across documents are folded: one slot, "also in N other documents".

`mode="bm25"` and `mode="dense"` are the single-retriever baselines over the same index, with
no expansion, no boost, and a document ranked by its best passage.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from errors import SearchError
from index import fusion
from index.access import PUBLIC, Access
from index.catalog import Catalog, DocumentInfo, facet_counts
from index.datadir import DataDir
from index.embeddings import encode
from index.engine import EngineFilter, SearchEngine
from index.filters import Filters
from index.library import Locator
from index.snippets import make_snippet, query_stems
from nlp.query import ParsedQuery, missions_in, parse_query

MODES = ("hybrid", "bm25", "dense")
QUERY_CACHE = 64  # query embeddings kept


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
    def locator(self) -> Locator:
        return Locator(self.page, self.page_end, self.paragraph, self.paragraph_end)

    @property
    def citation(self) -> str:
        return self.locator.citation

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


class Searcher:
    """Search one data folder: understand the query, ask the engine for each retriever's
    candidates (filters inside the retrieval), fuse them, rank documents, build hits. Cheap to
    create; the engine loads on first use and catches up whenever the library changes."""

    def __init__(self, dd: DataDir, *, threads: int = 2) -> None:
        self.dd = dd
        self.threads = threads
        self.catalog = Catalog(dd.store)
        self._query_cache: dict[str, np.ndarray] = {}

    # -- state ----------------------------------------------------------------------------
    def _engine(self) -> SearchEngine:
        """The engine, up to date with the library. An ingest in another process may commit
        while the indexes load: try again."""
        engine = self.dd.engine
        for _ in range(3):
            try:
                engine.sync()
                if engine.state.generation == self.dd.store.generation:
                    return engine
            except SearchError:
                continue
        raise SearchError(
            f"the keyword and vector indexes of {self.dd.path} disagree; "
            "re-run `python cli.py ingest` on the same folder to rebuild them"
        )

    def _where(self, filters: Filters | None, access: Access) -> EngineFilter | None:
        """The engine's filter: the documents `access` may see and the document-level keys
        through the catalogue, tags as labels. What a user may not see is never a candidate,
        so it is never ranked, counted, hinted at or shown."""
        visible = self.catalog.visible(access)
        everything = len(visible) == len(self.catalog.documents)
        doc_level = filters is not None and filters.document_level
        doc_ids = None
        if doc_level or not everything:
            doc_ids = self.catalog.matching(access, filters if doc_level else None)
        groups: tuple[frozenset[str], ...] = ()
        if filters is not None:
            groups = tuple(frozenset(labels) for labels in (filters.a4p, filters.pillars) if labels)
        if doc_ids is None and not groups:
            return None
        return EngineFilter(doc_ids=doc_ids, label_groups=groups)

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

    # -- retrieval ------------------------------------------------------------------------
    def _retrieve(
        self,
        engine: SearchEngine,
        pq: ParsedQuery,
        mode: str,
        where: EngineFilter | None,
        qvec: np.ndarray | None = None,
    ) -> fusion.Fused:
        """Candidates best first with their scores, for one mode."""
        if mode == "bm25":
            top = engine.keyword_top(pq.text, fusion.CANDIDATES, where)
            return fusion.single(top.ids, top.scores, keyword=True)
        if qvec is None:
            qvec = self.query_vector(pq.text if mode == "dense" else pq.dense_text)
        if mode == "dense":
            top = engine.dense_top(qvec, fusion.CANDIDATES, where)
            return fusion.single(top.ids, top.scores, keyword=False)
        text = pq.keyword_text
        vec = qvec
        kw = engine.keyword_top(text, fusion.NORM_DEPTH, where)
        dense = engine.dense_top(vec, fusion.NORM_DEPTH, where)
        return fusion.fuse(
            kw.ids,
            kw.scores,
            dense.ids,
            dense.scores,
            keyword_of=lambda ids: engine.keyword_scores(text, ids),
            dense_of=lambda ids: engine.dense_scores(vec, ids),
        )

    def _boosts(self, pq: ParsedQuery, docs: dict[int, DocumentInfo]) -> dict[int, float]:
        place_missions = set(pq.missions) if pq.missions else missions_in(pq.countries)
        boosts: dict[int, float] = {}
        for d in docs.values():
            b = fusion.boost(
                query_missions=place_missions,
                query_years=pq.years,
                doc_missions=d.missions,
                doc_year=d.year,
            )
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
        access: Access = PUBLIC,
    ) -> SearchResults:
        """Documents and passages for `query`, among what `access` may see (by default only
        unclassified documents without groups: say who is asking)."""
        if mode not in MODES:
            raise SearchError(f"unknown search mode {mode!r}: choose from {', '.join(MODES)}")
        if not query.strip():
            raise SearchError("type something to search for")
        started = time.perf_counter()
        pq = parse_query(query)
        return self._run(
            pq, self._where(filters, access), k, mode, passages_per_doc, started, access=access
        )

    def more_like_this(
        self,
        *,
        passage_id: int | None = None,
        doc_id: int | None = None,
        k: int = 10,
        filters: Filters | None = None,
        access: Access = PUBLIC,
    ) -> SearchResults:
        """Passages and documents like a passage (or a whole document), excluding itself; a
        source `access` may not see is "not found"."""
        started = time.perf_counter()
        engine = self._engine()
        if (passage_id is None) == (doc_id is None):
            raise SearchError("more like this needs either a passage or a document")
        visible = self.catalog.visible(access)
        if passage_id is not None:
            owner = engine.doc_ids([passage_id])
            if len(owner) == 0 or int(owner[0]) not in visible:
                raise SearchError(f"no passage {passage_id} in {self.dd.path}")
            source_ids = np.asarray([passage_id], dtype=np.int64)
            exclude_docs: frozenset[int] = frozenset()
        else:
            source_ids = engine.doc_passages(doc_id or 0)
            if len(source_ids) == 0 or int(doc_id or 0) not in visible:
                raise SearchError(f"no document {doc_id} in {self.dd.path}")
            exclude_docs = frozenset({int(doc_id or 0)})
        qvec = engine.vectors(source_ids).mean(axis=0)
        qvec /= float(np.linalg.norm(qvec)) or 1.0
        texts = self.dd.store.passages_by_ids(int(i) for i in source_ids[:5])
        # The keyword side reads the source's first words: enough for its distinctive terms
        # without making a 250-word query.
        words = " ".join(p.text for p in texts.values()).split()[:80]
        pq = ParsedQuery(text=" ".join(words))
        excluded = {int(i) for i in source_ids}
        for copies in self.dd.store.duplicate_groups(excluded).values():
            excluded.update(pid for pid, _ in copies)
        base = self._where(filters, access) or EngineFilter()
        where = replace(base, exclude_ids=frozenset(excluded), exclude_docs=exclude_docs)
        return self._run(pq, where, k, "hybrid", 3, started, qvec=qvec, access=access)

    def facets(
        self, filters: Filters | None = None, *, access: Access = PUBLIC
    ) -> dict[str, dict[str, int]]:
        """Documents per filter value over what `access` may see (or the filtered part)."""
        docs = list(self.catalog.visible(access).values())
        if filters is not None and not filters.empty:
            docs = [d for d in docs if d.matches(filters)]
        return facet_counts(docs)

    # -- the ranking ----------------------------------------------------------------------
    def _run(
        self,
        pq: ParsedQuery,
        where: EngineFilter | None,
        k: int,
        mode: str,
        passages_per_doc: int,
        started: float,
        *,
        qvec: np.ndarray | None = None,
        access: Access = PUBLIC,
    ) -> SearchResults:
        engine = self._engine()
        if engine.count() == 0 or (where is not None and where.allows_nothing()):
            return SearchResults(pq.text, (), (), {}, _ms(started), pq, 0)
        ranked = self._retrieve(engine, pq, mode, where, qvec)
        if len(ranked) == 0:
            return SearchResults(pq.text, (), (), {}, _ms(started), pq, 0)
        scores = ranked.scores_of()
        ids = ranked.ids.tolist()
        doc_of = dict(zip(ids, engine.doc_ids(ranked.ids).tolist(), strict=True))
        by_doc = fusion.group_by_document(ids, doc_of)
        docs_info = self.catalog.visible(access)
        # Only documents with a candidate passage are scored (the boost of the others is never
        # read): at a million passages that is 2,000 documents a query instead of 16,000.
        candidates = {d: docs_info[d] for d in by_doc if d in docs_info}
        boosts = self._boosts(pq, candidates) if mode == "hybrid" else {}
        doc_scores = fusion.document_scores(
            by_doc, {p: s[0] for p, s in scores.items()}, boosts, decayed=mode == "hybrid"
        )
        ranked_docs = fusion.rank_documents(doc_scores)
        shown_docs = ranked_docs[:k]
        shown = [p for d in shown_docs for p in by_doc[d][: passages_per_doc * 2]]
        flat = [int(p) for p in ranked.ids[: k * 3]]
        copies = self.dd.store.duplicate_groups(set(shown + flat))

        def pick(in_order: list[int], limit: int, seen: set[int]) -> list[int]:
            """The first `limit` passages not in `seen`, one per near-duplicate group."""
            taken: list[int] = []
            for pid in in_order:
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
        flat_pids = pick(flat, k, set())
        stems = query_stems(pq.terms or (pq.text,))
        hits = self._hits(
            {p for ps in doc_pids.values() for p in ps} | set(flat_pids),
            scores,
            stems,
            copies,
            set(docs_info),
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
        flat_hits = [hits[p] for p in flat_pids if p in hits]
        candidate_docs = [docs_info[d] for d in ranked_docs if d in docs_info]
        return SearchResults(
            query=pq.text,
            documents=tuple(documents),
            passages=tuple(_ranked(flat_hits)),
            facets=facet_counts(candidate_docs),
            took_ms=_ms(started),
            parsed=pq,
            total_documents=len(candidate_docs),
        )

    def _hits(
        self,
        pids: set[int],
        scores: dict[int, tuple[float, float, float]],
        stems: frozenset[str],
        groups: dict[int, list[tuple[int, int]]],
        visible: set[int],
    ) -> dict[int, SearchHit]:
        store = self.dd.store
        rows = store.passages_by_ids(pids)
        tags = store.tags_for(pids)
        out: dict[int, SearchHit] = {}
        for pid in pids:
            row = rows.get(pid)
            if row is None or row.doc_id not in visible:
                continue  # the index and store disagree: never show a wrong passage
            fused, kw, dense = scores[pid]
            text, spans = make_snippet(row.text, stems)
            where = row.locator
            out[pid] = SearchHit(
                rank=0,
                doc_id=row.doc_id,
                source=row.file_name,
                title=row.title,
                page=where.page or 0,
                page_end=where.page_end or where.page or 0,
                passage_id=pid,
                score=round(fused, 4),
                snippet=text,
                highlights=spans,
                a4p=tags[pid]["a4p"],
                pillars=tags[pid]["pillars"],
                symbol=row.symbol,
                date=row.doc_date,
                paragraph=where.paragraph,
                paragraph_end=where.paragraph_end,
                heading=row.heading,
                also_in=tuple(  # copies in documents this user may see, only
                    sorted({d for _, d in groups.get(pid, []) if d != row.doc_id and d in visible})
                ),
                scores={
                    "keyword": round(kw, 4),
                    "dense": round(dense, 4),
                    "fused": round(fused, 4),
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
