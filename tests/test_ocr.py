"""Scanned pages read by OCR (Tesseract): a real page of our corpus turned into an image-only
PDF comes back as text with its paragraph numbers, and a missing Tesseract is explained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from errors import NoTextLayer
from ingest import extract_pdf
from ingest.ocr import ocr_available, parse_tsv
from settings import Settings
from tests.conftest import corpus_file

needs_tesseract = pytest.mark.skipif(
    not ocr_available(), reason="tesseract-ocr is not installed (make setup installs it as root)"
)


def words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)}


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Page 1 of a corpus brief as a 200 dpi greyscale image in a PDF with no text layer, and
    the text of that page as the born-digital file gives it."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    source = corpus_file("shirbrig-closure")
    folder = tmp_path_factory.mktemp("scan")
    doc = pdfium.PdfDocument(str(source))
    page = doc[0]
    width, height = page.get_size()
    page.render(scale=200 / 72, grayscale=True).to_pil().save(folder / "page.png")
    page.close()
    doc.close()
    pdf = FPDF(unit="pt", format=(width, height))
    pdf.add_page()
    pdf.image(str(folder / "page.png"), x=0, y=0, w=width, h=height)
    out = folder / "scanned-brief.pdf"
    pdf.output(str(out))
    text = "\n".join(extract_pdf(source, max_pages=1).page_texts)
    return out, text


@needs_tesseract
def test_a_scanned_page_is_read_with_its_paragraph_numbers(scan: tuple[Path, str]) -> None:
    path, digital = scan
    doc = extract_pdf(path, ocr=True)
    assert doc.ocr_pages == 1 and doc.extractor == "pdfium+ocr"
    assert any("read by OCR" in w for w in doc.warnings)
    text = "\n".join(p.text for p in doc.paragraphs)
    found = words(text) & words(digital)
    assert len(found) >= 0.9 * len(words(digital)), sorted(words(digital) - words(text))[:20]
    numbers = [p.number for p in doc.paragraphs if p.number]
    assert numbers[:2] == [1, 2] and numbers == sorted(numbers)
    assert doc.title.startswith("Rapid Deployment Lessons from SHIRBRIG")


def test_without_ocr_or_tesseract_a_scan_is_reported_with_what_to_do(
    scan: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = scan
    with pytest.raises(NoTextLayer, match="OCR is needed"):
        extract_pdf(path)  # the library default: no OCR unless asked
    import ingest.extract

    monkeypatch.setattr(ingest.extract, "ocr_available", lambda: False)
    with pytest.raises(NoTextLayer, match="install tesseract-ocr"):
        extract_pdf(path, ocr=True)


@needs_tesseract
def test_ingest_reads_scans_by_default_and_reports_it(
    scan: tuple[Path, str], tmp_path: Path
) -> None:
    from index.datadir import DataDir
    from pipeline import ingest_paths

    path, _ = scan
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    assert settings.ocr
    report = ingest_paths([path], settings)
    (outcome,) = report.files
    assert outcome.status == "ok" and outcome.passages > 0
    assert any("read by OCR" in note for note in outcome.notes)  # the report says so
    with DataDir(settings.data_dir) as dd:
        (doc,) = dd.store.documents()
        assert dd.store.conn.execute(
            "SELECT extractor FROM documents WHERE id = ?", (doc.id,)
        ).fetchone()[0] == ("pdfium+ocr")


def test_tesseract_words_become_lines_in_points_without_low_confidence_noise() -> None:
    header = "\t".join(
        [
            "level",
            "page_num",
            "block_num",
            "par_num",
            "line_num",
            "word_num",
            "left",
            "top",
            "width",
            "height",
            "conf",
            "text",
        ]
    )
    rows = [
        "5\t1\t1\t1\t1\t2\t300\t100\t120\t40\t96.0\tPolice",
        "5\t1\t1\t1\t1\t1\t100\t104\t180\t40\t95.5\tInternational",
        "5\t1\t1\t1\t1\t3\t440\t100\t60\t40\t3.0\t~~",
        "5\t1\t1\t1\t2\t1\t100\t160\t100\t40\t90.0\tmonitors",
        "4\t1\t1\t1\t2\t0\t100\t160\t100\t40\t-1\t",
        # Section numbers misread with a lower-case l or a one; a paragraph number stays.
        "5\t1\t1\t1\t3\t1\t100\t220\t30\t40\t91.0\tIl.",
        "5\t1\t1\t1\t3\t2\t140\t220\t200\t40\t91.0\tACTIVITIES",
        "5\t1\t1\t1\t4\t1\t100\t280\t30\t40\t91.0\tlV.",
        "5\t1\t1\t1\t4\t2\t140\t280\t200\t40\t91.0\tOBSERVATIONS",
        "5\t1\t1\t1\t5\t1\t100\t340\t30\t40\t91.0\t11.",
        "5\t1\t1\t1\t5\t2\t140\t340\t200\t40\t91.0\tPatrols",
    ]
    lines = parse_tsv("\n".join([header, *rows]), scale=2.0)
    assert [s.text for s in lines] == [
        "International Police",
        "monitors",
        "II. ACTIVITIES",
        "IV. OBSERVATIONS",
        "11. Patrols",
    ]
    first = lines[0]
    assert (first.x0, first.top, first.x1, first.bottom) == (50.0, 50.0, 210.0, 72.0)


@needs_tesseract
def test_a_real_scanned_report_gets_its_symbol_date_and_paragraphs(shared: Path) -> None:
    path = shared / "realdocs" / "reports" / "UNMIBH_S_1997_966.pdf"
    doc = extract_pdf(path, ocr=True, max_pages=2)
    assert doc.symbol == "S/1997/966" and doc.date == "1997-12-10"
    assert "MISSION IN BOSNIA AND HERZEGOVINA" in doc.title.upper()
    assert [p.number for p in doc.paragraphs if p.number][:3] == [1, 2, 3]
