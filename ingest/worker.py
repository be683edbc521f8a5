"""Run extraction in a child process, so a hung or crashing PDF costs one file, not the batch.

The child is started once and reused; when a file runs past its time limit (or kills the reader
outright, as some malformed files do in native code), the child is killed and a new one started.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from errors import DamagedPdf, ExtractionTimeout, IngestError
from ingest.records import ExtractedDocument

MEMORY_LIMIT_BYTES = 6 * 1024**3


def _serve(conn: Connection) -> None:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ValueError, OSError):  # some sandboxes refuse to lower limits; run without it
        pass
    from ingest.extract import extract_pdf

    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        path, password, options = job
        try:
            result: Any = extract_pdf(path, password, **options)
        except IngestError as exc:
            result = exc
        except MemoryError:
            result = DamagedPdf("too complex: reading it exceeded the memory limit")
        except Exception as exc:  # any other failure inside a PDF library is a damaged file
            result = DamagedPdf(f"damaged: {type(exc).__name__}: {exc}"[:300])
        conn.send(result)


class ExtractionWorker:
    """`with ExtractionWorker(timeout) as w: w.extract(path)`."""

    def __init__(self, timeout_s: float = 120.0, **options: Any) -> None:
        self.timeout_s = timeout_s
        self.options = options
        self._ctx = mp.get_context("spawn")  # never fork a parent that may hold torch threads
        self._proc: Any = None
        self._conn: Connection | None = None

    def __enter__(self) -> ExtractionWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(child,), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc, self._conn = None, None

    def extract(self, path: Path, password: str | None = None) -> ExtractedDocument:
        if self._proc is None or not self._proc.is_alive():
            self._start()
        assert self._conn is not None
        self._conn.send((str(path), password, self.options))
        try:
            ready = self._conn.poll(self.timeout_s)
            result = self._conn.recv() if ready else None
        except (EOFError, OSError):
            self._kill()
            raise DamagedPdf("damaged: the PDF reader crashed on this file") from None
        if not ready:
            self._kill()
            raise ExtractionTimeout(
                f"timed out: reading took longer than {self.timeout_s:g} s (the per-file limit)"
            )
        if isinstance(result, IngestError):
            raise result
        if isinstance(result, BaseException):
            raise DamagedPdf(f"damaged: {result}")
        return result  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(2)
            except OSError:
                pass
        self._kill()
