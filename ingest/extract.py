"""`extract_pdf`: one PDF file in, one `ExtractedDocument` (or a classified `IngestError`) out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from errors import DamagedPdf, EmptyFile, FileTooLarge, NoTextLayer, OcrUnavailable
from ingest.cleanup import build_paragraphs, remove_running_lines, split_front_matter
from ingest.layout import read_page
from ingest.markings import document_marking
from ingest.metadata import find_date, find_symbol, find_title
from ingest.ocr import ocr_available, ocr_pages
from ingest.reader import (
    RawPage,
    check_header,
    open_pdfium,
    open_pdfplumber,
    pdf_metadata,
    pdfium_pages,
    pdfplumber_pages,
    sha256_file,
)
from ingest.records import ExtractedDocument, PageLayout

EXTRACTORS = ("pdfium", "pdfplumber")
# Increase it whenever a change reads different text or paragraphs out of the same PDF, so that
# libraries re-read their documents on the next ingest. 2: punctuation in glyph-sized boxes,
# paragraphs across page breaks, wrapped section titles, line-end hyphens (2026-11).
EXTRACTION_VERSION = 2
# Fewer words than this per page on average, with images present, means a scan.
MIN_WORDS_PER_PAGE = 8


def extract_pdf(
    path: Path | str,
    password: str | None = None,
    *,
    extractor: str = "pdfium",
    max_file_mb: float = 200.0,
    max_pages: int = 2000,
    sha256: str | None = None,
    ocr: bool = False,
    ocr_max_pages: int = 50,
) -> ExtractedDocument:
    """Read a PDF into paragraphs with page numbers; raise an `IngestError` saying why not.
    With `ocr`, pages that are images without a text layer are read by Tesseract (at most
    `ocr_max_pages` per file, about 2.5 s each), when it is installed."""
    path = Path(path)
    if extractor not in EXTRACTORS:
        raise ValueError(f"unknown extractor {extractor!r}; choose one of {', '.join(EXTRACTORS)}")
    size = path.stat().st_size
    if size > max_file_mb * 1024 * 1024:
        raise FileTooLarge(
            f"too large: {size / 2**20:.0f} MiB is above the {max_file_mb:g} MiB limit"
        )
    check_header(path)
    digest = sha256 or sha256_file(path)
    opener, pages_of = (
        (open_pdfium, pdfium_pages)
        if extractor == "pdfium"
        else (open_pdfplumber, pdfplumber_pages)
    )
    warnings: list[str] = []
    with opener(path, password) as doc:
        meta = (
            pdf_metadata(doc)
            if extractor == "pdfium"
            else {k: str(v) for k, v in (doc.metadata or {}).items() if isinstance(v, (str, bytes))}
        )
        raw_pages: list[RawPage] = []
        page_count = len(doc) if extractor == "pdfium" else len(doc.pages)
        for item in pages_of(doc, max_pages):
            if isinstance(item, Exception):
                warnings.append(f"a page could not be read: {item}")
                continue
            raw_pages.append(item)
    if page_count == 0:
        raise EmptyFile("empty: the PDF has no pages")
    if not raw_pages:
        raise DamagedPdf(f"damaged: none of the {page_count} pages could be read")
    if page_count > max_pages:
        warnings.append(f"only the first {max_pages} of {page_count} pages were read")

    ocr_done = 0
    if ocr:
        raw_pages, ocr_done, ocr_notes = _read_scans(path, password, raw_pages, ocr_max_pages)
        warnings += ocr_notes
    layouts = []
    for rp in raw_pages:
        lines, columns = read_page(rp.segments, rp.number)
        layouts.append(
            PageLayout(rp.number, rp.width, rp.height, tuple(lines), columns, rp.has_images)
        )
    words = sum(len(ln.text.split()) for pl in layouts for ln in pl.lines)
    if words < MIN_WORDS_PER_PAGE * len(layouts):
        if any(pl.has_images for pl in layouts):
            if ocr_done:
                raise NoTextLayer(
                    "no text layer: the pages are scanned images and OCR found no text in them"
                )
            hint = "" if ocr_available() else " (install tesseract-ocr to read them)"
            raise NoTextLayer(
                f"no text layer: the pages are scanned images, which need OCR{hint}"
                if ocr
                else "no text layer: the pages are scanned images (OCR is needed to read them)"
            )
        if words == 0:
            raise EmptyFile("empty: the pages contain no text")

    kept = remove_running_lines(layouts)
    kept[0], front_matter = split_front_matter(kept[0], layouts[0])
    paragraphs = build_paragraphs(kept)
    if not paragraphs:
        raise EmptyFile("empty: no readable text after removing page furniture")
    first_lines = list(layouts[0].lines)
    return ExtractedDocument(
        path=path,
        sha256=digest,
        size_bytes=size,
        page_count=page_count,
        title=find_title(kept[0] if kept[0] else first_lines, meta, path.name, first_lines),
        symbol=find_symbol(first_lines, path.name),
        date=find_date(first_lines, meta),
        paragraphs=tuple(paragraphs),
        page_texts=tuple("\n".join(ln.text for ln in lines) for lines in kept),
        two_column_pages=sum(1 for pl in layouts if pl.columns > 1),
        front_matter=tuple(front_matter),
        extractor=f"{extractor}+ocr" if ocr_done else extractor,
        warnings=tuple(warnings),
        ocr_pages=ocr_done,
        marking=document_marking(layouts),
    )


def _is_scan(page: RawPage) -> bool:
    words = sum(len(seg.text.split()) for seg in page.segments)
    return page.has_images and words < MIN_WORDS_PER_PAGE


def _read_scans(
    path: Path, password: str | None, pages: list[RawPage], limit: int
) -> tuple[list[RawPage], int, list[str]]:
    """Pages that are images without text, read by OCR: (the pages, how many were read,
    notes for the report). Without Tesseract the pages stay as they are."""
    scans = [p.number for p in pages if _is_scan(p)]
    if not scans or not ocr_available():
        return pages, 0, []
    chosen = scans[:limit]
    try:
        lines = ocr_pages(path, chosen, password)
    except OcrUnavailable as exc:
        return pages, 0, [f"scanned pages were not read: {exc}"]
    notes = [
        f"{len(chosen)} scanned page{'s' * (len(chosen) != 1)} read by OCR (Tesseract): "
        "expect some misread words"
    ]
    if len(scans) > limit:
        notes.append(f"only the first {limit} of {len(scans)} scanned pages were read by OCR")
    empty = [n for n in chosen if not lines.get(n)]
    if empty:
        notes.append(f"OCR found no text on page{'s' * (len(empty) != 1)} {_page_list(empty)}")
    out = [replace(p, segments=lines[p.number]) if lines.get(p.number) else p for p in pages]
    return out, len(chosen), notes


def _page_list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
