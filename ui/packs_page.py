"""Briefing packs (liaison staff): named selections of excerpts with an introduction and notes,
grouped by A4P area or pillar if wished, exported to DOCX, PDF and Markdown.

Every change is saved at once in the library's database (index/packs.py); the pack shown is in
the URL (?pack=ID), so a pack reopens exactly as it was left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from briefing.citation import citation
from briefing.export import FORMATS, MEDIA_TYPES, file_name, render_pack
from errors import LessonsError
from index.access import LEVELS, Access
from index.library import packs
from index.library.packs import Pack, PackItem
from ui.auth import current_access, may_open, require
from ui.common import (
    PAGE_SEARCH,
    chips_html,
    esc,
    md_escape,
    nice_date,
    open_library,
    page_header,
)
from ui.packs_widget import PACK_KEY, current_pack_id

FORMAT_LABELS = {"docx": "Word (DOCX)", "pdf": "PDF", "md": "Markdown"}
GROUPING_LABELS = {"none": "No grouping", "a4p": "By A4P area", "pillars": "By pillar"}


def _do(action: Callable[..., Any], *args: Any, done: str | None = None, **kwargs: Any) -> Any:
    """Run one pack operation on the shared library; a refusal becomes a message."""
    library = open_library()
    if library is None:
        return None
    try:
        with library.write() as store:
            result = action(store, *args, by=require(), **kwargs)
    except LessonsError as exc:
        st.session_state["packs_error"] = str(exc)
        return None
    if done:
        st.toast(done, icon=":material/check:")
    return result


def _select(pack_id: int | None) -> None:
    if pack_id is None:
        st.session_state.pop(PACK_KEY, None)
    else:
        st.session_state[PACK_KEY] = str(pack_id)


def _create() -> None:
    name = str(st.session_state.get("packs_new_name", ""))
    pack = _do(packs.create_pack, name)
    if pack is not None:
        st.session_state["packs_new_name"] = ""
        _select(pack.id)


def _rename(pack_id: int) -> None:
    _do(
        packs.rename_pack,
        pack_id,
        str(st.session_state.get(f"rename-{pack_id}", "")),
        done="Renamed.",
    )


def _duplicate(pack_id: int) -> None:
    pack = _do(packs.duplicate_pack, pack_id, done="Duplicated.")
    if pack is not None:
        _select(pack.id)


def _delete(pack_id: int) -> None:
    st.session_state.pop("packs_confirm_delete", None)
    _do(packs.delete_pack, pack_id, done="Pack deleted.")
    _select(None)


def _intro(pack_id: int) -> None:
    _do(
        packs.set_intro,
        pack_id,
        str(st.session_state.get(f"intro-{pack_id}", "")),
        done="Introduction saved.",
    )


def _grouping(pack_id: int) -> None:
    value = st.session_state.get(f"grouping-{pack_id}") or "none"
    _do(packs.set_grouping, pack_id, value)


def _note(pack_id: int, item_id: int) -> None:
    _do(
        packs.set_note,
        pack_id,
        item_id,
        str(st.session_state.get(f"note-{item_id}", "")),
        done="Note saved.",
    )


@st.cache_data(show_spinner="Preparing the file…", max_entries=32)
def _export(pack: Pack, fmt: str) -> bytes:
    # Keyed by the pack's whole content, so any change is exported afresh.
    return render_pack(pack, fmt)


def pack_list(summaries: list[packs.PackSummary], selected: int | None) -> None:
    st.subheader("Packs")
    with st.container(border=True):
        st.text_input(
            "New pack",
            key="packs_new_name",
            placeholder="Name, e.g. AU liaison brief",
            max_chars=200,
        )
        st.button(
            "Create pack",
            on_click=_create,
            icon=":material/add:",
            type="primary",
            key="packs_create",
        )
    if not summaries:
        st.caption("No packs yet.")
        return
    for p in summaries:
        label = f"{p.name}  ·  {p.items} excerpt{'s' * (p.items != 1)}"
        st.button(
            md_escape(label),
            key=f"open-pack-{p.id}",
            on_click=_select,
            args=(p.id,),
            type="primary" if p.id == selected else "secondary",
            width="stretch",
            wrap=True,
            help=f"Last changed {nice_date(p.updated_at)}",
        )


def _moved(order: list[int], item_id: int, neighbour: int) -> list[int]:
    """The pack order with `item_id` put where `neighbour` is (before it when moving up,
    after it when moving down)."""
    rest = [i for i in order if i != item_id]
    at = rest.index(neighbour)
    if order.index(item_id) < order.index(neighbour):
        at += 1
    return [*rest[:at], item_id, *rest[at:]]


def item_block(pack: Pack, item: PackItem, before: int | None, after: int | None) -> None:
    """One excerpt; Up and Down move it past its neighbour in the list shown (within its
    group when the pack is grouped)."""
    order = [i.id for i in pack.items]
    with st.container(border=True):
        head = f'<div class="ll-cite"><b>{esc(citation(item))}</b></div>'
        if item.source_removed:
            head += (
                '<div class="ll-meta"><span>Source removed from the library; the excerpt '
                "is kept as it was added.</span></div>"
            )
        st.html(
            head
            + (f'<div class="ll-heading">{esc(item.heading)}</div>' if item.heading else "")
            + f'<div class="ll-passage">{esc(item.text)}</div>'
            + chips_html(item.a4p, item.pillars, small=True)
        )
        st.text_input(
            "Note",
            value=item.note,
            key=f"note-{item.id}",
            placeholder="Why this excerpt matters for the briefing (saved when you leave the box)",
            on_change=_note,
            args=(pack.id, item.id),
            label_visibility="collapsed",
        )
        row = st.container(horizontal=True)
        row.button(
            "Up",
            key=f"up-{item.id}",
            icon=":material/arrow_upward:",
            disabled=before is None,
            on_click=_do,
            type="tertiary",
            args=(packs.reorder, pack.id, _moved(order, item.id, before) if before else order),
        )
        row.button(
            "Down",
            key=f"down-{item.id}",
            icon=":material/arrow_downward:",
            disabled=after is None,
            on_click=_do,
            type="tertiary",
            args=(packs.reorder, pack.id, _moved(order, item.id, after) if after else order),
        )
        row.button(
            "Remove",
            key=f"remove-{item.id}",
            icon=":material/close:",
            on_click=_do,
            args=(packs.remove_item, pack.id, item.id),
            kwargs={"done": "Removed."},
            type="tertiary",
        )


def _exported(pack: Pack, fmt: str) -> None:
    """Exports of classified content are in the security log."""
    if pack.classification == LEVELS[0]:
        return
    library = open_library()
    access = current_access()
    if library is None or access is None:
        return
    with library.write() as store:
        store.log_security(
            access.name,
            "export",
            f"pack {pack.name}",
            f"{pack.classification}; {len(pack.items)} excerpts; {fmt}",
        )


def sharing(pack: Pack) -> None:
    """A liaison shares their pack with named users or everyone; each sees what they may."""
    with st.expander("Share", expanded=False):
        st.caption(
            "People you share with can read and export the pack; each sees only the excerpts "
            "their clearance and groups allow."
        )
        st.toggle("Everyone", value=pack.shared_with_all, key=f"share-all-{pack.id}")
        st.text_input(
            "Usernames (comma-separated)",
            value=", ".join(pack.shared_with),
            key=f"share-users-{pack.id}",
        )
        st.button("Save sharing", key=f"share-save-{pack.id}", on_click=_share, args=(pack.id,))


def _share(pack_id: int) -> None:
    users = str(st.session_state.get(f"share-users-{pack_id}", "")).split(",")
    everyone = bool(st.session_state.get(f"share-all-{pack_id}", False))
    _do(packs.share_pack, pack_id, users=users, everyone=everyone, done="Sharing saved.")


def exports(pack: Pack, access: Access) -> None:
    if not pack.items:
        st.caption("Add excerpts to export the pack.")
        return
    if not access.has("liaison"):
        st.caption("Exporting a pack needs the liaison role.")
        return
    if pack.classification != LEVELS[0]:
        st.caption(
            f"Exports are marked {pack.classification.replace('_', ' ').upper()} on every "
            "page, and recorded in the security log."
        )
    row = st.container(horizontal=True)
    for fmt in FORMATS:
        try:
            data = _export(pack, fmt)
        except LessonsError as exc:
            row.button(FORMAT_LABELS[fmt], disabled=True, help=str(exc), key=f"noexport-{fmt}")
            continue
        row.download_button(
            FORMAT_LABELS[fmt],
            data=data,
            file_name=file_name(pack, fmt),
            mime=MEDIA_TYPES[fmt],
            icon=":material/download:",
            key=f"export-{fmt}",
            on_click=_exported,
            args=(pack, fmt),
        )


def pack_view(pack: Pack, access: Access) -> None:
    mine = pack.owner is None or pack.owner == access.username or access.full
    if pack.hidden:
        st.info(
            f"{pack.hidden} excerpt{'s are' if pack.hidden != 1 else ' is'} not shown: "
            "above your access."
        )
    if not mine:
        st.caption(f"Shared with you by {md_escape(pack.owner or '')}: you may read and export it.")
        exports(pack, access)
        for item in pack.items:
            with st.container(border=True):
                st.html(f'<div class="ll-passage">{esc(item.text)}</div>')
                st.caption(md_escape(citation(item)))
        return
    top = st.container(horizontal=True, vertical_alignment="bottom")
    with top:
        st.text_input(
            "Pack name",
            value=pack.name,
            key=f"rename-{pack.id}",
            max_chars=200,
            on_change=_rename,
            args=(pack.id,),
        )
        st.button(
            "Duplicate",
            on_click=_duplicate,
            args=(pack.id,),
            icon=":material/content_copy:",
            key="pack-duplicate",
        )
        st.button(
            "Delete…",
            icon=":material/delete:",
            key="pack-delete",
            on_click=lambda: st.session_state.update(packs_confirm_delete=pack.id),
        )
    if st.session_state.get("packs_confirm_delete") == pack.id:
        with st.container(border=True):
            st.warning(
                f"Delete the pack “{md_escape(pack.name)}” and its "
                f"{len(pack.items)} excerpts? The documents are not touched."
            )
            row = st.container(horizontal=True)
            row.button(
                "Delete",
                type="primary",
                key="pack-delete-confirm",
                on_click=_delete,
                args=(pack.id,),
            )
            row.button(
                "Cancel",
                key="pack-delete-cancel",
                on_click=lambda: st.session_state.pop("packs_confirm_delete", None),
            )
    st.caption(
        f"{len(pack.items)} excerpt{'s' * (len(pack.items) != 1)} · created "
        f"{nice_date(pack.created_at)} · last changed {nice_date(pack.updated_at)}"
    )
    exports(pack, access)
    if access.has("liaison"):
        sharing(pack)
    st.text_area(
        "Introduction",
        value=pack.intro,
        key=f"intro-{pack.id}",
        placeholder="What this pack is for and who it is for (saved when you leave the box).",
        on_change=_intro,
        args=(pack.id,),
        height=110,
    )
    st.segmented_control(
        "Group excerpts",
        list(GROUPING_LABELS),
        default=pack.grouping,
        format_func=lambda g: GROUPING_LABELS[g],
        key=f"grouping-{pack.id}",
        on_change=_grouping,
        args=(pack.id,),
    )
    if not pack.items:
        st.html(
            '<div class="ll-empty"><b>This pack has no excerpts yet.</b><br>Search, choose this '
            "pack in the sidebar under “Briefing pack”, and press “Add to briefing pack” on "
            "the passages you want; or add them from a document’s page.</div>"
        )
        if may_open(PAGE_SEARCH):
            st.page_link(PAGE_SEARCH, label="Go to Search", icon=":material/search:")
        return
    for group in pack.groups():
        if pack.grouping != "none":
            st.subheader(group.title)
        ids = [i.id for i in group.items]
        for n, item in enumerate(group.items):
            item_block(
                pack, item, ids[n - 1] if n else None, ids[n + 1] if n + 1 < len(ids) else None
            )


def render() -> None:
    page_header(
        "Briefing packs",
        "Collect excerpts for a briefing, add an introduction and "
        "notes, and export to Word, PDF or Markdown.",
    )
    access = require()
    library = open_library()
    if library is None:
        st.info("No documents yet: add some on the Library page, then collect excerpts here.")
        return
    with library.read() as dd:
        summaries = packs.list_packs(dd.store, access)
    # The pack open here is the one "Add to briefing pack" fills on the other pages.
    selected = current_pack_id()
    if selected not in {p.id for p in summaries}:
        selected = summaries[0].id if summaries else None
        _select(selected)
    error = st.session_state.pop("packs_error", None)
    if error:
        st.error(md_escape(error))
    left, right = st.columns([1, 3], gap="large")
    with left:
        pack_list(summaries, selected)
    with right:
        if selected is None:
            st.html(
                '<div class="ll-empty"><b>No briefing packs yet.</b><br>Name a pack on the '
                "left, then add passages to it from Search or from a document’s page. Packs "
                "keep their excerpts, order and notes until you change them.</div>"
            )
            return
        try:
            with library.read() as dd:
                pack = packs.get_pack(dd.store, selected, access=access)
        except LessonsError as exc:
            st.warning(md_escape(str(exc)))
            return
        pack_view(pack, access)


render()
