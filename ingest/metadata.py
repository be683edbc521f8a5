"""Title, document symbol and date from the first page and the PDF's own metadata."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from itertools import pairwise

from ingest.cleanup import BOILERPLATE_RE, normalise_symbols
from ingest.records import Line

SYMBOL_RE = re.compile(
    r"(?<![\w/])(?:A|S|E)(?:/(?:RES|PRST|C\.\d+|AC\.\d+))?(?:/\d{1,5})+"
    r"(?:/(?:Add|Rev|Corr|Amend)\.\s?\d+)*(?:\s*\(Sect\.\s*\d+\))?"
)
MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}
DATE_RE = re.compile(
    r"\b(\d{1,2})\s+(" + "|".join(MONTHS) + r")\s+((?:19|20)\d\d)\b"
    r"|\b(" + "|".join(MONTHS) + r")\s+(\d{1,2}),?\s+((?:19|20)\d\d)\b"
    r"|\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b",
    re.IGNORECASE,
)
PDF_DATE_RE = re.compile(r"D:((?:19|20)\d\d)(\d\d)?(\d\d)?")
# "Report of the Secretary-General", "Further report of the Secretary General", ... at line start
SG_REPORT_RE = re.compile(r"^(?:[\w-]+\s+){0,3}?report of the secretary[- ]general\b", re.I)
_JUNK_TITLES = re.compile(
    r"^(untitled|microsoft word|document\d*|\S+\.(docx?|pdf|indd|rtf)|[\W\d_]+)$", re.I
)


def find_symbol(first_lines: Sequence[Line], file_name: str = "") -> str | None:
    """The document's own symbol is printed at the top of its first page, above the title."""
    for ln in first_lines[:12]:
        m = SYMBOL_RE.search(normalise_symbols(ln.text))
        if m:
            return " ".join(m.group(0).split())
    # UN file names like S_2014_162.pdf or A_80_604_Add.1.pdf carry the symbol too.
    m = re.search(
        r"(?<![A-Za-z])([ASE])_(\d{2,5})(?:_(\d{1,5}))?((?:_(?:Add|Rev|Corr)\.\d+)*)", file_name
    )
    if m:
        parts = [m.group(1), m.group(2)] + ([m.group(3)] if m.group(3) else [])
        return "/".join(parts) + (m.group(4) or "").replace("_", "/")
    return None


def parse_date(text: str) -> str | None:
    m = DATE_RE.search(text)
    if not m:
        return None
    try:
        if m.group(1):
            d = date(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1)))
        elif m.group(4):
            d = date(int(m.group(6)), MONTHS[m.group(4).lower()], int(m.group(5)))
        else:
            d = date(int(m.group(7)), int(m.group(8)), int(m.group(9)))
    except ValueError:
        return None
    return d.isoformat()


def find_date(first_lines: Sequence[Line], pdf_meta: dict[str, str]) -> str | None:
    """The issue date: next to 'Distr.' on UN documents, else the first full date on page 1."""
    texts = [ln.text for ln in first_lines[:40]]
    for i, t in enumerate(texts):
        if t.lower().startswith("distr"):
            for cand in texts[i : i + 3]:
                found = parse_date(cand)
                if found:
                    return found
    for t in texts:
        found = parse_date(t)
        if found:
            return found
    m = PDF_DATE_RE.match(pdf_meta.get("CreationDate", "") or "")
    if m:
        return f"{m.group(1)}-{m.group(2) or '01'}-{m.group(3) or '01'}"
    return None


def find_title(
    first_lines: Sequence[Line],
    pdf_meta: dict[str, str],
    file_name: str,
    page_lines: Sequence[Line] | None = None,
) -> str:
    """Prefer the report's own title line, then the largest type on page 1, then PDF metadata.
    `page_lines` are all lines of page 1 before furniture was removed: a title's last line
    may be only "2020-2021" or "A4P+", which alone looks like masthead furniture."""
    lines = [
        ln
        for ln in first_lines[:40]
        if not BOILERPLATE_RE.match(ln.text)
        and not SYMBOL_RE.fullmatch(ln.text.strip())
        and not DATE_RE.fullmatch(ln.text.strip())
    ]
    for i in range(len(lines)):
        if SG_REPORT_RE.match(" ".join(x.text for x in lines[i : i + 2])):
            title = _continue_title(lines, i).rstrip(" -–—:")
            if len(title) < 45 and i > 0:  # a bare "Report of the Secretary-General": say on what
                title = f"{lines[i - 1].text}: {title}"
            return title
    sized = [ln for ln in lines[:20] if len(ln.text) >= 4 and any(c.isalpha() for c in ln.text)]
    if sized:
        biggest = max(ln.height for ln in sized)
        for i, ln in enumerate(lines):
            if ln in sized and ln.height >= biggest - 0.5:
                if page_lines is not None and ln in page_lines:
                    title = _continue_title(page_lines, list(page_lines).index(ln), same_size=True)
                else:
                    title = _continue_title(lines, i, same_size=True)
                if len(title) >= 8:
                    return title
    meta_title = " ".join((pdf_meta.get("Title") or "").split())
    if len(meta_title) >= 8 and not _JUNK_TITLES.match(meta_title):
        return meta_title
    return file_name.rsplit(".", 1)[0].replace("_", " ")


def _char_width(ln: Line) -> float:
    return (ln.x1 - ln.x0) / max(len(ln.text), 1)


def _continue_title(lines: Sequence[Line], i: int, same_size: bool = False) -> str:
    """The title line `i` and the lines it wraps onto. With `same_size`, a line continues the
    title when it is set in the same type: its glyph box has the same height, or (a line
    without descenders, like "Move to UNSOS", has a shorter box) its characters are nearly as
    wide; a subtitle in smaller type is not taken."""
    parts = [lines[i].text]
    for prev, ln in pairwise(lines[i : i + 4]):
        same_type = abs(ln.height - prev.height) <= 0.5 or (
            _char_width(ln) >= 0.78 * _char_width(lines[i])
            and ln.top - prev.bottom <= 0.6 * lines[i].height
        )
        if same_size and not same_type:
            break
        if not same_size and ln.top - prev.bottom > 1.5 * prev.height:
            break
        if ln.page != prev.page or NUMBER_HEAD_RE.match(ln.text):
            break
        parts.append(ln.text)
    return " ".join(" ".join(parts).split())[:300]


NUMBER_HEAD_RE = re.compile(r"^([IVX]+|\d+|[A-H])\.\s")
