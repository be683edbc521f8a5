"""The SQLite store: documents, passages (with their embeddings), entities, tags, ingest outcomes.

One file in WAL mode. SQLite is the source of truth: the FAISS index is derived from the
embeddings kept here and can always be rebuilt. Every document is written in one transaction,
so a crash leaves either the whole document or none of it. Passage ids come from AUTOINCREMENT
and are never reused, which keeps FAISS ids stable across removals.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.engine.base import IndexedPassage
from nlp.doctypes import classify_doc_type
from nlp.labels import slugs
from nlp.training_data import LabelledText, text_key

# 3: document types, near-duplicate groups, no FTS5 copy (keyword search is index/keyword.py)
# 4: model scores per passage (review queue), review events (audit trail), briefing packs.
SCHEMA_VERSION = 4
# A document carries a label when at least this share of its passages do (measured: the
# demo-corpus cross-validation in benchmarks/tagging.py; since passage thresholds assume a
# label frequency of one half until reviews say otherwise, passages carry more labels and 0.34
# beats 0.2).
DOC_TAG_SHARE = 0.34

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_path TEXT NOT NULL UNIQUE,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    title TEXT NOT NULL,
    symbol TEXT,
    doc_date TEXT,
    page_count INTEGER NOT NULL,
    missions TEXT NOT NULL DEFAULT '[]',
    extractor TEXT NOT NULL,
    two_column_pages INTEGER NOT NULL DEFAULT 0,
    doc_type TEXT,
    extraction_version INTEGER NOT NULL DEFAULT 1,
    ingested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX IF NOT EXISTS documents_sha ON documents(sha256);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    para_start INTEGER,
    para_end INTEGER,
    heading TEXT,
    text TEXT NOT NULL,
    word_count INTEGER NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id, seq);
CREATE TABLE IF NOT EXISTS entities (
    passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    key TEXT NOT NULL,
    text TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (passage_id, label, key)
);
CREATE INDEX IF NOT EXISTS entities_key ON entities(label, key);
CREATE TABLE IF NOT EXISTS passage_tags (
    passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    axis TEXT NOT NULL,
    label TEXT NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (passage_id, axis, label)
);
CREATE TABLE IF NOT EXISTS document_reviews (
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    axis TEXT NOT NULL,
    labels TEXT NOT NULL,
    reviewer TEXT,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (doc_id, axis)
);
CREATE TABLE IF NOT EXISTS reviewed_labels (
    text_key TEXT NOT NULL,
    axis TEXT NOT NULL,
    labels TEXT NOT NULL,
    text TEXT NOT NULL,
    reviewer TEXT,
    source TEXT,
    grp TEXT,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (text_key, axis)
);
CREATE TABLE IF NOT EXISTS near_duplicates (
    passage_id INTEGER PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
    cluster INTEGER NOT NULL  -- the earliest passage of the group; a key, kept if that one goes
);
CREATE INDEX IF NOT EXISTS near_duplicates_cluster ON near_duplicates(cluster);
CREATE TABLE IF NOT EXISTS ingest_log (
    source_path TEXT PRIMARY KEY,
    sha256 TEXT,
    status TEXT NOT NULL,
    reason_code TEXT,
    reason TEXT,
    doc_id INTEGER,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS passage_scores (
    passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    score REAL NOT NULL,
    margin REAL NOT NULL,
    predicted INTEGER NOT NULL,
    PRIMARY KEY (passage_id, label)
);
CREATE INDEX IF NOT EXISTS passage_scores_label ON passage_scores(label, predicted);
CREATE TABLE IF NOT EXISTS passage_uncertainty (
    passage_id INTEGER PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
    margin REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS passage_uncertainty_margin ON passage_uncertainty(margin);
CREATE TABLE IF NOT EXISTS review_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    passage_id INTEGER,
    text_key TEXT NOT NULL,
    axis TEXT NOT NULL,
    before TEXT,
    after TEXT NOT NULL,
    predicted TEXT,
    reviewer TEXT,
    source TEXT NOT NULL,
    at TEXT NOT NULL,
    doc_id INTEGER  -- set on corrections of a document's own tags (text_key 'document:<id>')
);
CREATE INDEX IF NOT EXISTS review_events_key ON review_events(text_key, axis);
CREATE TABLE IF NOT EXISTS packs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    intro TEXT NOT NULL DEFAULT '',
    grouping TEXT NOT NULL DEFAULT 'none',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pack_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pack_id INTEGER NOT NULL REFERENCES packs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    passage_id INTEGER,
    text_key TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    heading TEXT,
    doc_sha256 TEXT,
    title TEXT NOT NULL,
    symbol TEXT,
    doc_date TEXT,
    file_name TEXT NOT NULL,
    page_start INTEGER,
    page_end INTEGER,
    para_start INTEGER,
    para_end INTEGER,
    a4p TEXT NOT NULL DEFAULT '[]',
    pillars TEXT NOT NULL DEFAULT '[]',
    added_at TEXT NOT NULL,
    UNIQUE (pack_id, text_key)
);
CREATE INDEX IF NOT EXISTS pack_items_order ON pack_items(pack_id, position);
"""


