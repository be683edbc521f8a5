"""The data folder: SQLite store, FAISS index and a manifest, kept consistent.

    data/
      manifest.json   format version, model, dimension, counts, library versions, build time,
                      and the store generation the engine's files were written from
      lessons.db      SQLite (WAL): the library of record, embeddings included
      vectors.faiss, vectors.json, keyword/, ann/
                      the local search engine's files (index/engine/local.py; ann/ once a
                      library is large): derived, and rebuilt from lessons.db whenever missing
                      or stale; with a Milvus engine (LESSONS_ENGINE=http://host:19530) the
                      passages live instead in a collection on that server, named after the
                      library's identity (meta `library_id`), and `python cli.py engine sync`
                      repairs it

Every store write is one SQLite transaction; the engine's files and the manifest are replaced
atomically after it (index/writes.py). An ingest killed at any moment therefore leaves the last
committed documents intact, and at worst stale engine files that the next open detects and
rebuilds.
"""

from __future__ import annotations

import fcntl
import json
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from atomic import write_json_atomic
from errors import DataDirError
from index.embeddings import DIMENSION, MODEL_NAME
from index.engine import SearchEngine, is_server, open_engine
from index.engine.local import FAISS_NAME
from index.library import Store
from index.library.migrations import pending_steps
from settings import Settings

FORMAT_VERSION = 1
DB_NAME = "lessons.db"
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
    """A data folder: `store`, the library of record, and `engine`, the search engine over it,
    which catches up with the store on first use. `engine_name` (and `engine_token`) default to
    the configured ones (LESSONS_ENGINE: the local FAISS + bm25s engine unless set), so every
    handle a process opens, the ingest pipeline's included, writes to and searches the same
    engine.

    `DataDir(path)` is a read handle: the store is opened read-only (never migrated) and the
    engine writes no file. `DataDir(path, write=True)` is the writer handle: it takes the
    folder's writer lock (one ingest at a time), migrates the store, and changes go through
    `index.writes.LibraryWriter`."""

    def __init__(
        self,
        path: Path | str,
        *,
        write: bool = False,
        engine_name: str | None = None,
        engine_token: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.write = write
        self._lock_fh: Any = None
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
            self.store = Store(self.path / DB_NAME, readonly=not write)
        except DataDirError:
            self.close()
            raise
        except Exception as exc:  # sqlite3.DatabaseError, PermissionError...
            self.close()
            raise DataDirError(f"cannot open {self.path / DB_NAME}: {exc}") from None
        self.engine = self._open_engine(engine_name, engine_token)

    def _open_engine(self, name: str | None, token: str | None) -> SearchEngine:
        if name is None or token is None:
            configured = Settings.from_env()
            name = configured.engine if name is None else name
            token = configured.engine_token if token is None else token
        # A server engine keeps its copy under the library's identity, made by the first
        # writer that needs one.
        library_id = self.store.library_id(create=self.write) if is_server(name) else None
        try:
            return open_engine(
                name,
                self.path,
                self.store,
                writable=self.write,
                token=token,
                library_id=library_id,
            )
        except Exception:
            self.close()
            raise

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
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.close()
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
                "engine": self.engine.name,
                "files": {"store": DB_NAME, "vectors": FAISS_NAME},
            },
        )

    # -- the engine ---------------------------------------------------------------------
    def flush(self) -> None:
        """Make the engine's writes durable, then record the generation in the manifest."""
        self.engine.flush()
        self._write_manifest(self.store.generation)

    def checkpoint(self) -> None:
        """What a long ingest saves now and then, so a kill costs little to redo."""
        self.engine.checkpoint()
        self._write_manifest(self.store.generation)

    @classmethod
    def upgrade(cls, path: Path | str) -> list[str]:
        """Bring a library written by an earlier version up to date (its pending migration
        steps), so read handles can open it; a current one is left alone, unlocked. Returns
        the steps that ran."""
        folder = Path(path)
        db = folder / DB_NAME
        if not db.exists() or not pending_steps(db):
            return []
        with cls(folder, write=True) as dd:
            return list(dd.store.migrated)

    def editor(self) -> Store:
        """A second, writable connection to the store for small edits made beside a read
        handle (a review, a pack change): each is one transaction, and none needs the writer
        lock that ingests hold. The caller closes it."""
        return Store(self.path / DB_NAME)

    def size_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())
