"""Screenshots of every page of the app, for the README: `python docs/screenshots.py`.

Serves `app.py` on a copy of the demo data folder (`make demo` builds `data/`), so nothing it
does (a sample briefing pack, a review) touches the real one, and drives Debian's chromium
with Playwright. Writes docs/screenshots/<page>.png.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUERY = "SHIRBRIG rapid reaction lessons"
WIDTH, HEIGHT = 1440, 900


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(data_dir: Path, port: int | None = None, timeout: float = 120.0) -> Iterator[str]:
    """`streamlit run app.py` on `data_dir`; yields the base URL once the server answers."""
    port = port or free_port()
    env = {
        **os.environ,
        "LESSONS_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"streamlit exited with {proc.returncode}: {err[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("streamlit did not start in time")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def wait_idle(page: Any, timeout: float = 90_000) -> None:
    """Until the app has finished its run (no 'running' indicator) and the page is drawn."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=timeout,
    )
    page.wait_for_timeout(600)


def shoot(page: Any, url: str, out: Path, ready: str) -> None:
    """Load `url`, wait for the CSS selector `ready` and the end of the run, and capture the
    whole page (the viewport grows to the height of Streamlit's scrolling main area)."""
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.goto(url)
    page.wait_for_selector(ready, timeout=120_000)
    wait_idle(page)
    height = page.evaluate(
        """() => { const m = document.querySelector('[data-testid="stMain"]');
                   return m ? m.scrollHeight : document.body.scrollHeight; }"""
    )
    page.set_viewport_size({"width": WIDTH, "height": max(HEIGHT, min(int(height), 4000))})
    wait_idle(page)
    page.screenshot(path=str(out), full_page=True)
    print(f"wrote {out.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    if not (args.data_dir / "lessons.db").exists():
        print(f"no library at {args.data_dir}: run `make demo` first", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(args.data_dir, data, ignore=shutil.ignore_patterns(".lock"))
        prepare(data)
        with serve(data) as base, browser() as b:
            page = b.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            q = urllib.parse.quote_plus(QUERY)
            shoot(page, f"{base}/?q={q}", args.out / "search.png", '[data-testid="stPageLink"]')
            doc, passage = first_hit(data)
            shoot(
                page,
                f"{base}/document?doc={doc}&passage={passage}&q={q}",
                args.out / "document.png",
                '[data-testid="stImage"] img',
            )
            for name, ready in (
                ("review", "h1"),
                ("packs", "h1"),
                ("library", '[data-testid="stDataFrame"]'),
                ("dashboard", '[data-testid="stVegaLiteChart"]'),
            ):
                shoot(page, f"{base}/{name}", args.out / f"{name}.png", ready)
    return 0


def prepare(data: Path) -> None:
    """Hook for sample content in the copy (a briefing pack, a few reviews)."""


def first_hit(data: Path) -> tuple[int, int]:
    """The SHIRBRIG closure note and its 'Lessons' passage, a stable page to show."""
    import sqlite3

    conn = sqlite3.connect(str(data / "lessons.db"))
    try:
        row = conn.execute(
            "SELECT p.doc_id, p.id FROM passages p JOIN documents d ON d.id = p.doc_id"
            " WHERE d.file_name LIKE '%shirbrig-closure%' ORDER BY p.heading = 'Lessons' DESC,"
            " p.seq LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    return (int(row[0]), int(row[1])) if row else (1, 1)


if __name__ == "__main__":
    sys.exit(main())
