"""Reviews: the labels reviewers gave each text (`reviewed_labels`, one row per text and axis,
which override the model's tags on every passage holding that text) and the audit trail
(`review_events`: who saw what, what they saved, what the model predicted, when).

The checks a save makes (conflicts, label names) live in index/reviews.py; this module holds the
tables and their SQL.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from index.library import documents as documents_table
from index.library import tags as tags_table
from index.library.database import Database, chunks, in_scope, marks
from index.library.records import Locator, Tags, utc_now
from nlp.labels import all_labels
from nlp.training_data import LabelledText, text_key

# A reviewed passage's labels go to a re-read passage sharing this share of its words (of the
# longer of the two): a rejoined hyphen or a stray dash changes a word or two, a merged
# fragment doubles the text.
CARRY_SIMILARITY = 0.8
CARRIED_SOURCE = "carried over: text changed on re-reading"


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
class LastEvent:
    """The newest event on one text and axis (id 0: never reviewed)."""

    id: int
    reviewer: str | None
    at: str | None


@dataclass(frozen=True)
class QueueRow:
    """A passage as the review queue lists it, before scores and evidence are added."""

    passage_id: int
    doc_id: int
    locator: Locator
    heading: str | None
    text: str
    text_key: str
    title: str
    file_name: str
    symbol: str | None
    doc_date: str | None
    margin: float | None  # the passage's uncertainty (nlp/uncertainty.py); None: unscored


# -- inside a transaction ---------------------------------------------------------------------
def record_review(
    c: sqlite3.Connection,
    *,
    key: str,
    axis: str,
    labels: Sequence[str],
    text: str,
    reviewer: str | None,
    source: str,
    group: str | None,
    passage_id: int | None,
    before: Sequence[str] | None,
    predicted: Sequence[str] | None,
) -> int:
    """The reviewed labels of a text on one axis, applied to every passage holding that text,
    and the audit event recording it. Returns the event id."""
    at = utc_now()
    value = json.dumps(sorted(labels))
    c.execute(
        "INSERT INTO reviewed_labels(text_key, axis, labels, text, reviewer, source, grp, at)"
        " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(text_key, axis) DO UPDATE SET"
        " labels=excluded.labels, text=excluded.text, reviewer=excluded.reviewer,"
        " source=excluded.source, grp=excluded.grp, at=excluded.at",
        (key, axis, value, text, reviewer, source, group or None, at),
    )
    tags_table.override(c, documents_table.ids_with_text(c, key), axis, sorted(labels))
    cur = c.execute(
        "INSERT INTO review_events(passage_id, text_key, axis, before, after, predicted,"
        " reviewer, source, at) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            passage_id,
            key,
            axis,
            None if before is None else json.dumps(sorted(before)),
            value,
            None if predicted is None else json.dumps(sorted(predicted)),
            reviewer,
            source,
            at,
        ),
    )
    return int(cur.lastrowid or 0)


def record_document_review(
    c: sqlite3.Connection,
    doc_id: int,
    axis: str,
    labels: Sequence[str] | None,
    *,
    reviewer: str | None,
    source: str,
) -> int:
    """Set (or, with None, drop) a document's own tags on one axis, and the audit event
    recording it: before and after as the library shows them."""
    before = tags_table.all_document_tags(c, doc_id=doc_id).get(doc_id, Tags()).on(axis)
    tags_table.set_document_review(c, doc_id, axis, labels, reviewer)
    after = tags_table.all_document_tags(c, doc_id=doc_id).get(doc_id, Tags()).on(axis)
    cur = c.execute(
        "INSERT INTO review_events(passage_id, text_key, axis, before, after, predicted,"
        " reviewer, source, at, doc_id) VALUES (NULL,?,?,?,?,NULL,?,?,?,?)",
        (
            f"document:{doc_id}",
            axis,
            json.dumps(sorted(before)),
            json.dumps(sorted(after)),
            reviewer,
            source if labels is not None else f"{source}:derived",
            utc_now(),
            doc_id,
        ),
    )
    return int(cur.lastrowid or 0)


def last_event(c: sqlite3.Connection, key: str, axis: str) -> LastEvent:
    row = c.execute(
        "SELECT id, reviewer, at FROM review_events WHERE text_key = ? AND axis = ?"
        " ORDER BY id DESC LIMIT 1",
        (key, axis),
    ).fetchone()
    return LastEvent(0, None, None) if row is None else LastEvent(int(row[0]), row[1], row[2])


def reviewed_texts_of_document(c: sqlite3.Connection, doc_id: int) -> list[tuple[str, str]]:
    """(text, text key) of a document's passages whose text was reviewed."""
    return [
        (r[0], r[1])
        for r in c.execute(
            "SELECT DISTINCT p.text, p.text_key FROM passages p JOIN reviewed_labels r"
            " ON r.text_key = p.text_key WHERE p.doc_id = ?",
            (doc_id,),
        )
    ]


