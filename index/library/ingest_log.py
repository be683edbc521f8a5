"""The ingest log: the last outcome of every file the library was asked to read, so a failure
is reported with its reason until the file is read successfully or removed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from index.library.database import Database
from index.library.records import IngestProblem


# -- inside a transaction ---------------------------------------------------------------------
def log(
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


def forget(c: sqlite3.Connection, path: str) -> None:
    c.execute("DELETE FROM ingest_log WHERE source_path = ?", (path,))


class IngestLog(Database):
    """The ingest log's part of the Store."""

    def log_failure(self, path: str, sha: str | None, code: str, reason: str) -> None:
        with self.transaction() as c:
            log(c, path, sha, "failed", code, reason, None)

    def failures_by_reason(self) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT reason_code, COUNT(*) FROM ingest_log WHERE status = 'failed' GROUP BY 1"
        )
        return {r[0]: r[1] for r in rows}

    def ingest_problems(self) -> list[IngestProblem]:
        """Files whose last ingest failed, most recent first."""
        return [
            IngestProblem(r[0], Path(r[0]).name, r[1], r[2], r[3])
            for r in self.conn.execute(
                "SELECT source_path, reason_code, reason, at FROM ingest_log"
                " WHERE status = 'failed' ORDER BY at DESC, source_path"
            )
        ]
