"""The security log read back: as CSV for auditors (`python cli.py audit --csv FILE`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from index.library.records import SecurityEvent
from index.review_audit import csv_cell

CSV_COLUMNS = ("event_id", "at_utc", "actor", "event", "target", "detail", "client")


def events_csv(events: Iterable[SecurityEvent]) -> str:
    """The events as CSV, in the order given."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        writer.writerow(
            [csv_cell(v) for v in (e.id, e.at, e.actor, e.event, e.target, e.detail, e.client)]
        )
    return out.getvalue()
