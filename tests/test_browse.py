"""The read-only views behind the app (library list, document detail, dashboard, facets),
document deletion through the data folder, uploads and page rendering, on the demo library."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from errors import DataDirError, DocumentNotFound, PageRenderError, UploadError
from index import browse
from index.datadir import DataDir
from index.engine import keyword
from index.library import Locator
from index.search import Searcher
from index.writes import delete_document
from ingest.render import line_boxes, match_words, normalise_word, render_page
from ingest.uploads import UPLOADS_DIR, safe_name, save_upload
from tests.conftest import CORPUS_PDF, corpus_file


def test_locator_reads_like_a_citation() -> None:
    assert Locator(12, 12, 31, 31).citation == "p. 12, ¶ 31"
    assert Locator(3, 4, 5, 7).citation == "pp. 3–4, ¶¶ 5–7"
    assert Locator(2, 2, None, None).citation == "p. 2"
    assert Locator(None, None, 4).citation == "¶ 4"  # a pack item kept without its pages


def test_library_lists_every_document_with_tags_and_status(demo_dir: Path) -> None:
    with DataDir(demo_dir) as dd:
        docs = browse.library(dd.store)
        counts = dd.store.counts()
    assert len(docs) == len(list(CORPUS_PDF.glob("*.pdf"))) == counts["documents"]
    assert sum(d.passages for d in docs) == counts["passages"]
    assert all(d.status == browse.STATUS_READY for d in docs)
    dates = [d.date for d in docs if d.date]
    assert dates == sorted(dates, reverse=True)
    shirbrig = [d for d in docs if "SHIRBRIG" in d.missions]
    assert len(shirbrig) >= 3
    assert any(d.a4p for d in docs) and any(d.pillars for d in docs)


def test_document_detail_has_passages_in_order_with_tags(demo_dir: Path) -> None:
    with DataDir(demo_dir) as dd:
        doc = next(d for d in browse.library(dd.store) if "closure" in d.file_name)
        detail = browse.document_detail(dd.store, doc.doc_id)
        with pytest.raises(DocumentNotFound):
            browse.document_detail(dd.store, 10**9)
        one = browse.passage(dd.store, detail.passages[0].passage_id)
    assert [p.seq for p in detail.passages] == sorted(p.seq for p in detail.passages)
    assert detail.summary.passages == len(detail.passages) > 0
    assert any(p.a4p for p in detail.passages)
    assert all(set(p.scores) == set(p.a4p) | set(p.pillars) for p in detail.passages)
    assert "UN" in detail.summary.organisations or "AU" in detail.summary.organisations
    assert one == detail.passages[0]
    assert one.locator.citation.startswith("p. ")


def test_dashboard_counts_add_up(demo_dir: Path) -> None:
    with DataDir(demo_dir) as dd:
        stats = browse.dashboard(dd.store)
        tagged = dd.store.conn.execute(
            "SELECT COUNT(DISTINCT passage_id) FROM passage_tags WHERE axis = 'a4p'"
        ).fetchone()[0]
    assert stats.documents == len(list(CORPUS_PDF.glob("*.pdf")))
    assert [c.key for c in stats.a4p][:2] == ["politics", "wps"]
    assert len(stats.pillars) == 4
    assert stats.coverage.with_a4p == tagged
    assert 0 <= stats.coverage.untagged < stats.passages
    assert stats.missions[0].documents >= stats.missions[-1].documents
    assert sum(c.documents for c in stats.years) <= stats.documents
    assert stats.review.passages == stats.passages


def test_library_list_agrees_with_search_facets(demo_dir: Path) -> None:
    with DataDir(demo_dir) as dd:
        docs = browse.library(dd.store)
        facets = Searcher(dd).facets()
    for key, field in (("missions", "missions"), ("doc_types", "doc_type")):
        counted: dict[str, int] = {}
        for d in docs:
            values = getattr(d, field)
            for v in values if isinstance(values, tuple) else (values,):
                counted[v] = counted.get(v, 0) + 1
        assert counted == facets[key], key


def test_delete_document_updates_store_vectors_and_manifest(demo_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data, ignore=shutil.ignore_patterns(".lock"))
    with DataDir(data) as dd:
        victim = next(d for d in browse.library(dd.store) if "closure" in d.file_name)
        with pytest.raises(DataDirError):
            delete_document(dd, victim.doc_id)  # read-only handle
    with DataDir(data, write=True) as dd:
        before = dd.engine.count()
        gone = delete_document(dd, victim.doc_id)
        with pytest.raises(DocumentNotFound):
            delete_document(dd, victim.doc_id)
    assert gone.passages_removed == victim.passages > 0
    with DataDir(data) as dd:
        assert dd.engine.count() == before - victim.passages
        assert dd.manifest()["generation"] == dd.store.generation
        assert victim.doc_id not in {d.doc_id for d in browse.library(dd.store)}
        assert dd.engine.state.generation == dd.store.generation
        assert keyword.is_saved(data, dd.store.generation)
        hits = Searcher(dd).search("Rapid deployment lessons from SHIRBRIG 1996-2009", k=40)
        assert hits.documents
        assert victim.doc_id not in {d.doc_id for d in hits.documents}
    assert Path(victim.source_path).exists()  # the PDF itself is never touched


def test_uploads_are_kept_and_never_overwritten(tmp_path: Path) -> None:
    first = save_upload(tmp_path, "../../etc/report.pdf", b"%PDF-1.4 one")
    again = save_upload(tmp_path, "report.pdf", b"%PDF-1.4 one")
    other = save_upload(tmp_path, "report.pdf", b"%PDF-1.4 two")
    assert first.path == tmp_path / UPLOADS_DIR / "report.pdf"
    assert again.reused and again.path == first.path
    assert other.path.name == "report (2).pdf" and not other.reused
    assert first.path.read_bytes() == b"%PDF-1.4 one"
    assert other.path.read_bytes() == b"%PDF-1.4 two"
    assert safe_name("notes") == "notes.pdf"
    assert not list((tmp_path / UPLOADS_DIR).glob("*.part"))
    with pytest.raises(UploadError):
        safe_name("../..")


def test_render_page_highlights_the_passage(demo_dir: Path) -> None:
    with DataDir(demo_dir) as dd:
        doc = next(d for d in browse.library(dd.store) if "closure" in d.file_name)
        detail = browse.document_detail(dd.store, doc.doc_id)
    passage = max(detail.passages, key=lambda p: len(p.text))
    page = render_page(doc.source_path, passage.page_start, passage.text, resolution=50)
    assert page.png.startswith(b"\x89PNG") and page.width > 0 and page.page_count == doc.pages
    words_on_page = len(passage.text.split()) if passage.page_end == passage.page_start else 20
    assert page.highlighted_words >= 0.8 * words_on_page
    plain = render_page(doc.source_path, passage.page_start, "", resolution=50)
    assert plain.highlighted_words == 0
    with pytest.raises(PageRenderError, match="no page 99"):
        render_page(doc.source_path, 99, "")
    with pytest.raises(PageRenderError, match="no longer at"):
        render_page(Path("/nonexistent/file.pdf"), 1, "")


def test_word_matching_survives_cleanup_differences() -> None:
    page = [
        normalise_word(w)
        for w in ["6.", "Peace-", "keeping", "works", "when", "the", "mandate", "is", "clear", "."]
    ]
    wanted = [
        normalise_word(w)
        for w in ["Peacekeeping", "works", "when", "the", "mandate", "is", "clear."]
    ]
    hits = match_words(page, wanted)
    assert [page[i] for i in hits] == ["works", "when", "the", "mandate", "is", "clear"]
    assert normalise_word("Sécurité,") == "securite"
    merged = line_boxes([(0, 10, 5, 20), (6, 10, 12, 20), (0, 30, 5, 40)])
    assert merged == [(0, 10, 12, 20), (0, 30, 5, 40)]


def test_corpus_file_renders_every_page() -> None:
    path = corpus_file("shirbrig-standby")
    first = render_page(path, 1, "", resolution=30)
    assert all(
        render_page(path, n, "", resolution=30).page == n for n in range(1, first.page_count + 1)
    )
