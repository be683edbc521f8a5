"""The keyword index: BM25 (bm25s) over passage text, stemmed, English stopwords.

Part of the local engine (`index/engine/local.py`). Stored as a versioned folder beside the
FAISS file and derived, like it, from the library (lessons.db):

    data/keyword/g<generation>/
      manifest.json         format, generation, passages, tokenizer, BM25 parameters
      ids.npy               passage id of every row, in row order
      *.index.json|npy      bm25s's own files

A folder is built under a `.part` name and renamed into place, so a crash leaves either the old
index or the new one; the index matching the store's generation is the current one, and a stale
or missing one is rebuilt from the library's passage texts.

bm25s was chosen over SQLite FTS5 because scoring every passage at once (a sparse column sum)
gives the full score vector that fusion and in-retrieval filters need, in about a millisecond
per query term on 100,000 passages (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from atomic import fsync_dir, write_json_atomic

KEYWORD_FORMAT = 1
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


@dataclass
class KeywordIndex:
    ids: np.ndarray  # passage id per row
    model: Any  # bm25s.BM25
    generation: int

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for the query (zeros when no query word is indexed)."""
        tokens = tokenize([query])[0]
        if not tokens or len(self.ids) == 0:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.model.get_scores(tokens), dtype=np.float32)


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
    if texts:
        model.index(tokenize(texts), show_progress=False)
    return KeywordIndex(np.asarray(ids, dtype=np.int64), model, generation)


def save(index: KeywordIndex, data_dir: Path) -> Path:
    root = data_dir / KEYWORD_DIR
    root.mkdir(exist_ok=True)
    final = root / f"g{index.generation}"
    part = root / f"g{index.generation}.part"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir()
    if len(index.ids):
        index.model.save(str(part))
    np.save(part / "ids.npy", index.ids)
    write_json_atomic(
        part / "manifest.json",
        {
            "format_version": KEYWORD_FORMAT,
            "generation": index.generation,
            "passages": len(index.ids),
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
    folder = data_dir / KEYWORD_DIR / f"g{generation}"
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format_version") != KEYWORD_FORMAT:
            return None
        ids = np.load(folder / "ids.npy")
        if len(ids) == 0:
            import bm25s

            return KeywordIndex(ids, bm25s.BM25(k1=K1, b=B), generation)
        import bm25s

        model = bm25s.BM25.load(str(folder))
    except (OSError, ValueError, KeyError):
        return None
    return KeywordIndex(ids, model, generation)
