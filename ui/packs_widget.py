"""'Add to briefing pack' on every passage, and the sidebar picker of the pack passages go to.

The pack being filled is part of the URL (?pack=ID), so it survives a reload and a shared link.
"""

from __future__ import annotations

import streamlit as st

from errors import LessonsError
from index.access import PUBLIC, Access
from index.library.packs import PackSummary, add_passage, create_pack, get_pack, list_packs
from ui.auth import current_access
from ui.common import md_escape, open_library

PACK_KEY = "pack"


def _who() -> Access:
    return current_access() or PUBLIC


def _packs() -> list[PackSummary]:
    """The packs this user may fill: their own (and those the operator's tools made)."""
    library = open_library()
    access = current_access()
    if library is None or access is None:
        return []
    with library.read() as dd:
        found = list_packs(dd.store, access)
    return [p for p in found if p.owner is None or p.owner == access.username]


def current_pack_id() -> int | None:
    raw = st.session_state.get(PACK_KEY, st.query_params.get(PACK_KEY))
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _create(name_key: str) -> None:
    library = open_library()
    name = str(st.session_state.get(name_key, "")).strip()
    if library is None or not name:
        return
    try:
        with library.write() as store:
            pack = create_pack(store, name, by=_who())
    except LessonsError as exc:
        st.session_state["pack_error"] = str(exc)
        return
    st.session_state[PACK_KEY] = str(pack.id)
    st.session_state[name_key] = ""
    st.toast(f"Created the pack “{md_escape(pack.name)}”.", icon=":material/folder_open:")


def pack_picker() -> int | None:
    """Sidebar: which pack 'Add to pack' fills, and a way to start a new one."""
    packs = _packs()
    with st.sidebar:
        st.subheader("Briefing pack")
        if packs:
            ids = [str(p.id) for p in packs]
            names = {str(p.id): f"{p.name} ({p.items})" for p in packs}
            if st.session_state.get(PACK_KEY) not in ids:
                st.session_state.pop(PACK_KEY, None)
            st.selectbox(
                "Add passages to",
                ids,
                key=PACK_KEY,
                format_func=lambda i: names.get(i, i),
                bind="query-params",
                persist_state="session",
            )
        else:
            st.caption("No pack yet: name one to collect passages for a briefing.")
        with st.popover("New pack", icon=":material/add:", width="stretch"):
            st.text_input("Name of the new pack", key="new_pack_name", max_chars=200)
            st.button(
                "Create",
                key="create_pack",
                on_click=_create,
                args=("new_pack_name",),
                type="primary",
            )
        error = st.session_state.pop("pack_error", None)
        if error:
            st.error(md_escape(error))
    return current_pack_id()


def _add(pack_id: int, passage_id: int) -> None:
    library = open_library()
    if library is None:
        return
    try:
        with library.write() as store:
            add_passage(store, pack_id, passage_id, by=_who())
            name = get_pack(store, pack_id, access=_who()).name
    except LessonsError as exc:
        st.toast(md_escape(str(exc)), icon=":material/error:")
        return
    st.toast(f"Added to “{md_escape(name)}”.", icon=":material/bookmark_added:")


def members(pack_id: int | None) -> frozenset[int]:
    """Passages already in the pack, read once per script run."""
    if pack_id is None:
        return frozenset()
    cache = st.session_state.setdefault("_pack_members", {})
    run = st.session_state.get("_run_marker")
    if cache.get("run") != run or cache.get("pack") != pack_id:
        library = open_library()
        ids: frozenset[int] = frozenset()
        if library is not None:
            try:
                with library.read() as dd:
                    pack = get_pack(dd.store, pack_id, access=_who())
                ids = frozenset(i.passage_id for i in pack.items if i.passage_id is not None)
            except LessonsError:
                ids = frozenset()
        cache.update(run=run, pack=pack_id, ids=ids)
    return frozenset(cache["ids"])


def add_button(passage_id: int, *, key: str, compact: bool = False) -> None:
    """One click adds the passage to the pack chosen in the sidebar."""
    label = "Add to pack" if compact else "Add to briefing pack"
    pack_id = current_pack_id()
    if pack_id is None:
        st.button(
            label,
            key=key,
            icon=":material/bookmark_add:",
            disabled=True,
            help="Create or choose a pack in the sidebar first.",
            type="tertiary",
        )
        return
    if passage_id in members(pack_id):
        st.button(
            "In the pack",
            key=key,
            icon=":material/bookmark_added:",
            disabled=True,
            type="tertiary",
        )
        return
    st.button(
        label,
        key=key,
        icon=":material/bookmark_add:",
        on_click=_add,
        args=(pack_id, passage_id),
        type="tertiary",
    )