@dataclass(frozen=True)
class DocumentRow:
    id: int
    source_path: str
    file_name: str
    sha256: str
    title: str
    symbol: str | None
    doc_date: str | None
    page_count: int
    missions: tuple[str, ...]
    doc_type: str | None = None
    extraction_version: int = 1  # ingest's EXTRACTION_VERSION when the file was read


@dataclass(frozen=True)
class Replaced:
    """What `Store.replace_document` did."""

    doc_id: int
    new_ids: list[int]
    removed: list[int]
    reviews_carried: int = 0  # reviewed texts changed by the new reading, labels handed on
    reviews_unmatched: int = 0  # reviewed texts with no close enough new passage


# A reviewed passage's labels go to a re-read passage sharing this share of its words (of the
# longer of the two): a rejoined hyphen or a stray dash changes a word or two, a merged
# fragment doubles the text.
CARRY_SIMILARITY = 0.8
CARRIED_SOURCE = "carried over: text changed on re-reading"


@dataclass(frozen=True)
class PassageRecord:
    """A passage ready to be stored."""

    seq: int
    page_start: int
    page_end: int
    para_start: int | None
    para_end: int | None
    heading: str | None
    text: str
    embedding: np.ndarray
    entities: tuple[tuple[str, str, str, int], ...] = ()  # (label, key, text, count)
    tags: tuple[tuple[str, str, float], ...] = ()  # (axis, label, score)
    scores: tuple[LabelScore, ...] = ()  # the model's own view, for the review queue


# (label, probability, probability minus the label's threshold, the model's decision 0/1)
LabelScore = tuple[str, float, float, int]


