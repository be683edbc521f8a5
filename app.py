"""Streamlit app: search the lessons-learned library.

A thin shell over the same library calls as `cli.py`. The data folder comes from
LESSONS_DATA_DIR (default data/); the index and models are loaded once per server process.
Document text is always shown as plain text, never rendered as HTML or Markdown.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import streamlit as st

from errors import LessonsError
from settings import Settings

st.set_page_config(page_title="Lessons learned — peace operations", page_icon="🕊️", layout="wide")

EXAMPLES = [
    "SHIRBRIG rapid reaction lessons",
    "casualty evacuation and the golden hour",
    "protection of civilians sites in South Sudan",
    "UN-EU cooperation in crisis management",
]


@st.cache_resource(show_spinner="Opening the library…")
def open_library(data_dir: str) -> Any:
    from index.datadir import DataDir

    return DataDir(Path(data_dir))


@st.cache_resource(show_spinner="Loading the language model…")
def warm_model(threads: int) -> bool:
    from index.embeddings import load_encoder

    load_encoder(threads)
    return True


def render_hit(hit: Any) -> None:
    where = f"p. {hit.page}" + (f", ¶ {hit.paragraph}" if hit.paragraph else "")
    with st.container(border=True):
        st.text(f"{hit.rank}. {hit.title}")
        meta = " · ".join(x for x in (hit.symbol, hit.date, hit.source, where) if x)
        st.caption(meta)
        st.text(hit.snippet)
        if hit.a4p or hit.pillars:
            from nlp.labels import display_name

            parts = []
            if hit.a4p:
                parts.append("A4P: " + ", ".join(display_name(x) for x in hit.a4p))
            if hit.pillars:
                parts.append("Pillars: " + ", ".join(display_name(x) for x in hit.pillars))
            st.caption(" · ".join(parts))
        st.caption(f"relevance {hit.score:.3f}")


def main() -> None:
    settings = Settings.from_env()
    st.title("Lessons learned from peace operations")
    try:
        library = open_library(str(settings.data_dir))
    except LessonsError as exc:
        st.info(
            "No documents yet. Add PDFs with "
            f"`python cli.py ingest PATH --data-dir {settings.data_dir}` "
            "(or `make run`, which builds the demo library from corpus/)."
        )
        st.caption(str(exc))
        return
    counts = library.store.counts()
    with st.sidebar:
        st.subheader("Library")
        st.metric("Documents", counts["documents"])
        st.metric("Passages", counts["passages"])
        st.caption(f"Data folder: {os.fspath(settings.data_dir)}")
    if counts["documents"] == 0:
        st.info("The library is empty. Ingest PDFs with `python cli.py ingest PATH`.")
        return

    query = st.text_input("Search", placeholder="e.g. " + EXAMPLES[0], key="query")
    k = st.sidebar.slider("Results", 5, 50, 10, step=5)
    if not query.strip():
        st.caption("Try: " + " · ".join(EXAMPLES))
        return
    from index.search import Searcher

    warm_model(settings.torch_threads)
    hits = Searcher(library, threads=settings.torch_threads).search(query.strip(), k=k).passages
    if not hits:
        st.info("No results. Try fewer or different words, or an acronym's long form.")
        return
    st.caption(f"{len(hits)} passages, best first")
    for hit in hits:
        render_hit(hit)


main()
