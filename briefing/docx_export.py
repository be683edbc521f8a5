"""DOCX export with python-docx: title page, a table of contents, a heading per group and
per excerpt, each excerpt with its note and citation, and the sources at the end.

The contents are a real Word TOC field whose shown result is the static list of headings, so
they read right without a field update and Word can refresh them with page numbers (F9).
All document text goes into plain runs: nothing in it is interpreted."""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt
from docx.text.paragraph import Paragraph

from briefing.outline import Outline

TOC_INSTRUCTION = 'TOC \\o "1-2" \\h \\z \\u'


def _field_char(kind: str) -> Any:
    el = OxmlElement("w:fldChar")
    el.set(qn("w:fldCharType"), kind)
    return el


def _toc(doc: Any, entries: list[tuple[int, str]]) -> None:
    """A TOC field spanning one paragraph per entry: begin, instruction and separator in the
    first, the end mark in the last; the entries between are the field's shown result."""
    paragraphs: list[Paragraph] = []
    for level, heading in entries:
        p = doc.add_paragraph()
        p.paragraph_format.left_indent = Pt(18 * (level - 1))
        p.paragraph_format.space_after = Pt(2)
        paragraphs.append(p)
        run = p.add_run(heading)
        run.bold = level == 1
    first = paragraphs[0]
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = TOC_INSTRUCTION
    runs = []
    for child in (_field_char("begin"), instr, _field_char("separate")):
        r = OxmlElement("w:r")
        r.append(child)
        runs.append(r)
    ppr = first._p.pPr
    anchor = 1 if ppr is not None else 0
    for n, r in enumerate(runs):
        first._p.insert(anchor + n, r)
    end = OxmlElement("w:r")
    end.append(_field_char("end"))
    paragraphs[-1]._p.append(end)


def render_docx(outline: Outline) -> bytes:
    doc = Document()
    props = doc.core_properties
    props.title = outline.title
    props.subject = outline.subtitle
    props.author = "Lessons learned"

    # The classification on the title page, and in every page's header and footer.
    page_setup = doc.sections[0]
    for part in (page_setup.header, page_setup.footer):
        mark = part.paragraphs[0]
        mark.text = outline.marking
        mark.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(outline.marking).runs[0].bold = True
    doc.add_paragraph(outline.title, style="Title")
    doc.add_paragraph(f"{outline.subtitle} — {outline.date}", style="Subtitle")
    for text in outline.intro:
        doc.add_paragraph(text)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    doc.add_paragraph("Contents", style="TOC Heading")
    _toc(doc, outline.contents())
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    for section in outline.sections:
        doc.add_heading(section.title, level=1)
        for e in section.excerpts:
            doc.add_heading(e.heading, level=2)
            for text in e.paragraphs:
                doc.add_paragraph(text, style="Quote")
            if e.note:
                p = doc.add_paragraph()
                p.add_run("Note: ").bold = True
                p.add_run(e.note)
            p = doc.add_paragraph()
            p.add_run(e.citation).italic = True
            if e.source_removed:
                p.add_run(" (source removed from the library)").bold = True
    if outline.sources:
        doc.add_heading("Sources", level=1)
        for entry in outline.sources:
            doc.add_paragraph(entry, style="List Number")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
