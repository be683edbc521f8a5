"""The library's schema as named, numbered, recorded steps.

Each step runs once, in its own transaction, and is recorded in the `migrations` table with the
time it ran; a store opened for writing runs the steps it has not recorded, in order. A read
handle never migrates: it reports that the library needs upgrading instead.

Stores written before steps were recorded (schema_version 1-4 in `meta`) went through the same
changes by sniffing columns; each step therefore checks for what it adds before adding it, so
such a store is brought up to date by running every step once, and from then on the record
decides. `tests/data/schemas/` holds every schema the project has shipped, and
tests/test_migrations.py opens each of them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.library.records import utc_now

# The meta key older releases read: kept in step, so an older release opening an upgraded store
# sees a newer schema rather than guessing.
SCHEMA_VERSION = 6


@dataclass(frozen=True)
class Migration:
    name: str
    apply: Callable[[sqlite3.Connection], None]


def _columns(c: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in c.execute(f"PRAGMA table_info({table})")}


def read_meta(c: sqlite3.Connection, key: str) -> str | None:
    row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def write_meta(c: sqlite3.Connection, key: str, value: str) -> None:
    c.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


TABLES = """
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
    cluster INTEGER NOT NULL  -- the earliest passage of the group (a key, kept if that one goes)
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


def _tables(c: sqlite3.Connection) -> None:
    """Every table of the library, for a new store; an older one gets the tables it lacks (the
    columns it lacks come in the steps below)."""
    for statement in TABLES.split(";\n"):
        if statement.strip():
            c.execute(statement)
    if read_meta(c, "generation") is None:
        write_meta(c, "generation", "0")
        # a new store links near-duplicates as passages arrive (index/dedup.py)
        if c.execute("SELECT COUNT(*) FROM passages").fetchone()[0] == 0:
            write_meta(c, "near_duplicates_scanned", "1")


def _review_group(c: sqlite3.Connection) -> None:
    """Reviews keep their group (mission or document), so thresholds are chosen on folds that
    keep related texts together."""
    if "grp" not in _columns(c, "reviewed_labels"):
        c.execute("ALTER TABLE reviewed_labels ADD COLUMN grp TEXT")


def _passage_text_key(c: sqlite3.Connection) -> None:
    """A key of each passage's text: a review applies to every passage holding the text."""
    from nlp.training_data import text_key

    if "text_key" not in _columns(c, "passages"):
        c.create_function("text_key", 1, text_key, deterministic=True)
        c.execute("ALTER TABLE passages ADD COLUMN text_key TEXT")
        c.execute("UPDATE passages SET text_key = text_key(text)")
    c.execute("CREATE INDEX IF NOT EXISTS passages_text_key ON passages(text_key)")


def _drop_fts_copy(c: sqlite3.Connection) -> None:
    """Keyword search moved to the engine's BM25 index; the FTS5 copy of every passage only
    cost space and ingest time."""
    c.execute("DROP TRIGGER IF EXISTS passages_ai")
    c.execute("DROP TRIGGER IF EXISTS passages_ad")
    c.execute("DROP TABLE IF EXISTS passages_fts")


def _event_document(c: sqlite3.Connection) -> None:
    """Corrections of a document's own tags are events of the audit trail too."""
    if "doc_id" not in _columns(c, "review_events"):
        c.execute("ALTER TABLE review_events ADD COLUMN doc_id INTEGER")


def _document_type(c: sqlite3.Connection) -> None:
    """Documents have a type; older ones are classified from their stored opening passages
    (a re-ingest, which reads the first page itself, may refine it)."""
    from nlp.doctypes import classify_doc_type

    if "doc_type" in _columns(c, "documents"):
        return
    c.execute("ALTER TABLE documents ADD COLUMN doc_type TEXT")
    for row in c.execute("SELECT id, title, symbol FROM documents").fetchall():
        opening = "\n".join(
            r[0]
            for r in c.execute(
                "SELECT text FROM passages WHERE doc_id = ? ORDER BY seq LIMIT 5", (row[0],)
            )
        )
        c.execute(
            "UPDATE documents SET doc_type = ? WHERE id = ?",
            (classify_doc_type(row[1], row[2], opening), row[0]),
        )


def _extraction_version(c: sqlite3.Connection) -> None:
    """Documents record the extraction version that read them; those read before versions
    were kept count as version 1, and the next ingest reads them again."""
    if "extraction_version" not in _columns(c, "documents"):
        c.execute(
            "ALTER TABLE documents ADD COLUMN extraction_version INTEGER NOT NULL DEFAULT 1"
        )


def _events_from_reviews(c: sqlite3.Connection) -> None:
    """Reviews saved before the audit trail existed become its first events, so the trail shows
    every label in force (what was shown before is unknown)."""
    stored = read_meta(c, "schema_version")
    if stored is not None and int(stored) >= 4:
        return  # the trail was kept from the start
    c.execute(
        "INSERT INTO review_events(passage_id, text_key, axis, before, after,"
        " predicted, reviewer, source, at) SELECT (SELECT MIN(id) FROM passages"
        " p WHERE p.text_key = r.text_key), r.text_key, r.axis, NULL, r.labels,"
        " NULL, r.reviewer, 'migrated:' || COALESCE(r.source, ''), r.at"
        " FROM reviewed_labels r ORDER BY r.at"
    )


def _tags_generation(c: sqlite3.Connection) -> None:
    """Engines reload the labels they filter on when this moves (reviews, retagging)."""
    if read_meta(c, "tags_generation") is None:
        write_meta(c, "tags_generation", "0")


