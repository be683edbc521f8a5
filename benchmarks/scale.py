"""A million passages on one machine: search speed, recall and quality as a library grows.

Run: python benchmarks/scale.py --passages N [--json] [--writes] [--realdocs DIR]

Builds once (cached by N) a library of N passages under benchmarks/out/scale-N/data: the
realdocs passages with their judgments among distractors (benchmarks/scale_library.py says how
they are made and why they are hard), written through the project's write path in a child
process. Then, in this process, which opened nothing else, for the 44 realdocs queries with
fresh query embeddings (each timed search embeds its query):

- p50 / p95 latency of the full hybrid search as the app runs it (`Searcher.search`, operator
  access; median of 3 runs per query, as `python cli.py eval`), of dense-only search, and of
  the engine's dense retrieval alone (k = 1,000, the hybrid's depth);
- dense recall@10 of the approximate index against exact search on the same library;
- nDCG@10 (hybrid) with the approximate index and with exact search on the same library;
- a mission filter and a few-document filter: latency, and whether every page is full of
  allowed documents;
- RSS of this search process (after the approximate runs; the exact comparison runs after),
  the build time and the size on disk.

`--writes` (on a copy of the folder) adds 1,000 passages and deletes a document through the
write path, and times each step, the first search after it in an already open search process,
folding the new passages into the approximate index, and searches during a full background
rebuild of it. The realdocs folder is the one benchmarks/ingest_realdocs.py writes; one built
by an earlier release is copied and upgraded first. With `--json` the last line printed is one
JSON object (also written to benchmarks/out/scale-N/result.json).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from errors import DataDirError  # noqa: E402
from index.access import OPERATOR  # noqa: E402
from index.datadir import DataDir  # noqa: E402
from index.engine.local import LocalEngine  # noqa: E402
from index.evaluation import (  # noqa: E402
    Query,
    evaluate_search,
    load_qrels,
    load_queries,
    percentile,
)
from index.filters import Filters  # noqa: E402
from index.search import Searcher  # noqa: E402
from index.writes import LibraryWriter, delete_document  # noqa: E402
from nlp.query import parse_query  # noqa: E402

REALDOCS = ROOT.parent / "shared" / "realdocs"
OUT = ROOT / "benchmarks" / "out"
DEPTH = 1000  # the hybrid's candidates per retriever (fusion.NORM_DEPTH)
EXACT = 10**12  # an approximate_from no library reaches: the exact engine


def memory() -> dict[str, float]:
    """This process's memory now and at its peak, MiB (file-backed pages: the mapped vectors)."""
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def disk(folder: Path) -> dict[str, float]:
    def size(p: Path) -> int:
        return (
            sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
            if p.is_dir()
            else (p.stat().st_size if p.exists() else 0)
        )

    parts = {
        "library_db": size(folder / "lessons.db"),
        "vectors": size(folder / "vectors.faiss"),
        "keyword": size(folder / "keyword"),
        "ann": size(folder / "ann"),
    }
    parts["total"] = size(folder)
    return {k: round(v / 2**20, 1) for k, v in parts.items()}


def p50_p95(times_ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(times_ms, 0.5), 1),
        "p95": round(percentile(times_ms, 0.95), 1),
    }


def timed_searches(searcher: Searcher, queries: list[Query], runs: int = 3, **kw: Any) -> dict:
    """p50/p95 over queries of the median of `runs` searches each, embedding included."""
    per_query = []
    for q in queries:
        took = []
        for _ in range(runs):
            searcher.forget_queries()
            t0 = time.perf_counter()
            searcher.search(q.text, k=10, **kw)
            took.append((time.perf_counter() - t0) * 1000)
        per_query.append(statistics.median(took))
    return p50_p95(per_query)


def realdocs_folder(path: Path) -> Path:
    """A readable realdocs library: the given one, or a copy upgraded to this version."""
    try:
        DataDir(path).close()
        return path
    except DataDirError:
        copy = OUT / "scale-realdocs"
        if not (copy / "lessons.db").exists():
            copy.mkdir(parents=True, exist_ok=True)
            shutil.copy(path / "lessons.db", copy / "lessons.db")
        DataDir.upgrade(copy)
        return copy


