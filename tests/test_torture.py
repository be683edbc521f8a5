"""Every file of ../shared/pdf-torture gets an outcome: text, or a failure with a known reason,
within the time limit. Also the known-password files open with their password."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from errors import INGEST_ERRORS, EncryptedPdf, IngestError
from ingest import ExtractionWorker


def torture_files(shared: Path) -> list[Path]:
    root = shared / "pdf-torture"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")


def test_every_torture_file_is_read_or_fails_with_a_known_reason(shared: Path) -> None:
    files = torture_files(shared)
    assert len(files) > 100
    outcomes: dict[str, int] = {}
    with ExtractionWorker(timeout_s=60) as worker:
        for path in files:
            try:
                doc = worker.extract(path)
            except IngestError as exc:
                assert exc.reason in INGEST_ERRORS, (path, exc)
                assert exc.message and len(exc.message) < 400
                outcomes[exc.reason] = outcomes.get(exc.reason, 0) + 1
            else:
                assert doc.page_count >= 1 and doc.paragraphs, path
                outcomes["ok"] = outcomes.get("ok", 0) + 1
    # The suite holds readable files, encrypted ones and broken ones.
    assert outcomes["ok"] > 80
    assert outcomes.get("encrypted", 0) >= 5
    assert outcomes.get("damaged", 0) + outcomes.get("empty", 0) >= 1


def known_passwords(shared: Path) -> list[tuple[Path, str]]:
    rows = []
    tsv = shared / "pdf-torture" / "KNOWN_PASSWORDS.tsv"
    with open(tsv, encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) >= 2 and row[0].endswith(".pdf") and row[1].split()[0] == "foo":
                rows.append((shared / "pdf-torture" / row[0], "foo"))
    return rows


def test_encrypted_files_need_and_accept_their_password(shared: Path) -> None:
    rows = known_passwords(shared)
    assert rows
    with ExtractionWorker(timeout_s=60) as worker:
        for path, password in rows:
            with pytest.raises(EncryptedPdf, match="password"):
                worker.extract(path)
            assert worker.extract(path, password).paragraphs, path
