"""Accounts and the security log.

Passwords are stored only as argon2id hashes (made in index/accounts.py). Failed sign-ins are
counted per account; the count and the lock live here so that every process enforces them.
Every sign-in, failure, lockout, account change, classification change and export of
classified content is a line of the security log, with the authenticated user and UTC time.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from index.library.database import Database
from index.library.records import SecurityEvent, User, utc_now

_USER_COLUMNS = (
    "id, username, display_name, email, password_hash IS NOT NULL AS has_password, roles,"
    " clearance, groups, disabled, created_at, last_sign_in, failed_attempts, locked_until"
)


def _user(r: sqlite3.Row) -> User:
    return User(
        id=int(r["id"]),
        username=r["username"],
        display_name=r["display_name"] or r["username"],
        email=r["email"],
        roles=frozenset(json.loads(r["roles"])),
        clearance=r["clearance"],
        groups=frozenset(json.loads(r["groups"])),
        disabled=bool(r["disabled"]),
        created_at=r["created_at"],
        last_sign_in=r["last_sign_in"],
        failed_attempts=int(r["failed_attempts"]),
        locked_until=r["locked_until"],
        has_password=bool(r["has_password"]),
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def log(
    c: sqlite3.Connection,
    actor: str | None,
    event: str,
    target: str | None = None,
    detail: str = "",
    client: str | None = None,
) -> None:
    """Inside a transaction: one line of the security log."""
    c.execute(
        "INSERT INTO security_log(at, actor, event, target, detail, client) VALUES (?,?,?,?,?,?)",
        (utc_now(), actor, event, target, detail, client),
    )


class UsersTable(Database):
    """The accounts family's part of the Store."""

    def user(self, username: str) -> User | None:
        row = self.conn.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE username = ?", (username.strip(),)
        ).fetchone()
        return None if row is None else _user(row)

    def user_by_email(self, email: str) -> User | None:
        row = self.conn.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE email = ? ORDER BY id LIMIT 1",
            (email.strip(),),
        ).fetchone()
        return None if row is None else _user(row)

    def users(self) -> list[User]:
        return [
            _user(r)
            for r in self.conn.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY username")
        ]

    def user_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0])

    def password_hash(self, username: str) -> str | None:
        """Only for verifying a password (index/accounts.py)."""
        row = self.conn.execute(
            "SELECT password_hash FROM users WHERE username = ?", (username.strip(),)
        ).fetchone()
        return None if row is None else row[0]

    def insert_user(
        self,
        *,
        username: str,
        display_name: str,
        email: str | None,
        password_hash: str | None,
        roles: Iterable[str],
        clearance: str,
        groups: Iterable[str],
        actor: str | None,
        how: str,
    ) -> User:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO users(username, display_name, email, password_hash, roles,"
                " clearance, groups, created_at) VALUES (?,?,?,?,?,?,?,?)",
                (
                    username,
                    display_name,
                    email,
                    password_hash,
                    json.dumps(sorted(roles)),
                    clearance,
                    json.dumps(sorted(groups)),
                    utc_now(),
                ),
            )
            log(
                c,
                actor,
                "user_created",
                username,
                f"{how}; roles {','.join(sorted(roles)) or 'none'}; clearance {clearance};"
                f" groups {','.join(sorted(groups)) or 'none'}",
            )
        found = self.user(username)
        assert found is not None
        return found

    def update_user(
        self,
        username: str,
        *,
        actor: str | None,
        display_name: str | None = None,
        email: str | None = None,
        roles: Iterable[str] | None = None,
        clearance: str | None = None,
        groups: Iterable[str] | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
        event: str = "user_changed",
    ) -> User | None:
        """Change what is given; one security-log line says what changed (never a password
        or its hash). None when there is no such user."""
        changes: dict[str, object] = {}
        if display_name is not None:
            changes["display_name"] = display_name
        if email is not None:
            changes["email"] = email or None
        if roles is not None:
            changes["roles"] = json.dumps(sorted(roles))
        if clearance is not None:
            changes["clearance"] = clearance
        if groups is not None:
            changes["groups"] = json.dumps(sorted(groups))
        if disabled is not None:
            changes["disabled"] = int(disabled)
        if password_hash is not None:
            changes["password_hash"] = password_hash
            changes["failed_attempts"] = 0
            changes["locked_until"] = None
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone() is None:
                return None
            if changes:
                assignments = ", ".join(f"{k} = ?" for k in changes)
                c.execute(
                    f"UPDATE users SET {assignments} WHERE username = ?",
                    (*changes.values(), username),
                )
            said = {
                k: ("(new password)" if k == "password_hash" else v)
                for k, v in changes.items()
                if k not in ("failed_attempts", "locked_until")
            }
            log(c, actor, event, username, "; ".join(f"{k} {v}" for k, v in said.items()))
        return self.user(username)

    def record_sign_in(
        self,
        username: str,
        *,
        ok: bool,
        client: str | None,
        how: str,
        max_failures: int,
        lock_minutes: float,
    ) -> str | None:
        """Count a sign-in. A failure increments the account's count; the `max_failures`-th
        locks it for `lock_minutes` (returns the lock's end). A success clears the count."""
        now = datetime.now(UTC)
        with self.transaction() as c:
            row = c.execute(
                "SELECT failed_attempts FROM users WHERE username = ?", (username,)
            ).fetchone()
            if ok:
                c.execute(
                    "UPDATE users SET failed_attempts = 0, locked_until = NULL,"
                    " last_sign_in = ? WHERE username = ?",
                    (utc_now(), username),
                )
                log(c, username, "sign_in", username, how, client)
                return None
            log(c, None, "sign_in_failed", username, how, client)
            if row is None:
                return None
            failures = int(row[0]) + 1
            until = None
            if failures >= max_failures:
                until = (now + timedelta(minutes=lock_minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
                failures = 0
                log(c, None, "account_locked", username, f"until {until}", client)
            c.execute(
                "UPDATE users SET failed_attempts = ?, locked_until = COALESCE(?, locked_until)"
                " WHERE username = ?",
                (failures, until, username),
            )
            return until

    # -- browser sessions ---------------------------------------------------------------------
    def open_session(self, username: str, client: str | None) -> str:
        """A new session for a signed-in user; returns its token (kept only by the browser)."""
        token = secrets.token_urlsafe(32)
        with self.transaction() as c:
            # sessions nobody has used for a month are gone anyway: forget them
            c.execute("DELETE FROM sessions WHERE last_seen < ?", (time.time() - 30 * 86400,))
            c.execute(
                "INSERT INTO sessions(token_hash, username, created_at, last_seen, client)"
                " VALUES (?,?,?,?,?)",
                (_digest(token), username, utc_now(), time.time(), client),
            )
        return token

    def session_user(self, token: str, idle_hours: float) -> str | None:
        """The user of a live session (seen within `idle_hours`), marking it seen; an expired
        session is ended."""
        digest = _digest(token)
        row = self.conn.execute(
            "SELECT username, last_seen FROM sessions WHERE token_hash = ?", (digest,)
        ).fetchone()
        if row is None:
            return None
        with self.transaction() as c:
            if time.time() - float(row[1]) > idle_hours * 3600:
                c.execute("DELETE FROM sessions WHERE token_hash = ?", (digest,))
                return None
            c.execute(
                "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (time.time(), digest)
            )
        return str(row[0])

    def end_session(self, token: str) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))

    def end_sessions_of(self, username: str) -> None:
        """Sign a user out everywhere (disabled, password reset)."""
        with self.transaction() as c:
            c.execute("DELETE FROM sessions WHERE username = ?", (username,))

    def log_security(
        self,
        actor: str | None,
        event: str,
        target: str | None = None,
        detail: str = "",
        client: str | None = None,
    ) -> None:
        with self.transaction() as c:
            log(c, actor, event, target, detail, client)

    def security_events(self, limit: int | None = None) -> list[SecurityEvent]:
        """Newest first."""
        sql = (
            "SELECT id, at, actor, event, target, detail, client FROM security_log"
            " ORDER BY id DESC"
        )
        args: tuple[object, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            args = (limit,)
        return [
            SecurityEvent(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6])
            for r in self.conn.execute(sql, args)
        ]
