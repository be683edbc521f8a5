"""The audit trail read back: review events listed and exported as CSV, and label quality
measured from them (how often a predicted label was kept, how often a wanted one had been
predicted), overall and as a trend."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from atomic import write_text_atomic
from errors import ReviewError
from index.library import Store
from index.library.reviews import ReviewEvent
from nlp.labels import all_labels


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


# -- the audit trail ----------------------------------------------------------------------------
# Review events, newest first, filtered by reviewer, label, passage, document or axis: the
# library's own query, called as `list_events(store, ...)`.
list_events = Store.list_events

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


def csv_cell(value: object) -> str:
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
                csv_cell(v)
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
def label_quality(
    store: Store, *, by: str = "week", block_size: int = 50, doc_ids: Collection[int] | None = None
) -> QualityReport:
    """Per label, precision (how often a predicted label was kept) and recall (how often a
    label the reviewer wanted had been predicted), from the review events, with a trend per
    ISO week (`by="week"`) or per block of `block_size` events (`by="block"`)."""
    events = list_events(store, newest_first=False, doc_ids=doc_ids)
    return quality_from_events(events, by=by, block_size=block_size)


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


