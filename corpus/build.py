"""Build the demo corpus: render corpus/src/*.md to PDF and write corpus/labels.csv.

Each source file starts with a front-matter block between two ``---`` lines
(``key: value`` pairs: title, kind, date, author, missions, layout, header,
optional footer, a4p, pillars) followed by a small Markdown subset:

* ``# text``    subtitle line (skipped when it repeats the title)
* ``## text``   section heading; ``### text`` sub-heading
* ``12. text``  numbered paragraph, printed as "12. text"
* ``- text``    bullet item
* ``| a | b |`` table rows (a ``|---|`` separator row marks the header row)
* ``**text**``  bold run inside any paragraph, bullet or heading
* anything else: a plain paragraph (one source line per paragraph)

Run ``python corpus/build.py``. Output is deterministic: the PDF creation date
comes from the front-matter date and the metadata is fixed, so unchanged
sources give byte-identical PDFs.
"""

from __future__ import annotations

import csv
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align
from fpdf.fonts import FontFace
from fpdf.text_region import Paragraph

ROOT = Path(__file__).resolve().parent
SRC_DIR = ROOT / "src"
PDF_DIR = ROOT / "pdf"
LABELS_CSV = ROOT / "labels.csv"

KINDS = {
    "policy brief",
    "after-action review",
    "end-of-assignment report",
    "lessons-learned note",
    "mission report",
}
A4P_SLUGS = {
    "politics",
    "wps",
    "protection",
    "safety_security",
    "performance",
    "peacebuilding",
    "partnerships",
    "conduct",
}
PILLAR_SLUGS = {"planning", "training", "communications", "best_practices"}
REQUIRED_KEYS = ("title", "kind", "date", "author")

FONT = "Helvetica"
BODY_SIZE = 10.0
MARGIN = 20.0
GUTTER = 9.0
PRODUCER = "corpus/build.py (fpdf2)"
DEFAULT_FOOTER = "Illustrative document written for the lessons-learned demo corpus"

NUMBERED_RE = re.compile(r"^(\d+)\.\s+(.*)$")
BOLD_RE = re.compile(r"\*\*(.+?)\*\*")
COMMENT_RE = re.compile(r"\s+#\s.*$")


@dataclass
class Block:
    """One body element: heading, paragraph, bullet or table."""

    kind: str  # "subtitle" | "h2" | "h3" | "para" | "bullet" | "table"
    text: str = ""
    number: str = ""
    rows: list[list[str]] = field(default_factory=list)
    has_header: bool = False


@dataclass
class Document:
    """A parsed source file."""

    path: Path
    meta: dict[str, str]
    blocks: list[Block]

    @property
    def pdf_name(self) -> str:
        return self.path.with_suffix(".pdf").name

    def labels(self, key: str) -> list[str]:
        return split_list(self.meta.get(key, ""))


def split_list(value: str) -> list[str]:
    """Split a ';'-separated front-matter value into clean items."""
    return [item.strip() for item in value.split(";") if item.strip()]


def parse_front_matter(lines: list[str], path: Path) -> tuple[dict[str, str], list[str]]:
    """Return the front-matter mapping and the remaining body lines."""
    if not lines or lines[0].strip() != "---":
        raise ValueError(f"{path.name}: missing front matter")
    meta: dict[str, str] = {}
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return meta, lines[index + 1 :]
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"{path.name}: bad front-matter line {line!r}")
        meta[key.strip().lower()] = COMMENT_RE.sub("", value).strip()
    raise ValueError(f"{path.name}: unterminated front matter")


