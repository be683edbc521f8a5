"""The FAISS index: exact inner product over normalised vectors, keyed by passage id.

`IndexIDMap2(IndexFlatIP)` keeps our own int64 ids, so a re-ingested document's passages can be
removed and replaced without renumbering anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def new_index(dim: int) -> Any:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def add(index: Any, ids: np.ndarray, vectors: np.ndarray) -> None:
    if len(ids):
        index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32),
            np.ascontiguousarray(ids, dtype=np.int64),
        )


def remove(index: Any, ids: list[int]) -> None:
    if ids:
        index.remove_ids(np.asarray(ids, dtype=np.int64))


def search(index: Any, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the k nearest passages; ids of -1 mean fewer than k exist."""
    if index.ntotal == 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    scores, ids = index.search(
        np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, index.ntotal)
    )
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


def search_many(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) rows for many queries at once; ids of -1 pad missing neighbours."""
    if index.ntotal == 0 or len(queries) == 0:
        empty = np.zeros((len(queries), 0))
        return empty.astype(np.float32), empty.astype(np.int64)
    scores, ids = index.search(
        np.ascontiguousarray(queries, dtype=np.float32), min(k, index.ntotal)
    )
    return scores, ids


def write_atomic(index: Any, path: Path) -> None:
    """Write beside the target, flush to disk, then rename over it."""
    import faiss

    tmp = path.with_name(path.name + ".part")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read(path: Path) -> Any:
    import faiss

    return faiss.read_index(str(path))
