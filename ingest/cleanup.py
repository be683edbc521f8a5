"""Turn page lines into clean paragraphs.

Running headers and footers are recognised by position (the top or bottom margin of a page) plus
either a boilerplate pattern (page numbers, UN job numbers, barcodes, document symbols) or
repetition across pages. Paragraphs are rebuilt from vertical gaps, indents, short last lines and
the paragraph numbers UN reports print; words hyphenated across lines are rejoined.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise

from ingest.records import Line, PageLayout, Paragraph

MARGIN_SHARE = 0.12  # top and bottom share of the page where running lines live
SMALL_TYPE = 0.85  # margin lines below this share of the body's type size are page furniture
BREAK_HYPHEN = "\x03"  # a line-end hyphen not yet settled (not whitespace to str.split)
# Parts that English joins with a hyphen ("self-", "-related", "sixty-"): a sign that a
# document's line-end hyphens are compounds' own, not syllable breaks.
_PREFIX_WORDS = """anti counter cross ex multi non post pre self semi socio well follow long short
high low mid full large small medium decision gender community country conflict government troop
police cost time fact co trans re inter"""
_SUFFIX_WORDS = """related based led owned wide specific level term making sensitive responsive
affected oriented sharing driven up"""
HYPHEN_PREFIXES = frozenset(_PREFIX_WORDS.split())
HYPHEN_SUFFIXES = frozenset(_SUFFIX_WORDS.split())
TENS = frozenset(("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"))
_WORD_RE = re.compile(r"[^\W_]+(?:[-\x03][^\W_]+)*")
_BREAK_RE = re.compile(r"([^\W_]+(?:-[^\W_]+)*)\x03([^\W_]+(?:-[^\W_]+)*)")
SOFT_HYPHEN = "\x02"  # pdfium marks a hyphen it believes is a line-break hyphen with this

_BOILERPLATE = [
    r"\d{1,4}",  # bare page number
    r"[-–—]\s*\d{1,4}\s*[-–—]",  # - 3 -
    r"(page|p\.)\s*\d{1,4}(\s*(of|/)\s*\d{1,4})?",
    r"\d{1,4}\s*(of|/)\s*\d{1,4}",
    r"\d{2}-\d{4,6}\s*\([A-Z]\)(\s+[\d ]+)?(\s*\*\d+\*)?",  # UN job number: 14-24888 (E) 280314
    r"\*\s?\d[\d ]{5,}\s?\*",  # barcode text: *1424888*
    r"(A|S|E)(/[A-Z]{1,4}(\.\d+)?)?(/\d{1,5})+(/(Add|Rev|Corr|Amend)\.\s?\d+)*"
    r"(\s*\(Sect\.\s*\d+\))?",  # a document symbol alone on a line
    r"/\s?\.\.\.",  # continuation mark "/..."
    r"(english|french|spanish)",
    r"please recycle.*",
    r"distr\.?:?\s*(general|limited|restricted).*",
    r"original:\s*\w+.*",
    r"(united nations|nations unies)",
    r"(security council|general assembly|economic and social council)",
    r"(united|nations|distr\.?)",
    r"[a-z]+(-[a-z]+)? session",
    r"agenda items?\s+[\d(), a-z]+",
    r"items? [\d(), a-z]+ of the (provisional )?agenda",
]
BOILERPLATE_RE = re.compile(r"^\s*(?:" + "|".join(_BOILERPLATE) + r")\s*$", re.IGNORECASE)
NUMBERED_RE = re.compile(r"^(\d{1,3})\.\s+(?=\S)")
TERMINAL_RE = re.compile(r"[.!?:;][\"'”’)\]]*$")
# The start of a section title: "IV. ", "B. ", "Annex II".
SECTION_RE = re.compile(r"^(?:[IVXL]{1,6}\.|[A-H]\.|Annex\b|Appendix\b|Chapter\b|Part\b)\s*\S")
ACRONYM_RE = re.compile(r"[A-Z][A-Z0-9]{2,}\+?")  # "A4P+", "UNMIK"
SECTION_TITLE_RE = re.compile(r"^(?:[IVXL]{1,6}|[A-H])\.\s+[A-Z]")
MIN_TEXT_COLUMN = 150.0  # points: narrower blocks hold labels and fields, not running text
BULLET_RE = re.compile(r"^([•●▪■◦\-–*]|\(?[a-z]\)|\(?[ivx]{1,4}\))\s")


def _shape(text: str) -> str:
    """Normalise a line so that 'Page 3' and 'Page 4' or two job numbers compare equal."""
    return re.sub(r"\d+", "#", " ".join(normalise_symbols(text).lower().split()))


def in_margin(line: Line, page: PageLayout) -> bool:
    return line.bottom <= page.height * MARGIN_SHARE or line.top >= page.height * (1 - MARGIN_SHARE)


MASTHEAD_SHARE = 0.3  # the first page's masthead (symbol, Distr., date, language) sits above this
_MASTHEAD_TOKEN_RE = re.compile(
    r"(?:" + "|".join([*_BOILERPLATE[4:], r"\d{1,2}\s+[A-Z][a-z]+\s+\d{4}", r"general"]) + r")",
    re.IGNORECASE,
)
LETTERS_RE = re.compile(r"[^\W\d_]{3,}")


def normalise_symbols(text: str) -> str:
    """'S /2000/1137' -> 'S/2000/1137': runs split at the slash leave a stray space."""
    return re.sub(r"\b([ASE])\s+/\s*(?=\d)", r"\1/", text)


def is_furniture(line: Line, page: PageLayout) -> bool:
    """Page furniture: page numbers, job numbers, barcodes, symbols, masthead words."""
    text = normalise_symbols(line.text)
    if in_margin(line, page) and (BOILERPLATE_RE.match(text) or not LETTERS_RE.search(text)):
        return True
    if page.number == 1 and line.top <= page.height * MASTHEAD_SHARE:
        rest = _MASTHEAD_TOKEN_RE.sub(" ", text)
        if not LETTERS_RE.search(rest):
            return True
    return False


FIELD_RE = re.compile(
    r"^(Type|Date|Prepared by|Author|Authors|Reference|Classification|Distribution|Status"
    r"|Version)\s*:(\s*\S|\s*$)",
    re.IGNORECASE,
)
FRONT_MATTER_SHARE = 0.4  # title-block fields sit in the top part of the first page


def split_front_matter(lines: Sequence[Line], page: PageLayout) -> tuple[list[Line], list[str]]:
    """Title-block fields of the first page ("Type: After-action review", "Date: ...") are
    metadata, not lesson text: (the other lines, the field lines). A field's value printed as
    a separate run on the same row goes with it."""
    labels = [
        ln
        for ln in lines
        if ln.top <= page.height * FRONT_MATTER_SHARE and FIELD_RE.match(ln.text.strip())
    ]
    rows = [ln.top for ln in labels]
    fields = [ln for ln in lines if any(abs(ln.top - top) < 1.0 for top in rows)]
    return [ln for ln in lines if ln not in fields], [ln.text.strip() for ln in fields]


def remove_running_lines(pages: Sequence[PageLayout]) -> list[list[Line]]:
    """Drop headers, footers and page furniture; keep everything else in order."""
    margin_shapes: Counter[str] = Counter()
    for page in pages:
        margin_shapes.update({_shape(ln.text) for ln in page.lines if in_margin(ln, page)})
    n = len(pages)
    repeat_min = 2 if n <= 4 else max(3, int(0.3 * n))
    heights = [ln.height for page in pages for ln in page.lines]
    body_height = statistics.median(heights) if heights else 0.0
    kept: list[list[Line]] = []
    for page in pages:
        top = min((ln.top for ln in page.lines), default=0.0)
        bottom = max((ln.bottom for ln in page.lines), default=0.0)
        out = []
        for ln in page.lines:
            if is_furniture(ln, page) or (
                in_margin(ln, page)
                and n > 1
                and len(ln.text) < 120
                and margin_shapes[_shape(ln.text)] >= repeat_min
            ):
                continue
            # A header printed only from page 2 on cannot repeat in a two-page document; it
            # still stands alone at the page edge in smaller type than the body.
            if (
                in_margin(ln, page)
                and ln.height < SMALL_TYPE * body_height
                and (ln.top <= top + 0.5 or ln.bottom >= bottom - 0.5)
            ):
                continue
            out.append(ln)
        kept.append(out)
    return kept


def join_lines(prev: str, nxt: str) -> str:
    """Append a line to text, rejoining a word hyphenated across the line break. Before a
    lower-case letter the hyphen may be a syllable break ('peace-' + 'keeping') or the
    compound's own ('counter-' + 'terrorism'): it becomes BREAK_HYPHEN, which
    `resolve_break_hyphens` settles once the whole document is read."""
    if not prev:
        return nxt
    if prev.endswith(SOFT_HYPHEN):
        prev = prev[:-1] + "-"
    if prev.endswith("-") and len(prev) > 1 and prev[-2].isalpha() and nxt[:1].isalpha():
        # Before a capital the hyphen is the compound's own ('Franco-German').
        return prev[:-1] + BREAK_HYPHEN + nxt if nxt[:1].islower() else prev + nxt
    return prev + " " + nxt


def resolve_break_hyphens(paragraphs: Sequence[Paragraph]) -> list[Paragraph]:
    """Settle each hyphen at a line end. The document's own spelling decides when it has one
    ("counter-terrorism" or "counterterrorism" written elsewhere on one line). Otherwise the
    document's habit does: UN documents are set without syllable breaks, so nearly every hyphen
    at a line end is a compound's ("money-" + "laundering"), while LaTeX papers and many briefs
    break words ("organi-" + "zation"). The share of breaks that look like compounds (both
    halves are words of the document, or parts English hyphenates) tells one from the other;
    two pseudo-compounds lean a document with few breaks towards keeping its hyphens."""
    found = [m for p in paragraphs for m in _BREAK_RE.finditer(p.text)]
    if not found:
        return list(paragraphs)
    spelled = Counter(
        w.lower() for p in paragraphs for w in _WORD_RE.findall(p.text) if BREAK_HYPHEN not in w
    )

    def evidence(a: str, b: str) -> int:
        return spelled[f"{a}-{b}".lower()] - spelled[f"{a}{b}".lower()]

    def compound_like(a: str, b: str) -> bool:
        first, second = a.lower().rsplit("-", 1)[-1], b.lower().split("-", 1)[0]
        words = spelled[first] > 0 and spelled[second] > 0
        return evidence(a, b) > 0 or words or _keeps_hyphen(first, second)

    looks = sum(compound_like(m.group(1), m.group(2)) for m in found)
    keep_unsure = (looks + 2) / (len(found) + 3) >= 0.4

    out = []
    for p in paragraphs:
        if BREAK_HYPHEN not in p.text:
            out.append(p)
            continue
        text, breaks, removed = p.text, list(p.page_breaks), 0
        pieces, last = [], 0
        for m in _BREAK_RE.finditer(text):
            a, b = m.group(1), m.group(2)
            votes = evidence(a, b)
            hyphen = votes > 0 or (votes == 0 and keep_unsure)
            pieces += [text[last : m.start()], f"{a}-{b}" if hyphen else a + b]
            last = m.end()
            if not hyphen:  # one character fewer: later page-break offsets move back
                at = m.start(2) - 1 - removed
                breaks = [(o - 1 if o > at else o, page) for o, page in breaks]
                removed += 1
        pieces.append(text[last:])
        new_text = "".join(pieces).replace(BREAK_HYPHEN, "-")
        out.append(replace(p, text=new_text, page_breaks=tuple(breaks)))
    return out


def _keeps_hyphen(first: str, second: str) -> bool:
    return first in HYPHEN_PREFIXES or second in HYPHEN_SUFFIXES or first in TENS


class _ParagraphBuilder:
    def __init__(self) -> None:
        self.paragraphs: list[Paragraph] = []
        self.text = ""
        self.page = 0
        self.page_end = 0
        self.number: int | None = None
        self.lines = 0
        self.last_number = 0
        self.breaks: list[tuple[int, int]] = []

    def flush(self) -> None:
        text = " ".join(self.text.replace(SOFT_HYPHEN, "-").split())
        # A line of punctuation alone (a stray dash or quote) is layout debris, not a paragraph.
        if any(c.isalnum() for c in text):
            kind = "body"
            words = len(text.split())
            if (
                self.number is None
                and not TERMINAL_RE.search(text)
                and _title_like(text)
                and (
                    (self.lines == 1 and words <= 14)
                    # "VII. Update and activities on humanitarian and development needs" wraps
                    or (self.lines <= 3 and words <= 20 and SECTION_TITLE_RE.match(text))
                )
            ):
                kind = "heading"
            self.paragraphs.append(
                Paragraph(text, self.page, self.page_end, self.number, kind, tuple(self.breaks))
            )
        self.text, self.number, self.lines, self.breaks = "", None, 0, []

    def add(self, line: Line, new_paragraph: bool) -> None:
        # A broken font map can put the control character we use as a marker in the text.
        text = line.text.replace(BREAK_HYPHEN, "")
        if new_paragraph:
            self.flush()
        if not self.text:
            self.page = line.page
            m = NUMBERED_RE.match(text)
            if m:
                self.number = int(m.group(1))
                self.last_number = self.number
                text = text[m.end() :]
        elif line.page != self.page_end:
            self.breaks.append((len(self.text) + 1, line.page))
        self.text = join_lines(self.text, text)
        self.page_end = line.page
        self.lines += 1

    def plausible_number(self, text: str) -> bool:
        m = NUMBERED_RE.match(text)
        if not m:
            return False
        n = int(m.group(1))
        return self.last_number < n <= self.last_number + 5 or (n <= 3 and self.last_number == 0)


def build_paragraphs(pages_lines: Sequence[Sequence[Line]]) -> list[Paragraph]:
    """Rebuild paragraphs from lines in reading order (across columns and pages)."""
    builder = _ParagraphBuilder()
    prev: Line | None = None
    for lines in pages_lines:
        pitches = [
            b.top - a.top
            for a, b in pairwise(lines)
            if a.column == b.column and 0 < b.top - a.top < 3 * max(a.height, 1.0)
        ]
        pitch = statistics.median(pitches) if pitches else None
        for ln in lines:
            builder.add(ln, prev is None or _starts_paragraph(prev, ln, pitch, builder))
            prev = ln
    builder.flush()
    return resolve_break_hyphens(builder.paragraphs)


def _title_like(text: str) -> bool:
    """Enough of a word to title a section: "Annex", "A4P+"; not "I", "a", "- -" or a map's
    scale "0 5 10 km"."""
    return bool(LETTERS_RE.search(text) or ACRONYM_RE.fullmatch(text))


def _starts_paragraph(
    prev: Line, ln: Line, pitch: float | None, builder: _ParagraphBuilder
) -> bool:
    prev_ends = bool(TERMINAL_RE.search(prev.text))
    prev_col = prev.col_x1 - prev.col_x0
    # A line that runs to the edge of a real text column (not a one-line block such as a
    # masthead field, where every line is "full") and stops on a word is mid-sentence.
    prev_full = prev_col >= MIN_TEXT_COLUMN and prev.x1 >= prev.col_x1 - 0.15 * prev_col
    if builder.plausible_number(ln.text) and (
        prev_ends or not prev.text[-1:].isalpha() or not prev_full
    ):
        return True
    if BULLET_RE.match(ln.text) and prev_ends:
        return True
    # Lines of different blocks (columns, or full-width lines between column bands) do not flow
    # into each other the way lines of one column do.
    same_flow = (prev.page, prev.column, prev.col_x0, prev.col_x1) == (
        ln.page,
        ln.column,
        ln.col_x0,
        ln.col_x1,
    )
    if not same_flow:
        # A paragraph carries over a column or page break unless the last line closed a sentence
        # or a capital starts something new; but at a page break, a full line of body type
        # ending in a word runs on even before a capital ("... the Permanent" / "Council to
        # undertake"). Within a page, a full-width line alone in its band is a title, not that.
        if prev_ends or SECTION_RE.match(ln.text):
            return True
        same_type = abs(ln.height - prev.height) <= 0.2 * max(prev.height, 1.0)
        if prev_full and prev.text[-1:].isalpha() and ln.page != prev.page and same_type:
            return False
        return ln.text[:1].isupper() and prev.text[-1:] not in {",", "-", SOFT_HYPHEN}
    gap = ln.top - prev.top
    if gap < 0:
        return True
    if pitch and gap > 1.45 * pitch:
        return True
    if abs(ln.height - prev.height) > 0.35 * max(prev.height, 1.0) and gap > 0:
        return True  # font size change: heading to body or the reverse
    col_width = max(ln.col_x1 - ln.col_x0, 1.0)
    if prev_ends and ln.x0 - ln.col_x0 > 0.02 * col_width and ln.x0 - prev.x0 > 4:
        return True  # first-line indent
    if prev_ends and prev.x1 < ln.col_x1 - 0.15 * col_width:
        return True  # the previous line stopped short: it closed its paragraph
    # A short unpunctuated line followed by text: a heading.
    return (
        not TERMINAL_RE.search(prev.text)
        and prev.x1 < ln.col_x1 - 0.4 * col_width
        and len(prev.text.split()) <= 12
        and prev.x0 <= ln.x0 + 2
    )
