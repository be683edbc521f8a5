"""An ingest killed mid-way (SIGKILL) leaves the data folder consistent and searchable."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from index.datadir import DataDir
from index.search import Searcher
from pipeline import ingest_paths
from settings import Settings
from tests.conftest import CORPUS_PDF, ROOT, corpus_file


def committed_documents(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_sigkill_mid_ingest_keeps_the_earlier_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings.from_env(data_dir=data)
    ingest_paths([corpus_file("shirbrig")], settings)
    before = committed_documents(data / "lessons.db")

    proc = subprocess.Popen(
        [sys.executable, "cli.py", "ingest", str(CORPUS_PDF), "--data-dir", str(data)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    try:
        while committed_documents(data / "lessons.db") < before + 2:
            assert proc.poll() is None, "the ingest finished before it could be killed"
            assert time.monotonic() < deadline, "the ingest made no progress"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and its extraction child
        proc.wait()

    with DataDir(data) as dd:
        counts = dd.store.counts()
        assert counts["documents"] >= before + 2
        empty_docs = dd.store.conn.execute(
            "SELECT COUNT(*) FROM documents d WHERE NOT EXISTS "
            "(SELECT 1 FROM passages p WHERE p.doc_id = d.id)"
        ).fetchone()[0]
        assert empty_docs == 0  # never half a document
        assert dd.engine.count() == counts["passages"]
        hits = Searcher(dd).search("Standby High Readiness Brigade", k=3).passages
        assert "shirbrig" in hits[0].source

    # The next ingest finishes the job without duplicating anything.
    report = ingest_paths([CORPUS_PDF], settings)
    assert report.status_counts()["failed"] == 0
    # and without reading again what the killed run had finished
    assert report.status_counts()["skipped"] == counts["documents"]
    with DataDir(data) as dd:
        assert dd.store.counts()["documents"] == len(list(CORPUS_PDF.glob("*.pdf")))
        assert dd.engine.count() == dd.store.counts()["passages"]
