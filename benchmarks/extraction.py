"""Compare the two extractors (pdfium, pdfplumber) feeding the same layout code.

Run: python benchmarks/extraction.py [--sample 40] [--runs 3]
- speed: pages/s over a fixed sample of ../shared/realdocs (median of --runs, same process),
  and the ratio pdfium / pdfplumber;
- fidelity: word-sequence similarity (difflib ratio over lower-cased words) of the GeoTopo book
  against its reference text, for our pipeline with each extractor and for pdfplumber's default
  extract_text() as the baseline;
- reading order on two-column UNMIBH reports: share of numbered paragraphs in ascending order;
- paragraph structure over every realdocs PDF with a text layer (`--structure` runs only this):
  paragraphs, UN paragraph numbers found and in sequence (n followed by n + 1), headings with no
  word of three letters (a stray dash or quote taken for a title), punctuation-only paragraphs,
  and paragraphs cut at a page break mid-sentence (a body paragraph that does not end a sentence,
  followed on another page by an unnumbered one), and words with a hyphen ("counter-terrorism":
  UN documents break lines at hyphens, never inside words).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import itertools
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from errors import IngestError  # noqa: E402
from ingest import extract_pdf  # noqa: E402
from ingest.cleanup import LETTERS_RE, TERMINAL_RE  # noqa: E402

SHARED = ROOT.parent / "shared"
GEOTOPO = SHARED / "pdf-torture/py-pdf-sample-files/009-pdflatex-geotopo/GeoTopo-komprimiert.pdf"
GEOTOPO_REF = (
    SHARED / "pdf-torture/py-pdf-sample-files/_ground_truth_from_py-pdf-benchmarks/GeoTopo-book.txt"
)
WORD_RE = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return WORD_RE.findall(text.lower())


def similarity(a: list[str], b: list[str]) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def pages_per_second(files: list[Path], extractor: str) -> float:
    pages, start = 0, time.perf_counter()
    for f in files:
        with contextlib.suppress(IngestError):
            pages += extract_pdf(f, extractor=extractor).page_count
    return pages / (time.perf_counter() - start)


def plumber_default_text(path: Path) -> str:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def ordered_share(path: Path, extractor: str) -> float:
    nums = [p.number for p in extract_pdf(path, extractor=extractor).paragraphs if p.number]
    if len(nums) < 2:
        return 1.0
    return sum(1 for a, b in itertools.pairwise(nums) if b > a) / (len(nums) - 1)


HYPHENATED_RE = re.compile(r"[^\W\d_]-[^\W\d_]")


def structure(files: list[Path]) -> dict[str, int]:
    """Counts over the paragraphs our pipeline rebuilds from each file (pdfium)."""
    totals = dict.fromkeys(
        ("files", "paragraphs", "numbered", "in_sequence", "headings", "junk_headings"), 0
    ) | {
        "punctuation_only": 0,
        "page_break_cuts": 0,
        "titles_secretary_general": 0,
        "hyphenated_words": 0,
    }
    for f in files:
        try:
            doc = extract_pdf(f)
        except IngestError:
            continue
        paras = doc.paragraphs
        nums = [p.number for p in paras if p.number is not None]
        totals["files"] += 1
        totals["paragraphs"] += len(paras)
        totals["numbered"] += len(nums)
        totals["in_sequence"] += sum(1 for a, b in itertools.pairwise(nums) if b == a + 1)
        totals["headings"] += sum(p.kind == "heading" for p in paras)
        totals["junk_headings"] += sum(
            p.kind == "heading" and not LETTERS_RE.search(p.text) for p in paras
        )
        totals["punctuation_only"] += sum(not any(c.isalnum() for c in p.text) for p in paras)
        totals["page_break_cuts"] += sum(
            1
            for a, b in itertools.pairwise(paras)
            if a.kind == b.kind == "body"
            and b.number is None
            and b.page != a.page_end
            and not TERMINAL_RE.search(a.text)
        )
        totals["titles_secretary_general"] += "Secretary-General" in doc.title
        totals["hyphenated_words"] += sum(len(HYPHENATED_RE.findall(p.text)) for p in paras)
    return totals


def print_structure() -> None:
    files = sorted((SHARED / "realdocs").rglob("*.pdf"))
    print(f"## Paragraph structure ({len(files)} realdocs PDFs; scans without text skipped)\n")
    for key, value in structure(files).items():
        print(f"- {key.replace('_', ' ')}: {value:,}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sample", type=int, default=40)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--structure", action="store_true", help="only the paragraph-structure counts")
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit("../shared is not present")
    if args.structure:
        print_structure()
        return
    files = sorted((SHARED / "realdocs").rglob("*.pdf"))
    random.Random(7).shuffle(files)
    files = files[: args.sample]

    print(f"## Speed ({len(files)} realdocs PDFs, median of {args.runs} runs)\n")
    rates = {
        e: statistics.median(pages_per_second(files, e) for _ in range(args.runs))
        for e in ("pdfium", "pdfplumber")
    }
    for e, r in rates.items():
        print(f"- {e}: {r:.1f} pages/s")
    print(f"- ratio pdfium/pdfplumber: {rates['pdfium'] / rates['pdfplumber']:.1f}x\n")

    ref = words(GEOTOPO_REF.read_text(encoding="utf-8", errors="replace"))
    print("## GeoTopo fidelity (word-sequence similarity to the reference text)\n")
    for e in ("pdfium", "pdfplumber"):
        doc = extract_pdf(GEOTOPO, extractor=e)
        ours = words("\n".join(doc.page_texts))
        print(f"- our pipeline, {e}: {similarity(ours, ref):.3f}")
    baseline = similarity(words(plumber_default_text(GEOTOPO)), ref)
    print(f"- pdfplumber extract_text() default: {baseline:.3f}\n")

    print("## Reading order on two-column UNMIBH reports (numbered paragraphs in sequence)\n")
    unmibh = sorted((SHARED / "realdocs/reports").glob("UNMIBH_S_200*.pdf"))
    for e in ("pdfium", "pdfplumber"):
        shares, two_col = [], 0
        for f in unmibh:
            try:
                doc = extract_pdf(f, extractor=e)
            except IngestError:
                continue
            two_col += doc.two_column_pages
            shares.append(ordered_share(f, e))
        print(
            f"- {e}: {statistics.mean(shares):.3f} over {len(shares)} reports "
            f"({two_col} two-column pages detected)"
        )
    print()
    print_structure()


if __name__ == "__main__":
    main()
