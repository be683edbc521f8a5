"""Shared fixtures: real PDFs built by the corpus script, small broken PDFs made on the fly,
one session-wide data folder (so models load once per session)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
CORPUS_PDF = ROOT / "corpus" / "pdf"
SHARED = ROOT.parent / "shared"


def corpus_file(fragment: str) -> Path:
    matches = sorted(CORPUS_PDF.glob(f"*{fragment}*.pdf"))
    assert matches, f"no corpus PDF matching {fragment!r}"
    return matches[0]


def corpus_front_matter() -> dict[str, dict[str, str]]:
    """Front matter of every corpus source, keyed by PDF file name."""
    from nlp.training_data import split_front_matter

    return {
        src.stem + ".pdf": split_front_matter(src.read_text(encoding="utf-8"))[0]
        for src in sorted((ROOT / "corpus" / "src").glob("*.md"))
    }


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present on this machine")
    return SHARED


@pytest.fixture(scope="session")
def sample_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small real PDFs of every failure kind, made with fpdf2 and from corpus files."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    folder = tmp_path_factory.mktemp("samples")
    good = corpus_file("shirbrig")
    out = {"good": folder / "good.pdf"}
    shutil.copy(good, out["good"])

    out["empty"] = folder / "empty.pdf"
    out["empty"].write_bytes(b"")
    out["not_pdf"] = folder / "notes.pdf"
    out["not_pdf"].write_text("These are meeting notes, not a PDF.\n")
    out["truncated"] = folder / "truncated.pdf"
    out["truncated"].write_bytes(good.read_bytes()[:400])

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 6, "Confidential after-action review of a convoy ambush. " * 20)
    out["encrypted"] = folder / "encrypted.pdf"
    pdf.output(str(out["encrypted"]))

    img = Image.new("L", (800, 1100), 255)
    draw = ImageDraw.Draw(img)
    for y in range(80, 1000, 28):
        draw.rectangle((60, y, 740, y + 12), fill=40)
    img_path = folder / "scan.png"
    img.save(img_path)
    pdf = FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.image(str(img_path), x=0, y=0, w=210)
    out["scanned"] = folder / "scanned.pdf"
    pdf.output(str(out["scanned"]))

    pdf = FPDF()
    pdf.add_page()
    out["blank"] = folder / "blank.pdf"
    pdf.output(str(out["blank"]))
    return out


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the whole demo corpus, built once per test session."""
    from pipeline import ingest_paths
    from settings import Settings

    data = tmp_path_factory.mktemp("demo") / "data"
    report = ingest_paths([CORPUS_PDF], Settings.from_env(data_dir=data))
    assert report.status_counts()["ok"] == len(list(CORPUS_PDF.glob("*.pdf")))
    return data


@pytest.fixture(scope="session")
def web_browser() -> Iterator[Any]:
    """One headless chromium for every browser test of the session (Playwright's sync API
    allows one running instance per thread)."""
    from tests.e2e_support import CHROMIUM, browser

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make setup` as root to install it")
    with browser() as b:
        yield b


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a Milvus server (Milvus Lite's, on loopback) for the whole session."""
    if not all(importlib.util.find_spec(m) for m in ("milvus_lite", "pymilvus")):
        pytest.skip("milvus-lite or pymilvus is not installed: pip install -r requirements-dev.txt")
    from tests.milvus_support import milvus_server

    with milvus_server(tmp_path_factory.mktemp("milvus")) as uri:
        yield uri
