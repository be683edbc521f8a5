"""Ingest all of ../shared/realdocs and score dense search on its queries and qrels.

Run: python benchmarks/ingest_realdocs.py [--data-dir benchmarks/out/realdocs-data] [--reuse]
Prints outcomes by reason, pages/s, the share of time per stage, and document-level nDCG@10,
Recall@10 and MRR@10 (overall and per query kind). Writes benchmarks/out/ingest_realdocs.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.datadir import DataDir  # noqa: E402
from index.evaluation import first_occurrences, load_qrels, load_queries, score_run  # noqa: E402
from index.search import dense_search  # noqa: E402
from pipeline import ingest_paths  # noqa: E402
from settings import Settings  # noqa: E402

REALDOCS = ROOT.parent / "shared" / "realdocs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks" / "out" / "realdocs-data")
    ap.add_argument("--reuse", action="store_true", help="keep an existing data folder")
    args = ap.parse_args()
    if not REALDOCS.is_dir():
        sys.exit("../shared/realdocs is not present")
    if args.data_dir.exists() and not args.reuse:
        shutil.rmtree(args.data_dir)
    settings = Settings.from_env(data_dir=args.data_dir)
    result: dict[str, object] = {}

    report = ingest_paths([REALDOCS / "reports", REALDOCS / "budget"], settings)
    ok = [f for f in report.files if f.status == "ok"]
    pages = sum(f.pages for f in ok)
    timed = {k: v for k, v in report.timings.items()}
    total = sum(timed.values()) or 1.0
    result["ingest"] = {
        "files": len(report.files),
        "status": dict(report.status_counts()),
        "failed_by_reason": dict(report.failures_by_reason()),
        "pages_ok": pages,
        "passages": sum(f.passages for f in ok),
        "seconds": round(report.seconds, 1),
        "pages_per_s": round(pages / report.seconds, 2) if report.seconds else None,
        "time_share": {k: round(v / total, 3) for k, v in timed.items()},
        "time_s": {k: round(v, 1) for k, v in timed.items()},
    }
    print(json.dumps(result["ingest"], indent=2))

    queries = load_queries(REALDOCS / "queries.jsonl")
    qrels = load_qrels(REALDOCS / "qrels.tsv")
    runs: dict[str, list[str]] = {}
    latencies = []
    with DataDir(args.data_dir) as dd:
        dense_search(dd, "warm up", 1)
        for q in queries:
            t0 = time.perf_counter()
            hits = dense_search(dd, q.text, 200)
            latencies.append((time.perf_counter() - t0) * 1000)
            runs[q.qid] = first_occurrences(h.source.rsplit(".", 1)[0] for h in hits)
    by_kind: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for q in queries:
        by_kind[q.kind][q.qid] = runs[q.qid]
    latencies.sort()
    result["dense"] = {
        "all": score_run(runs, qrels),
        **{kind: score_run(r, qrels) for kind, r in sorted(by_kind.items())},
        "latency_ms_p50": round(latencies[len(latencies) // 2], 1),
    }
    print(json.dumps(result["dense"], indent=2))
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ingest_realdocs.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