def parse_table_row(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def is_separator_row(cells: list[str]) -> bool:
    return all(re.fullmatch(r":?-{3,}:?", cell) for cell in cells)


def parse_body(lines: list[str]) -> list[Block]:
    """Turn body lines into blocks; consecutive '|' lines form one table."""
    blocks: list[Block] = []
    table: Block | None = None
    for raw in lines:
        line = raw.strip()
        if line.startswith("|"):
            cells = parse_table_row(line)
            if table is None:
                table = Block("table")
                blocks.append(table)
            if is_separator_row(cells):
                table.has_header = len(table.rows) == 1
            else:
                table.rows.append(cells)
            continue
        table = None
        if not line:
            continue
        if line.startswith("### "):
            blocks.append(Block("h3", line[4:].strip()))
        elif line.startswith("## "):
            blocks.append(Block("h2", line[3:].strip()))
        elif line.startswith("# "):
            blocks.append(Block("subtitle", line[2:].strip()))
        elif line.startswith(("- ", "* ")):
            blocks.append(Block("bullet", line[2:].strip()))
        elif match := NUMBERED_RE.match(line):
            blocks.append(Block("para", match.group(2), number=match.group(1)))
        else:
            blocks.append(Block("para", line))
    return blocks


def check_latin1(text: str, path: Path) -> None:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise ValueError(f"{path.name}: non Latin-1 character {bad!r}") from exc


def validate(meta: dict[str, str], path: Path) -> None:
    missing = [key for key in REQUIRED_KEYS if not meta.get(key)]
    if missing:
        raise ValueError(f"{path.name}: missing front-matter keys {missing}")
    if meta["kind"] not in KINDS:
        raise ValueError(f"{path.name}: unknown kind {meta['kind']!r}")
    date.fromisoformat(meta["date"])
    if meta.get("layout", "single") not in {"single", "two-column"}:
        raise ValueError(f"{path.name}: unknown layout {meta['layout']!r}")
    for key, allowed in (("a4p", A4P_SLUGS), ("pillars", PILLAR_SLUGS)):
        unknown = set(split_list(meta.get(key, ""))) - allowed
        if unknown:
            raise ValueError(f"{path.name}: unknown {key} labels {sorted(unknown)}")


def load(path: Path) -> Document:
    text = path.read_text(encoding="utf-8")
    check_latin1(text, path)
    meta, body = parse_front_matter(text.splitlines(), path)
    validate(meta, path)
    return Document(path, meta, parse_body(body))


def long_date(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {day.strftime('%B %Y')}"


class CorpusPDF(FPDF):
    """FPDF with a running header (pages 2+) and a page-number footer."""

    def __init__(self, header_text: str, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.header_text = header_text
        self.footer_text = footer_text

    def header(self) -> None:
        if self.page_no() < 2 or not self.header_text:
            return
        self.set_font(FONT, "I", 8)
        self.set_text_color(90, 90, 90)
        self.set_y(10)
        self.cell(0, 5, self.header_text, align="L")
        self.set_draw_color(150, 150, 150)
        self.line(MARGIN, 15.5, self.w - MARGIN, 15.5)
        self.set_text_color(0, 0, 0)
        self.set_y(self.t_margin)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, "", 8)
        self.set_text_color(90, 90, 90)
        if self.footer_text:
            self.cell(0, 4, self.footer_text, align="L")
            self.set_x(self.l_margin)
        self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def write_runs(pdf: FPDF, par: Paragraph, text: str) -> None:
    """Write text into a text-columns paragraph, honouring **bold** runs."""
    for index, piece in enumerate(BOLD_RE.split(text)):
        if not piece:
            continue
        style = "B" if index % 2 else ""
        pdf.set_font(FONT, style, BODY_SIZE)
        par.write(piece)
    pdf.set_font(FONT, "", BODY_SIZE)


def render_title_block(pdf: CorpusPDF, doc: Document) -> None:
    meta = doc.meta
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 7.5, meta["title"], align="L", new_x="LMARGIN", new_y="NEXT")
    subtitle = next((b.text for b in doc.blocks if b.kind == "subtitle"), "")
    if subtitle and subtitle != meta["title"]:
        pdf.set_font(FONT, "I", 11.5)
        pdf.multi_cell(0, 6, subtitle, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(60, 60, 60)
    details = (
        ("Type", meta["kind"].capitalize()),
        ("Date", long_date(meta["date"])),
        ("Prepared by", meta["author"]),
    )
    for label, value in details:
        pdf.set_font(FONT, "B", 9)
        pdf.cell(24, 4.8, f"{label}:")
        pdf.set_font(FONT, "", 9)
        pdf.multi_cell(0, 4.8, value, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.4)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.set_line_width(0.2)
    pdf.ln(5)


def render_text_run(pdf: CorpusPDF, blocks: list[Block], ncols: int) -> None:
    """Render consecutive non-table blocks in one text-columns region."""
    with pdf.text_columns(
        ncols=ncols, gutter=GUTTER, balance=ncols > 1, text_align="J", line_height=1.25
    ) as cols:
        previous = ""
        for block in blocks:
            after_list = 1.6 if previous == "bullet" and block.kind != "bullet" else 0
            previous = block.kind
            if block.kind in ("h2", "h3"):
                size = 11.5 if block.kind == "h2" else BODY_SIZE
                with cols.paragraph(text_align=Align.L, top_margin=3.5, bottom_margin=1.8) as par:
                    pdf.set_font(FONT, "B", size)
                    par.write(BOLD_RE.sub(r"\1", block.text))
                pdf.set_font(FONT, "", BODY_SIZE)
            elif block.kind == "bullet":
                with cols.paragraph(
                    indent=6,
                    bullet_string="-",
                    bullet_r_margin=2.5,
                    bottom_margin=1.2,
                    text_align=Align.L if ncols > 1 else None,
                ) as par:
                    write_runs(pdf, par, block.text)
            else:
                with cols.paragraph(top_margin=after_list, bottom_margin=2.4) as par:
                    if block.number:
                        pdf.set_font(FONT, "", BODY_SIZE)
                        par.write(f"{block.number}. ")
                    write_runs(pdf, par, block.text)


def render_table(pdf: CorpusPDF, block: Block) -> None:
    """Render a ruled table across the full text width."""
    ncols = max(len(row) for row in block.rows)
    rows = [row + [""] * (ncols - len(row)) for row in block.rows]
    widths = [max(len(cell) for cell in column) + 6 for column in zip(*rows, strict=True)]
    pdf.ln(2)
    pdf.set_font(FONT, "", 8.5)
    pdf.set_draw_color(80, 80, 80)
    with pdf.table(
        col_widths=tuple(widths),
        first_row_as_headings=block.has_header,
        headings_style=FontFace(emphasis="BOLD", fill_color=(225, 225, 225)),
        line_height=4.6,
        padding=1.4,
        text_align="LEFT",
        width=pdf.epw,
    ) as table:
        for cells in rows:
            row = table.row()
            for cell in cells:
                row.cell(BOLD_RE.sub(r"\1", cell))
    pdf.set_font(FONT, "", BODY_SIZE)
    pdf.ln(4)


def render(doc: Document) -> bytes:
    meta = doc.meta
    header_text = meta.get("header", "")
    footer_text = meta.get("footer", DEFAULT_FOOTER) if header_text else ""
    pdf = CorpusPDF(header_text, footer_text)
    pdf.set_margins(MARGIN, 20, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_title(meta["title"])
    pdf.set_author(meta["author"])
    pdf.set_subject(meta["kind"])
    pdf.set_creator("corpus/build.py")
    pdf.set_producer(PRODUCER)
    pdf.set_lang("en")
    issued = date.fromisoformat(meta["date"])
    pdf.set_creation_date(datetime(issued.year, issued.month, issued.day, tzinfo=UTC))
    pdf.alias_nb_pages()
    pdf.add_page()
    render_title_block(pdf, doc)
    ncols = 2 if meta.get("layout") == "two-column" else 1
    pdf.set_font(FONT, "", BODY_SIZE)
    run: list[Block] = []
    for block in doc.blocks:
        if block.kind == "subtitle":
            continue
        if block.kind == "table":
            if run:
                render_text_run(pdf, run, ncols)
                run = []
            render_table(pdf, block)
        else:
            run.append(block)
    if run:
        render_text_run(pdf, run, ncols)
    return bytes(pdf.output())


def main() -> int:
    sources = sorted(SRC_DIR.glob("*.md"))
    if not sources:
        print(f"no sources in {SRC_DIR}", file=sys.stderr)
        return 1
    PDF_DIR.mkdir(exist_ok=True)
    docs = [load(path) for path in sources]
    for doc in docs:
        (PDF_DIR / doc.pdf_name).write_bytes(render(doc))
    expected = {doc.pdf_name for doc in docs}
    for stale in PDF_DIR.glob("*.pdf"):
        if stale.name not in expected:
            stale.unlink()
    with LABELS_CSV.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["file", "title", "kind", "date", "a4p", "pillars"])
        for doc in sorted(docs, key=lambda d: d.pdf_name):
            writer.writerow(
                [
                    doc.pdf_name,
                    doc.meta["title"],
                    doc.meta["kind"],
                    doc.meta["date"],
                    ";".join(doc.labels("a4p")),
                    ";".join(doc.labels("pillars")),
                ]
            )
    print(f"built {len(docs)} PDFs in {PDF_DIR} and wrote {LABELS_CSV.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
