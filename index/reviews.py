"""Reviewing passage tags: the uncertainty queue, corrections with conflict detection, the audit
trail, label quality measured by the corrections, and retraining with progress.

A correction is stored at once, in one transaction: the reviewed labels of the passage's text
(`reviewed_labels`, which override the predictions everywhere: search, document tags, every
passage holding the same text) and an event in `review_events` recording who saw what, what they
saved, and what the model predicted. Saving is optimistic: the caller says which labels it
showed (and the last event it knew of); if another reviewer saved in between, nothing is stored
and `ReviewConflict` says who changed what, when. A document's own tags are corrected the same
way (`review_document`, `DocumentReviewConflict`), with events of their own in the trail.

Typical use (the Review page):

    page = review_queue(dd, label="wps", limit=10)
    item = page.items[0]
    review_passage(dd.store, item.passage_id, a4p=["wps", "protection"], reviewer="amina",
                   expected=item.expected, seen_event=item.last_event_id)
    if should_auto_retrain(pending_corrections(dd), settings.auto_retrain_after):
        retrain(dd, progress=lambda fraction, message: ...)
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from atomic import write_text_atomic
from errors import DocumentNotFound, DocumentReviewConflict, ReviewConflict, ReviewError
from index.store import Store
from nlp.labels import AXES, all_labels, slugs

if TYPE_CHECKING:
    from index.datadir import DataDir
    from index.tagging import Tagging, TrainReport

ProgressFn = Callable[[float, str], None]
TRAINED_THROUGH_KEY = "reviews_trained_through"


# -- records --------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueItem:
    """One passage to review, as the queue shows it."""

    passage_id: int
    doc_id: int
    title: str
    file_name: str
    symbol: str | None
    date: str | None
    page: int
    page_end: int
    paragraph: int | None
    heading: str | None
    text: str
    uncertainty: float | None  # smallest |probability - threshold| over labels; None: unscored
    scores: dict[str, float]  # the model's probability per trained label
    predicted: dict[str, list[str]]  # the model's own labels per axis, before any review
    current: dict[str, list[str]]  # the labels shown now per axis (reviewed, else predicted)
    reviewed_axes: tuple[str, ...]  # axes whose current labels come from a reviewer
    evidence: dict[str, str]  # label -> the sentence that carries it (predicted and current)
    last_event_id: int  # the newest review event of this text; 0 when never reviewed

    @property
    def expected(self) -> dict[str, list[str]]:
        """What the reviewer is shown: pass as `expected=` when saving."""
        return {axis: list(labels) for axis, labels in self.current.items()}


@dataclass(frozen=True)
class QueuePage:
    items: tuple[QueueItem, ...]
    total: int  # passages matching the filters, all pages
    offset: int
    limit: int


@dataclass(frozen=True)
class ReviewResult:
    passage_id: int
    labels: dict[str, list[str]]  # the labels now in force on the reviewed axes
    changed: dict[str, bool]  # per reviewed axis: did the labels differ from those shown
    event_ids: tuple[int, ...]

    @property
    def last_event_id(self) -> int:
        return max(self.event_ids)


@dataclass(frozen=True)
class ReviewEvent:
    """One saved review of one axis of a text (the audit trail)."""

    id: int
    at: str  # UTC, ISO 8601
    reviewer: str | None
    source: str  # app, cli / file name, migrated:...
    passage_id: int | None
    text_key: str
    axis: str
    before: tuple[str, ...] | None  # what the reviewer was shown; None when unknown
    after: tuple[str, ...]
    predicted: tuple[str, ...] | None  # the model's labels at the time; None when unknown
    title: str | None = None  # of the passage's document, while it is in the library
    page: int | None = None
    doc_id: int | None = None  # set when a document's own tags were corrected

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(x for x in self.after if x not in (self.before or ()))

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(x for x in (self.before or ()) if x not in self.after)


@dataclass(frozen=True)
class QualityPoint:
    """Counts of one label over one period (a week, or a block of events)."""

    period: str
    reviews: int  # reviews of the label's axis that had a prediction
    predicted: int  # ... where the model predicted the label
    present: int  # ... where the reviewer kept or added it
    kept: int  # ... where both did

    @property
    def precision(self) -> float | None:
        return self.kept / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.kept / self.present if self.present else None


@dataclass(frozen=True)
class LabelQuality:
    label: str
    axis: str
    overall: QualityPoint
    trend: tuple[QualityPoint, ...]  # oldest first

    @property
    def precision(self) -> float | None:
        return self.overall.precision

    @property
    def recall(self) -> float | None:
        return self.overall.recall


@dataclass(frozen=True)
class QualityReport:
    labels: tuple[LabelQuality, ...]  # in label-set order
    reviews: int  # reviews counted (each text and axis once per period: its latest review)
    without_prediction: int  # events skipped: no prediction was known (imports, migrations)
    by: str  # "week" or "block"


# -- current state ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _AxisNow:
    labels: list[str]
    reviewer: str | None
    at: str | None
    event_id: int  # newest event on this text and axis, 0 if none


def _axis_now(c: sqlite3.Connection, pid: int, key: str, axis: str) -> _AxisNow:
    last = c.execute(
        "SELECT id, reviewer, at FROM review_events WHERE text_key = ? AND axis = ?"
        " ORDER BY id DESC LIMIT 1",
        (key, axis),
    ).fetchone()
    return _AxisNow(
        Store.passage_axis_tags(c, pid, axis),
        None if last is None else last["reviewer"],
        None if last is None else last["at"],
        0 if last is None else int(last["id"]),
    )


def _same(a: Iterable[str], b: Iterable[str]) -> bool:
    return sorted(set(a)) == sorted(set(b))


def _check_labels(axis: str, labels: Sequence[str] | None) -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, str):
        raise ReviewError(f"{axis} labels must be a list, not the string {labels!r}")
    known = slugs(axis)
    unknown = [x for x in labels if x not in known]
    if unknown:
        raise ReviewError(f"unknown {axis} label(s) {unknown}; known: {', '.join(known)}")
    return sorted(set(labels))


def _check_request(
    axes: Sequence[str], reviewer: str, expected: Mapping[str, Sequence[str]], what: str
) -> str:
    """The checks every save makes before touching the store; returns the reviewer's name."""
    if not axes:
        raise ReviewError("nothing to save: give the labels of at least one axis")
    name = (reviewer or "").strip()
    if not name:
        raise ReviewError("a review needs the reviewer's name")
    missing = [axis for axis in axes if axis not in expected]
    if missing:
        raise ReviewError(
            f"say which {' and '.join(missing)} {what} were shown (expected=...), so that "
            "another reviewer's change is never overwritten unseen"
        )
    return name


