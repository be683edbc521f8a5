"""Read-only views of the library for the app: the document list with status and tags, one
document with its passages and their tags, per-document facets, and the dashboard's aggregates.

Nothing here writes. Per-document fields (tags, type, organisations, countries) come from the
search catalogue (`index/catalog.py`), so the library list, the filters and the facets agree.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from errors import DocumentNotFound
from index.catalog import DocumentInfo, load_catalog
from index.store import Store
from nlp.labels import slugs

STATUS_READY = "ready"
STATUS_FILE_MISSING = "file missing"


def locator(
    page_start: int,
    page_end: int | None = None,
    para_start: int | None = None,
    para_end: int | None = None,
) -> str:
    """A citation locator as readers expect it: "p. 12, ¶ 31" or "pp. 12–13, ¶¶ 31–33"."""
    if page_end is None or page_end == page_start:
        out = f"p. {page_start}"
    else:
        out = f"pp. {page_start}–{page_end}"
    if para_start is not None:
        if para_end is None or para_end == para_start:
            out += f", ¶ {para_start}"
        else:
            out += f", ¶¶ {para_start}–{para_end}"
    return out


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

    @property
    def year(self) -> int | None:
        return year_of(self.date)


@dataclass(frozen=True)
class IngestProblem:
    """A file the library tried to read and could not (from the ingest log)."""

    source_path: str
    file_name: str
    reason_code: str | None
    reason: str | None
    at: str


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
    def locator(self) -> str:
        return locator(self.page_start, self.page_end, self.para_start, self.para_end)


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
    )


def library(store: Store) -> list[DocumentSummary]:
    """Every document, newest date first (undated last), with its tags and status."""
    catalog = load_catalog(store)
    added = dict(store.conn.execute("SELECT id, ingested_at FROM documents").fetchall())
    out = [_summary(info, added.get(doc_id, "")) for doc_id, info in catalog.items()]
    return sorted(out, key=lambda d: (d.date or "", d.doc_id), reverse=True)


def ingest_problems(store: Store) -> list[IngestProblem]:
    """Files whose last ingest failed, most recent first."""
    return [
        IngestProblem(r[0], Path(r[0]).name, r[1], r[2], r[3])
        for r in store.conn.execute(
            "SELECT source_path, reason_code, reason, at FROM ingest_log"
            " WHERE status = 'failed' ORDER BY at DESC, source_path"
        )
    ]


def _passage_views(store: Store, rows: Iterable[sqlite3.Row]) -> list[PassageView]:
    rows = list(rows)
    ids = [int(r["id"]) for r in rows]
    tags: dict[int, dict[str, list[tuple[str, float]]]] = {i: {} for i in ids}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for t in store.conn.execute(
            f"SELECT passage_id, axis, label, score FROM passage_tags WHERE passage_id IN ({marks})"
            " ORDER BY score DESC, label",
            chunk,
        ):
            tags[t[0]].setdefault(t[1], []).append((t[2], float(t[3])))
    reviewed = store.reviewed_for(r["text_key"] for r in rows if r["text_key"])
    out = []
    for r in rows:
        own = tags[int(r["id"])]
        out.append(
            PassageView(
                passage_id=int(r["id"]),
                doc_id=int(r["doc_id"]),
                seq=int(r["seq"]),
                page_start=int(r["page_start"]),
                page_end=int(r["page_end"]),
                para_start=r["para_start"],
                para_end=r["para_end"],
                heading=r["heading"],
                text=r["text"],
                a4p=tuple(lab for lab, _ in own.get("a4p", [])),
                pillars=tuple(lab for lab, _ in own.get("pillars", [])),
                scores={lab: s for axis in own.values() for lab, s in axis},
                reviewed=tuple(sorted(reviewed.get(r["text_key"] or "", {}))),
            )
        )
    return out


def passage(store: Store, passage_id: int) -> PassageView:
    row = store.conn.execute("SELECT * FROM passages WHERE id = ?", (passage_id,)).fetchone()
    if row is None:
        raise DocumentNotFound(f"passage {passage_id} is not in the library (deleted or re-read)")
    return _passage_views(store, [row])[0]


def document_detail(store: Store, doc_id: int) -> DocumentDetail:
    row = store.conn.execute(
        "SELECT ingested_at, extractor, size_bytes FROM documents WHERE id = ?", (doc_id,)
    ).fetchone()
    info = load_catalog(store).get(doc_id) if row is not None else None
    if row is None or info is None:
        raise DocumentNotFound(f"document {doc_id} is not in the library (deleted or re-read)")
    passages = _passage_views(
        store,
        store.conn.execute("SELECT * FROM passages WHERE doc_id = ? ORDER BY seq", (doc_id,)),
    )
    return DocumentDetail(
        summary=_summary(info, row["ingested_at"]),
        passages=tuple(passages),
        extractor=row["extractor"],
        size_bytes=row["size_bytes"],
    )


# -- dashboard -------------------------------------------------------------------------------
def dashboard(store: Store) -> DashboardStats:
    q = store.conn.execute
    docs = library(store)
    n_passages = q("SELECT COUNT(*) FROM passages").fetchone()[0]

    def per_label(axis: str) -> tuple[LabelCount, ...]:
        passages = dict(
            q(
                "SELECT label, COUNT(DISTINCT passage_id) FROM passage_tags WHERE axis = ?"
                " GROUP BY label",
                (axis,),
            ).fetchall()
        )
        documents = Counter(lab for d in docs for lab in (d.a4p if axis == "a4p" else d.pillars))
        return tuple(LabelCount(s, documents[s], passages.get(s, 0)) for s in slugs(axis))

    mission_docs = Counter(m for d in docs for m in d.missions)
    mission_passages = dict(
        q(
            "SELECT key, COUNT(DISTINCT passage_id) FROM entities WHERE label = 'MISSION'"
            " GROUP BY key"
        ).fetchall()
    )
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
    with_a4p, with_pillar, tagged = q(
        "SELECT COUNT(DISTINCT CASE WHEN axis = 'a4p' THEN passage_id END),"
        " COUNT(DISTINCT CASE WHEN axis = 'pillars' THEN passage_id END),"
        " COUNT(DISTINCT passage_id) FROM passage_tags"
    ).fetchone()
    reviewed = {
        axis: n
        for axis, n in q(
            "SELECT r.axis, COUNT(DISTINCT p.id) FROM reviewed_labels r"
            " JOIN passages p ON p.text_key = r.text_key GROUP BY r.axis"
        )
    }
    reviewed_any = q(
        "SELECT COUNT(DISTINCT p.id) FROM passages p"
        " WHERE p.text_key IN (SELECT text_key FROM reviewed_labels)"
    ).fetchone()[0]
    reviewers, last = q(
        "SELECT COUNT(DISTINCT reviewer), MAX(at) FROM reviewed_labels"
        " WHERE text_key IN (SELECT text_key FROM passages)"
    ).fetchone()
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
