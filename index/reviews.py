"""Reviewing passage tags: the uncertainty queue, corrections with conflict detection, and
retraining with progress (the audit trail read back and label quality: index/review_audit.py;
the tables: index/library/reviews.py).

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
    review_passage(store, item.passage_id, a4p=["wps", "protection"], reviewer="amina",
                   expected=item.expected, seen_event=item.last_event_id)  # a writable store
    if should_auto_retrain(pending_corrections(dd), settings.auto_retrain_after):
        retrain(dd, progress=lambda fraction, message: ...)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from errors import DocumentNotFound, DocumentReviewConflict, ReviewConflict, ReviewError
from index.access import OPERATOR, PUBLIC, Access
from index.catalog import scope
from index.library import Locator, Store, Tags
from index.library import documents as documents_table
from index.library import reviews as reviews_table
from index.library import tags as tags_table
from index.library.reviews import QueueRow
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
    uncertainty: float | None  # nlp/uncertainty.py: 0 on a threshold, 1 certain; None: unscored
    scores: dict[str, float]  # the model's probability per trained label
    predicted: dict[str, list[str]]  # the model's own labels per axis, before any review
    current: dict[str, list[str]]  # the labels shown now per axis (reviewed, else predicted)
    reviewed_axes: tuple[str, ...]  # axes whose current labels come from a reviewer
    evidence: dict[str, str]  # label -> the sentence that carries it (predicted and current)
    last_event_id: int  # the newest review event of this text; 0 when never reviewed

    @property
    def locator(self) -> Locator:
        return Locator(self.page, self.page_end, self.paragraph)

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


# -- current state ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _AxisNow:
    labels: list[str]
    reviewer: str | None
    at: str | None
    event_id: int  # newest event on this text and axis, 0 if none


def _axis_now(c: sqlite3.Connection, pid: int, key: str, axis: str) -> _AxisNow:
    last = reviews_table.last_event(c, key, axis)
    return _AxisNow(
        tags_table.passage_axis_tags(c, pid, axis), last.reviewer, last.at, last.id
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
    axes: Sequence[str],
    reviewer: str | Access,
    expected: Mapping[str, Sequence[str]],
    what: str,
) -> str:
    """The checks every save makes before touching the store; returns the reviewer's name. A
    signed-in user (an `Access`) needs the reviewer role and is named by their account; a
    plain name is the operator's tools (imports, the command line) acting under that name."""
    if not axes:
        raise ReviewError("nothing to save: give the labels of at least one axis")
    if isinstance(reviewer, Access):
        reviewer.require("reviewer", "correcting tags")
        reviewer = reviewer.name
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
def _hidden(store: Store, reviewer: str | Access, doc_id: int | None) -> bool:
    """Whether a signed-in reviewer may not see the document (then it is not found)."""
    if not isinstance(reviewer, Access) or doc_id is None:
        return False
    doc = store.document(doc_id)
    return doc is None or not reviewer.may_see(doc.classification, doc.groups)


def review_passage(
    store: Store,
    passage_id: int,
    *,
    a4p: Sequence[str] | None = None,
    pillars: Sequence[str] | None = None,
    reviewer: str | Access,
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
    found = store.passages_by_ids([passage_id]).get(passage_id)
    hidden = _hidden(store, reviewer, found.doc_id if found else None)
    with store.transaction() as c:
        context = documents_table.review_context(c, passage_id)
        if context is None or hidden:
            raise ReviewError(
                f"passage {passage_id} is no longer in the library (its document was removed "
                "or ingested again); reload the queue"
            )
        text, key, group = context
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
        event_ids = []
        labels: dict[str, list[str]] = {}
        changed: dict[str, bool] = {}
        for axis in axes:
            after = wanted[axis] or []
            event_ids.append(
                reviews_table.record_review(
                    c,
                    key=key,
                    axis=axis,
                    labels=after,
                    text=text,
                    reviewer=name,
                    source=source,
                    group=group,
                    passage_id=passage_id,
                    before=now[axis].labels,
                    predicted=tags_table.predicted_labels(c, passage_id, axis),
                )
            )
            labels[axis] = after
            changed[axis] = not _same(after, now[axis].labels)
    return ReviewResult(passage_id, labels, changed, tuple(event_ids))


def accept_passage(
    store: Store,
    passage_id: int,
    *,
    reviewer: str | Access,
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
    reviewer: str | Access,
    expected: Mapping[str, Sequence[str]],
    source: str = "app",
) -> Tags:
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
    hidden = _hidden(store, reviewer, doc_id)
    with store.transaction() as c:
        if hidden or not documents_table.document_exists(c, doc_id):
            raise DocumentNotFound(f"document {doc_id} is no longer in the library")
        now = store.document_tags(doc_id)
        stale = [axis for axis in axes if not _same(expected[axis], now[axis])]
        if stale:
            own = store.document_reviews(doc_id)
            who = next((own[axis][1:] for axis in stale if axis in own), (None, None))
            raise DocumentReviewConflict(doc_id, {axis: now[axis] for axis in stale}, *who)
        for axis in axes:
            reviews_table.record_document_review(
                c, doc_id, axis, wanted[axis], reviewer=name, source=source
            )
        return store.document_tags(doc_id)


# -- the queue ----------------------------------------------------------------------------------
def score_unscored(
    dd: DataDir, tagging: Tagging | None = None, *, into: Store | None = None
) -> int:
    """Keep the model's scores for passages that have none (stores made before scores were
    kept, or ingested without a model), writing through `into` (a writable store; by default
    the handle's own). Returns how many passages were scored."""
    store = into or dd.store
    ids = store.unscored_passage_ids()
    if not ids:
        return 0
    from index.tagging import Tagging

    tagging = tagging or Tagging(dd)
    model = tagging.model()
    for pids, texts, vecs in store.iter_texts_and_vectors(ids):
        preds = tagging.predict(texts, vecs, model=model, evidence=False)
        store.write_scores({pid: p.as_scores() for pid, p in zip(pids, preds, strict=True)})
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
    scores_into: Store | None = None,
    access: Access = PUBLIC,
) -> QueuePage:
    """Passages to review, most uncertain first (the smallest distance between a label's
    probability and its threshold, relative to the room on that side: `nlp/uncertainty.py`).
    `label` keeps passages the model tagged with it, `doc_id`
    one document's. Passages whose text is already reviewed are left out (on both axes; with
    `label`, on that label's axis) unless `include_reviewed`. A text held by several passages
    appears once. Evidence sentences are computed for the page returned only. Passages the
    model never scored are scored first when the handle (or `scores_into`) can write; on a
    read handle they come last."""
    if label is not None and label not in slugs():
        raise ReviewError(f"unknown label {label!r}; known: {', '.join(slugs())}")
    if limit < 1 or offset < 0:
        raise ReviewError("limit must be at least 1 and offset at least 0")
    if scores_into is not None or not dd.store.readonly:
        score_unscored(dd, tagging, into=scores_into)
    total, rows = dd.store.queue_page(
        label=label,
        doc_id=doc_id,
        include_reviewed=include_reviewed,
        limit=limit,
        offset=offset,
        doc_ids=scope(dd.store, access),
    )
    return QueuePage(tuple(_queue_items(dd, rows, evidence, tagging)), total, offset, limit)


