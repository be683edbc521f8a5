"""Open a PDF and read its pages as positioned text segments.

Two extractors feed the same layout code: pdfium (pypdfium2; fast, robust on odd encodings) and
pdfplumber (pdfminer; the reference). Failures are classified into `IngestError`s a person
understands. `benchmarks/extraction.py` measures both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from errors import DamagedPdf, EmptyFile, EncryptedPdf, NotAPdf
from ingest.layout import merge_words
from ingest.records import Segment

PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class RawPage:
    number: int
    width: float
    height: float
    segments: list[Segment]
    has_images: bool


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_header(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise EmptyFile("the file is empty (0 bytes)")
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if PDF_MAGIC not in head:
        raise NotAPdf("not a PDF: the file does not start with a PDF header")


@contextmanager
def open_pdfium(path: Path, password: str | None) -> Iterator[Any]:
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(path), password=password)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == pdfium.raw.FPDF_ERR_PASSWORD:
            raise EncryptedPdf(
                "encrypted: wrong password"
                if password
                else "encrypted: a password is needed (pass it with --password)"
            ) from None
        if code == pdfium.raw.FPDF_ERR_SECURITY:
            raise EncryptedPdf("encrypted with an unsupported security handler") from None
        raise DamagedPdf(f"damaged: the PDF structure cannot be read ({exc})") from None
    try:
        yield doc
    finally:
        doc.close()


def pdf_metadata(doc: Any) -> dict[str, str]:
    try:
        return {k: str(v) for k, v in doc.get_metadata_dict(skip_empty=True).items()}
    except Exception:  # metadata is optional; a broken Info dictionary must not fail the file
        return {}


def pdfium_pages(doc: Any, max_pages: int) -> Iterator[RawPage | Exception]:
    """Yield each page's text runs; a page that cannot be read yields its exception."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    for i in range(min(len(doc), max_pages)):
        try:
            page = doc[i]
            width, height = page.get_size()
            textpage = page.get_textpage()
            segments = []
            for r in range(textpage.count_rects()):
                left, bottom, right, top = textpage.get_rect(r)
                text = textpage.get_text_bounded(left, bottom, right, top)
                # Keep edge spaces: pdfium splits runs mid-word with no gap, and a trailing
                # space is the only sign that a word ended at the run boundary.
                text = text.replace("\r", " ").replace("\n", " ").replace("\x00", "")
                if text.strip():
                    segments.append(Segment(left, height - top, right, height - bottom, text))
            has_images = any(
                obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE for obj in page.get_objects(max_depth=2)
            )
            textpage.close()
            page.close()
            yield RawPage(i + 1, width, height, segments, has_images)
        except pdfium.PdfiumError as exc:
            yield exc


@contextmanager
def open_pdfplumber(path: Path, password: str | None) -> Iterator[Any]:
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError

    try:
        pdf = pdfplumber.open(str(path), password=password or "")
    except PDFPasswordIncorrect:
        raise EncryptedPdf(
            "encrypted: wrong password"
            if password
            else "encrypted: a password is needed (pass it with --password)"
        ) from None
    except (PDFSyntaxError, Exception) as exc:
        raise DamagedPdf(f"damaged: the PDF structure cannot be read ({exc})") from None
    try:
        yield pdf
    finally:
        pdf.close()


def pdfplumber_pages(pdf: Any, max_pages: int) -> Iterator[RawPage | Exception]:
    for i, page in enumerate(pdf.pages[:max_pages]):
        try:
            words = page.extract_words(keep_blank_chars=False, use_text_flow=False)
            segs = [Segment(w["x0"], w["top"], w["x1"], w["bottom"], w["text"]) for w in words]
            yield RawPage(
                i + 1, float(page.width), float(page.height), merge_words(segs), bool(page.images)
            )
        except Exception as exc:  # pdfminer raises many unrelated types on damaged content
            yield exc
        finally:
            page.close()
