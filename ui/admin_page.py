"""Accounts (administrators): who may sign in with which roles, clearance and groups, and the
security log. Every change goes through index/accounts.py, which checks the admin role again
and records the change; a generated password is shown once, here, and never stored in clear."""

from __future__ import annotations

import streamlit as st

from errors import LessonsError
from index.access import LEVEL_NAMES, LEVELS, ROLE_NAMES, ROLES
from index.accounts import create_user, reset_password, set_user
from index.library.records import User
from index.security_log import events_csv
from ui.auth import require
from ui.common import md_escape, nice_time, open_library, page_header


def _groups(raw: str) -> list[str]:
    return [g.strip() for g in raw.split(",") if g.strip()]


def _show_password(username: str, password: str) -> None:
    st.session_state["admin_password"] = (username, password)


def add_account() -> None:
    with st.form("add-account", clear_on_submit=True, border=True):
        st.subheader("Add an account")
        left, right = st.columns(2)
        username = left.text_input("New username", max_chars=64)
        display = right.text_input("Display name", max_chars=100)
        email = left.text_input("E-mail (for single sign-on)", max_chars=200)
        clearance = right.selectbox("Clearance", LEVELS, format_func=lambda x: LEVEL_NAMES[x])
        roles = st.multiselect(
            "Roles", ROLES, default=["officer"], format_func=lambda r: ROLE_NAMES[r]
        )
        groups = st.text_input("Access groups (comma-separated)", max_chars=300)
        submitted = st.form_submit_button("Create account", type="primary")
    if not submitted:
        return
    library = open_library()
    assert library is not None
    try:
        with library.write() as store:
            user, password = create_user(
                store,
                username,
                roles=roles,
                clearance=clearance,
                groups=_groups(groups),
                display_name=display,
                email=email or None,
                actor=require("admin"),
            )
    except LessonsError as exc:
        st.error(md_escape(str(exc)))
        return
    if password:
        _show_password(user.username, password)
    st.rerun()


def edit_account(user: User) -> None:
    with st.form(f"edit-{user.username}", border=True):
        st.subheader(f"Change {user.username}")
        roles = st.multiselect(
            "Roles", ROLES, default=sorted(user.roles), format_func=lambda r: ROLE_NAMES[r]
        )
        clearance = st.selectbox(
            "Clearance",
            LEVELS,
            index=LEVELS.index(user.clearance),
            format_func=lambda x: LEVEL_NAMES[x],
        )
        groups = st.text_input("Access groups (comma-separated)", ", ".join(sorted(user.groups)))
        enabled = st.toggle("May sign in", value=not user.disabled)
        saved = st.form_submit_button("Save changes", type="primary")
    reset = st.button("Reset password…", key=f"reset-{user.username}")
    library = open_library()
    assert library is not None
    try:
        if saved:
            with library.write() as store:
                set_user(
                    store,
                    user.username,
                    roles=roles,
                    clearance=clearance,
                    groups=_groups(groups),
                    disabled=not enabled,
                    actor=require("admin"),
                )
            st.toast(f"{user.username} saved.", icon=":material/check:")
            st.rerun()
        if reset:
            with library.write() as store:
                password = reset_password(store, user.username, actor=require("admin"))
            _show_password(user.username, password)
            st.rerun()
    except LessonsError as exc:
        st.error(md_escape(str(exc)))


def render() -> None:
    require("admin")
    page_header("Accounts", "Who may sign in, with which roles, clearance and groups.")
    library = open_library()
    if library is None:
        st.info("No library yet.")
        return
    shown = st.session_state.pop("admin_password", None)
    if shown:
        st.success(
            f"The password of **{md_escape(shown[0])}**, shown this once (it is stored only "
            "as a hash): pass it on safely.",
            icon=":material/key:",
        )
        st.code(shown[1], language=None)
    with library.read() as dd:
        users = dd.store.users()
        events = dd.store.security_events(200)
    accounts, log = st.tabs(["Accounts", "Security log"])
    with accounts:
        st.dataframe(
            [
                {
                    "Username": u.username,
                    "Name": u.display_name,
                    "Roles": ", ".join(sorted(u.roles)),
                    "Clearance": LEVEL_NAMES[u.clearance],
                    "Groups": ", ".join(sorted(u.groups)),
                    "Sign-in": "single sign-on" if not u.has_password else "password",
                    "State": "disabled" if u.disabled else "active",
                    "Last sign-in": nice_time(u.last_sign_in) or "never",
                }
                for u in users
            ],
            hide_index=True,
            width="stretch",
        )
        names = [u.username for u in users]
        chosen = st.selectbox("Change an account", [None, *names], format_func=lambda n: n or "—")
        if chosen:
            edit_account(next(u for u in users if u.username == chosen))
        add_account()
    with log:
        st.download_button(
            "Download the whole log (CSV)",
            data=lambda: _log_csv(),
            file_name="security-log.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
        )
        st.dataframe(
            [
                {
                    "When (UTC)": e.at,
                    "Event": e.event,
                    "By": e.actor or "",
                    "About": e.target or "",
                    "Detail": e.detail,
                    "Client": e.client or "",
                }
                for e in events
            ],
            hide_index=True,
            width="stretch",
        )


def _log_csv() -> str:
    library = open_library()
    if library is None:
        return ""
    with library.read() as dd:
        return events_csv(reversed(dd.store.security_events()))


render()
