"""Streamlit app: five pages over the lessons-learned library.

A thin shell: each page in `ui/` calls the same library functions as `cli.py`. The data folder
comes from LESSONS_DATA_DIR (default data/); the library handle and models are loaded once per
server process (`ui/common.py`). Run with `make run`.
"""

from __future__ import annotations

import time

import streamlit as st

from ui.common import (
    APP_TITLE,
    ASSETS,
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

pages = [
    st.Page(PAGE_SEARCH, title="Search", icon=":material/search:", url_path="search", default=True),
    st.Page(PAGE_REVIEW, title="Review", icon=":material/fact_check:", url_path="review"),
    st.Page(PAGE_PACKS, title="Briefing packs", icon=":material/folder_open:", url_path="packs"),
    st.Page(PAGE_LIBRARY, title="Library", icon=":material/library_books:", url_path="library"),
    st.Page(PAGE_DASHBOARD, title="Dashboard", icon=":material/monitoring:", url_path="dashboard"),
    # Reached from a search result or the library list, not from the navigation.
    st.Page(
        PAGE_DOCUMENT,
        title="Document",
        icon=":material/description:",
        url_path="document",
        visibility="hidden",
    ),
]
st.logo(str(ASSETS / "logo.svg"), size="large", icon_image=str(ASSETS / "icon.svg"))
st.navigation(pages).run()
