"""Who may see and do what: classification levels, need-to-know groups and roles.

A document has a level and, optionally, access groups. A user may see it when their clearance
is at least its level and, if it has groups, they share one. Something a user may not see is
"not found" for them, everywhere: search candidates, facets, near-duplicate hints, the document
page, lists, counts, the review queue, the audit trail, packs and exports. The rules are here;
every library call that returns documents or passages takes an `Access` and applies them.

Roles (a user may hold several):

    officer     search, read documents, own briefing packs
    reviewer    correct tags, retrain
    liaison     share packs with other users or everyone, export them
    librarian   upload, re-read, delete documents; set a document's level and groups
    admin       manage users, read the security log

Levels follow the UN's three (ST/SGB/2007/6).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from errors import AccountError, PermissionDenied

LEVELS = ("unclassified", "confidential", "strictly_confidential")
LEVEL_NAMES = {
    "unclassified": "Unclassified",
    "confidential": "Confidential",
    "strictly_confidential": "Strictly confidential",
}
ROLES = ("officer", "reviewer", "liaison", "librarian", "admin")
ROLE_NAMES = {
    "officer": "Officer: search, read, own briefing packs",
    "reviewer": "Reviewer: correct tags, retrain",
    "liaison": "Liaison: share and export packs",
    "librarian": "Librarian: upload, re-read, delete, classify documents",
    "admin": "Administrator: manage users, read the security log",
}
_GROUP = re.compile(r"^[\w][\w .\-/]{0,63}$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@\-]{0,63}$")


def rank(level: str) -> int:
    return LEVELS.index(check_level(level))


def check_level(level: str) -> str:
    value = (level or "").strip().lower().replace(" ", "_").replace("-", "_")
    if value not in LEVELS:
        raise AccountError(f"unknown classification {level!r}: choose from {', '.join(LEVELS)}")
    return value


def check_roles(roles: Iterable[str]) -> frozenset[str]:
    out = frozenset(r.strip().lower() for r in roles if r.strip())
    unknown = sorted(out - set(ROLES))
    if unknown:
        raise AccountError(f"unknown role {unknown[0]!r}: choose from {', '.join(ROLES)}")
    return out


def check_groups(groups: Iterable[str]) -> frozenset[str]:
    out = set()
    for g in groups:
        name = g.strip()
        if not name:
            continue
        if not _GROUP.match(name):
            raise AccountError(
                f"an access group name is 1-64 letters, digits, spaces, '.', '-', '/' or '_'; "
                f"not {name!r}"
            )
        out.add(name)
    return frozenset(out)


def check_username(name: str) -> str:
    """A sign-in name: letters, digits and . _ @ - (an e-mail address fits), no control or
    space characters, at most 64."""
    value = (name or "").strip()
    if not _USERNAME.match(value):
        raise AccountError(
            "a username is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or "
            f"digit; not {name!r}"
        )
    return value


def higher(a: str, b: str) -> str:
    """The higher of two levels."""
    return a if rank(a) >= rank(b) else b


@dataclass(frozen=True)
class Access:
    """Who is asking: their roles, clearance and groups. `Access.operator()` is the command
    line's own full access (it acts for the library's operator); `--as NAME` and the app use
    a user's."""

    username: str | None
    roles: frozenset[str] = frozenset()
    clearance: str = "unclassified"
    groups: frozenset[str] = frozenset()
    full: bool = False
    display_name: str = field(default="", compare=False)

    @classmethod
    def operator(cls) -> Access:
        return cls(None, frozenset(ROLES), LEVELS[-1], frozenset(), full=True, display_name="")

    @property
    def name(self) -> str:
        """How the audit trail and the security log name this user."""
        return self.username or "operator"

    def may_see(self, level: str | None, groups: Iterable[str] = ()) -> bool:
        if self.full:
            return True
        if rank(level or LEVELS[0]) > rank(self.clearance):
            return False
        needed = set(groups)
        return not needed or bool(needed & self.groups)

    def has(self, role: str) -> bool:
        return self.full or role in self.roles

    def require(self, role: str, action: str) -> None:
        """Raise PermissionDenied unless this user holds `role`."""
        if not self.has(role):
            raise PermissionDenied(f"{action} needs the {role} role; {self.name} does not have it")


OPERATOR = Access.operator()
# Anyone at all: unclassified documents without groups. The default of every read call, so a
# caller that forgets to say who is asking sees least, never most.
PUBLIC = Access(None)
