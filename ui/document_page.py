"""One document: its metadata, its passages with their tags, and the PDF page itself with the
selected passage highlighted. Opened from a search result or the library list; which document
and passage are shown lives in the URL (?doc=…&passage=…&q=…)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from errors import LessonsError
from index.access import LEVEL_NAMES, LEVELS, Access, rank
from index.browse import DocumentDetail, PassageView, document_detail
from index.classification import set_document_access
from ingest.render import render_page
from nlp.doctypes import display_doc_type
from ui import document_tags, packs_widget
from ui.auth import current_access, may_open, require
from ui.common import (
    PAGE_LIBRARY,
    PAGE_REVIEW,
    PAGE_SEARCH,
    chips_html,
    cite_html,
    esc,
    marked_html,
    md_escape,
    meta_html,
    nice_date,
    open_library,
    page_header,
    query_marks,
)

RESOLUTION = 110


@st.cache_data(show_spinner="Drawing the page…", max_entries=64)
def _page_png(path: str, mtime: float, page: int, passage_text: str) -> tuple[bytes, int]:
    # mtime is part of the key so a replaced file is drawn afresh.
    rendered = render_page(Path(path), page, passage_text, resolution=RESOLUTION)
    return rendered.png, rendered.page_count


def _int_param(name: str) -> int | None:
    raw = st.query_params.get(name)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _select(passage_id: int) -> None:
    st.query_params["passage"] = str(passage_id)
    st.session_state.pop("page_shown", None)


def back_link(query: str) -> None:
    if query:
        st.page_link(
            PAGE_SEARCH,
            label="Back to results",
            icon=":material/arrow_back:",
            query_params={"q": query},
        )
    else:
        st.page_link(PAGE_LIBRARY, label="Back to the library", icon=":material/arrow_back:")


def details_html(detail: DocumentDetail) -> str:
    s = detail.summary
    rows = [
        ("Symbol", s.symbol),
        ("Date", nice_date(s.date)),
        ("Type", display_doc_type(s.doc_type) if s.doc_type != "other" else None),
        ("Missions", ", ".join(s.missions)),
        ("Organisations", ", ".join(s.organisations[:8])),
        ("Countries", ", ".join(s.countries[:8])),
        ("Pages", str(s.pages)),
        ("Passages", str(s.passages)),
        ("File", s.file_name),
        ("Added", nice_date(s.ingested_at)),
    ]
    if s.status != "ready":
        rows.append(("Status", "PDF file missing — re-ingest it from its new place"))
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows if v)
    return f'<dl class="ll-kv">{body}</dl>'


def passage_block(p: PassageView, query: str, selected: bool) -> None:
    # The selected passage's container is keyed so the style sheet can set it apart.
    with st.container(border=True, key="ll-selected-passage" if selected else None):
        st.html(
            f'<div class="ll-passage">{marked_html(p.text, query_marks(p.text, query))}</div>'
            + cite_html(p.locator.citation, p.heading, p.a4p, p.pillars, p.reviewed)
        )
        row = st.container(horizontal=True, vertical_alignment="center")
        row.button(
            "On the page" if selected else "Show on page",
            key=f"show-{p.passage_id}",
            on_click=_select,
            args=(p.passage_id,),
            icon=":material/visibility:",
            disabled=selected,
            type="tertiary",
        )
        with row:
            packs_widget.add_button(p.passage_id, key=f"add-{p.passage_id}", compact=True)
        if may_open(PAGE_REVIEW):
            row.page_link(
                PAGE_REVIEW,
                label="Correct tags",
                icon=":material/edit:",
                query_params={"passage": str(p.passage_id)},
            )


def page_image(detail: DocumentDetail, passage: PassageView | None) -> None:
    s = detail.summary
    first = passage.page_start if passage else 1
    pages = list(range(1, max(s.pages, 1) + 1))
    page = st.selectbox(
        "Page",
        pages,
        index=pages.index(first) if first in pages else 0,
        key=f"page-{s.doc_id}-{passage.passage_id if passage else 0}",
        format_func=lambda n: f"Page {n} of {s.pages}",
    )
    path = Path(s.source_path)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    try:
        png, _ = _page_png(str(path), mtime, int(page or first), passage.text if passage else "")
    except LessonsError as exc:
        st.info(str(exc))
        return
    caption = "Highlighted: the selected passage" if passage else None
    st.image(png, caption=caption, width="stretch")


def scroll_to_selected(passage_id: int | None) -> None:
    """Bring the passage a result pointed to into view, once per passage opened (not on every
    click on the page). The script is ours and holds no document text."""
    if passage_id is None or st.session_state.get("scrolled_to") == passage_id:
        return
    st.session_state["scrolled_to"] = passage_id
    st.html(
        "<script>setTimeout(() => { const el = parent.document.querySelector("
        "'.st-key-ll-selected-passage') || document.querySelector('.st-key-ll-selected-passage');"
        " if (el) el.scrollIntoView({block: 'center'}); }, 400);</script>",
        unsafe_allow_javascript=True,
    )


def _set_access(doc_id: int) -> None:
    library = open_library()
    access = current_access()
    if library is None or access is None:
        return
    try:
        with library.write() as store:
            set_document_access(
                store,
                doc_id,
                level=st.session_state[f"doc-level-{doc_id}"],
                groups=st.session_state[f"doc-groups-{doc_id}"],
                by=access,
            )
    except LessonsError as exc:
        st.session_state["doc_access_error"] = str(exc)
    else:
        st.toast("Classification saved (recorded in the security log).", icon=":material/lock:")


def classification_editor(detail: DocumentDetail, access: Access) -> None:
    """A librarian sets who may see the document: its level and need-to-know groups."""
    s = detail.summary
    with st.expander(f"Classification: {LEVEL_NAMES[s.classification]}", expanded=False):
        levels = [lv for lv in LEVELS if access.full or rank(lv) <= rank(access.clearance)]
        st.selectbox(
            "Level",
            levels,
            index=levels.index(s.classification) if s.classification in levels else 0,
            format_func=lambda lv: LEVEL_NAMES[lv],
            key=f"doc-level-{s.doc_id}",
        )
        st.multiselect(
            "Access groups",
            sorted(set(access.groups) | set(s.groups)),
            default=list(s.groups),
            key=f"doc-groups-{s.doc_id}",
            help="When set, only members of one of these groups may see the document.",
        )
        st.button("Save classification", on_click=_set_access, args=(s.doc_id,))
        error = st.session_state.pop("doc_access_error", None)
        if error:
            st.error(md_escape(error))


def render() -> None:
    access = require("officer")
    library = open_library()
    doc_id = _int_param("doc")
    query = st.query_params.get("q", "")
    if library is None or doc_id is None:
        page_header("Document", "Open a document from a search result or from the library.")
        back_link(query)
        return
    try:
        with library.read() as dd:
            detail = document_detail(dd.store, doc_id, access)
            own_tags = dd.store.document_reviews(doc_id)
    except LessonsError as exc:
        page_header("Document", "This document cannot be shown.")
        st.warning(str(exc))
        back_link(query)
        return
    s = detail.summary
    packs_widget.pack_picker()
    back_link(query)
    st.html(
        f'<h2 style="margin:.2rem 0 .1rem 0">{esc(s.title)}</h2>'
        + meta_html([s.symbol, nice_date(s.date), ", ".join(s.missions[:5]), s.file_name])
        + chips_html(s.a4p, s.pillars, reviewed=tuple(own_tags))
    )
    if access.has("reviewer"):
        document_tags.editor(doc_id, {"a4p": list(s.a4p), "pillars": list(s.pillars)}, own_tags)
    if access.has("librarian"):
        classification_editor(detail, access)
    by_id = {p.passage_id: p for p in detail.passages}
    wanted = _int_param("passage")
    selected = by_id.get(wanted) if wanted is not None else None
    if selected is None and detail.passages:
        selected = detail.passages[0]
    left, right = st.columns([1, 1], gap="large")
    with left:
        with st.expander("Document details", expanded=False):
            st.html(details_html(detail))
        st.subheader(f"Passages ({len(detail.passages)})")
        if not detail.passages:
            st.info("No text passages were found in this document.")
        for p in detail.passages:
            passage_block(p, query, selected is not None and p.passage_id == selected.passage_id)
    scroll_to_selected(selected.passage_id if selected else None)
    # Keyed so the style sheet can keep the page in view while the passages scroll.
    with right, st.container(key="ll-pageview"):
        st.subheader("On the page")
        page_image(detail, selected)


render()
