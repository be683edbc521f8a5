"""Search quality and speed on ../shared/realdocs, with ablations and a robustness check.

Run: python benchmarks/search.py [--data-dir benchmarks/out/realdocs-data] [--skip-100k]
(build the realdocs index first with benchmarks/ingest_realdocs.py). Writes
benchmarks/out/search.json and prints:

1. nDCG@10, Recall@10, MRR@10 for the system, BM25-only and dense-only (the same numbers as
   `python cli.py eval`), overall and per query kind, with latency p50/p95.
2. Ablations: each design choice switched off in turn, plus reciprocal-rank fusion in place of
   the z-score fusion.
3. Robustness: parameters chosen on one half of the queries (split by mission), scored on the
   other half, against the shipped defaults.
4. Latency on a synthetic index of about 100,000 passages (the realdocs passages repeated).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import index.search as search_mod  # noqa: E402
from index import fusion  # noqa: E402
from index.datadir import DataDir  # noqa: E402
from index.evaluation import (  # noqa: E402
    Query,
    evaluate_search,
    load_qrels,
    load_queries,
    percentile,
    score_run,
)
from index.search import Searcher  # noqa: E402
from index.writes import LibraryWriter, StoredFile  # noqa: E402
from nlp.query import ParsedQuery  # noqa: E402

REALDOCS = ROOT.parent / "shared" / "realdocs"
OUT = ROOT / "benchmarks" / "out"


def _owner(name: str) -> Any:
    """The module a tunable lives in: the fusion's constants, or the searcher's functions."""
    return fusion if hasattr(fusion, name) else search_mod


@contextmanager
def patched(**values: Any) -> Iterator[None]:
    """Temporarily change index.fusion's constants (or index.search's functions)."""
    old = {k: getattr(_owner(k), k) for k in values}
    for k, v in values.items():
        setattr(_owner(k), k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(_owner(k), k, v)


def memo_encoder() -> Callable[..., np.ndarray]:
    """Query embeddings computed once per text, so ablations time only the ranking."""
    real = search_mod.encode
    cache: dict[str, np.ndarray] = {}

    def encode(texts: list[str], threads: int = 2) -> np.ndarray:
        missing = [t for t in texts if t not in cache]
        if missing:
            for t, v in zip(missing, real(missing, threads=threads), strict=True):
                cache[t] = v
        return np.vstack([cache[t] for t in texts])

    return encode


def ndcg(searcher: Searcher, queries: list[Query], qrels: dict[str, dict[str, int]]) -> float:
    runs = {
        q.qid: [d.source[:-4] for d in searcher.search(q.text, k=10).documents] for q in queries
    }
    return float(score_run(runs, qrels)["ndcg@10"])


def no_expansion(text: str) -> ParsedQuery:
    full = ORIGINAL_PARSE(text)
    return ParsedQuery(
        text=full.text,
        missions=full.missions,
        organisations=full.organisations,
        countries=full.countries,
        years=full.years,
        terms=full.terms,
    )


ORIGINAL_PARSE = search_mod.parse_query


class RRFSearcher(Searcher):
    """The same pipeline with reciprocal-rank fusion (k=60) of the two retrievers."""

    def _retrieve(
        self, engine: Any, pq: Any, mode: str, where: Any, qvec: Any = None
    ) -> fusion.Fused:
        if mode != "hybrid":
            return super()._retrieve(engine, pq, mode, where, qvec)
        n = engine.count()
        vec = self.query_vector(pq.dense_text) if qvec is None else qvec
        kw = engine.keyword_top(pq.keyword_text, n, where)
        dense = engine.dense_top(vec, n, where)
        rank_kw = {int(i): r for r, i in enumerate(kw.ids)}
        rank_dense = {int(i): r for r, i in enumerate(dense.ids)}
        ids = np.asarray(sorted(rank_kw.keys() | rank_dense.keys()), dtype=np.int64)
        fused = np.asarray(
            [1 / (60 + rank_kw.get(i, n)) + 1 / (60 + rank_dense.get(i, n)) for i in ids.tolist()],
            dtype=np.float32,
        )
        order = np.argsort(-fused, kind="stable")[: fusion.CANDIDATES]
        kws = engine.keyword_scores(pq.keyword_text, ids[order])
        return fusion.Fused(ids[order], fused[order], kws, engine.dense_scores(vec, ids[order]))


def mission_of(qid: str, qrels: dict[str, dict[str, int]]) -> str:
    docs = sorted(qrels.get(qid, {}), key=lambda d: -qrels[qid][d])
    return docs[0].split("_")[0] if docs else ""


def synthetic(source: Path, target: Path, copies: int) -> Path:
    """A data folder with every realdocs document stored `copies` times (kept between runs,
    rebuilt when the source's passages changed in number)."""
    if (target / "manifest.json").exists():
        with DataDir(source) as src, DataDir(target) as old:
            if old.store.counts()["passages"] == copies * src.store.counts()["passages"]:
                return target
    shutil.rmtree(target, ignore_errors=True)
    with DataDir(source) as src, DataDir(target, write=True) as dst:
        writer = LibraryWriter(dst)
        docs = src.store.documents()
        for copy in range(copies):
            for doc in docs:
                writer.store_document(
                    StoredFile.copy_of(
                        doc,
                        source_path=f"{doc.source_path}#copy{copy}",
                        sha256=f"{doc.sha256}-{copy}",
                        size_bytes=0,
                        extractor="synthetic",
                    ),
                    src.store.passage_records(doc.id),
                    near_duplicates=False,  # the copies are the point: nothing to fold
                )
            print(f"  copy {copy + 1}/{copies}", flush=True)
        writer.finish()
    return target


def latency(searcher: Searcher, queries: list[Query], runs: int = 3) -> dict[str, float]:
    searcher.search("warm up")
    per_query: dict[str, list[float]] = {q.qid: [] for q in queries}
    for _ in range(runs):
        for q in queries:
            searcher.forget_queries()  # time the query embedding too
            t0 = time.perf_counter()
            searcher.search(q.text, k=10)
            per_query[q.qid].append((time.perf_counter() - t0) * 1000)
    medians = [statistics.median(v) for v in per_query.values()]
    return {"p50": round(percentile(medians, 0.5), 1), "p95": round(percentile(medians, 0.95), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=OUT / "realdocs-data")
    ap.add_argument("--skip-100k", action="store_true")
    args = ap.parse_args()
    queries = load_queries(REALDOCS / "queries.jsonl")
    qrels = load_qrels(REALDOCS / "qrels.tsv")
    result: dict[str, Any] = {}

    with DataDir(args.data_dir) as dd:
        searcher = Searcher(dd)
        print("1. realdocs, 44 queries (python cli.py eval gives the same numbers)")
        report = evaluate_search(searcher, queries, qrels)
        result["eval"] = report
        for name in ("system", "bm25", "dense"):
            r = report[name]
            kinds = "  ".join(f"{k} {v['ndcg@10']:.3f}" for k, v in r["by_kind"].items())
            print(
                f"  {name:7} nDCG@10 {r['ndcg@10']:.3f}  R@10 {r['recall@10']:.3f}  "
                f"MRR@10 {r['mrr@10']:.3f}   ({kinds})"
            )
        print(f"  latency p50 {report['latency_ms']['p50']} ms, p95 {report['latency_ms']['p95']}")

        print("2. ablations (nDCG@10)")
        with patched(encode=memo_encoder()):
            fresh = Searcher(dd)
            ablations = {
                "system": {},
                "no query expansion": {"parse_query": no_expansion},
                "no mission/country/period boost": {"PLACE_BOOST": 0.0, "PERIOD_BOOST": 0.0},
                "document = best passage": {"DOC_PASSAGES": 1},
                "document = best 5 passages": {"DOC_PASSAGES": 5},
                "keyword weight 0.3": {"KEYWORD_WEIGHT": 0.3},
                "keyword weight 0.7": {"KEYWORD_WEIGHT": 0.7},
            }
            result["ablations"] = {}
            for name, change in ablations.items():
                with patched(**change):
                    score = ndcg(fresh, queries, qrels)
                result["ablations"][name] = round(score, 3)
                print(f"  {name:34} {score:.3f}")
            rrf = RRFSearcher(dd)
            score = ndcg(rrf, queries, qrels)
            result["ablations"]["reciprocal-rank fusion (k=60)"] = round(score, 3)
            print(f"  {'reciprocal-rank fusion (k=60)':34} {score:.3f}")

            print("3. robustness: choose on half the missions, score on the other half")
            missions = sorted({mission_of(q.qid, qrels) for q in queries})
            half_a = set(missions[::2])
            split = {
                "A": [q for q in queries if mission_of(q.qid, qrels) in half_a],
                "B": [q for q in queries if mission_of(q.qid, qrels) not in half_a],
            }
            grid = list(itertools.product((0.3, 0.5, 0.7), (1, 3, 5), (0.0, 1.0)))
            scores: dict[tuple[str, tuple[float, int, float]], float] = {}
            for half, qs in split.items():
                for w, m, b in grid:
                    change = {
                        "KEYWORD_WEIGHT": w,
                        "DOC_PASSAGES": m,
                        "PLACE_BOOST": b,
                        "PERIOD_BOOST": b,
                    }
                    with patched(**change):
                        scores[(half, (w, m, b))] = ndcg(fresh, qs, qrels)
            result["robustness"] = {}
            for train, test in (("A", "B"), ("B", "A")):
                best = max(grid, key=lambda g: scores[(train, g)])
                default = (fusion.KEYWORD_WEIGHT, fusion.DOC_PASSAGES, fusion.PLACE_BOOST)
                row = {
                    "chosen": best,
                    "chosen_on_test": round(scores[(test, best)], 3),
                    "default_on_test": round(scores[(test, default)], 3),
                    "best_possible_on_test": round(max(scores[(test, g)] for g in grid), 3),
                    "queries": [len(split[train]), len(split[test])],
                }
                result["robustness"][f"{train}->{test}"] = row
                print(f"  {train}->{test}: {row}")

    if not args.skip_100k:
        print("4. latency on ~100,000 passages")
        with DataDir(args.data_dir) as dd:
            n = dd.store.counts()["passages"]
        copies = max(1, round(100_000 / max(n, 1)))
        big = synthetic(args.data_dir, OUT / "synthetic-100k", copies)
        with DataDir(big) as dd:
            searcher = Searcher(dd)
            t0 = time.perf_counter()
            searcher.search("load the tables")
            load_s = time.perf_counter() - t0
            lat = latency(searcher, queries)
            result["latency_100k"] = {
                "passages": dd.store.counts()["passages"],
                **lat,
                "first_search_s": round(load_s, 1),
            }
        print(f"  {result['latency_100k']}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "search.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
