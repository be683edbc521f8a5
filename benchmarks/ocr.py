"""OCR of scanned pages (Tesseract through ingest/ocr.py): how much text comes back, how fast.

Run: python benchmarks/ocr.py   (needs tesseract; part 2 needs ../shared; writes
benchmarks/out/ocr.json)

1. Our 40 demo PDFs: page 1 of each rendered to a 200 dpi greyscale image and wrapped in a PDF
   with no text layer, then read with OCR. Word recall and precision against the born-digital
   text of the same page (distinct words of 4+ letters, case-folded), and seconds per page.
2. ../shared/realdocs/reports: every report that pdfium finds no text in (scans), read with OCR
   (first 3 pages each): how many now give paragraphs, UN paragraph numbers and a symbol.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from errors import IngestError, NoTextLayer  # noqa: E402
from ingest import extract_pdf  # noqa: E402
from ingest.ocr import ocr_available  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
REPORTS = ROOT.parent / "shared" / "realdocs" / "reports"


def words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)}


def image_pdf(source: Path, folder: Path, dpi: int = 200) -> Path:
    import pypdfium2 as pdfium
    from fpdf import FPDF

    doc = pdfium.PdfDocument(str(source))
    page = doc[0]
    width, height = page.get_size()
    png = folder / f"{source.stem}.png"
    page.render(scale=dpi / 72, grayscale=True).to_pil().save(png)
    page.close()
    doc.close()
    pdf = FPDF(unit="pt", format=(width, height))
    pdf.add_page()
    pdf.image(str(png), x=0, y=0, w=width, h=height)
    out = folder / f"{source.stem}-scan.pdf"
    pdf.output(str(out))
    return out


def corpus_part() -> dict[str, object]:
    recalls, precisions, seconds = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for source in sorted((ROOT / "corpus" / "pdf").glob("*.pdf")):
            digital = words("\n".join(extract_pdf(source, max_pages=1).page_texts))
            scan = image_pdf(source, Path(tmp))
            t0 = time.perf_counter()
            doc = extract_pdf(scan, ocr=True)
            seconds.append(time.perf_counter() - t0)
            read = words("\n".join(doc.page_texts))
            recalls.append(len(read & digital) / max(len(digital), 1))
            precisions.append(len(read & digital) / max(len(read), 1))
    result = {
        "pages": len(recalls),
        "word_recall_median": round(statistics.median(recalls), 3),
        "word_recall_min": round(min(recalls), 3),
        "word_precision_median": round(statistics.median(precisions), 3),
        "seconds_per_page_median": round(statistics.median(seconds), 2),
    }
    print(f"1. demo pages as 200 dpi scans: {result}", flush=True)
    return result


def realdocs_part() -> dict[str, object]:
    scans = []
    for path in sorted(REPORTS.glob("*.pdf")):
        try:
            extract_pdf(path)
        except NoTextLayer:
            scans.append(path)
        except IngestError:
            continue
    readable, numbered, symbols, paragraphs, per_page = 0, 0, 0, [], []
    for path in scans:
        t0 = time.perf_counter()
        try:
            doc = extract_pdf(path, ocr=True, max_pages=3)
        except IngestError as exc:
            print(f"  {path.name}: {exc}", flush=True)
            continue
        per_page.append((time.perf_counter() - t0) / max(doc.ocr_pages, 1))
        readable += 1
        paragraphs.append(len(doc.paragraphs))
        numbered += any(p.number for p in doc.paragraphs)
        symbols += doc.symbol is not None
    result = {
        "scanned_reports": len(scans),
        "readable_with_ocr": readable,
        "with_un_paragraph_numbers": numbered,
        "with_document_symbol": symbols,
        "paragraphs_in_first_3_pages_median": statistics.median(paragraphs) if paragraphs else 0,
        "seconds_per_page_median": round(statistics.median(per_page), 2) if per_page else None,
    }
    print(f"2. realdocs scans (first 3 pages each): {result}", flush=True)
    return result


def main() -> None:
    if not ocr_available():
        sys.exit("tesseract is not installed: make setup (as root) installs it")
    results: dict[str, object] = {"corpus_scans": corpus_part()}
    if REPORTS.is_dir():
        results["realdocs_scans"] = realdocs_part()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ocr.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
