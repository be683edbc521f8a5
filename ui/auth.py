"""Signing in to the app: a password form, single sign-on through Streamlit's `st.login`
(OpenID Connect, configured in .streamlit/secrets.toml), signing out, and sessions that end
after a spell without activity.

Nothing of the library is shown before a sign-in. The account is read again on every run, so a
role change, a lowered clearance or a disabled account takes effect at once. Failed attempts are
counted per account in the library (five lock it for fifteen minutes) and slowed here per
client, so guessing from one place gets slower with every miss.

A sign-in survives a reload: the browser keeps a random session token in a cookie (SameSite
strict), the library its SHA-256 with the time last seen; signing out, disabling the account or
resetting its password ends it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import streamlit as st

from errors import LessonsError, SignInError
from index.access import Access
from index.accounts import access_of, sign_in, sso_sign_in
from ui.common import (
    APP_SUBTITLE,
    APP_TITLE,
    PAGE_ADMIN,
    PAGE_DASHBOARD,
    PAGE_DOCUMENT,
    PAGE_LIBRARY,
    PAGE_PACKS,
    PAGE_REVIEW,
    PAGE_SEARCH,
    md_escape,
    open_library,
    settings,
)

# Who is offered each page: any one of these roles (the pages and the library check again).
PAGE_ROLES = {
    PAGE_SEARCH: ("officer",),
    PAGE_REVIEW: ("reviewer",),
    PAGE_PACKS: ("officer", "liaison"),
    PAGE_LIBRARY: ("officer", "librarian"),
    PAGE_DASHBOARD: ("officer",),
    PAGE_ADMIN: ("admin",),
    PAGE_DOCUMENT: ("officer",),
}
SESSION_KEY = "signed_in"
COOKIE = "ll_session"
TOUCH_EVERY_S = 300  # how often an active tab marks its browser session as seen
SSO_PROVIDER = "oidc"
MAX_DELAY_S = 4.0

_failures: dict[str, tuple[int, float]] = {}  # client -> (recent failures, last failure time)
_failures_lock = threading.Lock()


def _client() -> str:
    try:
        return str(st.context.ip_address or "local")
    except Exception:  # older Streamlit, or no request context (tests)
        return "local"


def _slow_down(client: str) -> None:
    """Wait longer after each recent failure from this client (forgotten after 15 minutes)."""
    with _failures_lock:
        count, last = _failures.get(client, (0, 0.0))
    if count and time.monotonic() - last < 900:
        time.sleep(min(MAX_DELAY_S, 0.25 * 2 ** (count - 1)))


def _failed(client: str) -> None:
    with _failures_lock:
        count, _ = _failures.get(client, (0, 0.0))
        _failures[client] = (count + 1, time.monotonic())


def _sso_configured() -> bool:
    try:
        return bool(st.secrets.get("auth", {}).get(SSO_PROVIDER))
    except Exception:  # no secrets.toml
        return False


def current_access() -> Access | None:
    """The signed-in user's access, read again from the library once per script run (pages
    and their links ask often); None when nobody is signed in, the session went idle too long,
    or the account is gone or disabled."""
    run = st.session_state.get("_run_marker")
    cached = st.session_state.get("_access_of_run")
    if run is not None and cached is not None and cached[0] == run:
        return cached[1]
    access = _read_access()
    if run is not None and SESSION_KEY in st.session_state:
        st.session_state["_access_of_run"] = (run, access)
    return access


def _read_access() -> Access | None:
    session = st.session_state.get(SESSION_KEY)
    library = open_library()
    if library is None:
        return None
    if session is None:
        session = _from_cookie(library)
    if session is None:
        return _from_sso(library)
    idle_s = time.time() - float(session["seen"])
    if idle_s > settings().session_hours * 3600:
        sign_out(note="Your session ended after a long spell without activity; sign in again.")
        return None
    with library.read() as dd:
        user = dd.store.user(session["username"])
    if user is None or user.disabled:
        sign_out(note="This account can no longer sign in.")
        return None
    if session.get("token") and time.time() - float(session.get("touched", 0)) > TOUCH_EVERY_S:
        # the browser's session stays alive server-side while this tab is in use
        with library.write() as store:
            store.session_user(str(session["token"]), settings().session_hours)
        session["touched"] = time.time()
    session["seen"] = time.time()
    return access_of(user)


def _from_sso(library: object) -> Access | None:
    """An identity the provider just confirmed (st.user) becomes a session."""
    if not _sso_configured():
        return None
    try:
        logged_in = bool(st.user.is_logged_in)
    except Exception:
        return None
    if not logged_in:
        return None
    email = str(st.user.get("email") or "")
    name = str(st.user.get("name") or email)
    try:
        with library.write() as store:  # type: ignore[attr-defined]
            access = sso_sign_in(store, email, name, settings(), client=_client())
    except LessonsError as exc:
        st.session_state["signin_error"] = str(exc)
        st.logout()
        return None
    _start(access, library)
    return access


def _from_cookie(library: Any) -> dict[str, Any] | None:
    """A session this browser signed in earlier (a reload, a new tab)."""
    try:
        token = st.context.cookies.get(COOKIE)
    except Exception:  # no request context (tests)
        return None

    if not token:
        return None
    with library.write() as store:
        username = store.session_user(str(token), settings().session_hours)
    if username is None:
        return None
    session = {"username": username, "seen": time.time(), "token": str(token)}
    st.session_state[SESSION_KEY] = session
    return session


def _set_cookie(value: str, max_age: int) -> None:
    """Only our own script, with a value we made (URL-safe characters only)."""
    secure = "; Secure" if str(st.context.url or "").startswith("https") else ""
    st.html(
        "<script>(window.parent || window).document.cookie = "
        f"'{COOKIE}={value}; Max-Age={max_age}; Path=/; SameSite=Strict{secure}';</script>",
        unsafe_allow_javascript=True,
    )


def _start(access: Access, library: Any) -> None:
    with library.write() as store:
        token = store.open_session(access.name, _client())
    st.session_state[SESSION_KEY] = {
        "username": access.username,
        "seen": time.time(),
        "token": token,
    }
    st.session_state["_set_cookie"] = token


def sign_out(note: str = "") -> None:
    session = st.session_state.get(SESSION_KEY) or {}
    library = open_library()
    if session.get("token") and library is not None:
        with library.write() as store:
            store.end_session(session["token"])
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state["_clear_cookie"] = True
    if note:
        st.session_state["signin_note"] = note
    if _sso_configured():
        try:
            if st.user.is_logged_in:
                st.logout()
        except Exception:
            pass


def sign_in_form() -> None:
    """The sign-in page: nothing else of the app is drawn."""
    library = open_library()
    st.title(APP_TITLE)
    st.caption(APP_SUBTITLE)
    if library is None:
        st.info(
            "There is no library here yet. Ingest documents first "
            "(`python cli.py ingest PATH`), then create an account with "
            "`python cli.py users add NAME --role officer --clearance unclassified "
            "--generate-password`."
        )
        return
    with library.read() as dd:
        nobody = dd.store.user_count() == 0
    if nobody:
        st.info(
            "This library has no accounts yet. Create the first ones on the server: "
            "`python cli.py users bootstrap` (an administrator; `--demo` adds one account per "
            "role) prints their passwords once."
        )
    note = st.session_state.pop("signin_note", None)
    if note:
        st.info(note)
    error = st.session_state.pop("signin_error", None)
    if error:
        st.error(md_escape(error))
    with st.form("signin", clear_on_submit=False, border=True):
        st.subheader("Sign in")
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        client = _client()
        _slow_down(client)
        try:
            with library.write() as store:
                access = sign_in(store, username, password, settings(), client=client)
        except SignInError as exc:
            _failed(client)
            st.session_state["signin_error"] = str(exc)
            st.rerun()
        except LessonsError as exc:
            st.session_state["signin_error"] = str(exc)
            st.rerun()
        else:
            _start(access, library)
            st.rerun()
    if _sso_configured():
        st.divider()
        if st.button("Sign in with single sign-on", icon=":material/key:"):
            st.login(SSO_PROVIDER)


def sync_cookie() -> None:
    """Write or clear the session cookie after a sign-in or sign-out (once)."""
    token = st.session_state.pop("_set_cookie", None)
    if token:
        _set_cookie(token, int(settings().session_hours * 3600))
    if st.session_state.pop("_clear_cookie", None):
        _set_cookie("", 0)


def account_menu(access: Access) -> None:
    """Who is signed in, and the way out, in the sidebar."""
    with st.sidebar:
        level = access.clearance.replace("_", " ")
        st.caption(
            f"Signed in as **{md_escape(access.display_name or access.name)}** "
            f"({md_escape(', '.join(sorted(access.roles)) or 'no role')}; {md_escape(level)})"
        )
        if st.button("Sign out", icon=":material/logout:", key="signout"):
            sign_out(note="You are signed out.")
            st.rerun()


def offered(access: Access | None, page: str) -> bool:
    """Whether `page` is in this user's navigation (so a link to it may be drawn)."""
    return access is not None and any(access.has(r) for r in PAGE_ROLES[page])


def may_open(page: str) -> bool:
    """`offered`, for the user signed in now."""
    return offered(current_access(), page)


def require(role: str | None = None) -> Access:
    """The signed-in user, on a page that needs `role`: anyone else is stopped here (pages
    are also left out of the navigation for them, and the library checks again)."""
    access = current_access()
    if access is None:
        st.stop()
    assert access is not None
    if role is not None and not access.has(role):
        st.error(f"This page needs the {role} role.")
        st.stop()
    return access
