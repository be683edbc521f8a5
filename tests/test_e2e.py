"""End to end in a real browser: `streamlit run app.py` on a copy of the demo library, driven by
Playwright through Debian's chromium. One server and one browser for the whole session."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

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


def first_card(page: Any) -> Any:
    return page.locator('[class*="st-key-result-"]').first


def link_params(card: Any) -> dict[str, str]:
    href = card.get_by_role("link", name="Open document").get_attribute("href")
    return {k: v[0] for k, v in parse_qs(urlparse(href).query).items()}


def test_a_correction_shows_in_search_results(page: Any, app_url: str) -> None:
    search(page, app_url, QUERY)
    card = first_card(page)
    params = link_params(card)
    passage_id, doc_id = int(params["passage"]), int(params["doc"])
    before = card.locator(".ll-cite-row .ll-chip").all_inner_texts()
    assert "Women, peace and security" not in before

    page.goto(f"{app_url}/review?passage={passage_id}&reviewer=E2E+reviewer")
    page.locator('[data-testid="stButtonGroup"]').first.wait_for()
    wait_idle(page)
    page.get_by_role("button", name=re.compile(r"^Women, peace and security")).first.click()
    wait_idle(page)
    page.get_by_role("button", name=re.compile(r"^Save changes")).click()
    page.get_by_text("Correction saved").first.wait_for()
    wait_idle(page)

    search(page, app_url, QUERY)
    card = page.locator(f".st-key-result-{doc_id}")
    assert link_params(card)["passage"] == str(passage_id)
    after = card.locator(".ll-cite-row .ll-chip").all_inner_texts()
    assert "Women, peace and security" in after
    assert set(before) <= set(after)


def test_a_pack_of_three_passages_exports_to_docx_with_citations(
    page: Any, app_url: str, e2e_data: Path, tmp_path: Path
) -> None:
    from docx import Document

    from briefing.citation import citation
    from briefing.outline import clean
    from index.datadir import DataDir
    from index.library.packs import find_pack

    name = "E2E rapid deployment pack"
    page.goto(f"{app_url}/packs")
    wait_idle(page)
    page.get_by_label("New pack").fill(name)
    page.get_by_role("button", name="Create pack").click()
    page.get_by_text("This pack has no excerpts yet").wait_for()
    wait_idle(page)

    search(page, app_url, QUERY)
    for _ in range(3):
        page.get_by_role("button", name="Add to briefing pack").first.click()
        page.get_by_text("Added to").first.wait_for()
        wait_idle(page)
    assert page.get_by_role("button", name="In the pack").count() == 3

    page.goto(f"{app_url}/packs")
    page.locator(".ll-passage").first.wait_for()
    wait_idle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Word (DOCX)").click()
    path = tmp_path / "pack.docx"
    download.value.save_as(path)

    with DataDir(e2e_data) as dd:
        pack = find_pack(dd.store, name)
    assert len(pack.items) == 3
    doc = Document(str(path))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert name in text
    for item in pack.items:
        assert clean(citation(item)) in text, citation(item)
