"""Extraction on real PDFs: reading order, furniture, metadata, and every failure reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from errors import DamagedPdf, EmptyFile, EncryptedPdf, NotAPdf, NoTextLayer
from ingest import ExtractionWorker, extract_pdf
from tests.conftest import CORPUS_PDF, corpus_front_matter


def two_column_docs() -> list[Path]:
    meta = corpus_front_matter()
    return [CORPUS_PDF / f for f, m in meta.items() if m.get("layout") == "two-column"]


@pytest.mark.parametrize("extractor", ["pdfium", "pdfplumber"])
def test_corpus_document_metadata_and_paragraph_numbers(extractor: str) -> None:
    meta = corpus_front_matter()
    name = next(f for f, m in meta.items() if m.get("layout") == "single")
    doc = extract_pdf(CORPUS_PDF / name, extractor=extractor)
    assert doc.page_count >= 1 and len(doc.sha256) == 64
    assert doc.title.lower().startswith(meta[name]["title"].lower()[:20])
    assert doc.date == meta[name]["date"]
    numbers = [p.number for p in doc.paragraphs if p.number]
    assert numbers == sorted(numbers) and numbers[:2] == [1, 2]


def test_titles_are_read_in_full_when_they_wrap(demo_dir: Path) -> None:
    """A title wraps onto a line without descenders ("Move to UNSOS", a shorter glyph box) or
    ends in a line that alone looks like masthead furniture ("2020-2021", "A4P+"); the subtitle
    below it, in smaller type, is not part of it."""
    from index.datadir import DataDir

    meta = corpus_front_matter()
    with DataDir(demo_dir) as dd:
        titles = {d.file_name: d.title for d in dd.store.documents()}
    wrong = {f: t for f, t in titles.items() if f in meta and t != meta[f]["title"]}
    assert not wrong
    assert len(titles) == len(meta) == 40


def test_two_column_pages_are_detected_and_read_in_order() -> None:
    docs = two_column_docs()
    assert docs, "the corpus should hold two-column documents"
    for path in docs:
        doc = extract_pdf(path)
        assert doc.two_column_pages >= 1, path.name
        numbers = [p.number for p in doc.paragraphs if p.number]
        # Column-by-column reading keeps UN paragraph numbers in sequence.
        assert numbers == sorted(numbers), path.name


def test_running_headers_and_page_numbers_do_not_reach_the_text() -> None:
    meta = corpus_front_matter()
    with_header = [f for f, m in meta.items() if m.get("header")]
    assert len(with_header) >= 8
    for name in with_header:
        doc = extract_pdf(CORPUS_PDF / name)
        body = "\n".join(p.text for p in doc.paragraphs)
        assert meta[name]["header"] not in body, name
        assert "Page " not in body and "lessons-learned demo" not in body, name


@pytest.mark.parametrize(
    ("kind", "error", "words"),
    [
        ("empty", EmptyFile, "empty"),
        ("not_pdf", NotAPdf, "not a PDF"),
        ("truncated", DamagedPdf, "damaged"),
        ("encrypted", EncryptedPdf, "password"),
        ("scanned", NoTextLayer, "scanned"),
        ("blank", EmptyFile, "no text"),
    ],
)
def test_each_failure_has_a_reason_a_person_understands(
    sample_pdfs: dict[str, Path], kind: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as info:
        extract_pdf(sample_pdfs[kind])
    assert words in str(info.value)


def test_encrypted_pdf_opens_with_its_password_and_not_with_a_wrong_one(
    sample_pdfs: dict[str, Path],
) -> None:
    doc = extract_pdf(sample_pdfs["encrypted"], password="secret")
    assert "convoy ambush" in doc.paragraphs[0].text
    with pytest.raises(EncryptedPdf, match="wrong password"):
        extract_pdf(sample_pdfs["encrypted"], password="guess")


def test_worker_reports_a_timeout_and_keeps_working(sample_pdfs: dict[str, Path]) -> None:
    with ExtractionWorker(timeout_s=0.001) as worker, pytest.raises(Exception, match="timed out"):
        worker.extract(sample_pdfs["good"])
    with ExtractionWorker(timeout_s=60) as worker:
        assert worker.extract(sample_pdfs["good"]).paragraphs
        with pytest.raises(NotAPdf):
            worker.extract(sample_pdfs["not_pdf"])
        assert worker.extract(sample_pdfs["good"]).paragraphs  # the same child goes on


def test_too_large_files_are_refused(sample_pdfs: dict[str, Path]) -> None:
    with pytest.raises(Exception, match="too large"):
        extract_pdf(sample_pdfs["good"], max_file_mb=0.0001)


def test_a_report_with_punctuation_in_separate_boxes_reads_as_whole_paragraphs(
    shared: Path,
) -> None:
    # This report's PDF boxes each hyphen and apostrophe on its own; they used to fall on
    # lines of their own, cutting paragraphs mid-sentence and losing paragraph numbers.
    doc = extract_pdf(shared / "realdocs" / "reports" / "MINUJUSTH_S_2018_1059.pdf")
    numbers = [p.number for p in doc.paragraphs if p.number is not None and p.page <= 4]
    assert numbers == list(range(1, 22))
    seventh = next(p.text for p in doc.paragraphs if p.number == 7)
    assert "people\u2019s demands by asking that the Prime Minister provide" in seventh
    assert all(any(c.isalnum() for c in p.text) for p in doc.paragraphs)
