"""What every page shares: the cached library handle, the look, and safe ways to show text.

Document text is third-party and may contain `<script>` or `[link](javascript:…)`. It is shown
with `st.text`, or as HTML built here where every piece of document text is `html.escape`d
before the highlight spans are wrapped around it; `st.html` does not interpret Markdown. It never
goes into Markdown-rendering calls (`st.markdown`, `st.caption`, widget labels) unescaped.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import streamlit as st

from errors import LessonsError
from index.datadir import DataDir
from index.filters import Filters
from index.library import Store
from index.search import DocumentResult, Searcher, SearchHit, SearchResults
from index.snippets import mark, query_stems
from nlp.labels import all_labels, display_name
from settings import Settings

__all__ = ["DocumentResult", "Filters", "Library", "SearchHit", "SearchResults", "Searcher"]

APP_TITLE = "Lessons Learned"
APP_SUBTITLE = "Peace operations knowledge base"
ASSETS = Path(__file__).parent / "assets"

PAGE_SEARCH = "ui/search_page.py"
PAGE_REVIEW = "ui/review_page.py"
PAGE_PACKS = "ui/packs_page.py"
PAGE_LIBRARY = "ui/library_page.py"
PAGE_DASHBOARD = "ui/dashboard_page.py"
PAGE_DOCUMENT = "ui/document_page.py"
PAGE_ADMIN = "ui/admin_page.py"

STYLE = """
<style>
:root { --ll-ink: #1b2430; --ll-muted: #5b6675; --ll-line: #dde2e8; --ll-accent: #1d4e89; }
h1, h2, h3 { letter-spacing: -0.01em; }
[data-testid="stMainBlockContainer"] { padding-top: 2.2rem; }
h1 { font-size: 2rem !important; font-weight: 650 !important; }
h2 { font-size: 1.45rem !important; font-weight: 600 !important; }
h3 { font-size: 1.15rem !important; font-weight: 600 !important; }
.st-key-ll-selected-passage { border-color: #1d4e89 !important; background: #f6f8fb; }
.ll-title { font-size: 1.08rem; font-weight: 600; color: var(--ll-ink); line-height: 1.35; }
.ll-rank { color: var(--ll-muted); font-weight: 500; margin-right: .35rem; }
.ll-meta { color: var(--ll-muted); font-size: .86rem; margin: .15rem 0 .45rem 0; }
.ll-meta span + span::before { content: "·"; margin: 0 .45rem; color: #a0a9b5; }
.ll-chips { display: flex; flex-wrap: wrap; gap: .3rem; margin: .2rem 0 .5rem 0; }
.ll-chip { display: inline-block; padding: .08rem .55rem; border-radius: 999px;
  font-size: .76rem; line-height: 1.5; border: 1px solid transparent; white-space: nowrap; }
.ll-chip.a4p { background: #e8eef7; color: #1d4e89; border-color: #c9d7ea; }
.ll-chip.pillars { background: #eef5ef; color: #2d6a3e; border-color: #cfe3d4; }
.ll-chip.reviewed::after { content: " ✓"; }
.ll-passage { border-left: 3px solid var(--ll-line); padding: .1rem 0 .1rem .8rem;
  color: var(--ll-ink); font-size: .95rem; line-height: 1.55; white-space: pre-wrap; }
.ll-passage mark { background: #fff0a8; color: inherit; padding: 0 .1rem; border-radius: 2px; }
.ll-cite { color: var(--ll-muted); font-size: .82rem; }
.ll-cite-row { display: flex; flex-wrap: wrap; align-items: center; gap: .3rem .7rem;
  margin-top: .4rem; }
.ll-cite-row .ll-chips { margin: 0; }
.ll-chip.small { font-size: .7rem; padding: 0 .45rem; }
.ll-cite b { color: var(--ll-ink); font-weight: 600; }
.ll-heading { font-weight: 600; font-size: .9rem; color: var(--ll-ink); margin-bottom: .2rem; }
.ll-evidence { margin: 0; padding-left: 1.1rem; font-size: .9rem; line-height: 1.5; }
.ll-evidence li { margin-bottom: .3rem; }
.ll-empty { color: var(--ll-muted); font-size: .95rem; line-height: 1.6; }
.ll-kv { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem;
  font-size: .9rem; }
.ll-kv dt { color: var(--ll-muted); } .ll-kv dd { margin: 0; color: var(--ll-ink); }
.ll-brand { font-weight: 650; font-size: 1.05rem; color: var(--ll-ink); }
[data-testid="stColumn"]:has(.st-key-ll-pageview) { position: sticky; top: 1rem;
  align-self: flex-start; }
.ll-brand small { display: block; font-weight: 400; color: var(--ll-muted); font-size: .8rem; }
</style>
"""


# -- settings and cached handles ---------------------------------------------------------------
def settings() -> Settings:
    return Settings.from_env()


class Library:
    """The data folder opened once per server process, shared by every session: a read handle
    for everything shown, and one writable connection for the small edits people make (a
    review, a pack change), each its own transaction.

    Streamlit runs each session in its own thread: `read()` and `write()` serialise access to
    the shared connections. Long writes (ingest, retraining, deletion) open the writer handle
    instead, so they never hold this lock for long. A library written by an earlier version is
    upgraded when it is first opened."""

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = path
        self.settings = settings
        DataDir.upgrade(path)
        # The configured engine; one that cannot be reached or is behind the library fails
        # each search with a one-line EngineError, which the pages show (st.error).
        self.dd = DataDir(path, engine_name=settings.engine, engine_token=settings.engine_token)
        self.searcher = Searcher(self.dd, threads=settings.torch_threads)
        self.lock = threading.RLock()
        self._editor: Store | None = None

    @contextmanager
    def read(self) -> Iterator[DataDir]:
        with self.lock:
            yield self.dd

    @contextmanager
    def write(self) -> Iterator[Store]:
        """The writable store, for one edit."""
        with self.lock:
            if self._editor is None:
                self._editor = self.dd.editor()
            yield self._editor


@st.cache_resource(show_spinner="Opening the library…")
def _open_library(data_dir: str, _settings: Settings) -> Library:
    return Library(Path(data_dir), _settings)


def open_library() -> Library | None:
    """The shared library handle, or None when the data folder does not exist yet."""
    s = settings()
    if not s.data_dir.is_dir():
        return None
    try:
        return _open_library(str(s.data_dir.resolve()), s)
    except LessonsError as exc:  # e.g. a folder written by a newer version, or unreadable
        st.error(
            f"The library in {md_escape(str(s.data_dir))} cannot be opened: {md_escape(str(exc))}"
        )
        st.stop()


@st.cache_resource(show_spinner="Loading the language model (first search only)…")
def warm_encoder(threads: int) -> bool:
    from index.embeddings import load_encoder

    load_encoder(threads)
    return True


# -- look ----------------------------------------------------------------------------------------
def apply_style() -> None:
    st.html(STYLE)


def page_header(title: str, lead: str) -> None:
    """Every page opens the same way: a title and one sentence on what the page is for."""
    st.title(title)
    st.caption(lead)


def show_error(exc: LessonsError, what: str) -> None:
    st.error(f"{what}: {md_escape(str(exc))}")


# -- safe text -----------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^])")


def md_escape(text: str) -> str:
    """Text safe inside Markdown-rendering calls (captions, labels): every Markdown, HTML and
    Streamlit directive character is backslash-escaped, line breaks become spaces."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def esc(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def marked_html(text: str, spans: Sequence[tuple[int, int]] = ()) -> str:
    """`text` as HTML with `spans` wrapped in <mark>: each piece of text is escaped first, and
    only the tags this function writes are markup. Overlapping or out-of-range spans are
    clipped, never trusted."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        start, end = max(start, 0), min(end, len(text))
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    pos = 0
    for start, end in merged:
        out.append(esc(text[pos:start]))
        out.append(f"<mark>{esc(text[start:end])}</mark>")
        pos = end
    out.append(esc(text[pos:]))
    return "".join(out)


def chips_html(
    a4p: Sequence[str], pillars: Sequence[str], reviewed: Sequence[str] = (), small: bool = False
) -> str:
    """Tags as chips with their readable names; axes a reviewer set carry a check mark."""
    known = {lab.slug for lab in all_labels()}
    parts = []
    for axis, labels in (("a4p", a4p), ("pillars", pillars)):
        extra = (" reviewed" if axis in reviewed else "") + (" small" if small else "")
        for slug in labels:
            name = display_name(slug) if slug in known else slug
            title = "A4P area" if axis == "a4p" else "Partnership pillar"
            parts.append(f'<span class="ll-chip {axis}{extra}" title="{title}">{esc(name)}</span>')
    return f'<div class="ll-chips">{"".join(parts)}</div>' if parts else ""


def cite_html(
    citation: str,
    heading: str | None = None,
    a4p: Sequence[str] = (),
    pillars: Sequence[str] = (),
    reviewed: Sequence[str] = (),
    also_in: int = 0,
) -> str:
    """The line under a passage: where to cite it, its section, its own tags."""
    text = f"<b>{esc(citation)}</b>"
    if heading:
        text += f" · {esc(heading)}"
    if also_in:
        text += f" · also in {also_in} other document{'s' * (also_in != 1)}"
    chips = chips_html(a4p, pillars, reviewed, small=True)
    return f'<div class="ll-cite-row"><span class="ll-cite">{text}</span>{chips}</div>'


def meta_html(parts: Sequence[str | None]) -> str:
    items = "".join(f"<span>{esc(p)}</span>" for p in parts if p)
    return f'<div class="ll-meta">{items}</div>' if items else ""


def nice_date(iso: str | None) -> str | None:
    """'2009-07-15' -> '15 July 2009'; partial or odd dates are shown as they are."""
    if not iso:
        return None
    try:
        d = date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return f"{d.day} {d.strftime('%B %Y')}"


def query_marks(text: str, query: str) -> tuple[tuple[int, int], ...]:
    """Spans of `text` to mark for `query`, matched on stems as search results are."""
    from nlp.query import parse_query

    if not query.strip():
        return ()
    return mark(text, query_stems(parse_query(query).terms or (query,)))


def nice_time(iso: str | None) -> str | None:
    """'2026-11-22T14:41:32Z' -> '22 November 2026, 14:41 UTC'."""
    if not iso:
        return None
    day = nice_date(iso)
    clock = iso[11:16] if len(iso) >= 16 and iso[10] == "T" else ""
    return f"{day}, {clock} UTC" if clock else day


def label_name(slug: str) -> str:
    try:
        return display_name(slug)
    except StopIteration:
        return slug
