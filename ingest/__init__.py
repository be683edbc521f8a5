"""Read PDFs: the only package that opens PDF files. It returns plain frozen records."""

from ingest.discover import discover_pdfs
from ingest.extract import EXTRACTION_VERSION, EXTRACTORS, extract_pdf
from ingest.reader import sha256_file
from ingest.records import ExtractedDocument, Line, Paragraph, Segment
from ingest.worker import ExtractionWorker

__all__ = [
    "EXTRACTION_VERSION",
    "EXTRACTORS",
    "ExtractedDocument",
    "ExtractionWorker",
    "Line",
    "Paragraph",
    "Segment",
    "discover_pdfs",
    "extract_pdf",
    "sha256_file",
]