def queue_item(
    dd: DataDir, passage_id: int, *, evidence: bool = True, access: Access = PUBLIC
) -> QueueItem:
    """One passage as the queue shows it (e.g. opened from search, or reloaded after a
    conflict); one `access` may not see is not in the library for them."""
    row = dd.store.queue_row(passage_id)
    within = scope(dd.store, access)
    if row is None or (within is not None and row.doc_id not in within):
        raise ReviewError(f"passage {passage_id} is no longer in the library")
    return _queue_items(dd, [row], evidence, None)[0]


def _queue_items(
    dd: DataDir, rows: Sequence[QueueRow], evidence: bool, tagging: Tagging | None
) -> list[QueueItem]:
    store = dd.store
    ids = [r.passage_id for r in rows]
    if not ids:
        return []
    model_scores = store.scores_for(ids)
    scores = {pid: {lab: p for lab, p, _ in found} for pid, found in model_scores.items()}
    predicted = {pid: [lab for lab, _, on in found if on] for pid, found in model_scores.items()}
    current = store.tags_for(ids)
    keys = [r.text_key for r in rows]
    reviewed = store.reviewed_for(keys)
    last_events = store.last_events(keys)
    model = None
    if evidence:
        from index.tagging import Tagging

        model = (tagging or Tagging(dd)).model()
    axis_of = {lab.slug: lab.axis for lab in all_labels()}
    items = []
    for r in rows:
        pid = r.passage_id
        pred = {axis: [x for x in predicted[pid] if axis_of[x] == axis] for axis in AXES}
        now = {axis: current[pid][axis] for axis in AXES}
        shown = dict.fromkeys(pred["a4p"] + pred["pillars"] + now["a4p"] + now["pillars"])
        items.append(
            QueueItem(
                passage_id=pid,
                doc_id=r.doc_id,
                title=r.title,
                file_name=r.file_name,
                symbol=r.symbol,
                date=r.doc_date,
                page=r.locator.page or 0,
                page_end=r.locator.page_end or r.locator.page or 0,
                paragraph=r.locator.paragraph,
                heading=r.heading,
                text=r.text,
                uncertainty=r.margin,
                scores=scores[pid],
                predicted=pred,
                current=now,
                reviewed_axes=tuple(a for a in AXES if a in reviewed.get(r.text_key, {})),
                evidence={lab: model.evidence(r.text, lab) for lab in shown} if model else {},
                last_event_id=last_events.get(r.text_key, 0),
            )
        )
    return items


# -- retraining -------------------------------------------------------------------------------
def pending_corrections(dd: DataDir, access: Access = OPERATOR) -> int:
    """Review events saved since the current model was trained (or since the last retraining
    check, when it found nothing to learn), of the documents `access` may see."""
    from index.tagging import Tagging

    trained_at = str(Tagging(dd).manifest().get("trained_at", ""))
    through = int(dd.store.get_meta(TRAINED_THROUGH_KEY) or 0)
    # a document's own tags do not train the passage model: passage events only
    return dd.store.passage_events_since(through, trained_at, scope(dd.store, access))


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
    by: Access = OPERATOR,
) -> TrainReport:
    """Retrain the tagger on the reviewed labels and retag every passage, reporting
    `progress(fraction 0..1, message)` for a progress bar. Like `cli.py train`, the model is
    rebuilt only when the training set changed since the last model (by hash) unless `force`."""
    import time

    from index.tagging import Tagging

    by.require("reviewer", "retraining the tagger")
    start = time.perf_counter()
    step = _Progress(progress)
    through = dd.store.last_event_id()
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
