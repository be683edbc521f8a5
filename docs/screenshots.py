"""Screenshots of every page of the app, for the README: `python docs/screenshots.py`.

Serves `app.py` on a copy of the demo data folder (`make demo` builds `data/`), so nothing it
does (a sample briefing pack, a review) touches the real one, and drives Debian's chromium
with Playwright. Writes docs/screenshots/<page>.png.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e_support import browser, serve, sign_in, wait_idle  # noqa: E402

QUERY = "SHIRBRIG rapid reaction lessons"
USER, PASSWORD = "amina", "screenshots only, a copy of the library"
WIDTH, HEIGHT = 1440, 900
MAX_HEIGHT = 2200


def shoot(page: Any, url: str, out: Path, ready: str, max_height: int = MAX_HEIGHT) -> None:
    """Load `url`, wait for the CSS selector `ready` and the end of the run, and capture the
    page: the viewport grows to the height of Streamlit's scrolling main area, up to
    `max_height` (HEIGHT keeps the view where the page scrolled itself)."""
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.goto(url)
    page.wait_for_selector(ready, timeout=120_000)
    wait_idle(page)
    height = page.evaluate(
        """() => { const m = document.querySelector('[data-testid="stMain"]');
                   return m ? m.scrollHeight : document.body.scrollHeight; }"""
    )
    if max_height > HEIGHT:
        page.set_viewport_size(
            {"width": WIDTH, "height": max(HEIGHT, min(int(height), max_height))}
        )
    wait_idle(page)
    page.wait_for_timeout(800)
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
            page.goto(base + "/")
            page.get_by_role("button", name="Sign in").wait_for()
            wait_idle(page)
            page.screenshot(path=str(args.out / "signin.png"))
            print(f"wrote {(args.out / 'signin.png').relative_to(ROOT)}")
            sign_in(page, base, USER, PASSWORD)
            q = urllib.parse.quote_plus(QUERY)
            shoot(
                page,
                f"{base}/?q={q}",
                args.out / "search.png",
                '[data-testid="stPageLink"]',
                max_height=1300,
            )
            doc, passage = first_hit(data)
            shoot(
                page,
                f"{base}/document?doc={doc}&passage={passage}&q={q}",
                args.out / "document.png",
                '[data-testid="stImage"] img',
                max_height=HEIGHT,  # the page scrolls to the passage opened
            )
            for name, ready, tallest in (
                ("review", '[data-testid="stButtonGroup"]', MAX_HEIGHT),
                ("packs", ".ll-passage", 1500),
                ("library", '[data-testid="stDataFrame"]', MAX_HEIGHT),
                ("dashboard", '[data-testid="stVegaLiteChart"]', MAX_HEIGHT),
                ("admin", '[data-testid="stDataFrame"]', MAX_HEIGHT),
            ):
                out = args.out / f"{name.partition('?')[0]}.png"
                shoot(page, f"{base}/{name}", out, ready, tallest)
    return 0


def prepare(data: Path) -> None:
    """Sample content in the copy: a briefing pack of three excerpts and a few reviews, so
    the Packs and Review pages show what they are for."""
    from index.access import ROLES
    from index.accounts import access_of, create_user
    from index.datadir import DataDir
    from index.library.packs import (
        add_passages,
        create_pack,
        get_pack,
        set_grouping,
        set_intro,
        set_note,
    )
    from index.reviews import review_passage, review_queue

    with DataDir(data, write=True) as dd:
        amina, _ = create_user(
            dd.store,
            USER,
            roles=ROLES,
            clearance="strictly_confidential",
            password=PASSWORD,
            display_name="Amina Diallo",
        )
        create_user(dd.store, "lars", roles=["officer", "reviewer"], clearance="confidential")
        shirbrig = [d for d in dd.store.documents() if "shirbrig" in d.file_name.lower()]
        ids = [p.id for d in shirbrig for p in dd.store.passages_of(d.id) if p.seq > 0][:3]
        pack = create_pack(
            dd.store, "Rapid deployment: lessons for the AU liaison office", by=access_of(amina)
        )
        set_intro(
            dd.store,
            pack.id,
            "Three excerpts on standby arrangements and what made headquarters deploy fast, "
            "for the meeting with the AU Peace Support Operations Division.",
        )
        add_passages(dd.store, pack.id, ids)
        first = get_pack(dd.store, pack.id, access=access_of(amina)).items[0]
        set_note(dd.store, pack.id, first.id, "The core argument: readiness is political.")
        set_grouping(dd.store, pack.id, "a4p")
        for reviewer, item in zip(("amina", "lars"), review_queue(dd, limit=2).items, strict=False):
            review_passage(
                dd.store,
                item.passage_id,
                a4p=item.current["a4p"],
                pillars=[*item.current["pillars"], "best_practices"],
                reviewer=reviewer,
                expected=item.expected,
                seen_event=item.last_event_id,
            )


def first_hit(data: Path) -> tuple[int, int]:
    """The SHIRBRIG closure note and its 'Lessons' passage, a stable page to show."""
    from index.datadir import DataDir

    with DataDir(data) as dd:
        for doc in dd.store.documents():
            if "shirbrig-closure" in doc.file_name.lower():
                passages = dd.store.passages_of(doc.id)
                best = min(passages, key=lambda p: (p.heading != "Lessons", p.seq))
                return doc.id, best.id
    return 1, 1


if __name__ == "__main__":
    sys.exit(main())
