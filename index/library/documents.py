"""Documents, their passages (with embeddings) and the entities found in them.

Every document is written in one transaction, so a crash leaves either the whole document or
none of it. Passage ids come from AUTOINCREMENT and are never reused, which keeps engine ids
stable across removals. This family is also what search engines index (`PassageSource`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from index.access import LEVELS
from index.engine.base import IndexedPassage
from index.library import ingest_log
from index.library import reviews as reviews_table
from index.library import tags as tags_table
from index.library import users as users_table
from index.library.database import Database, bump_generation, chunks, in_scope, marks
from index.library.records import (
    DocumentRow,
    Locator,
    PassageRecord,
    Replaced,
    StoredPassage,
)
from nlp.training_data import text_key

# The document's fields replace_document writes, in this order.
_FIELDS = (
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


# -- inside a transaction ---------------------------------------------------------------------
def ids_with_text(c: sqlite3.Connection, key: str) -> list[int]:
    """The passages holding a text (by its key), ascending."""
    return [
        int(r[0])
        for r in c.execute("SELECT id FROM passages WHERE text_key = ? ORDER BY id", (key,))
    ]


def texts_of(c: sqlite3.Connection, ids: Sequence[int]) -> list[tuple[int, str, str]]:
    """(id, text, text key) of the given passages, ascending."""
    out: list[tuple[int, str, str]] = []
    for chunk in chunks(ids):
        out += [
            (int(r[0]), r[1], r[2])
            for r in c.execute(
                f"SELECT id, text, text_key FROM passages WHERE id IN ({marks(chunk)})", chunk
            )
        ]
    return sorted(out)


def review_context(c: sqlite3.Connection, passage_id: int) -> tuple[str, str, str] | None:
    """(text, text key, review group) of a passage: the group is its document's first mission,
    else the document itself, so related texts stay in one fold when thresholds are chosen."""
    row = c.execute(
        "SELECT p.text, p.text_key, d.missions, d.file_name FROM passages p"
        " JOIN documents d ON d.id = p.doc_id WHERE p.id = ?",
        (passage_id,),
    ).fetchone()
    if row is None:
        return None
    missions = json.loads(row["missions"] or "[]")
    return row["text"], row["text_key"], missions[0] if missions else f"doc:{row['file_name']}"


def document_exists(c: sqlite3.Connection, doc_id: int) -> bool:
    return c.execute("SELECT 1 FROM documents WHERE id = ?", (doc_id,)).fetchone() is not None


def _doc(row: sqlite3.Row, groups: dict[int, tuple[str, ...]] | None = None) -> DocumentRow:
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
        ingested_at=row["ingested_at"],
        extractor=row["extractor"],
        size_bytes=row["size_bytes"],
        classification=row["classification"],
        groups=(groups or {}).get(int(row["id"]), ()),
    )


def _groups(c: sqlite3.Connection, doc_id: int | None = None) -> dict[int, tuple[str, ...]]:
    where, args = ("WHERE doc_id = ?", (doc_id,)) if doc_id is not None else ("", ())
    out: dict[int, list[str]] = {}
    for d, g in c.execute(f"SELECT doc_id, grp FROM document_groups {where} ORDER BY grp", args):
        out.setdefault(int(d), []).append(g)
    return {d: tuple(gs) for d, gs in out.items()}


def set_access(
    c: sqlite3.Connection, doc_id: int, level: str, groups: Sequence[str] | None
) -> None:
    """A document's level and (when given) its groups."""
    c.execute("UPDATE documents SET classification = ? WHERE id = ?", (level, doc_id))
    if groups is not None:
        c.execute("DELETE FROM document_groups WHERE doc_id = ?", (doc_id,))
        c.executemany(
            "INSERT INTO document_groups(doc_id, grp) VALUES (?, ?)",
            [(doc_id, g) for g in sorted(set(groups))],
        )


_PASSAGE_COLUMNS = (
    "SELECT p.id, p.doc_id, p.seq, p.page_start, p.page_end, p.para_start, p.para_end,"
    " p.heading, p.text, p.text_key, d.file_name, d.title, d.symbol, d.doc_date"
    " FROM passages p JOIN documents d ON d.id = p.doc_id"
)


def _passage(r: sqlite3.Row) -> StoredPassage:
    return StoredPassage(
        id=int(r["id"]),
        doc_id=int(r["doc_id"]),
        seq=int(r["seq"]),
        locator=Locator(int(r["page_start"]), int(r["page_end"]), r["para_start"], r["para_end"]),
        heading=r["heading"],
        text=r["text"],
        text_key=r["text_key"] or "",
        file_name=r["file_name"],
        title=r["title"],
        symbol=r["symbol"],
        doc_date=r["doc_date"],
    )


