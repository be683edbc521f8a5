"""Retrieval metrics over TREC qrels, at document level: a ranked list of passages counts each
document at its first passage."""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.access import Access


@dataclass(frozen=True)
class Query:
    qid: str
    text: str
    kind: str = ""


def load_queries(path: Path) -> list[Query]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out.append(Query(str(row["qid"]), row["query"], row.get("kind", "")))
    return out


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """qid -> {docid: grade}; lines are `qid 0 docid grade`."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 4 and int(parts[3]) > 0:
                qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return qrels


def first_occurrences(docids: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for d in docids:
        seen.setdefault(d, None)
    return list(seen)


def ndcg_at_k(ranked: Sequence[str], grades: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** grades.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranked: Sequence[str], grades: dict[str, int], k: int = 10) -> float:
    rel = {d for d, g in grades.items() if g > 0}
    return len(rel & set(ranked[:k])) / len(rel) if rel else 0.0


def mrr_at_k(ranked: Sequence[str], grades: dict[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if grades.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_run(
    runs: Mapping[str, Sequence[str]], qrels: dict[str, dict[str, int]], k: int = 10
) -> dict[str, Any]:
    """Mean nDCG@k, Recall@k and MRR@k over the queries that have judgments."""
    qids = [q for q in runs if q in qrels]
    if not qids:
        return {"ndcg@10": 0.0, "recall@10": 0.0, "mrr@10": 0.0, "queries": 0}
    n = len(qids)
    return {
        f"ndcg@{k}": sum(ndcg_at_k(runs[q], qrels[q], k) for q in qids) / n,
        f"recall@{k}": sum(recall_at_k(runs[q], qrels[q], k) for q in qids) / n,
        f"mrr@{k}": sum(mrr_at_k(runs[q], qrels[q], k) for q in qids) / n,
        "queries": n,
    }


SYSTEMS = {"system": "hybrid", "bm25": "bm25", "dense": "dense"}


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def evaluate_search(
    searcher: Any,
    queries: Sequence[Query],
    qrels: dict[str, dict[str, int]],
    *,
    k: int = 10,
    latency_runs: int = 3,
    progress: Any = None,
    access: Access | None = None,
) -> dict[str, Any]:
    """Document-level nDCG, Recall and MRR at k for the system and both single retrievers over
    the same index, overall and per query kind; and the system's search latency (median of
    `latency_runs` timed runs per query, then p50 and p95 over queries; model loaded). Searches
    run as `access` (an `index.access.Access`; by default the operator's, who sees all)."""
    if access is None:
        from index.access import OPERATOR

        access = OPERATOR
    judged = [q for q in queries if q.qid in qrels]
    out: dict[str, Any] = {}
    searcher.search("warm up the models", k=k, access=access)
    per_query_ms: dict[str, list[float]] = {q.qid: [] for q in judged}
    for name, mode in SYSTEMS.items():
        runs: dict[str, list[str]] = {}
        for q in judged:
            searcher.forget_queries()  # every timed search embeds its query
            started = time.perf_counter()
            res = searcher.search(q.text, k=k, mode=mode, access=access)
            if mode == "hybrid":
                per_query_ms[q.qid].append((time.perf_counter() - started) * 1000)
            runs[q.qid] = [_docid(d.source) for d in res.documents]
            if progress is not None:
                progress()
        scores = score_run(runs, qrels, k)
        kinds = sorted({q.kind for q in judged if q.kind})
        scores["by_kind"] = {
            kind: score_run({q.qid: runs[q.qid] for q in judged if q.kind == kind}, qrels, k)
            for kind in kinds
        }
        out[name] = scores
    for _ in range(max(0, latency_runs - 1)):
        for q in judged:
            searcher.forget_queries()
            started = time.perf_counter()
            searcher.search(q.text, k=k, access=access)
            per_query_ms[q.qid].append((time.perf_counter() - started) * 1000)
    medians = [statistics.median(v) for v in per_query_ms.values() if v]
    out["latency_ms"] = {
        "p50": round(percentile(medians, 0.5), 1),
        "p95": round(percentile(medians, 0.95), 1),
    }
    return out


def _docid(file_name: str) -> str:
    return file_name[:-4] if file_name.lower().endswith(".pdf") else file_name
