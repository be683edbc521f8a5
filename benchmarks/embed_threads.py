"""Passages per second of MiniLM embeddings with 1 and 2 torch threads, each in a fresh process.

Run: python benchmarks/embed_threads.py [--passages 256] [--runs 3]
Prints the median rate for each thread count and the ratio against 1 thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
sys.path.insert(0, {root!r})
from index.embeddings import encode, load_encoder
threads, n, runs = {threads}, {n}, {runs}
load_encoder(threads)
import glob, re
# Real passages: the demo corpus sources, cut into ~150-word windows.
text = " ".join(open(f, encoding="utf-8").read() for f in sorted(glob.glob({corpus!r})))
words = re.sub(r"[#|*-]+", " ", text).split()
texts = [" ".join(words[i:i + 150]) for i in range(0, 150 * n, 150)][:n]
texts = (texts * (n // max(len(texts), 1) + 1))[:n]
encode(texts[:16], threads=threads)
rates = []
for _ in range(runs):
    t = time.perf_counter()
    encode(texts, threads=threads)
    rates.append(n / (time.perf_counter() - t))
print(json.dumps(rates))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--passages", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    results = {}
    for threads in (1, 2):
        code = CHILD.format(
            root=str(ROOT),
            threads=threads,
            n=args.passages,
            runs=args.runs,
            corpus=str(ROOT / "corpus" / "src" / "*.md"),
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        results[threads] = statistics.median(json.loads(out.stdout.strip().splitlines()[-1]))
    for threads, rate in results.items():
        print(
            f"torch threads={threads}: {rate:.1f} passages/s (median of {args.runs}; "
            f"{rate / results[1]:.2f}x of 1 thread)"
        )


if __name__ == "__main__":
    main()
