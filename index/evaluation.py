"""Retrieval metrics over TREC qrels, at document level: a ranked list of passages counts each
document at its first passage."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


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
    runs: dict[str, Sequence[str]], qrels: dict[str, dict[str, int]], k: int = 10
) -> dict[str, float]:
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
