"""Streamlit app: the lessons-learned library's pages, behind a sign-in.

A thin shell: each page in `ui/` calls the same library functions as `cli.py`. The data folder
comes from LESSONS_DATA_DIR (default data/); the library handle and models are loaded once per
server process (`ui/common.py`). Run with `make run`.
"""

from __future__ import annotations

import time

import streamlit as st

from ui.auth import account_menu, current_access, offered, sign_in_form, sync_cookie
from ui.common import (
    APP_TITLE,
    ASSETS,
    PAGE_ADMIN,
    PAGE_DASHBOARD,
    PAGE_DOCUMENT,
    PAGE_LIBRARY,
    PAGE_PACKS,
    PAGE_REVIEW,
    PAGE_SEARCH,
    apply_style,
)

st.set_page_config(page_title=APP_TITLE, page_icon=str(ASSETS / "icon.svg"), layout="wide")
apply_style()
# Lets helpers memoise a database read for the length of one script run.
st.session_state["_run_marker"] = time.monotonic_ns()

st.logo(str(ASSETS / "logo.svg"), size="large", icon_image=str(ASSETS / "icon.svg"))
access = current_access()
sync_cookie()
if access is None:  # nothing of the library before a sign-in
    sign_in_form()
    st.stop()
assert access is not None
account_menu(access)

# Each page is offered to the roles that use it (ui/auth.py: PAGE_ROLES); the pages and the
# library check again. The first page offered opens by default.
specs = [
    (PAGE_SEARCH, "Search", ":material/search:", "search"),
    (PAGE_REVIEW, "Review", ":material/fact_check:", "review"),
    (PAGE_PACKS, "Briefing packs", ":material/folder_open:", "packs"),
    (PAGE_LIBRARY, "Library", ":material/library_books:", "library"),
    (PAGE_DASHBOARD, "Dashboard", ":material/monitoring:", "dashboard"),
    (PAGE_ADMIN, "Accounts", ":material/admin_panel_settings:", "admin"),
]
shown = [spec for spec in specs if offered(access, spec[0])]
if not shown:
    st.warning("Your account has no role yet: ask an administrator to give it one.")
    st.stop()
pages = [
    st.Page(path, title=title, icon=icon, url_path=url, default=n == 0)
    for n, (path, title, icon, url) in enumerate(shown)
]
if offered(access, PAGE_DOCUMENT):  # reached from a result or the library, not the navigation
    pages.append(
        st.Page(
            PAGE_DOCUMENT,
            title="Document",
            icon=":material/description:",
            url_path="document",
            visibility="hidden",
        )
    )
st.navigation(pages).run()
