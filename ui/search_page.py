"""Search (officers): one box, results grouped by document, filters with counts in the sidebar.

The query and filters live in the URL (bound widgets), so a search can be bookmarked, shared
and reopened exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from errors import LessonsError
from nlp.doctypes import display_doc_type
from ui import packs_widget
from ui.auth import require
from ui.common import (
    PAGE_DOCUMENT,
    PAGE_LIBRARY,
    DocumentResult,
    Filters,
    SearchResults,
    chips_html,
    cite_html,
    esc,
    label_name,
    marked_html,
    meta_html,
    nice_date,
    open_library,
    page_header,
    show_error,
    warm_encoder,
)

EXAMPLES = (
    "SHIRBRIG rapid reaction lessons",
    "casualty evacuation and the golden hour",
    "protection of civilians sites in South Sudan",
    "UN-EU cooperation in crisis management",
)
LIST_FACETS: tuple[tuple[str, str, Callable[[str], str]], ...] = (
    ("a4p", "A4P areas", label_name),
    ("pillars", "Partnership pillars", label_name),
    ("missions", "Missions", str),
    ("organisations", "Organisations", str),
    ("countries", "Countries", str),
    ("doc_types", "Document type", display_doc_type),
)
PAGE_SIZE = 10
TAG_FILTER_HELP = (
    "Keeps the passages carrying any of these tags. The number after each tag counts the "
    "documents with at least one such passage."
)


def _set_query(text: str) -> None:
    st.session_state["q"] = text


def _clear_filters() -> None:
    for key, _, _ in LIST_FACETS:
        st.session_state[key] = []
    st.session_state.pop("years", None)


def _show_more() -> None:
    st.session_state["k"] = int(st.session_state.get("k", PAGE_SIZE)) + PAGE_SIZE


def no_documents() -> None:
    st.html(
        '<div class="ll-empty"><b>The library has no documents yet.</b><br>'
        "Add PDF reports on the Library page — several at once; each is read, cut into "
        "citable passages and tagged. From a terminal: "
        "<code>python cli.py ingest FOLDER</code>.</div>"
    )
    st.page_link(PAGE_LIBRARY, label="Add documents in the Library", icon=":material/upload:")


def _year_bounds(library_facets: dict[str, dict[str, int]]) -> tuple[int, int] | None:
    years = sorted(int(y) for y in library_facets.get("years", {}))
    return (years[0], years[-1]) if len(years) > 1 else None


def _filters(
    values: dict[str, tuple[str, ...]], year_from: int | None, year_to: int | None
) -> Filters:
    """Filters from the list widgets' values (keyed as LIST_FACETS) and the year range."""
    return Filters(
        a4p=values["a4p"],
        pillars=values["pillars"],
        missions=values["missions"],
        organisations=values["organisations"],
        countries=values["countries"],
        doc_types=values["doc_types"],
        year_from=year_from,
        year_to=year_to,
    )


def requested_filters(library_facets: dict[str, dict[str, int]]) -> Filters:
    """The filters in force before the widgets are drawn (from the session once a widget was
    used, else from the URL), so the search can run first and the widgets show its counts."""
    values: dict[str, tuple[str, ...]] = {}
    for key, _, _ in LIST_FACETS:
        raw = st.session_state[key] if key in st.session_state else st.query_params.get_all(key)
        known = library_facets.get(key, {})
        values[key] = tuple(v for v in raw if v in known)
    year_from = year_to = None
    bounds = _year_bounds(library_facets)
    if bounds is not None:
        span = st.session_state.get("years")
        if span is None and st.query_params.get_all("years"):
            try:
                span = tuple(int(y) for y in st.query_params.get_all("years"))
            except ValueError:
                span = None
        if span is not None and len(span) == 2 and tuple(span) != bounds:
            year_from, year_to = int(span[0]), int(span[1])
    return _filters(values, year_from, year_to)


def sidebar_filters(
    library_facets: dict[str, dict[str, int]], counts: dict[str, dict[str, int]]
) -> Filters:
    """One widget per facet the library has; each option shows how many documents it keeps."""
    values: dict[str, tuple[str, ...]] = {}
    with st.sidebar:
        st.subheader("Filters")
        for key, title, name in LIST_FACETS:
            options = list(library_facets.get(key, {}))
            if not options:
                values[key] = ()
                continue
            here = counts.get(key, {})

            def fmt(v: str, here: dict[str, int] = here, name: Callable[[str], str] = name) -> str:
                return f"{name(v)}  ({here.get(v, 0)})"

            values[key] = tuple(
                st.multiselect(
                    title,
                    options,
                    key=key,
                    format_func=fmt,
                    bind="query-params",
                    placeholder="Any",
                    help=TAG_FILTER_HELP if key in ("a4p", "pillars") else None,
                )
            )
        year_from = year_to = None
        bounds = _year_bounds(library_facets)
        if bounds is not None:
            lo, hi = st.slider(
                "Years", bounds[0], bounds[1], bounds, key="years", bind="query-params"
            )
            if (lo, hi) != bounds:
                year_from, year_to = lo, hi
        if any(values.values()) or year_from is not None:
            st.button("Clear filters", on_click=_clear_filters, icon=":material/filter_alt_off:")
    return _filters(values, year_from, year_to)


