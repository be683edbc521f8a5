"""Fusion of keyword and dense retrieval, and document ranking: pure functions over scored ids.

Nothing here knows which engine produced the scores, so results mean the same on every engine.
Each choice was measured in benchmarks/search.py (docs/benchmarks.md):

- Raw BM25 and cosine live on unrelated scales, so each retriever's score becomes a z-score
  against that retriever's own top NORM_DEPTH candidates, and the two are mixed
  KEYWORD_WEIGHT / (1 - KEYWORD_WEIGHT). Reciprocal-rank fusion throws the margins away and
  scored 0.03 lower; the weights were chosen on one half of the queries (split by mission) and
  the same values won on the other half.
- A document scores the sum of its best DOC_PASSAGES passages' fused scores, weighted 1, 1/2,
  1/4...: a report that treats the subject in several paragraphs beats one passing mention.
- Documents of a mission or country the query names, and of the period it names, get a soft
  boost (they rise; others still appear).

Scores stay float32 throughout, as the retrievers give them, so ties and orders are the same
whatever the engine's arithmetic is done in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

KEYWORD_WEIGHT = 0.7  # share of the BM25 z-score in the fused score
NORM_DEPTH = 1000  # each retriever's top NORM_DEPTH passages are the candidates, and the
# z-scores are taken against them
CANDIDATES = 3000  # passages a single-retriever baseline ranks documents from
DOC_PASSAGES = 5  # a document scores its best DOC_PASSAGES passages...
DOC_DECAY = 0.5  # ...weighted 1, DOC_DECAY, DOC_DECAY**2
PLACE_BOOST = 1.0  # added (in z units) to documents of the mission or country named
PERIOD_BOOST = 1.0  # added to documents dated in the period named (or the year after it)


@dataclass(frozen=True)
class Fused:
    """Candidates best first, with each retriever's score and the fused one (float32)."""

    ids: np.ndarray
    fused: np.ndarray
    keyword: np.ndarray
    dense: np.ndarray

    @classmethod
    def empty(cls) -> Fused:
        z = np.zeros(0, dtype=np.float32)
        return cls(np.zeros(0, dtype=np.int64), z, z, z)

    def __len__(self) -> int:
        return len(self.ids)

    def scores_of(self) -> dict[int, tuple[float, float, float]]:
        """passage id -> (fused, keyword, dense)."""
        return {
            int(pid): (float(f), float(k), float(d))
            for pid, f, k, d in zip(self.ids, self.fused, self.keyword, self.dense, strict=True)
        }


def spread(top: np.ndarray) -> tuple[float, float]:
    """Mean and spread of a retriever's top scores (the spread never 0)."""
    if len(top) == 0:
        return 0.0, 1.0
    sd = float(top.std())
    return float(top.mean()), sd if sd > 1e-9 else 1.0


ScoreLookup = Callable[[np.ndarray], np.ndarray]


def fuse(
    keyword_ids: np.ndarray,
    keyword_scores: np.ndarray,
    dense_ids: np.ndarray,
    dense_scores: np.ndarray,
    *,
    keyword_of: ScoreLookup,
    dense_of: ScoreLookup,
    weight: float | None = None,
) -> Fused:
    """Mix two top lists (each best first) into one ranking of their union.

    A candidate found by one retriever only gets the other's score from `keyword_of` /
    `dense_of` (the engine's score of given ids), so the mix is the same as scoring every
    passage with both. Keyword candidates with a zero score are dropped; with none left (no
    query word is indexed) the dense list alone is ranked. Ties: lower id first. `weight` is
    the keyword share (KEYWORD_WEIGHT unless given)."""
    weight = KEYWORD_WEIGHT if weight is None else weight
    kw_keep = keyword_scores > 0
    kw_ids, kw_top = keyword_ids[kw_keep], keyword_scores[kw_keep]
    mean_d, sd_d = spread(dense_scores)
    if len(kw_ids) == 0:
        z = ((dense_scores - mean_d) / sd_d).astype(np.float32)
        return Fused(
            dense_ids, z, np.asarray(keyword_of(dense_ids), dtype=np.float32), dense_scores
        )
    mean_k, sd_k = spread(kw_top)
    cand = np.union1d(kw_ids, dense_ids)
    kw = np.asarray(keyword_of(cand), dtype=np.float32)
    dense = np.asarray(dense_of(cand), dtype=np.float32)
    fused = (weight * (kw - mean_k) / sd_k + (1 - weight) * (dense - mean_d) / sd_d).astype(
        np.float32
    )
    order = np.argsort(-fused, kind="stable")
    return Fused(cand[order], fused[order], kw[order], dense[order])


def single(ids: np.ndarray, scores: np.ndarray, *, keyword: bool) -> Fused:
    """One retriever's list as the ranking (the baselines); BM25 drops zero scores."""
    if keyword:
        keep = scores > 0
        ids, scores = ids[keep], scores[keep]
        zero = np.zeros(len(ids), dtype=np.float32)
        return Fused(ids, scores, scores, zero)
    zero = np.zeros(len(ids), dtype=np.float32)
    return Fused(ids, scores, zero, scores)


def group_by_document(ranked: Iterable[int], doc_of: Mapping[int, int]) -> dict[int, list[int]]:
    """document id -> its candidate passages, best first (documents in order of their best)."""
    by_doc: dict[int, list[int]] = {}
    for pid in ranked:
        doc = doc_of.get(int(pid))
        if doc is not None:
            by_doc.setdefault(doc, []).append(int(pid))
    return by_doc


def document_scores(
    by_doc: Mapping[int, Sequence[int]],
    score_of: Mapping[int, float],
    boosts: Mapping[int, float],
    *,
    decayed: bool,
) -> dict[int, float]:
    """A document's score: its best DOC_PASSAGES passages weighted 1, DOC_DECAY, DOC_DECAY**2...
    plus its boost (`decayed`), or its best passage's score alone (the baselines)."""
    out: dict[int, float] = {}
    for doc, pids in by_doc.items():
        if decayed:
            s = sum(float(score_of[p]) * DOC_DECAY**j for j, p in enumerate(pids[:DOC_PASSAGES]))
            out[doc] = s + boosts.get(doc, 0.0)
        else:
            out[doc] = float(score_of[pids[0]])
    return out


def rank_documents(scores: Mapping[int, float]) -> list[int]:
    """Documents best first (ties keep the order they were first found in)."""
    return sorted(scores, key=lambda d: -scores[d])


def boost(
    *,
    query_missions: set[str],
    query_years: tuple[int, int] | None,
    doc_missions: Iterable[str],
    doc_year: int | None,
) -> float:
    """The soft boost of one document for a query's places and period."""
    b = 0.0
    if query_missions and query_missions & set(doc_missions):
        b += PLACE_BOOST
    if query_years and doc_year is not None and query_years[0] <= doc_year <= query_years[1] + 1:
        # a report covers the months before its date, so the year after counts too
        b += PERIOD_BOOST
    return b