# -- saving a review ----------------------------------------------------------------------------
def review_passage(
    store: Store,
    passage_id: int,
    *,
    a4p: Sequence[str] | None = None,
    pillars: Sequence[str] | None = None,
    reviewer: str,
    expected: Mapping[str, Sequence[str]],
    seen_event: int | None = None,
    source: str = "app",
) -> ReviewResult:
    """Save a reviewer's labels for a passage on one or both axes (None: axis not reviewed;
    an empty list: none applies). Saving the labels shown unchanged is an "accept" and is
    recorded like any other review.

    `expected` holds, per reviewed axis, the labels the reviewer was shown; `seen_event` the
    newest review event they knew of (`QueueItem.last_event_id`). When the labels in force
    differ from `expected`, or a newer event exists on a reviewed axis, nothing is stored and
    `ReviewConflict` is raised with the current labels, who saved them and when; re-submitting
    with `expected=conflict.current, seen_event=conflict.event_id` overwrites on purpose."""
    wanted = {"a4p": _check_labels("a4p", a4p), "pillars": _check_labels("pillars", pillars)}
    axes = [axis for axis in AXES if wanted[axis] is not None]
    name = _check_request(axes, reviewer, expected, "labels")
    with store.transaction() as c:
        row = c.execute(
            "SELECT p.text, p.text_key, d.missions, d.file_name FROM passages p"
            " JOIN documents d ON d.id = p.doc_id WHERE p.id = ?",
            (passage_id,),
        ).fetchone()
        if row is None:
            raise ReviewError(
                f"passage {passage_id} is no longer in the library (its document was removed "
                "or ingested again); reload the queue"
            )
        key = row["text_key"]
        now = {axis: _axis_now(c, passage_id, key, axis) for axis in axes}
        stale = [
            axis
            for axis in axes
            if not _same(expected[axis], now[axis].labels)
            or (seen_event is not None and now[axis].event_id > seen_event)
        ]
        if stale:
            newest = max(stale, key=lambda axis: now[axis].event_id)
            last = now[newest]
            raise ReviewConflict(
                passage_id,
                {axis: now[axis].labels for axis in axes},
                last.reviewer if last.event_id else None,  # no event: the model changed
                last.at,
                max(_axis_now(c, passage_id, key, axis).event_id for axis in AXES),
            )
        missions = json.loads(row["missions"] or "[]")
        group = missions[0] if missions else f"doc:{row['file_name']}"
        event_ids = []
        labels: dict[str, list[str]] = {}
        changed: dict[str, bool] = {}
        for axis in axes:
            after = wanted[axis] or []
            event_ids.append(
                Store.record_review(
                    c,
                    key=key,
                    axis=axis,
                    labels=after,
                    text=row["text"],
                    reviewer=name,
                    source=source,
                    group=group,
                    passage_id=passage_id,
                    before=now[axis].labels,
                    predicted=Store.predicted_labels(c, passage_id, axis),
                )
            )
            labels[axis] = after
            changed[axis] = not _same(after, now[axis].labels)
    return ReviewResult(passage_id, labels, changed, tuple(event_ids))


