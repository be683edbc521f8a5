"""The exact engine: NumPy inner products and a plain BM25, in memory.

Small and obviously right, it is the reference the shared engine test-suite holds every other
engine to (`tests/test_engines.py`), and it proves that nothing outside `index/engine/` depends
on FAISS or bm25s. It keeps nothing on disk: opening it reads the library.

Its BM25 is the Lucene variant that bm25s computes by default (idf = ln(1 + (N - df + 0.5) /
(df + 0.5)), term weight tf / (tf + k1 (1 - b + b dl / avgdl))), over the same tokens.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from index.engine import keyword
from index.engine.base import (
    DIMENSION,
    EngineFilter,
    EngineState,
    Ids,
    IndexedPassage,
    PassageSource,
    Scored,
    SearchEngine,
)


class ExactEngine(SearchEngine):
    name = "exact"

    def __init__(self, source: PassageSource) -> None:
        self.source = source
        self._passages: dict[int, IndexedPassage] = {}
        self._tokens: dict[int, Counter[str]] = {}
        self._state = EngineState()

    # -- state ----------------------------------------------------------------------------
    @property
    def state(self) -> EngineState:
        return EngineState(self._state.generation, self._state.tags_generation, self.count())

    def count(self) -> int:
        return len(self._passages)

    def sync(self) -> bool:
        if (self._state.generation, self._state.tags_generation) == (
            self.source.generation,
            self.source.tags_generation,
        ):
            return False
        self._passages.clear()
        self._tokens.clear()
        for batch in self.source.iter_indexed():
            self._add(batch)
        self._state.generation = self.source.generation
        self._state.tags_generation = self.source.tags_generation
        return True

    def flush(self) -> None:
        self._state.generation = self.source.generation
        self._state.tags_generation = self.source.tags_generation

    # -- writes ---------------------------------------------------------------------------
    def _add(self, passages: Sequence[IndexedPassage]) -> None:
        tokens = keyword.tokenize([p.text for p in passages])
        for p, toks in zip(passages, tokens, strict=True):
            vec = np.asarray(p.vector, dtype=np.float32).reshape(DIMENSION)
            self._passages[p.id] = IndexedPassage(p.id, p.doc_id, p.text, vec, p.labels)
            self._tokens[p.id] = Counter(toks)

    def upsert(self, passages: Sequence[IndexedPassage]) -> None:
        self._add(passages)
        self._state.generation = self.source.generation

    def delete(self, ids: Ids) -> None:
        for pid in ids:
            self._passages.pop(int(pid), None)
            self._tokens.pop(int(pid), None)
        self._state.generation = self.source.generation

    def set_labels(self, labels: Mapping[int, frozenset[str]], tags_generation: int) -> None:
        for pid, new in labels.items():
            p = self._passages.get(int(pid))
            if p is not None:
                self._passages[p.id] = IndexedPassage(p.id, p.doc_id, p.text, p.vector, new)
        self._state.tags_generation = tags_generation

    # -- retrieval ------------------------------------------------------------------------
    def _allowed(self, where: EngineFilter | None) -> list[IndexedPassage]:
        ps = sorted(self._passages.values(), key=lambda p: p.id)
        if where is None:
            return ps
        return [p for p in ps if where.admits(p.id, p.doc_id, p.labels)]

    def _bm25(self, text: str) -> dict[int, float]:
        query = keyword.tokenize([text])[0]
        n = len(self._tokens)
        if not query or n == 0:
            return dict.fromkeys(self._tokens, 0.0)
        lengths = {pid: sum(c.values()) for pid, c in self._tokens.items()}
        avgdl = sum(lengths.values()) / n
        df = Counter(t for c in self._tokens.values() for t in c)
        out = {}
        for pid, counts in self._tokens.items():
            norm = keyword.K1 * (1 - keyword.B + keyword.B * lengths[pid] / avgdl)
            score = 0.0
            for t in query:
                tf = counts.get(t, 0)
                if tf:
                    idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                    score += idf * tf / (tf + norm)
            out[pid] = score
        return out

    @staticmethod
    def _best(scored: list[tuple[int, float]], k: int) -> Scored:
        scored = sorted(scored, key=lambda x: (-x[1], x[0]))[: max(k, 0)]
        return Scored(
            np.asarray([s[0] for s in scored], dtype=np.int64),
            np.asarray([s[1] for s in scored], dtype=np.float32),
        )

    def keyword_top(self, text: str, k: int, where: EngineFilter | None = None) -> Scored:
        scores = self._bm25(text)
        return self._best([(p.id, scores[p.id]) for p in self._allowed(where)], k)

    def dense_top(self, vector: np.ndarray, k: int, where: EngineFilter | None = None) -> Scored:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        return self._best([(p.id, float(p.vector @ q)) for p in self._allowed(where)], k)

    def keyword_scores(self, text: str, ids: Ids) -> np.ndarray:
        scores = self._bm25(text)
        return np.asarray([scores.get(int(i), 0.0) for i in ids], dtype=np.float32)

    def dense_scores(self, vector: np.ndarray, ids: Ids) -> np.ndarray:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        return np.asarray(
            [
                float(self._passages[int(i)].vector @ q) if int(i) in self._passages else 0.0
                for i in ids
            ],
            dtype=np.float32,
        )

    def vectors(self, ids: Ids) -> np.ndarray:
        out = np.zeros((len(ids), DIMENSION), dtype=np.float32)
        for i, pid in enumerate(ids):
            p = self._passages.get(int(pid))
            if p is not None:
                out[i] = p.vector
        return out

    def doc_passages(self, doc_id: int) -> np.ndarray:
        return np.asarray(
            sorted(p.id for p in self._passages.values() if p.doc_id == doc_id), dtype=np.int64
        )

    def doc_ids(self, ids: Ids) -> np.ndarray:
        return np.asarray(
            [self._passages[int(i)].doc_id for i in ids if int(i) in self._passages],
            dtype=np.int64,
        )
