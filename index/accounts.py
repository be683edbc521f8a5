"""Accounts: creating and changing them, signing in with a password or single sign-on.

Passwords are hashed with argon2id (argon2-cffi's defaults) and never logged, shown or stored in
clear. A sign-in that fails says the same whether the name exists or not; five failures in a row
lock the account for fifteen minutes (settings), recorded in the security log. Who may manage
accounts is checked here, on the `Access` of the caller, not only in the app.

    user, password = create_user(store, "amina", roles=["reviewer"], clearance="confidential",
                                 actor=OPERATOR)      # password=None: one is generated
    access = sign_in(store, "amina", password, settings, client="10.0.0.7")
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from errors import AccountError, AccountLocked, SignInError
from index.access import OPERATOR, Access, check_groups, check_level, check_roles, check_username
from index.library import Store
from index.library.records import User
from settings import Settings

MIN_PASSWORD = 10
GENERATED_BYTES = 12  # 16 URL-safe characters


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return str(_hasher().hash(password))


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_BYTES)


def access_of(user: User) -> Access:
    return Access(
        user.username, user.roles, user.clearance, user.groups, display_name=user.display_name
    )


def create_user(
    store: Store,
    username: str,
    *,
    roles: Iterable[str],
    clearance: str,
    groups: Iterable[str] = (),
    password: str | None = None,
    display_name: str = "",
    email: str | None = None,
    actor: Access = OPERATOR,
    sso_only: bool = False,
    how: str = "created",
) -> tuple[User, str | None]:
    """Create an account; returns it and the password when one was generated (shown once by
    the caller, never stored in clear). `sso_only` accounts have no password."""
    actor.require("admin", "creating accounts")
    name = check_username(username)
    if store.user(name) is not None:
        raise AccountError(f"the username {name!r} is taken")
    generated = None
    if not sso_only and password is None:
        password = generated = generate_password()
    user = store.insert_user(
        username=name,
        display_name=_clean_text(display_name) or name,
        email=(email or "").strip() or None,
        password_hash=None if sso_only else hash_password(password or ""),
        roles=check_roles(roles),
        clearance=check_level(clearance),
        groups=check_groups(groups),
        actor=actor.name,
        how=how,
    )
    return user, generated


def _clean_text(text: str) -> str:
    """A display name without control characters."""
    return "".join(ch for ch in (text or "") if ch.isprintable()).strip()[:100]


def _existing(store: Store, username: str) -> User:
    user = store.user(check_username(username))
    if user is None:
        raise AccountError(f"no account named {username!r}")
    return user


def set_user(
    store: Store,
    username: str,
    *,
    actor: Access = OPERATOR,
    roles: Iterable[str] | None = None,
    clearance: str | None = None,
    groups: Iterable[str] | None = None,
    display_name: str | None = None,
    email: str | None = None,
    disabled: bool | None = None,
) -> User:
    actor.require("admin", "changing accounts")
    user = _existing(store, username)
    changed = store.update_user(
        user.username,
        actor=actor.name,
        roles=None if roles is None else check_roles(roles),
        clearance=None if clearance is None else check_level(clearance),
        groups=None if groups is None else check_groups(groups),
        display_name=None if display_name is None else _clean_text(display_name),
        email=email,
        disabled=disabled,
        event="user_disabled" if disabled else "user_changed",
    )
    assert changed is not None
    if disabled:
        store.end_sessions_of(user.username)
    return changed


def reset_password(
    store: Store, username: str, *, actor: Access = OPERATOR, password: str | None = None
) -> str:
    """Set a new password (generated unless given); returns it. Clears a lock."""
    actor.require("admin", "resetting passwords")
    user = _existing(store, username)
    new = password or generate_password()
    store.update_user(
        user.username, actor=actor.name, password_hash=hash_password(new), event="password_reset"
    )
    store.end_sessions_of(user.username)
    return new


def _locked(user: User) -> bool:
    if not user.locked_until:
        return False
    until = datetime.strptime(user.locked_until, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return datetime.now(UTC) < until


def _refuse_disabled(store: Store, user: User, client: str | None) -> None:
    if user.disabled:
        store.log_security(None, "sign_in_refused", user.username, "disabled", client)
        raise SignInError("this account is disabled; ask an administrator")


def _record(
    store: Store, user: User, ok: bool, client: str | None, how: str, settings: Settings
) -> str | None:
    """Count the attempt; returns the end of a lock the attempt caused."""
    return store.record_sign_in(
        user.username,
        ok=ok,
        client=client,
        how=how,
        max_failures=settings.lockout_failures,
        lock_minutes=settings.lockout_minutes,
    )


def sign_in(
    store: Store, username: str, password: str, settings: Settings, *, client: str | None = None
) -> Access:
    """The user's Access when the password is right and the account usable; else SignInError
    (AccountLocked while locked). Every attempt is in the security log."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    refused = SignInError("wrong username or password")
    try:
        name = check_username(username)
    except AccountError:
        store.log_security(None, "sign_in_failed", None, "malformed username", client)
        raise refused from None
    user = store.user(name)
    if user is None:
        _hasher().hash("x" * MIN_PASSWORD)  # the same time spent as for a real account
        store.log_security(None, "sign_in_failed", name, "no such account", client)
        raise refused
    if _locked(user):
        store.log_security(None, "sign_in_refused", user.username, "locked", client)
        raise AccountLocked(user.locked_until or "")
    stored = store.password_hash(user.username)
    try:
        ok = stored is not None and bool(_hasher().verify(stored, password or ""))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if ok:
        _refuse_disabled(store, user, client)
    until = _record(store, user, ok, client, "password", settings)
    if not ok:
        if until:
            raise AccountLocked(until)
        raise refused
    if stored is not None and _hasher().check_needs_rehash(stored):
        rehashed = _hasher().hash(password)
        store.update_user(user.username, actor=user.username, password_hash=rehashed)
    return access_of(user)


def sso_sign_in(
    store: Store,
    email: str,
    name: str,
    settings: Settings,
    *,
    client: str | None = None,
) -> Access:
    """Single sign-on: the identity's e-mail maps to an account, created on first sign-in with
    the default role and clearance, or refused when creating accounts is off."""
    address = (email or "").strip()
    if "@" not in address:
        store.log_security(None, "sign_in_failed", None, "single sign-on without e-mail", client)
        raise SignInError("the identity provider gave no e-mail address")
    user = store.user_by_email(address)
    if user is None:
        if not settings.sso_create_accounts:
            store.log_security(None, "sign_in_failed", address, "sso: no account", client)
            raise SignInError(f"no account for {address}; ask an administrator to create one")
        username = check_username(address)
        user, _ = create_user(
            store,
            username if store.user(username) is None else f"{username}.{secrets.token_hex(2)}",
            roles=[r for r in settings.sso_role.split(",") if r.strip()],
            clearance=settings.sso_clearance,
            display_name=name or address,
            email=address,
            sso_only=True,
            how="created at first single sign-on",
        )
    _refuse_disabled(store, user, client)
    _record(store, user, True, client, "single sign-on", settings)
    return access_of(user)
