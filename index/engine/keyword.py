"""The keyword index: BM25 (bm25s) over passage text, stemmed, English stopwords.

Part of the local engine (`index/engine/local.py`). Stored as a versioned folder beside the
FAISS file and derived, like it, from the library (lessons.db):

    data/keyword/g<generation>/
      manifest.json         format, generation, passages, average length, tokenizer, BM25
                            parameters
      ids.npy               passage id of every row, in row order
      *.index.json|npy      bm25s's own files (memory-mapped when loaded)

A folder is built under a `.part` name and renamed into place, so a crash leaves either the old
index or the new one. The index covers the engine's base rows; passages added since are a
`KeywordDelta`, scored when a query comes with the statistics of base and delta together, the
way Lucene scores across segments, until the engine rebuilds the base.

bm25s was chosen over SQLite FTS5 because scoring every passage at once (a sparse column sum)
gives the full score vector that fusion and in-retrieval filters need, in about a millisecond
per query term on 100,000 passages, and 2-5 ms a query on 1,000,000 (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from atomic import fsync_dir, write_json_atomic

KEYWORD_FORMAT = 2  # 2: the manifest records the average passage length (for the delta)
KEYWORD_DIR = "keyword"
K1 = 1.2
B = 0.75


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def stopwords() -> frozenset[str]:
    """bm25s's English stopwords: what snippets leave unmarked, as keyword search ignores them."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    out = bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), show_progress=False, return_ids=False
    )
    return [list(t) for t in out]


