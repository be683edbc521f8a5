"""Read-only views of the library for the app: the document list with status and tags, one
document with its passages and their tags, per-document facets, and the dashboard's aggregates.

Nothing here writes. Per-document fields (tags, type, organisations, countries) come from the
search catalogue (`index/catalog.py`), so the library list, the filters and the facets agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from errors import DocumentNotFound
from index.access import PUBLIC, Access
from index.catalog import DocumentInfo, load_catalog, scope
from index.library import IngestProblem, Locator, Store, StoredPassage
from index.library.tags import DOC_TAG_SHARE
from nlp.labels import slugs

STATUS_READY = "ready"
STATUS_FILE_MISSING = "file missing"


DOCUMENT_TAG_RULE = f"a label that at least {DOC_TAG_SHARE:.0%} of them carry"


def year_of(date: str | None) -> int | None:
    if date and len(date) >= 4 and date[:4].isdigit():
        return int(date[:4])
    return None


@dataclass(frozen=True)
class DocumentSummary:
    """One row of the library list."""

    doc_id: int
    title: str
    file_name: str
    source_path: str
    symbol: str | None
    date: str | None
    pages: int
    passages: int
    missions: tuple[str, ...]
    organisations: tuple[str, ...]
    countries: tuple[str, ...]
    doc_type: str  # a slug of nlp.doctypes.DOC_TYPES
    ingested_at: str
    a4p: tuple[str, ...]
    pillars: tuple[str, ...]
    status: str  # STATUS_READY or STATUS_FILE_MISSING (page images and re-ingest need the file)
    classification: str = "unclassified"
    groups: tuple[str, ...] = ()

    @property
    def year(self) -> int | None:
        return year_of(self.date)


@dataclass(frozen=True)
class PassageView:
    passage_id: int
    doc_id: int
    seq: int
    page_start: int
    page_end: int
    para_start: int | None
    para_end: int | None
    heading: str | None
    text: str
    a4p: tuple[str, ...]
    pillars: tuple[str, ...]
    scores: dict[str, float]  # stored score of each label the passage carries
    reviewed: tuple[str, ...]  # axes whose labels a reviewer set

    @property
    def locator(self) -> Locator:
        return Locator(self.page_start, self.page_end, self.para_start, self.para_end)


@dataclass(frozen=True)
class DocumentDetail:
    summary: DocumentSummary
    passages: tuple[PassageView, ...]
    extractor: str
    size_bytes: int


@dataclass(frozen=True)
class LabelCount:
    key: str
    documents: int
    passages: int


@dataclass(frozen=True)
class Coverage:
    passages: int
    with_a4p: int
    with_pillar: int
    untagged: int


@dataclass(frozen=True)
class ReviewProgress:
    passages: int
    reviewed_a4p: int
    reviewed_pillars: int
    reviewed_any: int
    reviewers: int
    last_review: str | None


@dataclass(frozen=True)
class DashboardStats:
    documents: int
    passages: int
    pages: int
    a4p: tuple[LabelCount, ...]
    pillars: tuple[LabelCount, ...]
    missions: tuple[LabelCount, ...]
    years: tuple[LabelCount, ...]
    coverage: Coverage
    review: ReviewProgress


# -- library ---------------------------------------------------------------------------------
def _summary(info: DocumentInfo, ingested_at: str) -> DocumentSummary:
    return DocumentSummary(
        doc_id=info.id,
        title=info.title,
        file_name=info.file_name,
        source_path=info.source_path,
        symbol=info.symbol,
        date=info.date,
        pages=info.page_count,
        passages=info.passages,
        missions=info.missions,
        organisations=info.organisations,
        countries=info.countries,
        doc_type=info.doc_type,
        ingested_at=ingested_at,
        a4p=info.a4p,
        pillars=info.pillars,
        status=STATUS_READY if Path(info.source_path).is_file() else STATUS_FILE_MISSING,
        classification=info.classification,
        groups=info.groups,
    )


def library(store: Store, access: Access = PUBLIC) -> list[DocumentSummary]:
    """Every document `access` may see, newest date first (undated last), with its tags and
    status."""
    catalog = load_catalog(store)
    out = [
        _summary(info, info.ingested_at)
        for info in catalog.values()
        if access.may_see(info.classification, info.groups)
    ]
    return sorted(out, key=lambda d: (d.date or "", d.doc_id), reverse=True)


def ingest_problems(store: Store) -> list[IngestProblem]:
    """Files whose last ingest failed, most recent first."""
    return store.ingest_problems()


def _passage_views(store: Store, passages: Sequence[StoredPassage]) -> list[PassageView]:
    tags = store.tags_with_scores([p.id for p in passages])
    reviewed = store.reviewed_for(p.text_key for p in passages if p.text_key)
    out = []
    for p in passages:
        own = tags[p.id]
        out.append(
            PassageView(
                passage_id=p.id,
                doc_id=p.doc_id,
                seq=p.seq,
                page_start=p.locator.page or 0,
                page_end=p.locator.page_end or p.locator.page or 0,
                para_start=p.locator.paragraph,
                para_end=p.locator.paragraph_end,
                heading=p.heading,
                text=p.text,
                a4p=tuple(lab for lab, _ in own.get("a4p", [])),
                pillars=tuple(lab for lab, _ in own.get("pillars", [])),
                scores={lab: s for axis in own.values() for lab, s in axis},
                reviewed=tuple(sorted(reviewed.get(p.text_key, {}))),
            )
        )
    return out


def passage(store: Store, passage_id: int, access: Access = PUBLIC) -> PassageView:
    found = store.passages_by_ids([passage_id]).get(passage_id)
    doc = store.document(found.doc_id) if found is not None else None
    if found is None or doc is None or not access.may_see(doc.classification, doc.groups):
        raise DocumentNotFound(f"passage {passage_id} is not in the library (deleted or re-read)")
    return _passage_views(store, [found])[0]


def document_detail(store: Store, doc_id: int, access: Access = PUBLIC) -> DocumentDetail:
    """One document with its passages; one `access` may not see is not found."""
    doc = store.document(doc_id)
    if doc is not None and not access.may_see(doc.classification, doc.groups):
        doc = None
    info = load_catalog(store).get(doc_id) if doc is not None else None
    if doc is None or info is None:
        raise DocumentNotFound(f"document {doc_id} is not in the library (deleted or re-read)")
    return DocumentDetail(
        summary=_summary(info, doc.ingested_at),
        passages=tuple(_passage_views(store, store.passages_of(doc_id))),
        extractor=doc.extractor,
        size_bytes=doc.size_bytes,
    )


# -- dashboard -------------------------------------------------------------------------------
def dashboard(store: Store, access: Access = PUBLIC) -> DashboardStats:
    """The library's aggregates over what `access` may see: nothing else is counted."""
    docs = library(store, access)
    within = scope(store, access)
    n_passages = store.passage_count(within)

    def per_label(axis: str) -> tuple[LabelCount, ...]:
        passages = store.passages_per_label(axis, within)
        documents = Counter(lab for d in docs for lab in (d.a4p if axis == "a4p" else d.pillars))
        return tuple(LabelCount(s, documents[s], passages.get(s, 0)) for s in slugs(axis))

    mission_docs = Counter(m for d in docs for m in d.missions)
    mission_passages = store.entity_passage_counts("MISSION", within)
    missions = tuple(
        sorted(
            (LabelCount(m, n, mission_passages.get(m, 0)) for m, n in mission_docs.items()),
            key=lambda c: (-c.documents, -c.passages, c.key),
        )
    )
    year_docs = Counter(d.year for d in docs if d.year is not None)
    year_passages: Counter[int] = Counter()
    for d in docs:
        if d.year is not None:
            year_passages[d.year] += d.passages
    years = tuple(LabelCount(str(y), year_docs[y], year_passages[y]) for y in sorted(year_docs))
    with_a4p, with_pillar, tagged = store.tag_coverage(within)
    reviewed, reviewed_any, reviewers, last = store.review_progress(within)
    return DashboardStats(
        documents=len(docs),
        passages=n_passages,
        pages=sum(d.pages for d in docs),
        a4p=per_label("a4p"),
        pillars=per_label("pillars"),
        missions=missions,
        years=years,
        coverage=Coverage(n_passages, with_a4p, with_pillar, n_passages - tagged),
        review=ReviewProgress(
            n_passages,
            reviewed.get("a4p", 0),
            reviewed.get("pillars", 0),
            reviewed_any,
            reviewers,
            last,
        ),
    )
