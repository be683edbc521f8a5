"""End to end in a real browser: `streamlit run app.py` on a copy of the demo library, driven by
Playwright through Debian's chromium. One server and one browser for the whole session."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e_support import CHROMIUM, browser, serve, wait_idle

QUERY = "SHIRBRIG rapid reaction lessons"


@pytest.fixture(scope="session")
def e2e_data(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("e2e") / "data"
    shutil.copytree(demo_dir, data, ignore=shutil.ignore_patterns(".lock"))
    return data


@pytest.fixture(scope="session")
def app_url(e2e_data: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make setup` as root to install it")
    with serve(e2e_data) as url:
        yield url


@pytest.fixture(scope="session")
def chromium(app_url: str) -> Iterator[Any]:
    with browser() as b:
        yield b


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(120_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def titles_of(data: Path, fragment: str) -> set[str]:
    conn = sqlite3.connect(str(data / "lessons.db"))
    try:
        rows = conn.execute(
            "SELECT title FROM documents WHERE file_name LIKE ?", (f"%{fragment}%",)
        ).fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def search(page: Any, base: str, query: str) -> None:
    page.goto(base + "/")
    wait_idle(page)
    box = page.get_by_label("Search the library")
    box.fill(query)
    box.press("Enter")
    page.locator(".ll-title").first.wait_for()
    wait_idle(page)


def test_search_shows_the_shirbrig_document_first(page: Any, app_url: str, e2e_data: Path) -> None:
    search(page, app_url, QUERY)
    first = page.locator(".ll-title").first.inner_text()
    assert first.startswith("1.")
    assert first.removeprefix("1.").strip() in titles_of(e2e_data, "shirbrig")
    assert page.locator(".ll-passage mark").count() > 0
    assert "p. " in page.locator(".ll-cite").first.inner_text()
    assert "q=SHIRBRIG" in page.url  # the search can be bookmarked and shared
