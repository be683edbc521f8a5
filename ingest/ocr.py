"""Reading scanned pages with Tesseract: a page that is an image without a text layer is
rendered by pdfium and recognised by the `tesseract` program (Debian package `tesseract-ocr`,
installed by `make setup`), and its lines come back as `Segment`s in page coordinates, so the
same layout code orders columns and paragraphs as for born-digital pages.

Tesseract runs as a subprocess, one page at a time, with a time limit per page; its word boxes
(TSV output) are grouped into its own lines, and words it is not confident about (stamps,
smudges, signatures) are dropped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from errors import OcrUnavailable
from ingest.records import Segment

OCR_DPI = 300  # the resolution Tesseract's documentation recommends
MIN_CONFIDENCE = 20.0  # words below this are mostly noise from stamps and scan edges
PAGE_TIMEOUT_S = 90.0
LANGUAGE = "eng"
_ROMAN_LIKE_RE = re.compile(r"^[IVXl1|]{1,5}\.$")


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def ocr_available() -> bool:
    return tesseract_path() is not None


def ocr_pages(
    path: Path, page_numbers: Sequence[int], password: str | None = None
) -> dict[int, list[Segment]]:
    """The recognised lines of each 1-based page number, in points from the page's top left.
    Raises `OcrUnavailable` when Tesseract is missing; a page Tesseract fails on comes back
    empty (the caller reports it with the other unreadable pages)."""
    exe = tesseract_path()
    if exe is None:
        raise OcrUnavailable("tesseract is not installed (Debian package tesseract-ocr)")
    import pypdfium2 as pdfium

    out: dict[int, list[Segment]] = {}
    doc = pdfium.PdfDocument(str(path), password=password)
    try:
        for number in page_numbers:
            page = doc[number - 1]
            try:
                scale = OCR_DPI / 72.0
                image = page.render(scale=scale, grayscale=True).to_pil()
            finally:
                page.close()
            out[number] = _recognise(exe, image, scale)
    finally:
        doc.close()
    return out


def _recognise(exe: str, image: object, scale: float) -> list[Segment]:
    import io

    png = io.BytesIO()
    image.save(png, format="PNG")  # type: ignore[attr-defined]
    # One OpenMP thread: pages are read one after another, and Tesseract's threads only
    # contend with the embedding model on 2 cores.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        run = subprocess.run(
            [exe, "stdin", "stdout", "-l", LANGUAGE, "--psm", "3", "tsv"],
            input=png.getvalue(),
            capture_output=True,
            timeout=PAGE_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return []
    if run.returncode != 0:
        message = run.stderr.decode("utf-8", "replace")
        if "Failed loading language" in message or "Error opening data file" in message:
            raise OcrUnavailable(f"tesseract has no {LANGUAGE!r} language data (tesseract-ocr-eng)")
        return []
    return parse_tsv(run.stdout.decode("utf-8", "replace"), scale)


def fix_section_number(word: str) -> str:
    """A section number as Tesseract misreads it ("Il." for "II.", "lV." for "IV.", "I1." for
    "II."), set right; a paragraph number such as "11." is left alone."""
    if not _ROMAN_LIKE_RE.match(word):
        return word
    misread = any(c in word for c in "l|") or ("1" in word and any(c in word for c in "IVX"))
    return re.sub(r"[l1|]", "I", word) if misread else word


def parse_tsv(tsv: str, scale: float) -> list[Segment]:
    """Tesseract's word rows grouped into its lines, scaled from pixels to points."""
    lines: dict[tuple[str, str, str], list[tuple[float, float, float, float, str]]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        try:
            conf = float(cols[10])
            left, top, width, height = (float(c) for c in cols[6:10])
        except ValueError:
            continue
        if not text or conf < MIN_CONFIDENCE:
            continue
        lines.setdefault((cols[2], cols[3], cols[4]), []).append(
            (left, top, left + width, top + height, text)
        )
    segments = []
    for words in lines.values():
        words.sort()
        left, top, right, bottom, first = words[0]
        words[0] = (left, top, right, bottom, fix_section_number(first))
        segments.append(
            Segment(
                min(w[0] for w in words) / scale,
                min(w[1] for w in words) / scale,
                max(w[2] for w in words) / scale,
                max(w[3] for w in words) / scale,
                " ".join(w[4] for w in words),
            )
        )
    segments.sort(key=lambda s: (s.top, s.x0))
    return segments