def utc_now() -> str:
    """UTC time with milliseconds: review events and pack edits in one second stay ordered."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Store:
    """Typed access to the SQLite file. Write methods run in one transaction each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path)
        # One connection may serve several threads (the app's sessions): their transactions
        # take turns instead of colliding on the connection.
        self._tx_lock = threading.RLock()
        self.conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        self._migrate()
        if self.get_meta("schema_version") is None:
            with self.transaction():
                self.set_meta("schema_version", str(SCHEMA_VERSION))
                self.set_meta("generation", "0")
                # a new store links near-duplicates as passages arrive (index/dedup.py)
                self.set_meta("near_duplicates_scanned", "1")

    def close(self) -> None:
        self.conn.close()

    def _migrate(self) -> None:
        """Bring an older store up to SCHEMA_VERSION. New tables come from SCHEMA (IF NOT
        EXISTS); columns and back-filled rows are added here, each step in one transaction."""
        review_cols = {r[1] for r in self.conn.execute("PRAGMA table_info(reviewed_labels)")}
        if "grp" not in review_cols:
            with self.transaction() as c:
                c.execute("ALTER TABLE reviewed_labels ADD COLUMN grp TEXT")
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(passages)")}
        if "text_key" not in cols:
            self.conn.create_function("text_key", 1, text_key, deterministic=True)
            with self.transaction() as c:
                c.execute("ALTER TABLE passages ADD COLUMN text_key TEXT")
                c.execute("UPDATE passages SET text_key = text_key(text)")
                c.execute("CREATE INDEX IF NOT EXISTS passages_text_key ON passages(text_key)")
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'passages_fts'").fetchone():
            # Keyword search moved to the BM25 index (index/keyword.py); the FTS5 copy of
            # every passage only cost space and ingest time.
            with self.transaction() as c:
                c.execute("DROP TRIGGER IF EXISTS passages_ai")
                c.execute("DROP TRIGGER IF EXISTS passages_ad")
                c.execute("DROP TABLE IF EXISTS passages_fts")
        event_cols = {r[1] for r in self.conn.execute("PRAGMA table_info(review_events)")}
        if "doc_id" not in event_cols:
            with self.transaction() as c:
                c.execute("ALTER TABLE review_events ADD COLUMN doc_id INTEGER")
        doc_cols = {r[1] for r in self.conn.execute("PRAGMA table_info(documents)")}
        if "doc_type" not in doc_cols:
            # Older stores: classify from the stored opening passages (a re-ingest, which reads
            # the first page itself, may refine it).
            with self.transaction() as c:
                c.execute("ALTER TABLE documents ADD COLUMN doc_type TEXT")
                for row in c.execute("SELECT id, title, symbol FROM documents").fetchall():
                    opening = "\n".join(
                        r[0]
                        for r in c.execute(
                            "SELECT text FROM passages WHERE doc_id = ? ORDER BY seq LIMIT 5",
                            (row[0],),
                        )
                    )
                    c.execute(
                        "UPDATE documents SET doc_type = ? WHERE id = ?",
                        (classify_doc_type(row[1], row[2], opening), row[0]),
                    )
        if "extraction_version" not in doc_cols:
            # Documents read before versions were kept count as version 1.
            with self.transaction() as c:
                c.execute(
                    "ALTER TABLE documents ADD COLUMN extraction_version INTEGER NOT NULL DEFAULT 1"
                )
        stored = self.get_meta("schema_version")
        if stored is not None and int(stored) < SCHEMA_VERSION:
            with self.transaction() as c:
                if int(stored) < 4:
                    # Reviews saved before the audit trail existed become its first events, so
                    # the trail shows every label in force (what was shown before is unknown).
                    c.execute(
                        "INSERT INTO review_events(passage_id, text_key, axis, before, after,"
                        " predicted, reviewer, source, at) SELECT (SELECT MIN(id) FROM passages"
                        " p WHERE p.text_key = r.text_key), r.text_key, r.axis, NULL, r.labels,"
                        " NULL, r.reviewer, 'migrated:' || COALESCE(r.source, ''), r.at"
                        " FROM reviewed_labels r ORDER BY r.at"
                    )
                self.set_meta("schema_version", str(SCHEMA_VERSION))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: the write lock is taken before anything is read, so a check and
        the write that depends on it (e.g. a review's conflict check) see no change between."""
        with self._tx_lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    # -- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def generation(self) -> int:
        """Bumped in every transaction that changes passages; the FAISS file records the
        generation it was built from, so a stale file is detected and rebuilt."""
        return int(self.get_meta("generation") or 0)

    def _bump(self) -> None:
        self.conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
        )

    @property
    def tags_generation(self) -> int:
        """Bumped in every transaction that changes passage tags (reviews, retagging): an
        engine holding labels for tag filters reloads them when it differs."""
        return int(self.get_meta("tags_generation") or 0)

    @staticmethod
    def _bump_tags(c: sqlite3.Connection) -> None:
        c.execute(
            "INSERT INTO meta(key, value) VALUES ('tags_generation', '1') ON CONFLICT(key)"
            " DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # -- what the search engine indexes (index/engine/base.py: PassageSource) -------------
    def passage_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    def iter_indexed(self, batch: int = 4096) -> Iterator[list[IndexedPassage]]:
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT id, doc_id, text, embedding FROM passages WHERE id > ? ORDER BY id"
                " LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            first, last = int(rows[0][0]), int(rows[-1][0])
            labels: dict[int, set[str]] = {}
            for pid, label in self.conn.execute(
                "SELECT passage_id, label FROM passage_tags WHERE passage_id BETWEEN ? AND ?",
                (first, last),
            ):
                labels.setdefault(pid, set()).add(label)
            yield [
                IndexedPassage(
                    int(r[0]),
                    int(r[1]),
                    r[2],
                    np.frombuffer(r[3], dtype=np.float32),
                    frozenset(labels.get(int(r[0]), ())),
                )
                for r in rows
            ]

    def passage_texts(self, batch: int = 4096) -> Iterator[list[tuple[int, str]]]:
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT id, text FROM passages WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            yield [(int(r[0]), r[1]) for r in rows]
            last = int(rows[-1][0])

    def passage_docs(self) -> Iterator[tuple[int, int]]:
        for pid, doc_id in self.conn.execute("SELECT id, doc_id FROM passages"):
            yield int(pid), int(doc_id)

    def passage_labels(self) -> Iterator[tuple[int, str]]:
        for pid, label in self.conn.execute("SELECT passage_id, label FROM passage_tags"):
            yield int(pid), label

    # -- documents ------------------------------------------------------------------------
    def document_by_path(self, source_path: str) -> DocumentRow | None:
        row = self.conn.execute(
            "SELECT * FROM documents WHERE source_path = ?", (source_path,)
        ).fetchone()
        return None if row is None else _doc(row)

    def document_by_sha(self, sha256: str) -> DocumentRow | None:
        row = self.conn.execute("SELECT * FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row is None else _doc(row)

    def documents(self) -> list[DocumentRow]:
        return [_doc(r) for r in self.conn.execute("SELECT * FROM documents ORDER BY id")]

    def passage_records(self, doc_id: int) -> list[PassageRecord]:
        """A document's passages as stored (text, place and embedding; no tags), in order."""
        return [
            PassageRecord(
                seq=r[0],
                page_start=r[1],
                page_end=r[2],
                para_start=r[3],
                para_end=r[4],
                heading=r[5],
                text=r[6],
                embedding=np.frombuffer(r[7], dtype=np.float32),
            )
            for r in self.conn.execute(
                "SELECT seq, page_start, page_end, para_start, para_end, heading, text,"
                " embedding FROM passages WHERE doc_id = ? ORDER BY seq",
                (doc_id,),
            )
        ]

    def passage_ids(self, doc_id: int) -> list[int]:
        return [
            r[0] for r in self.conn.execute("SELECT id FROM passages WHERE doc_id = ?", (doc_id,))
        ]

    def replace_document(
        self,
        *,
        source_path: str,
        file_name: str,
        sha256: str,
        size_bytes: int,
        title: str,
        symbol: str | None,
        doc_date: str | None,
        page_count: int,
        missions: Sequence[str],
        extractor: str,
        two_column_pages: int,
        passages: Sequence[PassageRecord],
        doc_type: str | None = None,
        extraction_version: int = 1,
    ) -> Replaced:
        """Insert a document (replacing any earlier version at the same path) with all its
        passages in one transaction.

        A document read again keeps its id, so what hangs on it (a reviewer's correction of its
        tags, their history, links to its page) stays with it. Reviewed passages whose text the
        new reading changed (an extraction fix rejoins a word or a paragraph) hand their labels
        to the new passage that holds nearly the same words; the others are counted, and their
        labels stay in the training set and the audit trail."""
        fields = (
            file_name,
            sha256,
            size_bytes,
            title,
            symbol,
            doc_date,
            page_count,
            json.dumps(list(missions)),
            extractor,
            two_column_pages,
            doc_type,
            extraction_version,
        )
        names = (
            "file_name",
            "sha256",
            "size_bytes",
            "title",
            "symbol",
            "doc_date",
            "page_count",
            "missions",
            "extractor",
            "two_column_pages",
            "doc_type",
            "extraction_version",
        )
        with self.transaction() as c:
            old = c.execute(
                "SELECT id FROM documents WHERE source_path = ?", (source_path,)
            ).fetchone()
            removed: list[int] = []
            reviewed_before: list[sqlite3.Row] = []
            if old is not None:
                doc_id = int(old[0])
                removed = [
                    r[0] for r in c.execute("SELECT id FROM passages WHERE doc_id = ?", (doc_id,))
                ]
                reviewed_before = c.execute(
                    "SELECT DISTINCT p.text, p.text_key FROM passages p JOIN reviewed_labels r"
                    " ON r.text_key = p.text_key WHERE p.doc_id = ?",
                    (doc_id,),
                ).fetchall()
                c.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
                assignments = ", ".join(f"{name} = ?" for name in names)
                c.execute(
                    f"UPDATE documents SET {assignments},"
                    " ingested_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?",
                    (*fields, doc_id),
                )
            else:
                marks = ",".join("?" * (len(fields) + 1))
                cur = c.execute(
                    f"INSERT INTO documents(source_path, {', '.join(names)}) VALUES ({marks})",
                    (source_path, *fields),
                )
                doc_id = int(cur.lastrowid or 0)
            new_ids: list[int] = []
            for p in passages:
                vec = np.ascontiguousarray(p.embedding, dtype=np.float32)
                cur = c.execute(
                    "INSERT INTO passages(doc_id, seq, page_start, page_end, para_start, para_end,"
                    " heading, text, word_count, embedding, text_key)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        doc_id,
                        p.seq,
                        p.page_start,
                        p.page_end,
                        p.para_start,
                        p.para_end,
                        p.heading,
                        p.text,
                        len(p.text.split()),
                        vec.tobytes(),
                        text_key(p.text),
                    ),
                )
                pid = int(cur.lastrowid or 0)
                new_ids.append(pid)
                c.executemany(
                    "INSERT INTO entities(passage_id, label, key, text, count) VALUES (?,?,?,?,?)",
                    [(pid, *e) for e in p.entities],
                )
                c.executemany(
                    "INSERT INTO passage_tags(passage_id, axis, label, score) VALUES (?,?,?,?)",
                    [(pid, *t) for t in p.tags],
                )
                self._write_scores(c, pid, p.scores)
            carried, unmatched = self._carry_reviews(c, reviewed_before, new_ids)
            self._log(c, source_path, sha256, "ok", None, None, doc_id)
            self._bump()
        return Replaced(doc_id, new_ids, removed, carried, unmatched)

    def _carry_reviews(
        self, c: sqlite3.Connection, reviewed: Sequence[sqlite3.Row], new_ids: Sequence[int]
    ) -> tuple[int, int]:
        """Inside replace_document: give each reviewed text that the new reading no longer holds
        to the new passage with nearly the same words. Returns (carried, unmatched)."""
        if not reviewed or not new_ids:
            return 0, len(reviewed)
        marks = ",".join("?" * len(new_ids))
        new = c.execute(
            f"SELECT id, text, text_key FROM passages WHERE id IN ({marks})", tuple(new_ids)
        ).fetchall()
        new_keys = {r["text_key"] for r in new}
        bags = [(r, Counter(r["text"].lower().split())) for r in new]
        carried = unmatched = 0
        for old in reviewed:
            if old["text_key"] in new_keys:
                continue  # the same text is still there: its review still applies
            words = Counter(old["text"].lower().split())
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
            for axis, labels, reviewer, grp in c.execute(
                "SELECT axis, labels, reviewer, grp FROM reviewed_labels WHERE text_key = ?",
                (old["text_key"],),
            ).fetchall():
                taken = c.execute(
                    "SELECT 1 FROM reviewed_labels WHERE text_key = ? AND axis = ?",
                    (best["text_key"], axis),
                ).fetchone()
                if taken:
                    continue  # the new text has its own review on this axis
                self.record_review(
                    c,
                    key=best["text_key"],
                    axis=axis,
                    labels=json.loads(labels),
                    text=best["text"],
                    reviewer=reviewer,
                    source=CARRIED_SOURCE,
                    group=grp,
                    passage_id=int(best["id"]),
                    before=self.passage_axis_tags(c, int(best["id"]), axis),
                    predicted=self.predicted_labels(c, int(best["id"]), axis),
                )
        return carried, unmatched

    def move_document(self, doc_id: int, new_path: str) -> None:
        """A file moved or renamed with the same bytes keeps its passages and reviews."""
        with self.transaction() as c:
            old = c.execute("SELECT source_path FROM documents WHERE id = ?", (doc_id,)).fetchone()
            c.execute(
                "UPDATE documents SET source_path = ?, file_name = ? WHERE id = ?",
                (new_path, Path(new_path).name, doc_id),
            )
            if old is not None:
                c.execute("DELETE FROM ingest_log WHERE source_path = ?", (old[0],))
            row = c.execute("SELECT sha256 FROM documents WHERE id = ?", (doc_id,)).fetchone()
            self._log(c, new_path, row[0] if row else None, "ok", None, None, doc_id)

    def delete_document(self, doc_id: int) -> list[int]:
        with self.transaction() as c:
            removed = [
                r[0] for r in c.execute("SELECT id FROM passages WHERE doc_id = ?", (doc_id,))
            ]
            path = c.execute("SELECT source_path FROM documents WHERE id = ?", (doc_id,)).fetchone()
            c.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
            c.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
            if path is not None:
                c.execute("DELETE FROM ingest_log WHERE source_path = ?", (path[0],))
            self._bump()
        return removed

    # -- ingest outcomes ------------------------------------------------------------------
    @staticmethod
    def _log(
        c: sqlite3.Connection,
        path: str,
        sha: str | None,
        status: str,
        code: str | None,
        reason: str | None,
        doc_id: int | None,
    ) -> None:
        c.execute(
            "INSERT INTO ingest_log(source_path, sha256, status, reason_code, reason, doc_id)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(source_path) DO UPDATE SET sha256=excluded.sha256,"
            " status=excluded.status, reason_code=excluded.reason_code, reason=excluded.reason,"
            " doc_id=excluded.doc_id, at=excluded.at",
            (path, sha, status, code, reason, doc_id),
        )

    def log_failure(self, path: str, sha: str | None, code: str, reason: str) -> None:
        with self.transaction() as c:
            self._log(c, path, sha, "failed", code, reason, None)

    def failures_by_reason(self) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT reason_code, COUNT(*) FROM ingest_log WHERE status = 'failed' GROUP BY 1"
        )
        return {r[0]: r[1] for r in rows}

    # -- vectors --------------------------------------------------------------------------
    def iter_embeddings(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) in batches, for rebuilding the FAISS index."""
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT id, embedding FROM passages WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            vecs = np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
            yield ids, vecs
            last = int(ids[-1])

    def counts(self) -> dict[str, int]:
        q = self.conn.execute
        return {
            "documents": q("SELECT COUNT(*) FROM documents").fetchone()[0],
            "pages": q("SELECT COALESCE(SUM(page_count), 0) FROM documents").fetchone()[0],
            "passages": q("SELECT COUNT(*) FROM passages").fetchone()[0],
            "entities": q("SELECT COUNT(*) FROM entities").fetchone()[0],
        }

    def passages_by_ids(self, ids: Iterable[int]) -> dict[int, sqlite3.Row]:
        ids = list(ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            "SELECT p.id, p.doc_id, p.seq, p.page_start, p.page_end, p.para_start, p.para_end,"
            " p.heading, p.text, d.file_name, d.title, d.symbol, d.doc_date"
            f" FROM passages p JOIN documents d ON d.id = p.doc_id WHERE p.id IN ({marks})",
            ids,
        )
        return {r["id"]: r for r in rows}

    def tags_for(self, ids: Iterable[int]) -> dict[int, dict[str, list[str]]]:
        ids = list(ids)
        out: dict[int, dict[str, list[str]]] = {i: {"a4p": [], "pillars": []} for i in ids}
        if not ids:
            return out
        marks = ",".join("?" * len(ids))
        for r in self.conn.execute(
            f"SELECT passage_id, axis, label FROM passage_tags WHERE passage_id IN ({marks})"
            " ORDER BY score DESC",
            ids,
        ):
            out[r[0]].setdefault(r[1], []).append(r[2])
        return out

    # -- reviewed labels ------------------------------------------------------------------
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
                pid = c.execute(
                    "SELECT MIN(id) FROM passages WHERE text_key = ?", (key,)
                ).fetchone()[0]
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
                        before = self.passage_axis_tags(c, pid, axis)
                    else:
                        before = None  # a text the library does not hold: nothing was shown
                    self.record_review(
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
                        predicted=None if pid is None else self.predicted_labels(c, pid, axis),
                    )
                counts["same" if not touched else "changed" if known else "added"] += 1
        return counts

    @classmethod
    def record_review(
        cls,
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
        """Inside a transaction: the reviewed labels of a text on one axis, applied to every
        passage holding that text, and the audit event recording it. Returns the event id."""
        at = utc_now()
        value = json.dumps(sorted(labels))
        c.execute(
            "INSERT INTO reviewed_labels(text_key, axis, labels, text, reviewer, source, grp, at)"
            " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(text_key, axis) DO UPDATE SET"
            " labels=excluded.labels, text=excluded.text, reviewer=excluded.reviewer,"
            " source=excluded.source, grp=excluded.grp, at=excluded.at",
            (key, axis, value, text, reviewer, source, group or None, at),
        )
        cls._override(c, key, axis, sorted(labels))
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

    @staticmethod
    def passage_axis_tags(c: sqlite3.Connection, passage_id: int, axis: str) -> list[str]:
        """The labels a passage shows on one axis now (reviewed, else predicted)."""
        return sorted(
            r[0]
            for r in c.execute(
                "SELECT label FROM passage_tags WHERE passage_id = ? AND axis = ?",
                (passage_id, axis),
            )
        )

    @staticmethod
    def predicted_labels(c: sqlite3.Connection, passage_id: int, axis: str) -> list[str] | None:
        """The model's own decision on one axis (before any review), None when the passage has
        no stored scores (tagged before scores were kept)."""
        rows = c.execute(
            "SELECT label, predicted FROM passage_scores WHERE passage_id = ?", (passage_id,)
        ).fetchall()
        if not rows:
            return None
        on_axis = set(slugs(axis))
        return sorted(r[0] for r in rows if r[1] and r[0] in on_axis)

    def write_scores(self, scores: dict[int, Sequence[LabelScore]]) -> None:
        """Keep the model's scores of many passages (their tags are left as they are)."""
        with self.transaction() as c:
            for pid, label_scores in scores.items():
                self._write_scores(c, pid, label_scores)

    @staticmethod
    def _write_scores(c: sqlite3.Connection, pid: int, scores: Sequence[LabelScore]) -> None:
        c.execute("DELETE FROM passage_scores WHERE passage_id = ?", (pid,))
        c.execute("DELETE FROM passage_uncertainty WHERE passage_id = ?", (pid,))
        if not scores:
            return
        c.executemany(
            "INSERT INTO passage_scores(passage_id, label, score, margin, predicted)"
            " VALUES (?,?,?,?,?)",
            [(pid, label, score, margin, int(pred)) for label, score, margin, pred in scores],
        )
        c.execute(
            "INSERT INTO passage_uncertainty(passage_id, margin) VALUES (?, ?)",
            (pid, min(abs(s[2]) for s in scores)),
        )

    @classmethod
    def _override(cls, c: sqlite3.Connection, key: str, axis: str, labels: list[str]) -> None:
        """A reviewed passage shows the reviewed labels at once, everywhere."""
        cls._bump_tags(c)
        ids = [r[0] for r in c.execute("SELECT id FROM passages WHERE text_key = ?", (key,))]
        for pid in ids:
            c.execute("DELETE FROM passage_tags WHERE passage_id = ? AND axis = ?", (pid, axis))
            c.executemany(
                "INSERT INTO passage_tags(passage_id, axis, label, score) VALUES (?,?,?,1.0)",
                [(pid, axis, label) for label in labels],
            )

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
        keys = list(set(keys))
        out: dict[str, dict[str, list[str]]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.conn.execute(
                f"SELECT text_key, axis, labels FROM reviewed_labels WHERE text_key IN ({marks})",
                chunk,
            ):
                out.setdefault(r[0], {})[r[1]] = json.loads(r[2])
        return out

    def replace_tags(
        self,
        tags: dict[int, list[tuple[str, str, float]]],
        scores: dict[int, Sequence[LabelScore]] | None = None,
    ) -> int:
        """Replace the model's tags (and, when given, its scores) of many passages (reviewed
        axes stay as reviewed). Returns how many passages changed tags."""
        changed = 0
        with self.transaction() as c:
            self._bump_tags(c)
            for pid, label_scores in (scores or {}).items():
                self._write_scores(c, pid, label_scores)
            for pid, new in tags.items():
                old = sorted(
                    (r[0], r[1])
                    for r in c.execute(
                        "SELECT axis, label FROM passage_tags WHERE passage_id = ?", (pid,)
                    )
                )
                c.execute("DELETE FROM passage_tags WHERE passage_id = ?", (pid,))
                c.executemany(
                    "INSERT INTO passage_tags(passage_id, axis, label, score) VALUES (?,?,?,?)",
                    [(pid, *t) for t in new],
                )
                changed += old != sorted((a, lab) for a, lab, _ in new)
        return changed

    def document_tags(self, doc_id: int, min_share: float = DOC_TAG_SHARE) -> dict[str, list[str]]:
        """A document's tags: a reviewer's correction of the document where there is one, else
        each label carried by at least `min_share` of its passages (chosen on the demo corpus:
        docs/benchmarks.md)."""
        return self.all_document_tags(min_share, doc_id=doc_id).get(
            doc_id, {"a4p": [], "pillars": []}
        )

    def all_document_tags(
        self, min_share: float = DOC_TAG_SHARE, *, doc_id: int | None = None
    ) -> dict[int, dict[str, list[str]]]:
        """`document_tags` of every document (or of `doc_id` only) in three queries."""
        where, args = ("WHERE p.doc_id = ?", (doc_id,)) if doc_id is not None else ("", ())
        sizes = dict(
            self.conn.execute(
                f"SELECT p.doc_id, COUNT(*) FROM passages p {where} GROUP BY 1", args
            ).fetchall()
        )
        out: dict[int, dict[str, list[str]]] = {d: {"a4p": [], "pillars": []} for d in sizes}
        for d, axis, label, n in self.conn.execute(
            "SELECT p.doc_id, t.axis, t.label, COUNT(*) FROM passage_tags t JOIN passages p"
            f" ON p.id = t.passage_id {where} GROUP BY 1, 2, 3 ORDER BY 4 DESC",
            args,
        ):
            if n / sizes[d] >= min_share:
                out[d].setdefault(axis, []).append(label)
        review_where = "WHERE doc_id = ?" if doc_id is not None else ""
        for d, axis, labels in self.conn.execute(
            f"SELECT doc_id, axis, labels FROM document_reviews {review_where}", args
        ):
            out.setdefault(d, {"a4p": [], "pillars": []})[axis] = json.loads(labels)
        return out

    def review_document(
        self, doc_id: int, axis: str, labels: Sequence[str] | None, reviewer: str | None = None
    ) -> int:
        """Correct a document's own tags, independently of its passages' (None: drop the
        correction, so the tags are derived from the passages again), with no check of what
        the reviewer was shown (`index.reviews.review_document` checks). Returns the event."""
        with self.transaction() as c:
            return self.record_document_review(
                c, doc_id, axis, labels, reviewer=reviewer, source="api"
            )

    def record_document_review(
        self,
        c: sqlite3.Connection,
        doc_id: int,
        axis: str,
        labels: Sequence[str] | None,
        *,
        reviewer: str | None,
        source: str,
    ) -> int:
        """Inside a transaction: set (or, with None, drop) a document's own tags on one axis,
        and the audit event recording it: before and after as the library shows them."""
        before = self.all_document_tags(doc_id=doc_id).get(doc_id, {}).get(axis, [])
        if labels is None:
            c.execute("DELETE FROM document_reviews WHERE doc_id = ? AND axis = ?", (doc_id, axis))
        else:
            c.execute(
                "INSERT INTO document_reviews(doc_id, axis, labels, reviewer, at)"
                " VALUES (?,?,?,?,?) ON CONFLICT(doc_id, axis) DO UPDATE SET"
                " labels=excluded.labels, reviewer=excluded.reviewer, at=excluded.at",
                (doc_id, axis, json.dumps(sorted(labels)), reviewer, utc_now()),
            )
        after = self.all_document_tags(doc_id=doc_id).get(doc_id, {}).get(axis, [])
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

    def document_reviews(self, doc_id: int) -> dict[str, tuple[list[str], str | None, str]]:
        """A document's own corrected tags per axis: (labels, reviewer, UTC time)."""
        return {
            r[0]: (json.loads(r[1]), r[2], r[3])
            for r in self.conn.execute(
                "SELECT axis, labels, reviewer, at FROM document_reviews WHERE doc_id = ?",
                (doc_id,),
            )
        }

    # -- near-duplicates ------------------------------------------------------------------
    def link_duplicates(self, links: dict[int, int]) -> int:
        """Put passages into near-duplicate groups: {passage id: id of a passage it copies}.
        A passage joins the group of the one it copies (or founds it)."""
        if not links:
            return 0
        with self.transaction() as c:
            for pid, other in links.items():
                row = c.execute(
                    "SELECT cluster FROM near_duplicates WHERE passage_id = ?", (other,)
                ).fetchone()
                cluster = min(row[0] if row else other, other, pid)
                c.executemany(
                    "INSERT INTO near_duplicates(passage_id, cluster) VALUES (?, ?)"
                    " ON CONFLICT(passage_id) DO UPDATE SET cluster = excluded.cluster",
                    [(pid, cluster), (other, cluster)],
                )
        return len(links)

    def duplicate_groups(self, ids: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
        """For passages in a near-duplicate group: passage id -> [(other passage, its doc)]."""
        ids = list(ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            "SELECT a.passage_id, b.passage_id, p.doc_id FROM near_duplicates a"
            " JOIN near_duplicates b ON b.cluster = a.cluster AND b.passage_id != a.passage_id"
            f" JOIN passages p ON p.id = b.passage_id WHERE a.passage_id IN ({marks})",
            ids,
        )
        out: dict[int, list[tuple[int, int]]] = {}
        for r in rows:
            out.setdefault(r[0], []).append((r[1], r[2]))
        return out

    def iter_passages(self, batch: int = 512) -> Iterator[list[sqlite3.Row]]:
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT id, text, text_key, embedding FROM passages WHERE id > ?"
                " ORDER BY id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            yield rows
            last = int(rows[-1]["id"])


def _doc(row: sqlite3.Row) -> DocumentRow:
    return DocumentRow(
        id=row["id"],
        source_path=row["source_path"],
        file_name=row["file_name"],
        sha256=row["sha256"],
        title=row["title"],
        symbol=row["symbol"],
        doc_date=row["doc_date"],
        page_count=row["page_count"],
        missions=tuple(json.loads(row["missions"] or "[]")),
        doc_type=row["doc_type"],
        extraction_version=row["extraction_version"],
    )
