"""The approximate dense index of a large library: FAISS IVF with 8-bit scalar-quantised codes.

    data/ann/
      index.faiss     IndexIVFScalarQuantizer(IndexFlatIP), QT_8bit, labels = passage ids
      ids.npy         the passage ids it holds, ascending
      manifest.json   format, lists, probes, passages, the size it was trained for, FAISS
                      version, build time

Why IVF and not HNSW: on a million vectors made like the scale benchmark's (benchmarks/scale.py:
real MiniLM vectors with tight clusters of near-copies around them), HNSW32 over the same 8-bit
codes stopped at a recall@10 of 0.96-0.98 (re-scored top 1,000, efSearch up to 1,500) and took
140 s to build with efConstruction 40, 306 s with 100 (and recalled less); IVF1024 reached
0.986 scanning 32 lists, IVF4096 0.998 scanning 64, in 1-2.5 ms. On the benchmark itself,
IVF2048 scanning 62 lists recalls 1.000 in about 4 ms and builds in 107 s on two cores (docs/
benchmarks.md). IVF also takes new passages with no graph to repair, and applies a filter while
it scans a list (an `IDSelectorBitmap` over passage ids): a disallowed code costs one bit test,
so a filter whose passages lie far from the query is met by scanning more lists.

The codes approximate the vectors (384 bytes a passage instead of 1,536); the engine re-scores
the candidates with the exact vectors, which are held once, memory-mapped from vectors.faiss.
Labels are passage ids, which the library never reuses, so an index stays valid while the
library changes: passages deleted since it was built are filtered out, and passages added since
are scanned exactly beside it until a background job (`Background`) folds them in.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from atomic import replace_folder, write_json_atomic
from index.engine.base import DIMENSION

ANN_DIR = "ann"
ANN_FORMAT = 1
TRAIN_PER_LIST = 40  # training vectors per list (FAISS asks for at least 39)
ADD_BATCH = 65_536
SCANNED = 30_000  # codes a query scans (see probes_for)


def lists_for(passages: int) -> int:
    """Inverted lists for a library: the power of two nearest 2 * sqrt(passages), 64-4096."""
    target = 2 * math.sqrt(max(passages, 1))
    return int(min(4096, max(64, 2 ** round(math.log2(target)))))


def probes_for(lists: int, passages: int) -> int:
    """Lists scanned per query: enough for about SCANNED codes. Recall needs a number of
    codes scanned, not a share of the lists (the clusters of near-copies spread over more
    lists as a library grows): on the scale benchmark, 12,500 scanned gave recall@10 0.993 at
    100,000 passages and 15,600 gave 0.983 at a million (one query lost its whole top 10),
    while 25,000-31,000 gave 0.998-1.000 at 100,000, 300,000 and a million."""
    per_list = max(passages / max(lists, 1), 1.0)
    return int(min(lists, max(16, math.ceil(SCANNED / per_list))))


def bitmap(ids: np.ndarray) -> np.ndarray:
    """A bitmap over passage ids (bit i set: id i), as `IDSelectorBitmap` reads it."""
    if len(ids) == 0:
        return np.zeros(1, dtype=np.uint8)
    bits = np.zeros(int(ids.max()) + 1, dtype=bool)
    bits[ids] = True
    return np.packbits(bits, bitorder="little")


@dataclass
class AnnIndex:
    """An IVF index over some passages (labels are passage ids). Treated as immutable: a
    change makes a new one (`extended`), so searches never meet a half-done write."""

    index: Any
    ids: np.ndarray  # ids held, ascending
    trained_for: int  # live passages when it was trained (lists are sized for it)
    build_seconds: float = 0.0

    @property
    def lists(self) -> int:
        return int(self.index.nlist)

    @property
    def probes(self) -> int:
        return probes_for(self.lists, len(self.ids))

    @property
    def scanned_share(self) -> float:
        return self.probes / self.lists

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None, probes: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best ids per query by approximate inner product (-1 pads), among the ids set
        in the bitmap `allowed` (None: every id held)."""
        import faiss

        params = faiss.SearchParametersIVF()
        params.nprobe = min(self.lists, probes or self.probes)
        selector = None
        if allowed is not None:
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(allowed))
            params.sel = selector
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        scores, found = self.index.search(q, k, params=params)
        del selector  # kept alive until the search returned
        return found, scores

    def extended(self, ids: np.ndarray, vectors: np.ndarray, removed: np.ndarray) -> AnnIndex:
        """A copy holding `ids` (with their vectors) and no longer `removed`."""
        import faiss

        started = time.perf_counter()
        index = faiss.clone_index(self.index)
        if len(removed):
            index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(removed, np.int64)))
        if len(ids):
            index.add_with_ids(
                np.ascontiguousarray(vectors, np.float32), np.ascontiguousarray(ids, np.int64)
            )
        held = np.union1d(np.setdiff1d(self.ids, removed), ids).astype(np.int64)
        took = self.build_seconds + time.perf_counter() - started
        return AnnIndex(index, held, self.trained_for, took)


