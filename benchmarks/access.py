"""Access on realdocs: does anything leak, and what do access filters cost in search latency?

Run: python benchmarks/access.py [--data-dir benchmarks/out/realdocs-data] [--runs 5]
(after benchmarks/ingest_realdocs.py). Works on a copy of the folder: a third of the documents
become confidential, every ninth strictly confidential for the group MINUSMA.

1. Leaks: for every realdocs query, in every mode, as a user at each clearance with and without
   the group: no document above their access in the results, their passages or their
   near-duplicate hints; facet counts over their documents only; and the documents they may see
   that the operator's ranking puts first still come first for them.
2. Latency: the same queries searched as the operator (no access filter) and as a confidential
   user (a filter inside both retrievals), alternating query by query in one process, query
   embeddings cached so only the retrieval and ranking differ; medians of `--runs` runs per
   query, then p50/p95 over queries, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.access import OPERATOR, Access  # noqa: E402
from index.classification import set_document_access  # noqa: E402
from index.datadir import DataDir  # noqa: E402
from index.evaluation import load_queries, percentile  # noqa: E402
from index.search import Searcher  # noqa: E402

REALDOCS = ROOT.parent / "shared" / "realdocs"
USERS = {
    "unclassified": Access("u", frozenset({"officer"}), "unclassified"),
    "confidential": Access("c", frozenset({"officer"}), "confidential"),
    "strict, no group": Access("s", frozenset({"officer"}), "strictly_confidential"),
    "strict, MINUSMA": Access(
        "m", frozenset({"officer"}), "strictly_confidential", frozenset({"MINUSMA"})
    ),
}


def classify(data: Path) -> dict[str, int]:
    with DataDir(data, write=True) as dd:
        docs = dd.store.documents()
        for n, doc in enumerate(docs):
            if n % 9 == 0:
                set_document_access(
                    dd.store, doc.id, level="strictly_confidential", groups=["MINUSMA"]
                )
            elif n % 3 == 0:
                set_document_access(dd.store, doc.id, level="confidential")
        return {"documents": len(docs)}


def leaks(searcher: Searcher, queries: list) -> dict[str, object]:  # type: ignore[type-arg]
    store = searcher.dd.store
    checked = 0
    problems: list[str] = []
    missing: list[str] = []  # not a leak: a visible document the ranking no longer shows
    for name, access in USERS.items():
        allowed = {d.id for d in store.documents() if access.may_see(d.classification, d.groups)}
        for q in queries:
            for mode in ("hybrid", "bm25", "dense"):
                res = searcher.search(q.text, k=10, mode=mode, access=access)
                shown = {d.doc_id for d in res.documents} | {p.doc_id for p in res.passages}
                shown |= {p.doc_id for d in res.documents for p in d.passages}
                hints = {d for p in res.passages for d in p.also_in}
                if not shown <= allowed or not hints <= allowed:
                    problems.append(f"{name} {q.qid} {mode}: leaked {sorted(shown - allowed)}")
                if sum(res.facets.get("doc_types", {}).values()) > len(allowed):
                    problems.append(f"{name} {q.qid} {mode}: facets count hidden documents")
                full = searcher.search(q.text, k=40, mode=mode, access=OPERATOR)
                theirs = [d.doc_id for d in full.documents if d.doc_id in allowed][:1]
                if theirs and theirs[0] not in {d.doc_id for d in res.documents}:
                    missing.append(f"{name} {q.qid} {mode}: {theirs[0]}")
                checked += 1
    return {
        "searches": checked,
        "leaks": len(problems),
        "examples": problems[:20],
        "best_visible_missing": len(missing),
        "missing_examples": missing[:10],
    }


def latency(searcher: Searcher, queries: list, runs: int) -> dict[str, object]:  # type: ignore[type-arg]
    user = USERS["confidential"]
    for q in queries:  # embed every query once: both sides then time the same work
        searcher.search(q.text, k=10, access=OPERATOR)
    times: dict[str, dict[str, list[float]]] = {"operator": {}, "user": {}}
    for _ in range(runs):
        for q in queries:
            for side, access in (("operator", OPERATOR), ("user", user)):
                t0 = time.perf_counter()
                searcher.search(q.text, k=10, access=access)
                times[side].setdefault(q.qid, []).append((time.perf_counter() - t0) * 1000)
    out: dict[str, object] = {}
    for side, per_query in times.items():
        medians = [statistics.median(v) for v in per_query.values()]
        out[side] = {
            "p50_ms": round(percentile(medians, 0.5), 2),
            "p95_ms": round(percentile(medians, 0.95), 2),
        }
    ratio = [
        statistics.median(times["user"][q]) / statistics.median(times["operator"][q])
        for q in times["user"]
    ]
    out["ratio_median"] = round(statistics.median(ratio), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks" / "out" / "realdocs-data")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not REALDOCS.is_dir():
        sys.exit("../shared/realdocs is not present")
    queries = load_queries(REALDOCS / "queries.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(args.data_dir, data, ignore=shutil.ignore_patterns(".lock"))
        DataDir.upgrade(data)
        result: dict[str, object] = {"library": classify(data)}
        with DataDir(data) as dd:
            searcher = Searcher(dd)
            result["leaks"] = leaks(searcher, queries)
            print(json.dumps(result["leaks"], indent=2), flush=True)
            result["latency"] = latency(searcher, queries, args.runs)
            print(json.dumps(result["latency"], indent=2), flush=True)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "access.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