class DocumentsTable(Database):
    """The documents family's part of the Store."""

    # -- reading --------------------------------------------------------------------------
    def _one(self, where: str, value: object) -> DocumentRow | None:
        row = self.conn.execute(f"SELECT * FROM documents WHERE {where} = ?", (value,)).fetchone()
        return None if row is None else _doc(row, _groups(self.conn, int(row["id"])))

    def document_by_path(self, source_path: str) -> DocumentRow | None:
        return self._one("source_path", source_path)

    def document_by_sha(self, sha256: str) -> DocumentRow | None:
        return self._one("sha256", sha256)

    def document(self, doc_id: int) -> DocumentRow | None:
        return self._one("id", doc_id)

    def documents(self) -> list[DocumentRow]:
        groups = _groups(self.conn)
        return [_doc(r, groups) for r in self.conn.execute("SELECT * FROM documents ORDER BY id")]

    def set_document_access(
        self, doc_id: int, level: str, groups: Sequence[str] | None, *, actor: str | None
    ) -> DocumentRow | None:
        """Change a document's level (and groups, when given), recorded in the security log.
        None when there is no such document."""
        before = self.document(doc_id)
        if before is None:
            return None
        with self.transaction() as c:
            set_access(c, doc_id, level, groups)
            users_table.log(
                c,
                actor,
                "classification_changed",
                f"document {doc_id}",
                f"{before.classification} -> {level}; groups "
                f"{','.join(before.groups) or 'none'} -> "
                f"{','.join(sorted(set(groups))) if groups is not None else 'unchanged'}",
            )
        return self.document(doc_id)

    def passage_ids(self, doc_id: int) -> list[int]:
        return [
            r[0] for r in self.conn.execute("SELECT id FROM passages WHERE doc_id = ?", (doc_id,))
        ]

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

    def passages_by_ids(self, ids: Iterable[int]) -> dict[int, StoredPassage]:
        wanted = list(ids)
        out: dict[int, StoredPassage] = {}
        for chunk in chunks(wanted):
            for r in self.conn.execute(f"{_PASSAGE_COLUMNS} WHERE p.id IN ({marks(chunk)})", chunk):
                out[int(r["id"])] = _passage(r)
        return out

    def passages_of(self, doc_id: int) -> list[StoredPassage]:
        """A document's passages in reading order."""
        return [
            _passage(r)
            for r in self.conn.execute(
                f"{_PASSAGE_COLUMNS} WHERE p.doc_id = ? ORDER BY p.seq", (doc_id,)
            )
        ]

    def counts(self, doc_ids: Collection[int] | None = None) -> dict[str, int]:
        """Documents, pages, passages and entities (of the documents `doc_ids`)."""
        q = self.conn.execute
        docs, args = in_scope(doc_ids, "id")
        scope, _ = in_scope(doc_ids)
        return {
            "documents": q(f"SELECT COUNT(*) FROM documents WHERE {docs}", args).fetchone()[0],
            "pages": q(
                f"SELECT COALESCE(SUM(page_count), 0) FROM documents WHERE {docs}", args
            ).fetchone()[0],
            "passages": q(f"SELECT COUNT(*) FROM passages p WHERE {scope}", args).fetchone()[0],
            "entities": q(
                "SELECT COUNT(*) FROM entities e JOIN passages p ON p.id = e.passage_id"
                f" WHERE {scope}",
                args,
            ).fetchone()[0],
        }

    def passage_counts(self) -> dict[int, int]:
        """Passages per document."""
        rows = self.conn.execute("SELECT doc_id, COUNT(*) FROM passages GROUP BY 1")
        return {int(r[0]): int(r[1]) for r in rows}

    def entity_mentions(self, labels: Sequence[str]) -> Iterator[tuple[int, str, str, int]]:
        """(document, entity label, entity key, mentions) for the given entity labels."""
        for row in self.conn.execute(
            "SELECT p.doc_id, e.label, e.key, SUM(e.count) FROM entities e"
            f" JOIN passages p ON p.id = e.passage_id WHERE e.label IN ({marks(labels)})"
            " GROUP BY 1, 2, 3",
            tuple(labels),
        ):
            yield int(row[0]), row[1], row[2], int(row[3])

    def entity_passage_counts(
        self, label: str, doc_ids: Collection[int] | None = None
    ) -> dict[str, int]:
        """Per entity key of one label: the passages naming it (of the documents `doc_ids`)."""
        scope, args = in_scope(doc_ids)
        return dict(
            self.conn.execute(
                "SELECT e.key, COUNT(DISTINCT e.passage_id) FROM entities e"
                f" JOIN passages p ON p.id = e.passage_id WHERE e.label = ? AND {scope}"
                " GROUP BY e.key",
                (label, *args),
            ).fetchall()
        )

    def iter_embeddings(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) in batches, in ascending id order."""
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

    def iter_texts_and_vectors(
        self, ids: Sequence[int] | None = None, batch: int = 512
    ) -> Iterator[tuple[list[int], list[str], np.ndarray]]:
        """(ids, texts, vectors) in batches, of every passage or of `ids`, ascending."""
        if ids is not None:
            for chunk in chunks(sorted(ids), batch):
                rows = self.conn.execute(
                    f"SELECT id, text, embedding FROM passages WHERE id IN ({marks(chunk)})"
                    " ORDER BY id",
                    chunk,
                ).fetchall()
                if rows:
                    yield _texts_and_vectors(rows)
            return
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT id, text, embedding FROM passages WHERE id > ? ORDER BY id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            yield _texts_and_vectors(rows)
            last = int(rows[-1][0])

    # -- what a search engine indexes (index/engine/base.py: PassageSource) -----------------
    def passage_count(self, doc_ids: Collection[int] | None = None) -> int:
        scope, args = in_scope(doc_ids)
        return int(
            self.conn.execute(f"SELECT COUNT(*) FROM passages p WHERE {scope}", args).fetchone()[0]
        )

    def iter_indexed(self, batch: int = 4096, after: int = 0) -> Iterator[list[IndexedPassage]]:
        last = after
        while True:
            rows = self.conn.execute(
                "SELECT id, doc_id, text, embedding FROM passages WHERE id > ? ORDER BY id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            first, last = int(rows[0][0]), int(rows[-1][0])
            labels = tags_table.labels_between(self.conn, first, last)
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

    def passage_texts(self, batch: int = 4096, after: int = 0) -> Iterator[list[tuple[int, str]]]:
        last = after
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

    # -- writing --------------------------------------------------------------------------
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
        classification: str = "unclassified",
        groups: Sequence[str] | None = None,
    ) -> Replaced:
        """Insert a document (replacing any earlier version at the same path) with all its
        passages in one transaction.

        A document read again keeps its id, so what hangs on it (a reviewer's correction of its
        tags, their history, links to its page) stays with it. Reviewed passages whose text the
        new reading changed (an extraction fix rejoins a word or a paragraph) hand their labels
        to the new passage that holds nearly the same words; the others are counted, and their
        labels stay in the training set and the audit trail.

        A new document gets `classification` and `groups`; one read again keeps its level, or
        takes `classification` if that is higher (a marking found on the new reading), and keeps
        its groups unless `groups` are given."""
        values = (
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
        with self.transaction() as c:
            old = c.execute(
                "SELECT id FROM documents WHERE source_path = ?", (source_path,)
            ).fetchone()
            removed: list[int] = []
            reviewed_before: list[tuple[str, str]] = []
            if old is not None:
                doc_id = int(old[0])
                removed = [
                    r[0] for r in c.execute("SELECT id FROM passages WHERE doc_id = ?", (doc_id,))
                ]
                reviewed_before = reviews_table.reviewed_texts_of_document(c, doc_id)
                c.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
                assignments = ", ".join(f"{name} = ?" for name in _FIELDS)
                c.execute(
                    f"UPDATE documents SET {assignments},"
                    " ingested_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?",
                    (*values, doc_id),
                )
                kept = c.execute(
                    "SELECT classification FROM documents WHERE id = ?", (doc_id,)
                ).fetchone()[0]
                if LEVELS.index(classification) > LEVELS.index(kept):
                    set_access(c, doc_id, classification, groups)
                elif groups is not None:
                    set_access(c, doc_id, kept, groups)
            else:
                cur = c.execute(
                    f"INSERT INTO documents(source_path, {', '.join(_FIELDS)})"
                    f" VALUES ({marks((source_path, *values))})",
                    (source_path, *values),
                )
                doc_id = int(cur.lastrowid or 0)
                set_access(c, doc_id, classification, groups or ())
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
                tags_table.insert_tags(c, pid, p.tags)
                tags_table.write_scores(c, pid, p.scores)
            carried, unmatched = reviews_table.carry_reviews(c, reviewed_before, new_ids)
            ingest_log.log(c, source_path, sha256, "ok", None, None, doc_id)
            bump_generation(c)
        return Replaced(doc_id, new_ids, removed, carried, unmatched)

    def move_document(self, doc_id: int, new_path: str) -> None:
        """A file moved or renamed with the same bytes keeps its passages and reviews."""
        with self.transaction() as c:
            old = c.execute("SELECT source_path FROM documents WHERE id = ?", (doc_id,)).fetchone()
            c.execute(
                "UPDATE documents SET source_path = ?, file_name = ? WHERE id = ?",
                (new_path, Path(new_path).name, doc_id),
            )
            if old is not None:
                ingest_log.forget(c, old[0])
            row = c.execute("SELECT sha256 FROM documents WHERE id = ?", (doc_id,)).fetchone()
            ingest_log.log(c, new_path, row[0] if row else None, "ok", None, None, doc_id)

    def delete_document(self, doc_id: int) -> list[int]:
        with self.transaction() as c:
            removed = [
                r[0] for r in c.execute("SELECT id FROM passages WHERE doc_id = ?", (doc_id,))
            ]
            path = c.execute("SELECT source_path FROM documents WHERE id = ?", (doc_id,)).fetchone()
            c.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
            c.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
            if path is not None:
                ingest_log.forget(c, path[0])
            bump_generation(c)
        return removed


def _texts_and_vectors(rows: list[sqlite3.Row]) -> tuple[list[int], list[str], np.ndarray]:
    return (
        [int(r[0]) for r in rows],
        [r[1] for r in rows],
        np.vstack([np.frombuffer(r[2], dtype=np.float32) for r in rows]),
    )