def build(
    ids: np.ndarray, vectors: Callable[[np.ndarray], np.ndarray], *, seed: int = 0
) -> AnnIndex:
    """Train lists on a sample and add every passage. `vectors(positions)` reads the vectors
    of the given positions of `ids` (from the memory-mapped file: nothing is copied whole)."""
    import faiss

    started = time.perf_counter()
    n = len(ids)
    lists = lists_for(n)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, TRAIN_PER_LIST * lists), replace=False))
    quantizer = faiss.IndexFlatIP(DIMENSION)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, DIMENSION, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    index.train(np.ascontiguousarray(vectors(sample), dtype=np.float32))
    for start in range(0, n, ADD_BATCH):
        chunk = np.arange(start, min(n, start + ADD_BATCH))
        index.add_with_ids(
            np.ascontiguousarray(vectors(chunk), dtype=np.float32),
            np.ascontiguousarray(ids[chunk], dtype=np.int64),
        )
    return AnnIndex(index, np.sort(ids).astype(np.int64), n, time.perf_counter() - started)


# -- persistence --------------------------------------------------------------------------------
def save(ann: AnnIndex, data_dir: Path, generation: int) -> None:
    """Write the index as a folder beside vectors.faiss (built under `.part`, then renamed)."""
    import faiss

    final = data_dir / ANN_DIR
    part = data_dir / f"{ANN_DIR}.part"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    faiss.write_index(ann.index, str(part / "index.faiss"))
    np.save(part / "ids.npy", ann.ids)
    write_json_atomic(
        part / "manifest.json",
        {
            "format_version": ANN_FORMAT,
            "index": f"IVF{ann.lists},SQ8 (inner product), labels = passage ids",
            "lists": ann.lists,
            "probes": ann.probes,
            "passages": len(ann.ids),
            "trained_for": ann.trained_for,
            "generation": generation,
            "dimension": DIMENSION,
            "faiss": faiss.__version__,
            "build_seconds": round(ann.build_seconds, 1),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    replace_folder(part, final)


def is_saved(data_dir: Path) -> bool:
    """Whether a saved index of this format is there (its manifest only is read)."""
    try:
        meta = json.loads((data_dir / ANN_DIR / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(meta.get("format_version") == ANN_FORMAT)


def load(data_dir: Path) -> AnnIndex | None:
    """The saved index, or None when missing, of another format, or unreadable."""
    import faiss

    folder = data_dir / ANN_DIR
    try:
        meta = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if meta.get("format_version") != ANN_FORMAT or meta.get("dimension") != DIMENSION:
            return None
        index = faiss.read_index(str(folder / "index.faiss"))
        ids = np.load(folder / "ids.npy")
    except Exception:  # missing, truncated or foreign files: the engine builds a new one
        return None
    if index.ntotal != len(ids) or getattr(index, "nlist", None) != meta.get("lists"):
        return None
    return AnnIndex(
        index, ids.astype(np.int64), int(meta["trained_for"]), float(meta["build_seconds"])
    )


# -- background jobs ------------------------------------------------------------------------------
T = TypeVar("T")


class Background(Generic[T]):
    """One job on a daemon thread; its result is picked up by the thread that started it, so
    the engine's tables are only ever changed by their owner. FAISS releases the GIL while it
    trains and adds, so searches go on meanwhile."""

    def __init__(self, job: Callable[[], T], *, threads: int = 1) -> None:
        self._result: T | None = None
        self._error: BaseException | None = None
        self._threads = threads
        self._thread = threading.Thread(target=self._run, args=(job,), daemon=True)
        self._thread.start()

    def _run(self, job: Callable[[], T]) -> None:
        import faiss

        # OpenMP's thread count is per calling thread: the job leaves a core to searches.
        faiss.omp_set_num_threads(self._threads)
        try:
            self._result = job()
        except BaseException as exc:  # handed to the owner by result()
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> T:
        """Wait for the job and return what it made (or raise what it raised)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