def no_hits(query: str, filters: Filters) -> None:
    tips = [
        "Use fewer words, or the words a report would use (“casualty evacuation” rather "
        "than “medevac delays”).",
        "A mission’s acronym and its long form both work: try the other one.",
    ]
    if filters != Filters():
        tips.insert(0, "Remove some filters: only documents matching all of them are searched.")
    items = "".join(f"<li>{esc(t)}</li>" for t in tips)
    st.html(f'<div class="ll-empty"><b>No passages match “{esc(query)}”.</b><ul>{items}</ul></div>')
    if filters != Filters():
        st.button("Clear filters", on_click=_clear_filters, key="clear_main")


def result_card(doc: DocumentResult, query: str) -> None:
    best = doc.passages[0]
    # Keyed so a browser test (and the style sheet) can find one document's card.
    with st.container(border=True, key=f"result-{doc.doc_id}"):
        st.html(
            f'<div class="ll-title"><span class="ll-rank">{doc.rank}.</span>{esc(doc.title)}'
            "</div>"
            + meta_html(
                [
                    doc.symbol,
                    nice_date(doc.date),
                    ", ".join(doc.missions[:4]),
                    display_doc_type(doc.doc_type) if doc.doc_type not in (None, "other") else None,
                ]
            )
            + chips_html(doc.a4p, doc.pillars)
            + f'<div class="ll-passage">{marked_html(best.snippet, best.highlights)}</div>'
            + cite_html(
                best.citation, best.heading, best.a4p, best.pillars, also_in=len(best.also_in)
            )
        )
        row = st.container(horizontal=True, vertical_alignment="center")
        row.page_link(
            PAGE_DOCUMENT,
            label="Open document",
            icon=":material/article:",
            query_params={"doc": str(doc.doc_id), "passage": str(best.passage_id), "q": query},
        )
        with row:
            packs_widget.add_button(best.passage_id, key=f"add-{best.passage_id}")
        more = doc.passages[1:]
        if more:
            noun = "passage" if len(more) == 1 else "passages"
            with st.expander(f"{len(more)} more matching {noun} in this document"):
                for hit in more:
                    st.html(
                        f'<div class="ll-passage">{marked_html(hit.snippet, hit.highlights)}</div>'
                        + cite_html(
                            hit.citation,
                            hit.heading,
                            hit.a4p,
                            hit.pillars,
                            also_in=len(hit.also_in),
                        )
                    )
                    packs_widget.add_button(hit.passage_id, key=f"add-{hit.passage_id}")


def render() -> None:
    page_header(
        "Search",
        "Find lessons across the library. Results are grouped by document, "
        "best passage first, with the page and paragraph to cite.",
    )
    access = require("officer")
    library = open_library()
    if library is None:
        no_documents()
        return
    with library.read():
        library_facets = library.searcher.facets(access=access)
    empty = not library_facets.get("doc_types")  # nothing this user may see
    if empty:
        no_documents()
        return
    query = (
        st.text_input(
            "Search the library",
            key="q",
            bind="query-params",
            placeholder=f"Ask in plain words, e.g. “{EXAMPLES[0]}”",
            label_visibility="collapsed",
            icon=":material/search:",
        )
        or ""
    ).strip()
    filters = requested_filters(library_facets)
    results: SearchResults | None = None
    if query:
        warm_encoder(library.settings.torch_threads)
        k = int(st.session_state.get("k", PAGE_SIZE))
        try:
            with library.read():
                results = library.searcher.search(query, filters=filters, k=k, access=access)
        except LessonsError as exc:
            show_error(exc, "The search could not run")
            return
    shown = sidebar_filters(library_facets, results.facets if results else library_facets)
    packs_widget.pack_picker()
    # The search ran with the filters the session knew; if the widgets disagree (first load of
    # a URL, a value no longer in the library), run once more with theirs.
    if shown != filters and not st.session_state.get("_refiltered"):
        st.session_state["_refiltered"] = True
        st.rerun()
    st.session_state["_refiltered"] = False
    if results is None:
        st.caption("Not sure where to start? Try one of these:")
        cols = st.columns(len(EXAMPLES))
        for col, example in zip(cols, EXAMPLES, strict=True):
            col.button(
                example,
                on_click=_set_query,
                args=(example,),
                width="stretch",
                icon=":material/north_east:",
            )
        return
    if not results.documents:
        no_hits(query, filters)
        return
    n_docs = len(results.documents)
    total = max(results.total_documents, n_docs)
    matched = (
        f"{n_docs} of {total} documents"
        if total > n_docs
        else f"{n_docs} document{'s' * (n_docs != 1)}"
    )
    st.caption(f"{matched}, best first · {results.took_ms / 1000:.2f} s")
    for doc in results.documents:
        result_card(doc, query)
    if len(results.documents) >= int(st.session_state.get("k", PAGE_SIZE)):
        st.button("Show more documents", on_click=_show_more)


render()
