"""The data folder: SQLite store, FAISS index and a manifest, kept consistent.

    data/
      manifest.json   format version, model, dimension, counts, library versions, build time,
                      and the store generation the FAISS file was written from
      lessons.db      SQLite (WAL): the source of truth, embeddings included
      vectors.faiss   derived; rebuilt from lessons.db whenever it is missing or stale

Every store write is one SQLite transaction; the FAISS file and the manifest are replaced
atomically after it. An ingest killed at any moment therefore leaves the last committed
documents intact, and at worst a stale FAISS file that the next open detects and rebuilds.
"""

from __future__ import annotations

import fcntl
import json
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from errors import DataDirError
from index import keyword, vectors
from index.atomic import write_json_atomic
from index.embeddings import DIMENSION, MODEL_NAME
from index.keyword import KeywordIndex
from index.store import Store

FORMAT_VERSION = 1
DB_NAME = "lessons.db"
FAISS_NAME = "vectors.faiss"
MANIFEST_NAME = "manifest.json"
LIBRARIES = (
    "faiss-cpu",
    "torch",
    "sentence-transformers",
    "spacy",
    "pdfplumber",
    "pypdfium2",
    "numpy",
    "scikit-learn",
)


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


class DataDir:
    """Open with `DataDir(path, write=True)` to ingest (takes the writer lock), or read-only."""

    def __init__(self, path: Path | str, *, write: bool = False) -> None:
        self.path = Path(path)
        self.write = write
        self._lock_fh: Any = None
        self._index: Any = None
        self._index_generation = -1
        self._keyword: KeywordIndex | None = None
        if not self.path.exists():
            if not write:
                raise DataDirError(
                    f"no data folder at {self.path}: ingest documents first "
                    f"(python cli.py ingest corpus/pdf --data-dir {self.path})"
                )
            try:
                self.path.mkdir(parents=True)
            except OSError as exc:
                raise DataDirError(f"cannot create the data folder {self.path}: {exc}") from None
        if not self.path.is_dir():
            raise DataDirError(f"{self.path} is not a folder")
        self._check_manifest()
        if write:
            self._take_lock()
        try:
            self.store = Store(self.path / DB_NAME)
        except Exception as exc:  # sqlite3.DatabaseError, PermissionError...
            self.close()
            raise DataDirError(f"cannot open {self.path / DB_NAME}: {exc}") from None

    # -- lifecycle ------------------------------------------------------------------------
    def _take_lock(self) -> None:
        try:
            self._lock_fh = open(self.path / ".lock", "w")  # noqa: SIM115 (held until close)
        except OSError as exc:
            raise DataDirError(f"the data folder {self.path} is not writable: {exc}") from None
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_fh.close()
            self._lock_fh = None
            raise DataDirError(
                f"another ingest is writing to {self.path}; wait for it to finish"
            ) from None

    def close(self) -> None:
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> DataDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- manifest -------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.path / MANIFEST_NAME).read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {"corrupt": True}

    def _check_manifest(self) -> None:
        m = self.manifest()
        if not m or m.get("corrupt"):
            return  # no manifest yet, or a damaged one: the next write replaces it
        if int(m.get("format_version", 0)) > FORMAT_VERSION:
            raise DataDirError(
                f"{self.path} was written by a newer version of this tool (format "
                f"{m['format_version']} > {FORMAT_VERSION}); upgrade, or use another --data-dir"
            )
        if m.get("model") not in (None, MODEL_NAME) or m.get("dimension") not in (None, DIMENSION):
            raise DataDirError(
                f"{self.path} was built with {m.get('model')} ({m.get('dimension')} dims); "
                "re-ingest into a new --data-dir to use this version's model"
            )

    def _write_manifest(self, generation: int) -> None:
        write_json_atomic(
            self.path / MANIFEST_NAME,
            {
                "format_version": FORMAT_VERSION,
                "model": MODEL_NAME,
                "dimension": DIMENSION,
                "generation": generation,
                "counts": self.store.counts(),
                "libraries": library_versions(),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "files": {"store": DB_NAME, "vectors": FAISS_NAME},
            },
        )

    # -- vectors --------------------------------------------------------------------------
    def vector_index(self) -> Any:
        """The FAISS index matching the store; loaded from disk when current, else rebuilt."""
        generation = self.store.generation
        if self._index is not None and self._index_generation == generation:
            return self._index
        faiss_path = self.path / FAISS_NAME
        index = None
        if faiss_path.exists() and self.manifest().get("generation") == generation:
            try:
                index = vectors.read(faiss_path)
            except Exception:  # unreadable file: rebuild below
                index = None
            if index is not None and index.ntotal != self.store.counts()["passages"]:
                index = None
        if index is None:
            index = vectors.new_index(DIMENSION)
            for ids, vecs in self.store.iter_embeddings():
                vectors.add(index, ids, vecs)
            if self.write:
                self._save(index, generation)
        self._index, self._index_generation = index, generation
        return index

    def _save(self, index: Any, generation: int) -> None:
        vectors.write_atomic(index, self.path / FAISS_NAME)
        self._write_manifest(generation)

    def save_vectors(self) -> None:
        """Persist the in-memory index (after store commits), then the manifest."""
        if self._index is None:
            self.vector_index()
        self._index_generation = self.store.generation
        self._save(self._index, self._index_generation)

    def apply(self, added: tuple[np.ndarray, np.ndarray] | None, removed: list[int]) -> None:
        """Mirror a committed store change in the in-memory index."""
        if self._index is None:
            self.vector_index()  # built from the store, which already holds the change
            return
        vectors.remove(self._index, removed)
        if added is not None:
            vectors.add(self._index, *added)
        self._index_generation = self.store.generation

    # -- keyword index --------------------------------------------------------------------
    def keyword_index(self) -> KeywordIndex:
        """The BM25 index matching the store: loaded when current, else rebuilt (and saved
        when this folder is open for writing)."""
        generation = self.store.generation
        if self._keyword is not None and self._keyword.generation == generation:
            return self._keyword
        index = keyword.load(self.path, generation)
        if index is None:
            index = keyword.build(self.store, generation)
            if self.write:
                keyword.save(index, self.path)
        self._keyword = index
        return index

    def save_keyword_index(self) -> None:
        """Bring the saved BM25 index up to date (after a batch of store commits)."""
        generation = self.store.generation
        if not keyword.is_saved(self.path, generation):
            self._keyword = keyword.build(self.store, generation)
            keyword.save(self._keyword, self.path)

    def size_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())