def accept_passage(
    store: Store,
    passage_id: int,
    *,
    reviewer: str,
    expected: Mapping[str, Sequence[str]],
    seen_event: int | None = None,
    source: str = "app",
) -> ReviewResult:
    """Keep the labels shown, on both axes: a review like any other, recorded as such."""
    return review_passage(
        store,
        passage_id,
        a4p=list(expected.get("a4p", [])),
        pillars=list(expected.get("pillars", [])),
        reviewer=reviewer,
        expected=expected,
        seen_event=seen_event,
        source=source,
    )


def review_document(
    store: Store,
    doc_id: int,
    *,
    a4p: Sequence[str] | None = None,
    pillars: Sequence[str] | None = None,
    derive: Sequence[str] = (),
    reviewer: str,
    expected: Mapping[str, Sequence[str]],
    source: str = "app",
) -> dict[str, list[str]]:
    """Correct a document's own tags, independently of its passages': the labels given per
    axis replace the derived ones (an empty list: none applies); axes named in `derive` go back
    to being derived from the passages. Each change is an event in the audit trail.

    As for passages, `expected` holds the tags the reviewer was shown per changed axis; if the
    tags in force differ (another reviewer, or retagged passages), nothing is stored and
    `DocumentReviewConflict` says what they are now. Returns the tags now in force."""
    wanted = {"a4p": _check_labels("a4p", a4p), "pillars": _check_labels("pillars", pillars)}
    unknown_axes = [axis for axis in derive if axis not in AXES]
    if unknown_axes:
        raise ReviewError(f"unknown axis {unknown_axes[0]!r}; known: {', '.join(AXES)}")
    both = [axis for axis in derive if wanted[axis] is not None]
    if both:
        raise ReviewError(f"give {both[0]} labels or derive them from the passages, not both")
    axes = [axis for axis in AXES if wanted[axis] is not None or axis in derive]
    name = _check_request(axes, reviewer, expected, "tags")
    with store.transaction() as c:
        if c.execute("SELECT 1 FROM documents WHERE id = ?", (doc_id,)).fetchone() is None:
            raise DocumentNotFound(f"document {doc_id} is no longer in the library")
        now = store.all_document_tags(doc_id=doc_id).get(doc_id, {"a4p": [], "pillars": []})
        stale = [axis for axis in axes if not _same(expected[axis], now.get(axis, []))]
        if stale:
            own = store.document_reviews(doc_id)
            who = next((own[axis][1:] for axis in stale if axis in own), (None, None))
            raise DocumentReviewConflict(doc_id, {axis: now[axis] for axis in stale}, *who)
        for axis in axes:
            store.record_document_review(
                c, doc_id, axis, wanted[axis], reviewer=name, source=source
            )
        return store.all_document_tags(doc_id=doc_id)[doc_id]


