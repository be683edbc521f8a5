"""The int8 ONNX encoder against torch fp32, in one process (issue 14).

On realdocs paragraphs (../shared/realdocs/paragraphs.jsonl; a seeded sample), for each
runtime: passages per second (median of --runs, both with `torch_threads` threads, texts in
the same order and batches of 32), the latency of one query (median of 50), and per passage
the cosine of the two vectors (mean, minimum, share below 0.99).

    python benchmarks/embeddings.py [--passages 600] [--runs 3] [--threads 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.embeddings import TorchEncoder, onnx_name, onnx_status  # noqa: E402
from index.onnx_encoder import OnnxEncoder  # noqa: E402
from settings import Settings  # noqa: E402

PARAGRAPHS = ROOT.parent / "shared" / "realdocs" / "paragraphs.jsonl"
QUERIES = ROOT.parent / "shared" / "realdocs" / "queries.jsonl"


def rate(encoder, texts: list[str], runs: int) -> tuple[float, np.ndarray]:
    encoder.encode(texts[:32])
    times, vecs = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        vecs = encoder.encode(texts, 32)
        times.append(time.perf_counter() - t0)
    assert vecs is not None
    return len(texts) / statistics.median(times), vecs


def query_ms(encoder, queries: list[str]) -> float:
    times = []
    for q in (queries * 3)[:50]:
        t0 = time.perf_counter()
        encoder.encode([q])
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=600)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not PARAGRAPHS.exists():
        sys.exit("../shared/realdocs is not present")
    rows = [json.loads(x) for x in PARAGRAPHS.read_text().splitlines() if x.strip()]
    texts = [r["text"] for r in random.Random(14).sample(rows, min(args.passages, len(rows)))]
    queries = [json.loads(x)["query"] for x in QUERIES.read_text().splitlines() if x.strip()]
    folder = Settings.from_env().encoder_folder
    manifest, why = onnx_status(folder)
    if manifest is None:
        sys.exit(f"{why}: run python cli.py encoder build")

    torch_enc = TorchEncoder(args.threads)
    onnx_enc = OnnxEncoder(folder, args.threads, name=onnx_name(manifest))
    torch_rate, ref = rate(torch_enc, texts, args.runs)
    onnx_rate, ours = rate(onnx_enc, texts, args.runs)
    cos = (ref * ours).sum(axis=1)
    result = {
        "passages": len(texts),
        "threads": args.threads,
        "torch_passages_per_s": round(torch_rate, 1),
        "onnx_passages_per_s": round(onnx_rate, 1),
        "speedup": round(onnx_rate / torch_rate, 2),
        "cosine_mean": round(float(cos.mean()), 4),
        "cosine_min": round(float(cos.min()), 4),
        "share_below_0_99": round(float((cos < 0.99).mean()), 4),
        "torch_query_ms": round(query_ms(torch_enc, queries), 2),
        "onnx_query_ms": round(query_ms(onnx_enc, queries), 2),
    }
    if not args.json:
        for k, v in result.items():
            print(f"  {k:22} {v}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
