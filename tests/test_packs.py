"""Briefing packs: they reopen exactly as left, keep order and notes, survive their sources,
and export to DOCX, PDF and Markdown with contents and full citations, text never as markup."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

import cli
from briefing import citation, export_pack, render_pack
from briefing.markdown import escape
from errors import DuplicateItem, ExportError, PackError
from index.datadir import DataDir
from index.library.packs import (
    Pack,
    PackItem,
    add_passage,
    add_passages,
    create_pack,
    delete_pack,
    duplicate_pack,
    find_pack,
    get_pack,
    list_packs,
    move_down,
    move_item,
    move_up,
    remove_item,
    rename_pack,
    reorder,
    set_grouping,
    set_intro,
    set_note,
)
from index.reviews import review_passage

UNICODE_INTRO = "Lessons on the mission’s “golden hour” – for the café in Bangui, é à ç."


@pytest.fixture
def data(demo_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(demo_dir, copy)
    return copy


def _passages(dd: DataDir, fragment: str, n: int) -> list[int]:
    rows = dd.store.conn.execute(
        "SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id"
        " WHERE d.file_name LIKE ? ORDER BY p.id LIMIT ?",
        (f"%{fragment}%", n),
    )
    ids = [int(r[0]) for r in rows]
    assert len(ids) == n, fragment
    return ids


def _pack(dd: DataDir) -> Pack:
    pack = create_pack(dd.store, "Rapid deployment", intro=UNICODE_INTRO)
    ids = _passages(dd, "shirbrig", 3) + _passages(dd, "minusma", 1)
    report = add_passages(dd.store, pack.id, ids)
    assert len(report.added) == 4 and report.skipped == ()
    set_note(dd.store, pack.id, report.added[0].id, "Why SHIRBRIG was disbanded")
    return get_pack(dd.store, pack.id)


def test_pack_reopens_exactly_as_left(data: Path) -> None:
    with DataDir(data, write=True) as dd:
        pack = _pack(dd)
        pack = move_item(dd.store, pack.id, pack.items[3].id, 0)
        pack = set_grouping(dd.store, pack.id, "a4p")
    with DataDir(data, write=True) as dd:
        again = get_pack(dd.store, pack.id)
        assert again == pack
        assert find_pack(dd.store, "  rapid   DEPLOYMENT ") == pack
        first = again.items[1]
        assert first.note == "Why SHIRBRIG was disbanded" and first.title and first.file_name
        assert [i.position for i in again.items] == [0, 1, 2, 3]
        [summary] = list_packs(dd.store)
        assert (summary.name, summary.items, summary.grouping) == ("Rapid deployment", 4, "a4p")


def test_names_are_unique_and_errors_are_clear(data: Path) -> None:
    with DataDir(data, write=True) as dd:
        pack = create_pack(dd.store, "AU liaison")
        for bad, message in [("au LIAISON", "already exists"), ("   ", "needs a name")]:
            with pytest.raises(PackError, match=message):
                create_pack(dd.store, bad)
        other = create_pack(dd.store, "Other pack")
        with pytest.raises(PackError, match="already exists"):
            rename_pack(dd.store, other.id, "AU Liaison")
        assert rename_pack(dd.store, pack.id, "AU liaison office").name == "AU liaison office"
        with pytest.raises(PackError, match="no pack named"):
            find_pack(dd.store, "AU liaison")
        with pytest.raises(PackError, match="unknown grouping"):
            set_grouping(dd.store, pack.id, "missions")
        pid = _passages(dd, "shirbrig", 1)[0]
        add_passage(dd.store, pack.id, pid)
        with pytest.raises(DuplicateItem):
            add_passage(dd.store, pack.id, pid)
        assert add_passages(dd.store, pack.id, [pid]).skipped == (pid,)
        with pytest.raises(PackError, match="no longer in the library"):
            add_passage(dd.store, pack.id, 10**9)
        assert len(get_pack(dd.store, pack.id).items) == 1


def test_reorder_remove_and_updated_time(data: Path) -> None:
    with DataDir(data, write=True) as dd:
        pack = _pack(dd)
        a, b, c, d = (i.id for i in pack.items)
        stamp = pack.updated_at
        pack = move_up(dd.store, pack.id, a)  # already first: stays
        assert [i.id for i in pack.items] == [a, b, c, d] and pack.updated_at >= stamp
        pack = move_down(dd.store, pack.id, a)
        assert [i.id for i in pack.items] == [b, a, c, d]
        pack = move_item(dd.store, pack.id, d, 1)
        assert [i.id for i in pack.items] == [b, d, a, c]
        pack = move_item(dd.store, pack.id, b, 99)  # clamped to the end
        assert [i.id for i in pack.items] == [d, a, c, b]
        pack = reorder(dd.store, pack.id, [a, b, c, d])
        assert [i.id for i in pack.items] == [a, b, c, d]
        with pytest.raises(PackError, match="exactly once"):
            reorder(dd.store, pack.id, [a, b, c])
        before = pack.updated_at
        time.sleep(0.002)  # timestamps have milliseconds
        pack = remove_item(dd.store, pack.id, b)
        assert [i.id for i in pack.items] == [a, c, d]
        assert [i.position for i in pack.items] == [0, 1, 2] and pack.updated_at > before
        with pytest.raises(PackError, match="not in this pack"):
            remove_item(dd.store, pack.id, b)
        extra = _passages(dd, "shirbrig", 4)[-1]
        added = add_passages(dd.store, pack.id, [extra], position=0).added[0]
        assert get_pack(dd.store, pack.id).items[0].id == added.id


def test_duplicate_is_independent_and_delete_removes_items(data: Path) -> None:
    with DataDir(data, write=True) as dd:
        pack = set_intro(dd.store, _pack(dd).id, "Intro")
        copy = duplicate_pack(dd.store, pack.id)
        assert copy.name == "Rapid deployment (copy)" and copy.intro == "Intro"
        assert [(i.text, i.note, i.position) for i in copy.items] == [
            (i.text, i.note, i.position) for i in pack.items
        ]
        assert duplicate_pack(dd.store, pack.id).name == "Rapid deployment (copy 2)"
        set_note(dd.store, copy.id, copy.items[0].id, "changed in the copy")
        assert get_pack(dd.store, pack.id).items[0].note == "Why SHIRBRIG was disbanded"
        delete_pack(dd.store, copy.id)
        with pytest.raises(PackError):
            get_pack(dd.store, copy.id)
        left = dd.store.conn.execute(
            "SELECT COUNT(*) FROM pack_items WHERE pack_id = ?", (copy.id,)
        ).fetchone()[0]
        assert left == 0 and len(get_pack(dd.store, pack.id).items) == 4


def test_items_survive_their_document_and_follow_corrections(data: Path) -> None:
    with DataDir(data, write=True) as dd:
        pack = set_grouping(dd.store, _pack(dd).id, "a4p")
        minusma = next(i for i in pack.items if "minusma" in i.file_name.lower())
        # A reviewer's correction moves the item to another group at once.
        pid = minusma.passage_id
        assert pid is not None
        shown = dd.store.tags_for([pid])[pid]
        review_passage(dd.store, pid, a4p=[], reviewer="amina", expected=shown)
        groups = get_pack(dd.store, pack.id).groups()
        assert groups[-1].title == "Other" and minusma.id in [i.id for i in groups[-1].items]
        assert all(g.key is not None for g in groups[:-1])

        doc = next(d for d in dd.store.documents() if d.file_name == minusma.file_name)
        dd.store.delete_document(doc.id)
        gone = next(i for i in get_pack(dd.store, pack.id).items if i.id == minusma.id)
        assert gone.source_removed and gone.passage_id is None
        assert (gone.text, gone.title, gone.page_start) == (
            minusma.text,
            minusma.title,
            minusma.page_start,
        )
        assert not any(i.source_removed for i in get_pack(dd.store, pack.id).items if i != gone)
        md = render_pack(get_pack(dd.store, pack.id), "md").decode()
        assert "source removed from the library" in md


def _item(**kw: object) -> PackItem:
    base: dict[str, object] = {
        "id": 1,
        "position": 0,
        "passage_id": 1,
        "text": "Text.",
        "heading": None,
        "note": "",
        "title": "Report of the Secretary-General on Mali",
        "symbol": "S/2005/123",
        "date": "2005-03-12",
        "file_name": "mali.pdf",
        "page_start": 12,
        "page_end": 12,
        "para_start": 31,
        "para_end": 31,
        "a4p": (),
        "pillars": (),
        "added_at": "2025-01-01T00:00:00.000Z",
        "source_removed": False,
    }
    base.update(kw)
    return PackItem(**base)  # type: ignore[arg-type]


def test_citations_are_full() -> None:
    assert citation(_item()) == (
        "Report of the Secretary-General on Mali (S/2005/123, 12 March 2005), p. 12, ¶ 31"
    )
    assert citation(_item(page_end=13, para_end=33)).endswith("pp. 12–13, ¶¶ 31–33")
    assert citation(_item(symbol=None, date=None, para_start=None)) == (
        "Report of the Secretary-General on Mali, p. 12"
    )


HOSTILE = "<script>alert(1)</script> see [x](javascript:alert(1)) and *this* `code` $x$"


def test_markdown_escapes_document_text() -> None:
    item = _item(text=HOSTILE + "\n\n# not a heading\n1. not a list", note="[n](javascript:n)")
    pack = Pack(1, "<b>Pack</b>", "- intro", "none", "c", "u", (item,))
    md = render_pack(pack, "md").decode()
    assert "<script>" not in md and "<b>" not in md
    assert not re.search(r"(?<!\\)\]\(javascript:", md)  # every `]` is escaped
    assert "&lt;script&gt;" in md and "\\[x\\](javascript:alert(1))" in md
    assert escape("1. one") == "1\\. one" and escape("- dash") == "\\- dash"
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark").render(md)
    assert "<script" not in html and "href=" not in html and "<b>" not in html
    assert "*this*" in html and "`code`" in html and "$x$" in html and "<code>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as the text it is


def test_docx_export_has_title_page_contents_headings_and_citations(
    data: Path, tmp_path: Path
) -> None:
    import docx

    with DataDir(data, write=True) as dd:
        pack = set_grouping(dd.store, _pack(dd).id, "a4p")
    out = export_pack(pack, tmp_path / "pack.docx")
    doc = docx.Document(str(out))
    paras = doc.paragraphs
    assert paras[0].text == "UNCLASSIFIED"  # its classification first, on every page too
    assert doc.sections[0].header.paragraphs[0].text == "UNCLASSIFIED"
    assert (paras[1].style.name, paras[1].text) == ("Title", "Rapid deployment")
    assert any(p.text == UNICODE_INTRO for p in paras[:5])
    assert doc.core_properties.title == "Rapid deployment"
    body = doc.element.body.xml
    assert 'TOC \\o "1-2"' in body and 'w:fldCharType="end"' in body

    h1 = [p.text for p in paras if p.style.name == "Heading 1"]
    h2 = [p.text for p in paras if p.style.name == "Heading 2"]
    groups = [g.title for g in pack.groups()]
    assert h1 == [*groups, "Sources"] and len(h2) == len(pack.items)
    # The contents list every heading, in order, without a field update.
    headings = [p.text for p in paras if p.style.name in ("Heading 1", "Heading 2")]
    start = next(i for i, p in enumerate(paras) if p.style.name == "TOC Heading")
    assert [p.text for p in paras[start + 1 : start + 1 + len(headings)]] == headings
    texts = [p.text for p in paras]
    for item in pack.items:
        assert citation(item) in texts
        assert re.search(r"\(.*\d{4}\), pp?\. \d+", citation(item)) or not item.date
    assert "Note: Why SHIRBRIG was disbanded" in texts
    sources = [p.text for p in paras if p.style.name == "List Number"]
    assert len(sources) == len({i.file_name for i in pack.items})


def test_pdf_export_has_contents_headings_citations_and_unicode(data: Path, tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    with DataDir(data, write=True) as dd:
        pack = _pack(dd)
    out = export_pack(pack, tmp_path / "pack.pdf")
    pdf = pdfium.PdfDocument(str(out))
    pages = [" ".join(pdf[i].get_textpage().get_text_range().split()) for i in range(len(pdf))]
    pdf.close()
    assert "Rapid deployment" in pages[0] and UNICODE_INTRO in pages[0]
    assert "Contents" in pages[1] and "Sources" in pages[1]
    text = " ".join(pages[2:])
    for item in pack.items:
        assert citation(item) in text
    assert "Why SHIRBRIG was disbanded" in text and "Sources" in text


def test_cli_lists_and_exports_packs(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with DataDir(data, write=True) as dd:
        pack = _pack(dd)
    assert cli.main(["pack", "list", "--data-dir", str(data)]) == 0
    assert "Rapid deployment  (4 items" in capsys.readouterr().out
    out = tmp_path / "brief.md"
    args = ["pack", "export", "rapid deployment", "--out", str(out), "--data-dir", str(data)]
    assert cli.main(args) == 0
    assert out.read_text(encoding="utf-8").startswith("**UNCLASSIFIED**\n\n# Rapid deployment")
    assert cli.main([*args[:3], "--out", str(tmp_path / "x.txt"), *args[-2:]]) == 1
    assert "unknown export format" in capsys.readouterr().err
    with pytest.raises(ExportError, match="no folder"):
        export_pack(pack, tmp_path / "missing" / "x.md")
    empty = Pack(9, "Empty", "", "none", "c", "u", ())
    with pytest.raises(ExportError, match="no excerpts yet"):
        render_pack(empty, "pdf")