# -- the queue ----------------------------------------------------------------------------------
def score_unscored(dd: DataDir, tagging: Tagging | None = None) -> int:
    """Keep the model's scores for passages that have none (stores made before scores were
    kept, or ingested without a model). Returns how many passages were scored."""
    store = dd.store
    ids = [
        r[0]
        for r in store.conn.execute(
            "SELECT p.id FROM passages p LEFT JOIN passage_uncertainty u ON u.passage_id = p.id"
            " WHERE u.passage_id IS NULL"
        )
    ]
    if not ids:
        return 0
    import numpy as np

    from index.tagging import Tagging

    tagging = tagging or Tagging(dd)
    model = tagging.model()
    for i in range(0, len(ids), 512):
        chunk = ids[i : i + 512]
        marks = ",".join("?" * len(chunk))
        rows = store.conn.execute(
            f"SELECT id, text, embedding FROM passages WHERE id IN ({marks}) ORDER BY id", chunk
        ).fetchall()
        vecs = np.vstack([np.frombuffer(r["embedding"], dtype=np.float32) for r in rows])
        preds = tagging.predict([r["text"] for r in rows], vecs, model=model, evidence=False)
        store.write_scores({int(r["id"]): p.as_scores() for r, p in zip(rows, preds, strict=True)})
    return len(ids)


def review_queue(
    dd: DataDir,
    *,
    label: str | None = None,
    doc_id: int | None = None,
    offset: int = 0,
    limit: int = 20,
    evidence: bool = True,
    include_reviewed: bool = False,
    tagging: Tagging | None = None,
) -> QueuePage:
    """Passages to review, most uncertain first (the smallest distance between a label's
    probability and its threshold). `label` keeps passages the model tagged with it, `doc_id`
    one document's. Passages whose text is already reviewed are left out (on both axes; with
    `label`, on that label's axis) unless `include_reviewed`. A text held by several passages
    appears once. Evidence sentences are computed for the page returned only."""
    if label is not None and label not in slugs():
        raise ReviewError(f"unknown label {label!r}; known: {', '.join(slugs())}")
    if limit < 1 or offset < 0:
        raise ReviewError("limit must be at least 1 and offset at least 0")
    score_unscored(dd, tagging)
    store = dd.store
    where = ["p.id = (SELECT MIN(q.id) FROM passages q WHERE q.text_key = p.text_key)"]
    args: list[object] = []
    if not include_reviewed:
        if label is None:
            where.append(
                "(SELECT COUNT(*) FROM reviewed_labels r WHERE r.text_key = p.text_key) < 2"
            )
        else:
            where.append(
                "NOT EXISTS (SELECT 1 FROM reviewed_labels r WHERE r.text_key = p.text_key"
                " AND r.axis = ?)"
            )
            args.append(next(lab.axis for lab in all_labels() if lab.slug == label))
    if doc_id is not None:
        where.append("p.doc_id = ?")
        args.append(doc_id)
    if label is not None:
        where.append(
            "EXISTS (SELECT 1 FROM passage_scores s WHERE s.passage_id = p.id AND s.label = ?"
            " AND s.predicted = 1)"
        )
        args.append(label)
    clause = " AND ".join(where)
    total = store.conn.execute(f"SELECT COUNT(*) FROM passages p WHERE {clause}", args).fetchone()[
        0
    ]
    rows = store.conn.execute(
        "SELECT p.id, p.doc_id, p.page_start, p.page_end, p.para_start, p.heading, p.text,"
        " p.text_key, d.title, d.file_name, d.symbol, d.doc_date, u.margin"
        " FROM passages p JOIN documents d ON d.id = p.doc_id"
        " LEFT JOIN passage_uncertainty u ON u.passage_id = p.id"
        f" WHERE {clause} ORDER BY u.margin IS NULL, u.margin, p.id LIMIT ? OFFSET ?",
        [*args, limit, offset],
    ).fetchall()
    items = _queue_items(dd, rows, evidence, tagging)
    return QueuePage(tuple(items), int(total), offset, limit)