# -- the library ------------------------------------------------------------------------------
def ensure_built(n: int, realdocs: Path) -> dict[str, Any]:
    """Build the library of n passages once, in a child process (its memory is not ours)."""
    folder = OUT / f"scale-{n}"
    record = folder / "build.json"
    if record.exists():
        return dict(json.loads(record.read_text()))
    shutil.rmtree(folder / "data", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--passages", str(n), "--realdocs", str(realdocs)]
    subprocess.run([*cmd, "--build-only"], check=True)
    return dict(json.loads(record.read_text()))


def build_only(n: int, realdocs: Path) -> None:
    from benchmarks.scale_library import build

    folder = OUT / f"scale-{n}"
    timings = build(n, folder / "data", realdocs, OUT / "scale-pool")
    timings["build_peak_rss_mb"] = memory()["VmHWM"]
    (folder / "build.json").write_text(json.dumps(timings, indent=2))


# -- measurements ------------------------------------------------------------------------------
def query_vectors(searcher: Searcher, queries: list[Query]) -> list[np.ndarray]:
    """Each query's embedding and its expanded form's (what dense and hybrid search embed)."""
    texts = [q.text for q in queries] + [parse_query(q.text).dense_text for q in queries]
    return [searcher.query_vector(t) for t in texts]


def dense_times(engine: LocalEngine, vectors: list[np.ndarray]) -> dict[str, float]:
    took = []
    for v in vectors:
        t0 = time.perf_counter()
        engine.dense_top(v, DEPTH)
        took.append((time.perf_counter() - t0) * 1000)
    return p50_p95(took)


def filtered(searcher: Searcher, queries: list[Query], filters: Filters) -> dict[str, Any]:
    """Latency with a filter, and whether each page holds only allowed documents, full."""
    allowed = {d.id for d in searcher.catalog.documents.values() if d.matches(filters)}
    full = only = 0
    for q in queries:
        res = searcher.search(q.text, k=10, filters=filters, access=OPERATOR)
        only += all(d.doc_id in allowed for d in res.documents)
        full += len(res.documents) == min(10, len(allowed))
    return {
        "documents_allowed": len(allowed),
        "pages_only_allowed": f"{only}/{len(queries)}",
        "pages_full": f"{full}/{len(queries)}",
        **timed_searches(searcher, queries, runs=1, filters=filters, access=OPERATOR),
    }


def broadest_mission(dd: DataDir) -> str:
    counts = Counter(d.missions[0] for d in dd.store.documents() if d.missions)
    return counts.most_common(1)[0][0]


def evaluate(n: int, queries: list[Query], qrels: dict[str, dict[str, int]]) -> dict[str, Any]:
    data = OUT / f"scale-{n}" / "data"
    out: dict[str, Any] = {}
    with DataDir(data) as dd:
        searcher = Searcher(dd)
        t0 = time.perf_counter()
        searcher.search("first search: the engine opens", access=OPERATOR)
        out["open_s"] = round(time.perf_counter() - t0, 1)
        engine = dd.engine
        assert isinstance(engine, LocalEngine)
        out["approximate"] = engine.approximate
        engine.wait_for_index()  # steady state: a saved index needs nothing more
        report = evaluate_search(searcher, queries, qrels)
        out["hybrid"] = report["latency_ms"]
        out["ndcg_at_10"] = round(report["system"]["ndcg@10"], 4)
        out["ndcg_dense_at_10"] = round(report["dense"]["ndcg@10"], 4)
        out["ndcg_bm25_at_10"] = round(report["bm25"]["ndcg@10"], 4)
        out["dense_search"] = timed_searches(searcher, queries, mode="dense")
        vectors = query_vectors(searcher, queries)
        out["dense_retrieval_k1000"] = dense_times(engine, vectors)
        approx = [engine.dense_top(v, 10).ids for v in vectors]
        mission = broadest_mission(dd)
        out["filter_mission"] = {
            "mission": mission,
            **filtered(searcher, queries, Filters(missions=(mission,))),
        }
        out["filter_5_documents"] = filtered(searcher, queries, Filters(doc_ids=(1, 2, 3, 4, 5)))
        out["memory_mb"] = memory()
        out["rss_mb"] = out["memory_mb"]["VmRSS"]

        exact = LocalEngine(data, dd.store, approximate_from=EXACT)
        dd.engine = exact  # the same library and search code; dense retrieval exact
        exact_report = evaluate_search(Searcher(dd), queries, qrels)
        out["exact_hybrid"] = exact_report["latency_ms"]
        out["ndcg_exact_at_10"] = round(exact_report["system"]["ndcg@10"], 4)
        out["ndcg_dense_exact_at_10"] = round(exact_report["dense"]["ndcg@10"], 4)
        out["exact_dense_retrieval_k1000"] = dense_times(exact, vectors)
        truth = [exact.dense_top(v, 10).ids for v in vectors]
        recall = [
            len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(approx, truth, strict=True)
        ]
        out["recall_at_10"] = round(float(np.mean(recall)), 4)
        out["recall_at_10_min"] = round(float(np.min(recall)), 2)
        dd.engine = engine
        exact.close()
    out["disk_mb"] = disk(data)
    return out


# -- writes -----------------------------------------------------------------------------------
def measure_writes(n: int, queries: list[Query], realdocs: Path) -> dict[str, Any]:
    """Add 1,000 passages and delete a document on a copy of the library, with a search
    process open throughout (as the app is while an ingest runs)."""
    from benchmarks.scale_library import Pool, distractors, read_corpus

    copy = OUT / f"scale-{n}" / "writes"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(OUT / f"scale-{n}" / "data", copy, ignore=shutil.ignore_patterns(".lock"))
    corpus = read_corpus(realdocs)
    pooled = Pool([], [], np.zeros((0, 384), dtype=np.float32))  # noisy copies, as most are
    new_docs = []
    for file, records in distractors(corpus, pooled, 1000):
        name = "added-" + file.file_name
        moved = replace(file, file_name=name, source_path=f"/scale/{name}", sha256=name)
        new_docs.append((moved, records))
    out: dict[str, Any] = {}
    with DataDir(copy) as reader:
        searcher = Searcher(reader)
        engine = reader.engine
        assert isinstance(engine, LocalEngine)
        searcher.search("open", access=OPERATOR)
        out["search_before"] = timed_searches(searcher, queries[:20], runs=1)

        t0 = time.perf_counter()
        with DataDir(copy, write=True) as dd:
            t1 = time.perf_counter()
            writer = LibraryWriter(dd)
            t2 = time.perf_counter()
            for file, records in new_docs:
                writer.store_document(file, records, near_duplicates=False)
            t3 = time.perf_counter()
            writer.finish()
            t4 = time.perf_counter()
        out["add_1000"] = {
            "open_writer_s": round(t2 - t0, 2),
            "of_which_engine_load_s": round(t2 - t1, 2),
            "store_s": round(t3 - t2, 2),
            "finish_s": round(t4 - t3, 2),
            "total_s": round(time.perf_counter() - t0, 2),
        }
        t0 = time.perf_counter()
        searcher.search(queries[0].text, access=OPERATOR)
        out["add_1000"]["first_search_after_ms"] = round((time.perf_counter() - t0) * 1000)
        out["search_after_add"] = timed_searches(searcher, queries[:20], runs=1)
        t0 = time.perf_counter()
        engine.rebuild_index(full=False)
        engine.wait_for_index()
        out["add_1000"]["fold_into_index_s"] = round(time.perf_counter() - t0, 2)

        doc_id = next(d.id for d in reader.store.documents() if d.file_name.startswith("distr"))
        t0 = time.perf_counter()
        with DataDir(copy, write=True) as dd:
            gone = delete_document(dd, doc_id)
        out["delete_document"] = {
            "passages": gone.passages_removed,
            "total_s": round(time.perf_counter() - t0, 2),
        }
        t0 = time.perf_counter()
        searcher.search(queries[1].text, access=OPERATOR)
        out["delete_document"]["first_search_after_ms"] = round((time.perf_counter() - t0) * 1000)

        # A full rebuild of the approximate index in the background: searches go on.
        t0 = time.perf_counter()
        engine.rebuild_index(full=True)
        during: list[float] = []
        while engine.rebuilding:
            searcher.forget_queries()
            q = queries[len(during) % len(queries)]
            s0 = time.perf_counter()
            searcher.search(q.text, k=10, access=OPERATOR)
            during.append((time.perf_counter() - s0) * 1000)
        engine.wait_for_index()
        out["background_rebuild"] = {
            "rebuild_s": round(time.perf_counter() - t0, 1),
            "searches_during": len(during),
            **p50_p95(during),
        }
    shutil.rmtree(copy, ignore_errors=True)
    return out


# -- report -----------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--passages", type=int, required=True)
    ap.add_argument("--json", action="store_true", help="end with one line of JSON")
    ap.add_argument("--writes", action="store_true", help="also time add-1000 and delete")
    ap.add_argument("--realdocs", type=Path, default=OUT / "realdocs-data")
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    realdocs = realdocs_folder(args.realdocs)
    if args.build_only:
        build_only(args.passages, realdocs)
        return
    built = ensure_built(args.passages, realdocs)
    queries = load_queries(REALDOCS / "queries.jsonl")
    qrels = load_qrels(REALDOCS / "qrels.tsv")
    result: dict[str, Any] = {"passages": args.passages}
    measured = evaluate(args.passages, queries, qrels)
    result.update(
        {
            "p50_ms": measured["hybrid"]["p50"],
            "p95_ms": measured["hybrid"]["p95"],
            "dense_p50_ms": measured["dense_search"]["p50"],
            "dense_p95_ms": measured["dense_search"]["p95"],
            "recall_at_10": measured["recall_at_10"],
            "ndcg_at_10": measured["ndcg_at_10"],
            "ndcg_exact_at_10": measured["ndcg_exact_at_10"],
            "rss_mb": measured["rss_mb"],
            "build_s": built["build_s"],
            "disk_mb": measured["disk_mb"]["total"],
        }
    )
    result["details"] = {**measured, "build": built}
    if args.writes:
        result["writes"] = measure_writes(args.passages, queries, realdocs)
    (OUT / f"scale-{args.passages}" / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("details", "writes")}))
    print(json.dumps(result["details"], indent=2))
    if "writes" in result:
        print(json.dumps(result["writes"], indent=2))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