def idf(n: int, df: int) -> float:
    """Lucene's idf, as bm25s computes it."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


@dataclass
class KeywordIndex:
    ids: np.ndarray  # passage id per row
    model: Any  # bm25s.BM25
    generation: int
    avgdl: float = 0.0  # mean tokens per passage (stopwords out), as bm25s weighed them

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for the query (zeros when no query word is indexed)."""
        return self.token_scores(tokenize([query])[0])

    def token_scores(self, tokens: list[str]) -> np.ndarray:
        if not tokens or len(self.ids) == 0:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.model.get_scores(tokens), dtype=np.float32)

    def postings(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows holding `token` and their precomputed BM25 weights (empty when unknown)."""
        tid = self.model.vocab_dict.get(token) if len(self.ids) else None
        if tid is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.model.scores
        start, end = int(scores["indptr"][tid]), int(scores["indptr"][tid + 1])
        return scores["indices"][start:end], scores["data"][start:end]


@dataclass
class KeywordDelta:
    """Passages added after the base index was built (table rows `first_row` onwards).

    Each passage counts in N and in its words' document frequencies from the moment it is
    added, and base rows are rescaled to the new idf, so scores are BM25 over base and delta
    together. Two things wait for the next rebuild of the base, as in Lucene until a merge:
    deleted passages still count in the statistics, and lengths are weighed against the base's
    average length."""

    first_row: int
    avgdl: float
    rows: int = 0  # table rows covered: first_row .. first_row + rows - 1
    docs: int = 0  # passages counted (rows with text)
    _lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    _postings: dict[str, list[Any]] = field(default_factory=dict)  # token -> [rows, tfs, used]

    def add(self, rows: np.ndarray, texts: Sequence[str]) -> None:
        """Index the texts of table rows (appended in order: rows only grow)."""
        if len(rows) == 0:
            return
        end = int(rows.max()) - self.first_row + 1
        if end > len(self._lengths):
            grown = np.zeros(max(end, 2 * len(self._lengths), 256), dtype=np.float32)
            grown[: len(self._lengths)] = self._lengths
            self._lengths = grown
        for row, tokens in zip(rows.tolist(), tokenize(list(texts)), strict=True):
            offset = row - self.first_row
            self._lengths[offset] = len(tokens)
            for token, tf in Counter(tokens).items():
                entry = self._postings.get(token)
                if entry is None:
                    entry = self._postings[token] = [
                        np.zeros(4, dtype=np.int32),
                        np.zeros(4, dtype=np.float32),
                        0,
                    ]
                used = entry[2]
                if used == len(entry[0]):
                    entry[0] = np.concatenate([entry[0], np.zeros(used, dtype=np.int32)])
                    entry[1] = np.concatenate([entry[1], np.zeros(used, dtype=np.float32)])
                entry[0][used], entry[1][used], entry[2] = offset, tf, used + 1
        self.rows = max(self.rows, end)
        self.docs += len(rows)

    def postings(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """Delta offsets holding `token` and its count in each."""
        entry = self._postings.get(token)
        if entry is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        return entry[0][: entry[2]], entry[1][: entry[2]]

    def weights(self, offsets: np.ndarray, tfs: np.ndarray) -> np.ndarray:
        """BM25's term-frequency part (before idf) for delta rows."""
        avgdl = self.avgdl or float(self._lengths[: self.rows].mean())  # no base: its own
        norm = K1 * (1 - B + B * self._lengths[offsets] / (avgdl or 1.0))
        return tfs / (tfs + norm)


def scores(base: KeywordIndex, delta: KeywordDelta | None, query: str) -> np.ndarray:
    """BM25 score of every table row (the base's, then the delta's) for `query`."""
    tokens = tokenize([query])[0]
    if delta is None or delta.docs == 0:
        out = base.token_scores(tokens)
        if delta is not None and delta.rows:
            out = np.concatenate([out, np.zeros(delta.rows, dtype=np.float32)])
        return out
    n_base = len(base.ids)
    out = np.zeros(n_base + delta.rows, dtype=np.float32)
    n = n_base + delta.docs
    for token in tokens:
        rows, weights = base.postings(token)
        offsets, tfs = delta.postings(token)
        df = len(rows) + len(offsets)
        if df == 0:
            continue
        now = idf(n, df)
        if len(rows):  # the base weights carry the base's idf: rescale them
            out[rows] += weights * np.float32(now / idf(n_base, len(rows)))
        if len(offsets):
            out[n_base + offsets] += (now * delta.weights(offsets, tfs)).astype(np.float32)
    return out


def build(batches: Iterable[list[tuple[int, str]]], generation: int) -> KeywordIndex:
    """Index (passage id, text) pairs given in ascending id order."""
    import bm25s

    ids: list[int] = []
    texts: list[str] = []
    for batch in batches:
        for pid, text in batch:
            ids.append(int(pid))
            texts.append(text)
    model = bm25s.BM25(k1=K1, b=B)
    avgdl = 0.0
    if texts:
        tokens = tokenize(texts)
        del texts  # a million passages' texts and tokens together outgrow the rest
        avgdl = float(np.mean([len(t) for t in tokens]))
        model.index(tokens, show_progress=False)
    return KeywordIndex(np.asarray(ids, dtype=np.int64), model, generation, avgdl)


def save(index: KeywordIndex, data_dir: Path) -> Path:
    root = data_dir / KEYWORD_DIR
    root.mkdir(exist_ok=True)
    final = root / f"g{index.generation}"
    part = root / f"g{index.generation}.part"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir()
    if len(index.ids):
        index.model.save(str(part), show_progress=False)
    np.save(part / "ids.npy", index.ids)
    write_json_atomic(
        part / "manifest.json",
        {
            "format_version": KEYWORD_FORMAT,
            "generation": index.generation,
            "passages": len(index.ids),
            "avgdl": index.avgdl,
            "tokenizer": "bm25s english stopwords + Snowball English stemmer",
            "k1": K1,
            "b": B,
        },
    )
    shutil.rmtree(final, ignore_errors=True)
    part.rename(final)
    fsync_dir(root)
    for old in root.iterdir():  # earlier generations and leftovers of a crash
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def is_saved(data_dir: Path, generation: int) -> bool:
    return (data_dir / KEYWORD_DIR / f"g{generation}" / "manifest.json").exists()


def load(data_dir: Path, generation: int) -> KeywordIndex | None:
    """The saved index for this generation, or None when missing, stale or unreadable."""
    import bm25s

    folder = data_dir / KEYWORD_DIR / f"g{generation}"
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format_version") != KEYWORD_FORMAT:
            return None
        ids = np.load(folder / "ids.npy")
        avgdl = float(manifest["avgdl"])
        if len(ids) == 0:
            return KeywordIndex(ids, bm25s.BM25(k1=K1, b=B), generation, avgdl)
        model = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
    except (OSError, ValueError, KeyError):
        return None
    return KeywordIndex(ids, model, generation, avgdl)