def queue_item(dd: DataDir, passage_id: int, *, evidence: bool = True) -> QueueItem:
    """One passage as the queue shows it (e.g. opened from search, or reloaded after a
    conflict)."""
    row = dd.store.conn.execute(
        "SELECT p.id, p.doc_id, p.page_start, p.page_end, p.para_start, p.heading, p.text,"
        " p.text_key, d.title, d.file_name, d.symbol, d.doc_date, u.margin"
        " FROM passages p JOIN documents d ON d.id = p.doc_id"
        " LEFT JOIN passage_uncertainty u ON u.passage_id = p.id WHERE p.id = ?",
        (passage_id,),
    ).fetchone()
    if row is None:
        raise ReviewError(f"passage {passage_id} is no longer in the library")
    return _queue_items(dd, [row], evidence, None)[0]


def _queue_items(
    dd: DataDir, rows: Sequence[sqlite3.Row], evidence: bool, tagging: Tagging | None
) -> list[QueueItem]:
    store = dd.store
    ids = [int(r["id"]) for r in rows]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    scores: dict[int, dict[str, float]] = {i: {} for i in ids}
    predicted: dict[int, list[str]] = {i: [] for i in ids}
    for s in store.conn.execute(
        "SELECT passage_id, label, score, predicted FROM passage_scores"
        f" WHERE passage_id IN ({marks}) ORDER BY score DESC",
        ids,
    ):
        scores[s[0]][s[1]] = float(s[2])
        if s[3]:
            predicted[s[0]].append(s[1])
    current = store.tags_for(ids)
    keys = [r["text_key"] for r in rows]
    reviewed = store.reviewed_for(keys)
    last_events = {
        r[0]: int(r[1])
        for r in store.conn.execute(
            "SELECT text_key, MAX(id) FROM review_events"
            f" WHERE text_key IN ({','.join('?' * len(keys))}) GROUP BY text_key",
            keys,
        )
    }
    model = None
    if evidence:
        from index.tagging import Tagging

        model = (tagging or Tagging(dd)).model()
    axis_of = {lab.slug: lab.axis for lab in all_labels()}
    items = []
    for r in rows:
        pid = int(r["id"])
        pred = {axis: [x for x in predicted[pid] if axis_of[x] == axis] for axis in AXES}
        now = {axis: list(current[pid].get(axis, [])) for axis in AXES}
        shown = dict.fromkeys(pred["a4p"] + pred["pillars"] + now["a4p"] + now["pillars"])
        items.append(
            QueueItem(
                passage_id=pid,
                doc_id=int(r["doc_id"]),
                title=r["title"],
                file_name=r["file_name"],
                symbol=r["symbol"],
                date=r["doc_date"],
                page=int(r["page_start"]),
                page_end=int(r["page_end"]),
                paragraph=r["para_start"],
                heading=r["heading"],
                text=r["text"],
                uncertainty=None if r["margin"] is None else float(r["margin"]),
                scores=scores[pid],
                predicted=pred,
                current=now,
                reviewed_axes=tuple(a for a in AXES if a in reviewed.get(r["text_key"], {})),
                evidence={lab: model.evidence(r["text"], lab) for lab in shown} if model else {},
                last_event_id=last_events.get(r["text_key"], 0),
            )
        )
    return items