def carry_reviews(
    c: sqlite3.Connection, reviewed: Sequence[tuple[str, str]], new_ids: Sequence[int]
) -> tuple[int, int]:
    """After a document is read again: give each reviewed text that the new reading no longer
    holds to the new passage with nearly the same words. Returns (carried, unmatched)."""
    if not reviewed or not new_ids:
        return 0, len(reviewed)
    new = documents_table.texts_of(c, new_ids)
    new_keys = {key for _, _, key in new}
    bags = [(row, Counter(row[1].lower().split())) for row in new]
    carried = unmatched = 0
    for old_text, old_key in reviewed:
        if old_key in new_keys:
            continue  # the same text is still there: its review still applies
        words = Counter(old_text.lower().split())
        best, best_sim = None, 0.0
        for row, bag in bags:
            shared = sum((words & bag).values())
            sim = shared / max(sum(words.values()), sum(bag.values()), 1)
            if sim > best_sim:
                best, best_sim = row, sim
        if best is None or best_sim < CARRY_SIMILARITY:
            unmatched += 1
            continue
        carried += 1
        best_id, best_text, best_key = best
        for axis, labels, reviewer, grp in c.execute(
            "SELECT axis, labels, reviewer, grp FROM reviewed_labels WHERE text_key = ?",
            (old_key,),
        ).fetchall():
            taken = c.execute(
                "SELECT 1 FROM reviewed_labels WHERE text_key = ? AND axis = ?", (best_key, axis)
            ).fetchone()
            if taken:
                continue  # the new text has its own review on this axis
            record_review(
                c,
                key=best_key,
                axis=axis,
                labels=json.loads(labels),
                text=best_text,
                reviewer=reviewer,
                source=CARRIED_SOURCE,
                group=grp,
                passage_id=best_id,
                before=tags_table.passage_axis_tags(c, best_id, axis),
                predicted=tags_table.predicted_labels(c, best_id, axis),
            )
    return carried, unmatched


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


def _queue_row(r: sqlite3.Row) -> QueueRow:
    return QueueRow(
        passage_id=int(r["id"]),
        doc_id=int(r["doc_id"]),
        locator=Locator(int(r["page_start"]), int(r["page_end"]), r["para_start"]),
        heading=r["heading"],
        text=r["text"],
        text_key=r["text_key"],
        title=r["title"],
        file_name=r["file_name"],
        symbol=r["symbol"],
        doc_date=r["doc_date"],
        margin=None if r["margin"] is None else float(r["margin"]),
    )


_QUEUE_COLUMNS = (
    "SELECT p.id, p.doc_id, p.page_start, p.page_end, p.para_start, p.heading, p.text,"
    " p.text_key, d.title, d.file_name, d.symbol, d.doc_date, u.margin"
    " FROM passages p JOIN documents d ON d.id = p.doc_id"
    " LEFT JOIN passage_uncertainty u ON u.passage_id = p.id"
)


