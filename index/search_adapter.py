"""Stand-in for the search contract (`index.search.Searcher`, `Filters`, `SearchResults`…) over
today's `dense_search`, so the app can be built before the hybrid search lands. The types and
field names are the contract's; once `index/search.py` provides them, the app switches by
changing one import in `ui/common.py` and this module is deleted.

Filtering here is post-hoc over a generous dense candidate list, and facets count the
candidate documents: good enough for the demo library, not for a large one.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from index import vectors
from index.browse import DocumentFacets, document_facets
from index.datadir import DataDir
from index.search import dense_search, snippet
from nlp.highlight import term_spans
from settings import Settings

CANDIDATES = 200
FACET_KEYS = ("a4p", "pillars", "missions", "organisations", "countries", "year", "doc_types")


@dataclass(frozen=True)
class Filters:
    a4p: tuple[str, ...] = ()
    pillars: tuple[str, ...] = ()
    missions: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    doc_types: tuple[str, ...] = ()
    doc_ids: tuple[int, ...] = ()

    @classmethod
    def parse(cls, items: Sequence[str]) -> Filters:
        """["a4p=protection", "year=2004-2010"]; repeated keys are OR-ed."""
        values: dict[str, list[str]] = {}
        year_from = year_to = None
        for item in items:
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not value.strip():
                raise ValueError(f"filter {item!r} is not KEY=VALUE")
            if key == "year":
                lo, dash, hi = value.partition("-")
                year_from = int(lo) if lo.strip() else None
                year_to = int(hi) if hi.strip() else (None if dash else year_from)
                continue
            values.setdefault(key, []).append(value.strip())
        known = {"a4p", "pillars", "missions", "organisations", "countries", "doc_types", "doc_ids"}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)[0]!r}")
        return cls(
            a4p=tuple(values.get("a4p", ())),
            pillars=tuple(values.get("pillars", ())),
            missions=tuple(values.get("missions", ())),
            organisations=tuple(values.get("organisations", ())),
            countries=tuple(values.get("countries", ())),
            year_from=year_from,
            year_to=year_to,
            doc_types=tuple(values.get("doc_types", ())),
            doc_ids=tuple(int(x) for x in values.get("doc_ids", ())),
        )


@dataclass(frozen=True)
class SearchHit:
    rank: int
    doc_id: int
    source: str
    title: str
    page: int
    page_end: int
    passage_id: int
    score: float
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    a4p: list[str]
    pillars: list[str]
    symbol: str | None
    date: str | None
    paragraph: int | None
    paragraph_end: int | None
    heading: str | None
    also_in: tuple[int, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)


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
    passages: tuple[SearchHit, ...]


@dataclass(frozen=True)
class SearchResults:
    query: str
    documents: tuple[DocumentResult, ...]
    passages: tuple[SearchHit, ...]
    facets: dict[str, dict[str, int]]
    took_ms: float


def _matches(f: DocumentFacets, filters: Filters) -> bool:
    def any_of(wanted: tuple[str, ...], have: tuple[str, ...]) -> bool:
        return not wanted or bool(set(wanted) & set(have))

    if filters.doc_ids and f.doc_id not in filters.doc_ids:
        return False
    if filters.year_from is not None and (f.year is None or f.year < filters.year_from):
        return False
    if filters.year_to is not None and (f.year is None or f.year > filters.year_to):
        return False
    return (
        any_of(filters.a4p, f.a4p)
        and any_of(filters.pillars, f.pillars)
        and any_of(filters.missions, f.missions)
        and any_of(filters.organisations, f.organisations)
        and any_of(filters.countries, f.countries)
        and any_of(filters.doc_types, (f.doc_type,) if f.doc_type else ())
    )


def _count(facets: Sequence[DocumentFacets]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {k: Counter() for k in FACET_KEYS}
    for f in facets:
        out["a4p"].update(f.a4p)
        out["pillars"].update(f.pillars)
        out["missions"].update(f.missions)
        out["organisations"].update(f.organisations)
        out["countries"].update(f.countries)
        if f.year is not None:
            out["year"][str(f.year)] += 1
        if f.doc_type:
            out["doc_types"][f.doc_type] += 1
    return {k: dict(v.most_common()) for k, v in out.items()}


class Searcher:
    def __init__(self, dd: DataDir, settings: Settings) -> None:
        self.dd = dd
        self.settings = settings

    def facets(self, filters: Filters | None = None) -> dict[str, dict[str, int]]:
        filters = filters or Filters()
        return _count([f for f in document_facets(self.dd.store).values() if _matches(f, filters)])

    def search(
        self, query: str, *, filters: Filters | None = None, k: int = 10, mode: str = "hybrid"
    ) -> SearchResults:
        start = time.perf_counter()
        filters = filters or Filters()
        if not query.strip():
            return SearchResults(query, (), (), {}, 0.0)
        hits = dense_search(self.dd, query, CANDIDATES, threads=self.settings.torch_threads)
        rows = self.dd.store.passages_by_ids(h.passage_id for h in hits)
        return self._group(query, [(h.passage_id, h.score) for h in hits], rows, filters, k, start)

    def more_like_this(
        self,
        *,
        passage_id: int | None = None,
        doc_id: int | None = None,
        k: int = 10,
        filters: Filters | None = None,
    ) -> SearchResults:
        start = time.perf_counter()
        ids = [passage_id] if passage_id is not None else self.dd.store.passage_ids(doc_id or -1)
        if not ids:
            return SearchResults("", (), (), {}, 0.0)
        marks = ",".join("?" * len(ids))
        vecs = [
            np.frombuffer(r[0], dtype=np.float32)
            for r in self.dd.store.conn.execute(
                f"SELECT embedding FROM passages WHERE id IN ({marks})", ids
            )
        ]
        if not vecs:
            return SearchResults("", (), (), {}, 0.0)
        centre = np.mean(np.vstack(vecs), axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-9)
        scores, found = vectors.search(self.dd.vector_index(), centre, CANDIDATES)
        own = set(ids) if doc_id is None else set(self.dd.store.passage_ids(doc_id))
        pairs = [
            (int(p), float(s)) for s, p in zip(scores, found, strict=True) if int(p) not in own
        ]
        rows = self.dd.store.passages_by_ids(p for p, _ in pairs)
        return self._group("", pairs, rows, filters or Filters(), k, start)

    def _group(
        self,
        query: str,
        pairs: Sequence[tuple[int, float]],
        rows: dict[int, Any],
        filters: Filters,
        k: int,
        start: float,
    ) -> SearchResults:
        facets = document_facets(self.dd.store)
        tags = self.dd.store.tags_for(p for p, _ in pairs)
        by_doc: dict[int, list[SearchHit]] = {}
        for pid, score in pairs:
            row = rows.get(pid)
            if row is None or not _matches(facets[row["doc_id"]], filters):
                continue
            text = snippet(row["text"], query) if query else row["text"][:320]
            by_doc.setdefault(row["doc_id"], []).append(
                SearchHit(
                    rank=0,
                    doc_id=row["doc_id"],
                    source=row["file_name"],
                    title=row["title"],
                    page=row["page_start"],
                    page_end=row["page_end"],
                    passage_id=pid,
                    score=round(score, 4),
                    snippet=text,
                    highlights=term_spans(text, query),
                    a4p=tags[pid].get("a4p", []),
                    pillars=tags[pid].get("pillars", []),
                    symbol=row["symbol"],
                    date=row["doc_date"],
                    paragraph=row["para_start"],
                    paragraph_end=row["para_end"],
                    heading=row["heading"],
                    scores={"dense": round(score, 4)},
                )
            )
        matching = [facets[d] for d in by_doc]
        documents = []
        passages = []
        for rank, (doc_id, doc_hits) in enumerate(
            sorted(by_doc.items(), key=lambda kv: -kv[1][0].score)[:k], start=1
        ):
            f = facets[doc_id]
            first = doc_hits[0]
            documents.append(
                DocumentResult(
                    rank=rank,
                    doc_id=doc_id,
                    source=first.source,
                    title=first.title,
                    symbol=first.symbol,
                    date=first.date,
                    missions=f.missions,
                    doc_type=f.doc_type,
                    score=first.score,
                    a4p=list(f.a4p),
                    pillars=list(f.pillars),
                    passages=tuple(doc_hits),
                )
            )
            passages.extend(doc_hits)
        ranked = tuple(
            SearchHit(**{**h.__dict__, "rank": i})
            for i, h in enumerate(sorted(passages, key=lambda h: -h.score), start=1)
        )
        by_id = {h.passage_id: h for h in ranked}
        documents = [
            DocumentResult(
                **{**d.__dict__, "passages": tuple(by_id[h.passage_id] for h in d.passages)}
            )
            for d in documents
        ]
        return SearchResults(
            query,
            tuple(documents),
            ranked,
            _count(matching),
            round((time.perf_counter() - start) * 1000, 1),
        )
