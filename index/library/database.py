"""The SQLite file of a library: one connection, its transactions, meta values and generations.

One file in WAL mode; SQLite is the source of truth, and every search engine is derived from
it. A writer handle runs the pending migrations when it opens; a read handle opens the file
read-only and never changes it (a library that needs upgrading says so instead).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from errors import DataDirError
from index.library import migrations

CHUNK = 500  # ids per IN (...) list: well under SQLite's variable limit
LIBRARY_ID_KEY = "library_id"  # a meta value, no table: added without a migration step


def marks(values: Sequence[object]) -> str:
    """The placeholders of an IN (...) list of `values`."""
    return ",".join("?" * len(values))


def chunks(values: Sequence[object], size: int = CHUNK) -> Iterator[Sequence[object]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def in_scope(doc_ids: Collection[int] | None, column: str = "p.doc_id") -> tuple[str, tuple]:
    """A WHERE fragment keeping rows whose `column` is one of `doc_ids` (None: every row), as
    one JSON parameter, so a scope of any size is one bound value."""
    if doc_ids is None:
        return "1 = 1", ()
    return f"{column} IN (SELECT value FROM json_each(?))", (json.dumps(sorted(doc_ids)),)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            timeout=30,
            isolation_level=None,
            check_same_thread=False,
        )
    else:
        conn = sqlite3.connect(
            str(path), timeout=30, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Database:
    """The connection and what every table family shares. Write methods of the families run
    in one transaction each (`transaction`)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        if readonly and not path.exists():
            raise DataDirError(f"no library at {path}: ingest documents first")
        self.conn = connect(path, readonly=readonly)
        # One connection may serve several threads (the app's sessions): their transactions
        # take turns instead of colliding on the connection.
        self._tx_lock = threading.RLock()
        self.migrated: list[str] = []  # the steps this handle ran when it opened
        if readonly:
            waiting = migrations.pending(self.conn)
            if waiting:
                self.conn.close()
                raise DataDirError(
                    f"the library in {path.parent} was written by an earlier version and "
                    f"needs upgrading ({len(waiting)} step(s), starting with {waiting[0]}): "
                    f"open it for writing once, e.g. python cli.py upgrade --data-dir "
                    f"{path.parent}"
                )
        else:
            self.migrated = migrations.migrate(self.conn)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: the write lock is taken before anything is read, so a check and
        the write that depends on it (e.g. a review's conflict check) see no change between."""
        if self.readonly:
            raise DataDirError("this library was opened read-only: open it for writing")
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
        return migrations.read_meta(self.conn, key)

    def set_meta(self, key: str, value: str) -> None:
        """Inside a transaction."""
        migrations.write_meta(self.conn, key, value)

    @property
    def generation(self) -> int:
        """Bumped in every transaction that changes passages; an engine records the generation
        it reflects, so a stale one is detected and brought up to date."""
        return int(self.get_meta("generation") or 0)

    @property
    def tags_generation(self) -> int:
        """Bumped in every transaction that changes passage tags (reviews, retagging): an
        engine holding labels for tag filters reloads them when it differs."""
        return int(self.get_meta("tags_generation") or 0)

    def library_id(self, *, create: bool = False) -> str | None:
        """This library's identity: a random id made once (`create`, on a writable handle) and
        kept in `meta`. A search engine on a server names its copy of the library after it, so
        libraries sharing a server never share a copy, and a folder that moves keeps its copy.
        None: never made (no server engine has held this library)."""
        value = self.get_meta(LIBRARY_ID_KEY)
        if value is None and create:
            with self.transaction() as c:
                value = migrations.read_meta(c, LIBRARY_ID_KEY)
                if value is None:
                    value = uuid.uuid4().hex
                    migrations.write_meta(c, LIBRARY_ID_KEY, value)
        return value

    def change_state(self) -> tuple[int, int]:
        """Changes whenever the database does, from this process or another (SQLite's
        data_version and this connection's change count): what caches key on."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        return int(version), self.conn.total_changes

    def schema_steps(self) -> list[str]:
        """The migration steps this library has recorded."""
        return migrations.applied(self.conn)


def bump_generation(c: sqlite3.Connection) -> None:
    """Inside a transaction that changes passages."""
    c.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")


def bump_tags_generation(c: sqlite3.Connection) -> None:
    """Inside a transaction that changes passage tags."""
    c.execute(
        "INSERT INTO meta(key, value) VALUES ('tags_generation', '1') ON CONFLICT(key)"
        " DO UPDATE SET value = CAST(value AS INTEGER) + 1"
    )
