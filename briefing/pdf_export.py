"""PDF export with fpdf2: title page, a table of contents with page numbers and links, PDF
bookmarks, a heading per group and per excerpt with its note and citation, sources at the end.
Text is written as plain text (fpdf2's markdown switch stays off)."""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from briefing.fonts import FAMILY, covered, font_files
from briefing.outline import Outline

TOC_LINES_PER_PAGE = 38
# Typographic characters the font lacks are drawn as their nearest plain form.
_FALLBACK = {"\u2011": "-", "\u2212": "-", "\u00a0": " ", "\u202f": " ", "\u2009": " "}


def _printable(text: str) -> str:
    """Characters the font cannot draw become their closest form it can (é from e + accent,
    ﬁ as fi), else '?', so that no glyph silently vanishes from the page."""
    have = covered()
    out = []
    for ch in text:
        if ord(ch) in have or ch == "\n":
            out.append(ch)
            continue
        alt = _FALLBACK.get(ch) or unicodedata.normalize("NFKD", ch)
        alt = "".join(c for c in alt if ord(c) in have)
        out.append(alt or "?")
    return "".join(out)


def render_pdf(outline: Outline) -> bytes:
    from fpdf import FPDF

    class BriefingPDF(FPDF):
        def header(self) -> None:
            # The classification heads every page, the title page included.
            self.set_y(6)
            self.set_font(FAMILY, "B", 8)
            self.cell(0, 5, outline.marking, align="C")
            self.set_y(18)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FAMILY, "", 8)
            self.set_text_color(110)
            where = "" if self.page_no() == 1 else f"{outline.title} — page {self.page_no()} — "
            self.cell(0, 6, _printable(f"{where}{outline.marking}"), align="C")
            self.set_text_color(0)

    pdf = BriefingPDF(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    for style, path in font_files().items():
        pdf.add_font(FAMILY, style, str(path))
    pdf.set_title(_printable(outline.title))
    pdf.set_subject(outline.subtitle)
    pdf.set_creator("Lessons learned")

    def text(size: float, body: str, style: str = "", gap: float = 2.0, indent: float = 0) -> None:
        pdf.set_font(FAMILY, style, size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(pdf.epw - indent, size * 0.5, _printable(body), new_x="LMARGIN")
        pdf.ln(gap)

    # Title page.
    pdf.add_page()
    pdf.set_y(70)
    text(12, outline.marking, "B", 6)
    text(26, outline.title, "B", 4)
    text(13, f"{outline.subtitle} — {outline.date}", "", 10)
    for p in outline.intro:
        text(11, p)

    # Contents: fpdf2 fills the reserved pages once every section's page is known.
    entries = outline.contents()
    pages = max(1, math.ceil((len(entries) + 3) / TOC_LINES_PER_PAGE))

    def render_toc(pdf: Any, sections: list[Any]) -> None:
        pdf.set_x(pdf.l_margin)
        pdf.set_font(FAMILY, "B", 16)
        pdf.cell(0, 10, "Contents", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        for s in sections:
            indent = 6 * s.level
            pdf.set_font(FAMILY, "B" if s.level == 0 else "", 10.5 if s.level == 0 else 10)
            link = pdf.add_link(page=s.page_number)
            pdf.set_x(pdf.l_margin + indent)
            label = s.name
            width = pdf.epw - indent - 14
            while pdf.get_string_width(label) > width and len(label) > 4:
                label = label[:-2].rstrip() + "…"
            pdf.cell(width, 6, label, link=link)
            pdf.cell(14, 6, str(s.page_number), align="R", link=link, new_x="LMARGIN", new_y="NEXT")

    pdf.add_page()
    pdf.insert_toc_placeholder(render_toc, pages=pages, allow_extra_pages=True)

    fresh_page = True  # the placeholder leaves us at the top of a new page
    for section in outline.sections:
        if not fresh_page:
            pdf.add_page()
        fresh_page = False
        pdf.start_section(_printable(section.title), level=0)
        text(18, section.title, "B", 4)
        for e in section.excerpts:
            if pdf.get_y() > pdf.h - 60:
                pdf.add_page()
            pdf.start_section(_printable(e.heading), level=1)
            text(12.5, e.heading, "B", 1.5)
            for p in e.paragraphs:
                text(10.5, p, "", 1.5, indent=5)
            if e.note:
                text(10, f"Note: {e.note}", "B", 1.5)
            removed = " (source removed from the library)" if e.source_removed else ""
            text(9.5, e.citation + removed, "I", 6)
    if outline.sources:
        if not fresh_page:
            pdf.add_page()
        pdf.start_section("Sources", level=0)
        text(18, "Sources", "B", 4)
        for n, s in enumerate(outline.sources, start=1):
            text(10, f"{n}. {s}", "", 1.5)
    return bytes(pdf.output())