class ReviewsTable(Database):
    """The review family's part of the Store."""

    def upsert_reviews(
        self, items: Sequence[LabelledText], reviewer: str | None = None, source: str = ""
    ) -> dict[str, int]:
        """Store reviewed labels (per text and axis), each change with its review event.
        Returns how many texts were added (new), changed (a reviewed axis got other labels, or
        a new axis was reviewed) or the same."""
        counts = {"added": 0, "changed": 0, "same": 0}
        with self.transaction() as c:
            for item in items:
                key = text_key(item.text)
                known = c.execute(
                    "SELECT COUNT(*) FROM reviewed_labels WHERE text_key = ?", (key,)
                ).fetchone()[0]
                holders = documents_table.ids_with_text(c, key)
                pid = min(holders) if holders else None
                touched = False
                for axis in ("a4p", "pillars"):
                    labels = item.on(axis)
                    if labels is None:
                        continue
                    old = c.execute(
                        "SELECT labels FROM reviewed_labels WHERE text_key = ? AND axis = ?",
                        (key, axis),
                    ).fetchone()
                    if old is not None and old[0] == json.dumps(sorted(labels)):
                        continue
                    touched = True
                    if old is not None:
                        before: list[str] | None = json.loads(old[0])
                    elif pid is not None:
                        before = tags_table.passage_axis_tags(c, pid, axis)
                    else:
                        before = None  # a text the library does not hold: nothing was shown
                    record_review(
                        c,
                        key=key,
                        axis=axis,
                        labels=labels,
                        text=item.text,
                        reviewer=reviewer,
                        source=source or "import",
                        group=item.group,
                        passage_id=pid,
                        before=before,
                        predicted=None
                        if pid is None
                        else tags_table.predicted_labels(c, pid, axis),
                    )
                counts["same" if not touched else "changed" if known else "added"] += 1
        return counts

    def reviewed_items(self) -> list[LabelledText]:
        """Every reviewed text. Its group (mission or document) keeps related texts in one
        fold when thresholds are chosen; a text without one is a group of its own."""
        texts: dict[str, tuple[str, str]] = {}
        labels: dict[tuple[str, str], tuple[str, ...]] = {}
        for r in self.conn.execute("SELECT text_key, axis, labels, text, grp FROM reviewed_labels"):
            texts.setdefault(r[0], (r[3], r[4] or f"review:{r[0]}"))
            labels[(r[0], r[1])] = tuple(json.loads(r[2]))
        return [
            LabelledText(
                text, labels.get((key, "a4p")), labels.get((key, "pillars")), "review", grp
            )
            for key, (text, grp) in texts.items()
        ]

    def reviewed_for(self, keys: Iterable[str]) -> dict[str, dict[str, list[str]]]:
        """Reviewed labels per text key and axis, for the keys that have any."""
        unique = list(set(keys))
        out: dict[str, dict[str, list[str]]] = {}
        for chunk in chunks(unique):
            for r in self.conn.execute(
                "SELECT text_key, axis, labels FROM reviewed_labels"
                f" WHERE text_key IN ({marks(chunk)})",
                chunk,
            ):
                out.setdefault(r[0], {})[r[1]] = json.loads(r[2])
        return out

    def review_document(
        self, doc_id: int, axis: str, labels: Sequence[str] | None, reviewer: str | None = None
    ) -> int:
        """Correct a document's own tags, independently of its passages' (None: drop the
        correction, so the tags are derived from the passages again), with no check of what
        the reviewer was shown (`index.reviews.review_document` checks). Returns the event."""
        with self.transaction() as c:
            return record_document_review(c, doc_id, axis, labels, reviewer=reviewer, source="api")

    def last_events(self, keys: Sequence[str]) -> dict[str, int]:
        """The newest event id per text key, for the keys that have events."""
        out: dict[str, int] = {}
        for chunk in chunks(list(keys)):
            for r in self.conn.execute(
                "SELECT text_key, MAX(id) FROM review_events"
                f" WHERE text_key IN ({marks(chunk)}) GROUP BY text_key",
                chunk,
            ):
                out[r[0]] = int(r[1])
        return out

    def last_event_id(self) -> int:
        return int(
            self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM review_events").fetchone()[0]
        )

    def passage_events_since(
        self, event_id: int, at: str, doc_ids: Collection[int] | None = None
    ) -> int:
        """Review events of passages (not of a document's own tags) after `event_id` and
        saved at or after UTC time `at` (of the documents `doc_ids`)."""
        scope, args = in_scope(doc_ids)
        row = self.conn.execute(
            "SELECT COUNT(*) FROM review_events e LEFT JOIN passages p ON p.id = e.passage_id"
            " WHERE e.id > ? AND substr(e.at, 1, 19) >= ? AND e.doc_id IS NULL"
            f" AND {scope}",
            (event_id, at[:19], *args),
        ).fetchone()
        return int(row[0])

    def list_events(
        self,
        *,
        reviewer: str | None = None,
        label: str | None = None,
        passage_id: int | None = None,
        document_id: int | None = None,
        axis: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = True,
        doc_ids: Collection[int] | None = None,
    ) -> list[ReviewEvent]:
        """Review events, newest first. `label` keeps events where it was shown, saved or
        predicted; `passage_id` the events of that passage's text (whichever passage held it);
        `document_id` the corrections of that document's own tags; `doc_ids` the events of
        those documents' passages and tags (an event whose passage is gone is then left out)."""
        where, args = ["1 = 1"], []  # type: list[str], list[object]
        if doc_ids is not None:
            scope, scope_args = in_scope(doc_ids, "COALESCE(p.doc_id, e.doc_id)")
            where.append(scope)
            args += list(scope_args)
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
                " OR EXISTS (SELECT 1 FROM json_each(COALESCE(e.predicted, '[]'))"
                " WHERE value = ?))"
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
        return [_event(r) for r in self.conn.execute(sql, args)]

    def queue_page(
        self,
        *,
        label: str | None,
        doc_id: int | None,
        include_reviewed: bool,
        limit: int,
        offset: int,
        doc_ids: Collection[int] | None = None,
    ) -> tuple[int, list[QueueRow]]:
        """(passages matching, one page of them): most uncertain first, one passage per text;
        texts already reviewed (on both axes; with `label`, on its axis) left out unless
        `include_reviewed`; `label` keeps passages the model tagged with it."""
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
        if doc_ids is not None:
            scope, scope_args = in_scope(doc_ids)
            where.append(scope)
            args += list(scope_args)
        if label is not None:
            where.append(
                "EXISTS (SELECT 1 FROM passage_scores s WHERE s.passage_id = p.id"
                " AND s.label = ? AND s.predicted = 1)"
            )
            args.append(label)
        clause = " AND ".join(where)
        total = self.conn.execute(
            f"SELECT COUNT(*) FROM passages p WHERE {clause}", args
        ).fetchone()[0]
        rows = self.conn.execute(
            f"{_QUEUE_COLUMNS} WHERE {clause} ORDER BY u.margin IS NULL, u.margin, p.id"
            " LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return int(total), [_queue_row(r) for r in rows]

    def queue_row(self, passage_id: int) -> QueueRow | None:
        row = self.conn.execute(f"{_QUEUE_COLUMNS} WHERE p.id = ?", (passage_id,)).fetchone()
        return None if row is None else _queue_row(row)

    def review_progress(
        self, doc_ids: Collection[int] | None = None
    ) -> tuple[dict[str, int], int, int, str | None]:
        """(passages reviewed per axis, passages reviewed on any axis, reviewers, last review)
        over the passages the library holds now (of the documents `doc_ids`)."""
        q = self.conn.execute
        scope, args = in_scope(doc_ids)
        per_axis = {
            axis: int(n)
            for axis, n in q(
                "SELECT r.axis, COUNT(DISTINCT p.id) FROM reviewed_labels r"
                f" JOIN passages p ON p.text_key = r.text_key WHERE {scope} GROUP BY r.axis",
                args,
            )
        }
        any_axis = q(
            "SELECT COUNT(DISTINCT p.id) FROM passages p"
            f" WHERE p.text_key IN (SELECT text_key FROM reviewed_labels) AND {scope}",
            args,
        ).fetchone()[0]
        reviewers, last = q(
            "SELECT COUNT(DISTINCT reviewer), MAX(at) FROM reviewed_labels"
            f" WHERE text_key IN (SELECT p.text_key FROM passages p WHERE {scope})",
            args,
        ).fetchone()
        return per_axis, int(any_axis), int(reviewers), last