# -- the audit trail ----------------------------------------------------------------------------
def list_events(
    store: Store,
    *,
    reviewer: str | None = None,
    label: str | None = None,
    passage_id: int | None = None,
    document_id: int | None = None,
    axis: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = True,
) -> list[ReviewEvent]:
    """Review events, newest first. `label` keeps events where it was shown, saved or
    predicted; `passage_id` the events of that passage's text (whichever passage held it);
    `document_id` the corrections of that document's own tags."""
    where, args = ["1 = 1"], []  # type: list[str], list[object]
    if reviewer is not None:
        where.append("e.reviewer = ?")
        args.append(reviewer)
    if axis is not None:
        where.append("e.axis = ?")
        args.append(axis)
    if label is not None:
        where.append(
            "(EXISTS (SELECT 1 FROM json_each(e.after) WHERE value = ?)"
            " OR EXISTS (SELECT 1 FROM json_each(COALESCE(e.before, '[]')) WHERE value = ?)"
            " OR EXISTS (SELECT 1 FROM json_each(COALESCE(e.predicted, '[]')) WHERE value = ?))"
        )
        args += [label, label, label]
    if passage_id is not None:
        where.append(
            "(e.passage_id = ? OR e.text_key = (SELECT text_key FROM passages WHERE id = ?))"
        )
        args += [passage_id, passage_id]
    if document_id is not None:
        where.append("e.doc_id = ?")
        args.append(document_id)
    order = "DESC" if newest_first else "ASC"
    sql = (
        "SELECT e.*, d.title, p.page_start FROM review_events e"
        " LEFT JOIN passages p ON p.id = e.passage_id"
        " LEFT JOIN documents d ON d.id = COALESCE(p.doc_id, e.doc_id)"
        f" WHERE {' AND '.join(where)} ORDER BY e.id {order}"
    )
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        args += [limit, offset]
    return [_event(r) for r in store.conn.execute(sql, args)]


def _labels(raw: str | None) -> tuple[str, ...] | None:
    return None if raw is None else tuple(json.loads(raw))


def _event(r: sqlite3.Row) -> ReviewEvent:
    return ReviewEvent(
        id=int(r["id"]),
        at=r["at"],
        reviewer=r["reviewer"],
        source=r["source"],
        passage_id=r["passage_id"],
        text_key=r["text_key"],
        axis=r["axis"],
        before=_labels(r["before"]),
        after=_labels(r["after"]) or (),
        predicted=_labels(r["predicted"]),
        title=r["title"],
        page=r["page_start"],
        doc_id=r["doc_id"],
    )


CSV_COLUMNS = (
    "event_id",
    "at_utc",
    "reviewer",
    "source",
    "passage_id",
    "document",
    "page",
    "axis",
    "before",
    "after",
    "added",
    "removed",
    "predicted",
    "text_key",
)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting like a formula; names and titles are not ours.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def events_csv(events: Iterable[ReviewEvent]) -> str:
    """The events as CSV text (labels joined with ';'; an unknown 'before' or 'predicted' is
    empty, an empty list is 'none')."""

    def labels(x: tuple[str, ...] | None) -> str:
        return "" if x is None else ";".join(x) or "none"

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    e.id,
                    e.at,
                    e.reviewer,
                    e.source,
                    e.passage_id,
                    e.title,
                    e.page,
                    e.axis,
                    labels(e.before),
                    labels(e.after),
                    ";".join(e.added),
                    ";".join(e.removed),
                    labels(e.predicted),
                    e.text_key,
                )
            ]
        )
    return out.getvalue()


def export_events_csv(store: Store, path: Path, **filters: object) -> int:
    """Write the audit trail (filtered like `list_events`, oldest first) to a CSV file,
    atomically. Returns the number of events written."""
    events = list_events(store, newest_first=False, **filters)  # type: ignore[arg-type]
    write_text_atomic(Path(path), events_csv(events))
    return len(events)


# -- label quality ------------------------------------------------------------------------------
def label_quality(store: Store, *, by: str = "week", block_size: int = 50) -> QualityReport:
    """Per label, precision (how often a predicted label was kept) and recall (how often a
    label the reviewer wanted had been predicted), from the review events, with a trend per
    ISO week (`by="week"`) or per block of `block_size` events (`by="block"`)."""
    return quality_from_events(list_events(store, newest_first=False), by=by, block_size=block_size)


