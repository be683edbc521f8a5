"""vectors.faiss: the exact vectors of the local engine's base rows, memory-mapped.

    data/
      vectors.faiss   IndexIDMap2(IndexFlatIP): the base's vectors, in ascending passage id
      vectors.json    format, the library generation the file holds, passages, dimension,
                      the sum of the ids (a check that file and manifest belong together)

Read with FAISS's memory-map flag, the file is the one copy of the vectors a search process
holds: pages are read when a row is, live in the page cache and are shared by every process
that opens the library. The engine reads rows through a NumPy view of the mapped codes and
never adds to the mapped index (FAISS aborts the process on a write to a mapped index).
The file is written whole, under `.part` and renamed into place, when the engine rewrites its
base; a file that is missing, damaged, foreign or out of order is not read (the engine rebuilds
from the library).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from atomic import fsync_dir, write_json_atomic
from index.engine.base import DIMENSION

FAISS_NAME = "vectors.faiss"
VECTORS_MANIFEST = "vectors.json"
LEGACY_MANIFEST = "manifest.json"  # folders written before vectors.json kept the generation here
VECTORS_FORMAT = 1
WRITE_BATCH = 65_536


@dataclass
class VectorFile:
    ids: np.ndarray  # ascending
    vectors: np.ndarray  # (len(ids), DIMENSION) float32, a view of the mapped file
    owner: Any  # the mapped FAISS index the view belongs to (kept alive with it)
    generation: int  # the library generation the file holds


def saved_generation(folder: Path) -> int | None:
    for name in (VECTORS_MANIFEST, LEGACY_MANIFEST):
        try:
            meta = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if name == VECTORS_MANIFEST and meta.get("format_version") != VECTORS_FORMAT:
            return None
        if isinstance(meta.get("generation"), int):
            return int(meta["generation"])
    return None


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / VECTORS_MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def read(folder: Path) -> VectorFile | None:
    """The saved base, memory-mapped; None when there is none that can be trusted."""
    import faiss

    path = folder / FAISS_NAME
    generation = saved_generation(folder)
    if generation is None or not path.exists():
        return None
    try:
        index: Any = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        flat: Any = faiss.downcast_index(index.index)
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    except Exception:  # truncated, damaged or another kind of index: rebuilt from the library
        return None
    n = int(index.ntotal)
    if flat.d != DIMENSION or len(ids) != n or (n > 1 and not bool(np.all(np.diff(ids) > 0))):
        return None
    meta = _manifest(folder)
    if "id_sum" in meta and (meta.get("passages") != n or meta["id_sum"] != int(ids.sum())):
        return None  # the file and the manifest were not written together
    if n:
        vectors = faiss.rev_swig_ptr(flat.get_xb(), n * DIMENSION).reshape(n, DIMENSION)
        vectors.flags.writeable = False  # the mapping is read-only: a write would crash
    else:
        vectors = np.zeros((0, DIMENSION), dtype=np.float32)
    return VectorFile(ids, vectors, index, generation)


def write(
    folder: Path, ids: np.ndarray, vectors: Callable[[np.ndarray], np.ndarray], generation: int
) -> None:
    """Write the base: `ids` ascending, `vectors(positions)` their vectors, read in batches."""
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION))
    for start in range(0, len(ids), WRITE_BATCH):
        chunk = np.arange(start, min(len(ids), start + WRITE_BATCH))
        index.add_with_ids(
            np.ascontiguousarray(vectors(chunk), dtype=np.float32),
            np.ascontiguousarray(ids[chunk], dtype=np.int64),
        )
    path = folder / FAISS_NAME
    tmp = path.with_name(path.name + ".part")
    faiss.write_index(index, str(tmp))
    del index
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(folder)
    write_json_atomic(
        folder / VECTORS_MANIFEST,
        {
            "format_version": VECTORS_FORMAT,
            "generation": generation,
            "passages": len(ids),
            "id_sum": int(np.asarray(ids, dtype=np.int64).sum()),
            "dimension": DIMENSION,
            "index": "IndexIDMap2(IndexFlatIP), ascending passage id",
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
