"""Plain, frozen records that `ingest` hands to the rest of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Segment:
    """A run of text on one line of a page, in top-down page coordinates (points)."""

    x0: float
    top: float
    x1: float
    bottom: float
    text: str

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def mid_y(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class Line:
    """One line of text in reading order, with its page and column."""

    text: str
    page: int
    x0: float
    top: float
    x1: float
    bottom: float
    column: int = 0
    col_x0: float = 0.0
    col_x1: float = 0.0

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class PageLayout:
    """The lines of one page in reading order, before running headers are removed."""

    number: int
    width: float
    height: float
    lines: tuple[Line, ...]
    columns: int = 1
    has_images: bool = False


@dataclass(frozen=True)
class Paragraph:
    """A paragraph rebuilt from lines; `number` is the paragraph number UN reports print."""

    text: str
    page: int
    page_end: int
    number: int | None = None
    kind: str = "body"  # "body" or "heading"
    # (character offset, page) where the paragraph moves on to a later page
    page_breaks: tuple[tuple[int, int], ...] = ()

    def page_at(self, offset: int) -> int:
        page = self.page
        for start, number in self.page_breaks:
            if offset >= start:
                page = number
        return page


@dataclass(frozen=True)
class ExtractedDocument:
    """Everything ingest learned from one PDF."""

    path: Path
    sha256: str
    size_bytes: int
    page_count: int
    title: str
    symbol: str | None
    date: str | None  # ISO 8601 date
    paragraphs: tuple[Paragraph, ...]
    page_texts: tuple[str, ...]
    two_column_pages: int = 0
    front_matter: tuple[str, ...] = ()  # title-block fields ("Type: ...", "Date: ...")
    extractor: str = "pdfium"
    warnings: tuple[str, ...] = field(default_factory=tuple)
    ocr_pages: int = 0  # pages read by OCR (scans without a text layer)
    marking: str | None = None  # a classification level printed on it (ingest/markings.py)

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def word_count(self) -> int:
        return sum(len(p.text.split()) for p in self.paragraphs)