def _period(e: ReviewEvent, index: int, by: str, block_size: int) -> str:
    if by == "week":
        year, week, _ = datetime.fromisoformat(e.at.replace("Z", "+00:00")).isocalendar()
        return f"{year}-W{week:02d}"
    start = (index // block_size) * block_size
    return f"events {start + 1}-{start + block_size}"


def quality_from_events(
    events: Sequence[ReviewEvent], *, by: str = "week", block_size: int = 50
) -> QualityReport:
    """Label quality from events in time order. Within a period each text and axis counts
    once, with its latest review, so a text reviewed twice is not measured twice; events
    without a known prediction (imported labels, migrated reviews) are not counted."""
    if by not in ("week", "block"):
        raise ReviewError(f"unknown trend period {by!r}: use 'week' or 'block'")
    if block_size < 1:
        raise ReviewError("block_size must be at least 1")
    usable = [e for e in sorted(events, key=lambda e: e.id) if e.predicted is not None]
    periods: dict[str, dict[tuple[str, str], ReviewEvent]] = {}
    overall: dict[tuple[str, str], ReviewEvent] = {}
    for i, e in enumerate(usable):
        periods.setdefault(_period(e, i, by, block_size), {})[(e.text_key, e.axis)] = e
        overall[(e.text_key, e.axis)] = e

    def point(period: str, chosen: Iterable[ReviewEvent], label: str, axis: str) -> QualityPoint:
        on_axis = [e for e in chosen if e.axis == axis]
        pred = [e for e in on_axis if label in (e.predicted or ())]
        return QualityPoint(
            period,
            len(on_axis),
            len(pred),
            sum(label in e.after for e in on_axis),
            sum(label in e.after for e in pred),
        )

    labels = tuple(
        LabelQuality(
            lab.slug,
            lab.axis,
            point("all", overall.values(), lab.slug, lab.axis),
            tuple(point(p, evs.values(), lab.slug, lab.axis) for p, evs in periods.items()),
        )
        for lab in all_labels()
    )
    return QualityReport(labels, len(overall), len(events) - len(usable), by)


# -- retraining -------------------------------------------------------------------------------
def pending_corrections(dd: DataDir) -> int:
    """Review events saved since the current model was trained (or since the last retraining
    check, when it found nothing to learn)."""
    from index.tagging import Tagging

    trained_at = str(Tagging(dd).manifest().get("trained_at", ""))
    through = int(dd.store.get_meta(TRAINED_THROUGH_KEY) or 0)
    row = dd.store.conn.execute(
        "SELECT COUNT(*) FROM review_events WHERE id > ? AND substr(at, 1, 19) >= ?"
        " AND doc_id IS NULL",  # a document's own tags do not train the passage model
        (through, trained_at[:19]),
    ).fetchone()
    return int(row[0])


def should_auto_retrain(pending: int, every: int) -> bool:
    """True once `every` corrections are pending (`Settings.auto_retrain_after`; 0: never)."""
    return every > 0 and pending >= every


@dataclass
class _Progress:
    fn: ProgressFn | None
    log: list[tuple[float, str]] = field(default_factory=list)

    def __call__(self, fraction: float, message: str) -> None:
        self.log.append((fraction, message))
        if self.fn:
            self.fn(min(1.0, max(0.0, fraction)), message)


def retrain(
    dd: DataDir,
    *,
    force: bool = False,
    progress: ProgressFn | None = None,
    threads: int = 2,
) -> TrainReport:
    """Retrain the tagger on the reviewed labels and retag every passage, reporting
    `progress(fraction 0..1, message)` for a progress bar. Like `cli.py train`, the model is
    rebuilt only when the training set changed since the last model (by hash) unless `force`."""
    import time

    from index.tagging import Tagging

    start = time.perf_counter()
    step = _Progress(progress)
    through = dd.store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM review_events").fetchone()[0]
    step(0.0, "Checking what changed since the last model")
    tagging = Tagging(dd, threads=threads)
    step(0.05, "Training the tagger on the reviewed labels")
    report = tagging.train(
        force=force,
        retag=False,
        progress=lambda done, total: step(
            round(0.05 + 0.55 * done / max(total, 1), 4),
            f"Fitting the tagger: {done} of {total} labels done",
        ),
    )
    if report.retrained:
        step(0.6, "Retagging the library")
        report.passages_retagged = tagging.retag_store(
            progress=lambda done, total: step(
                0.6 + 0.4 * done / max(total, 1), f"Retagged {done} of {total} passages"
            )
        )
    with dd.store.transaction():
        dd.store.set_meta(TRAINED_THROUGH_KEY, str(through))
    report.seconds = time.perf_counter() - start
    step(1.0, f"Retrained: {report.reason}" if report.retrained else report.reason)
    return report
