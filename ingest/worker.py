"""Run extraction in a child process, so a hung or crashing PDF costs one file, not the batch.

The child (`ingest.worker.main` in a fresh interpreter) is started once and reused; when a file
runs past its time limit (or kills the reader outright, as some malformed files do in native
code), the child is killed and a new one started. A plain subprocess rather than
multiprocessing, because spawn re-imports the parent's `__main__`, which is wrong under
Streamlit and in embedded interpreters.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from errors import DamagedPdf, ExtractionTimeout, IngestError
from ingest.records import ExtractedDocument

MEMORY_LIMIT_BYTES = 6 * 1024**3


def _serve(inbox: Connection, outbox: Connection) -> None:
    # Some sandboxes refuse to lower limits; run without one there.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    from ingest.extract import extract_pdf

    while True:
        try:
            job = inbox.recv()
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
        outbox.send(result)


class ExtractionWorker:
    """`with ExtractionWorker(timeout) as w: w.extract(path)`."""

    def __init__(self, timeout_s: float = 120.0, **options: Any) -> None:
        self.timeout_s = timeout_s
        self.options = options
        self._proc: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._conn: Connection | None = None
        self._deadline = 0.0

    def __enter__(self) -> ExtractionWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from ingest.worker import main; main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=root,
            env=env,
            # Its own process group, so a kill also stops what it started (a Tesseract run).
            start_new_session=True,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._send = Connection(os.dup(self._proc.stdin.fileno()), readable=False)
        self._conn = Connection(os.dup(self._proc.stdout.fileno()), writable=False)
        self._proc.stdin.close()
        self._proc.stdout.close()

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _kill(self) -> None:
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self._proc.kill()
            self._proc.wait(5)
        for conn in (self._send, self._conn):
            if conn is not None:
                conn.close()
        self._proc, self._send, self._conn = None, None, None

    def submit(self, path: Path, password: str | None = None) -> None:
        """Start reading a file in the child; `collect` returns the result. Submitting the next
        file before processing the current one keeps both cores busy."""
        if not self._alive():
            self._kill()
            self._start()
        assert self._send is not None
        try:
            self._send.send((str(path), password, self.options))
        except OSError:  # the child died between files: start again once
            self._kill()
            self._start()
            assert self._send is not None
            self._send.send((str(path), password, self.options))
        self._deadline = time.monotonic() + self.timeout_s

    def collect(self) -> ExtractedDocument:
        assert self._conn is not None
        try:
            ready = self._conn.poll(max(0.0, self._deadline - time.monotonic()))
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
        assert isinstance(result, ExtractedDocument)
        return result

    def extract(self, path: Path, password: str | None = None) -> ExtractedDocument:
        self.submit(path, password)
        return self.collect()

    def close(self) -> None:
        if self._send is not None and self._alive():
            try:
                self._send.send(None)
                assert self._proc is not None
                self._proc.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()


def main() -> None:
    # Our stdout is the result channel: keep stray prints from libraries off it.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    _serve(Connection(os.dup(0), writable=False), Connection(out_fd, readable=False))


if __name__ == "__main__":
    main()