def _accounts(c: sqlite3.Connection) -> None:
    """Accounts (passwords as argon2id hashes only), their sign-in attempts, and the security
    log: who signed in or failed, lockouts, user and role changes, classification changes,
    exports of classified content."""
    c.execute(
        "CREATE TABLE IF NOT EXISTS users ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        " display_name TEXT NOT NULL DEFAULT '',"
        " email TEXT COLLATE NOCASE,"
        " password_hash TEXT,"  # NULL: signs in through single sign-on only
        " roles TEXT NOT NULL DEFAULT '[]',"
        " clearance TEXT NOT NULL DEFAULT 'unclassified',"
        " groups TEXT NOT NULL DEFAULT '[]',"
        " disabled INTEGER NOT NULL DEFAULT 0,"
        " failed_attempts INTEGER NOT NULL DEFAULT 0,"
        " locked_until TEXT,"
        " created_at TEXT NOT NULL,"
        " last_sign_in TEXT)"
    )
    c.execute("CREATE INDEX IF NOT EXISTS users_email ON users(email)")
    # Signed-in browser sessions: the browser keeps a random token in a cookie, the library
    # only its SHA-256, so a copy of the library signs nobody in.
    c.execute(
        "CREATE TABLE IF NOT EXISTS sessions ("
        " token_hash TEXT PRIMARY KEY,"
        " username TEXT NOT NULL COLLATE NOCASE,"
        " created_at TEXT NOT NULL,"
        " last_seen REAL NOT NULL,"  # unix time, for the idle limit
        " client TEXT)"
    )
    c.execute(
        "CREATE TABLE IF NOT EXISTS security_log ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " at TEXT NOT NULL,"
        " actor TEXT,"  # the authenticated user (or 'operator' for the command line)
        " event TEXT NOT NULL,"
        " target TEXT,"
        " detail TEXT NOT NULL DEFAULT '',"
        " client TEXT)"
    )


def _classification(c: sqlite3.Connection) -> None:
    """Documents carry a classification level and optional need-to-know groups; every existing
    document becomes the library's default level (meta `default_classification`, else
    `Settings.default_classification`). Briefing packs have an owner and may be shared."""
    if "classification" not in _columns(c, "documents"):
        from settings import Settings

        configured = Settings.from_env().default_classification
        default = read_meta(c, "default_classification") or configured
        if default not in ("unclassified", "confidential", "strictly_confidential"):
            default = "strictly_confidential"  # an unreadable setting: assume the most careful
        c.execute(
            "ALTER TABLE documents ADD COLUMN classification TEXT NOT NULL"
            " DEFAULT 'unclassified'"
        )
        c.execute("UPDATE documents SET classification = ?", (default,))
    c.execute(
        "CREATE TABLE IF NOT EXISTS document_groups ("
        " doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
        " grp TEXT NOT NULL,"
        " PRIMARY KEY (doc_id, grp))"
    )
    if "owner" not in _columns(c, "packs"):
        c.execute("ALTER TABLE packs ADD COLUMN owner TEXT")
        c.execute("ALTER TABLE packs ADD COLUMN shared_with_all INTEGER NOT NULL DEFAULT 0")
    if "classification" not in _columns(c, "pack_items"):
        # what an item's document was when it was added: it still governs who sees the item
        # once the document is gone
        c.execute(
            "ALTER TABLE pack_items ADD COLUMN classification TEXT NOT NULL"
            " DEFAULT 'unclassified'"
        )
        c.execute("ALTER TABLE pack_items ADD COLUMN doc_groups TEXT NOT NULL DEFAULT '[]'")
    c.execute(
        "CREATE TABLE IF NOT EXISTS pack_shares ("
        " pack_id INTEGER NOT NULL REFERENCES packs(id) ON DELETE CASCADE,"
        " username TEXT NOT NULL COLLATE NOCASE,"
        " PRIMARY KEY (pack_id, username))"
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_tables", _tables),
    Migration("0002_review_group", _review_group),
    Migration("0003_passage_text_key", _passage_text_key),
    Migration("0004_drop_fts_copy", _drop_fts_copy),
    Migration("0005_event_document", _event_document),
    Migration("0006_document_type", _document_type),
    Migration("0007_extraction_version", _extraction_version),
    Migration("0008_events_from_reviews", _events_from_reviews),
    Migration("0009_tags_generation", _tags_generation),
    Migration("0010_accounts", _accounts),
    Migration("0011_classification", _classification),
)


def _ensure_record(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )


def applied(conn: sqlite3.Connection) -> list[str]:
    """The steps this store has recorded (none for a new or pre-record store)."""
    has = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    ).fetchone()
    if not has:
        return []
    return [r[0] for r in conn.execute("SELECT name FROM migrations ORDER BY name")]


def pending(conn: sqlite3.Connection) -> list[str]:
    done = set(applied(conn))
    return [m.name for m in MIGRATIONS if m.name not in done]


def pending_steps(path: Path) -> list[str]:
    """The steps the store at `path` has not recorded, read without changing it."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        return pending(conn)
    finally:
        conn.close()


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Run the steps this store has not recorded, each in one transaction (BEGIN IMMEDIATE:
    two processes opening an old store at once run each step once). Returns their names."""
    ran = []
    for step in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            _ensure_record(conn)
            done = conn.execute(
                "SELECT 1 FROM migrations WHERE name = ?", (step.name,)
            ).fetchone()
            if not done:
                step.apply(conn)
                conn.execute(
                    "INSERT INTO migrations(name, applied_at) VALUES (?, ?)",
                    (step.name, utc_now()),
                )
                ran.append(step.name)
            if step is MIGRATIONS[-1]:
                write_meta(conn, "schema_version", str(SCHEMA_VERSION))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return ran
