"""The whole pipeline on real PDFs and a real data folder: SQLite, FAISS, manifest."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

import cli
from errors import DataDirError
from index.datadir import FORMAT_VERSION, MANIFEST_NAME, DataDir
from index.engine.local import FAISS_NAME
from pipeline import ingest_paths
from settings import Settings
from tests.conftest import CORPUS_PDF, corpus_file

HIT_KEYS = {
    "rank",
    "doc_id",
    "source",
    "title",
    "page",
    "passage_id",
    "score",
    "snippet",
    "a4p",
    "pillars",
}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_shirbrig_query_ranks_a_shirbrig_document_first(
    demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        capsys, "search", "SHIRBRIG rapid reaction lessons", "--json", "--data-dir", str(demo_dir)
    )
    hits = json.loads(out)
    assert code == 0 and len(hits) == 10
    assert set(hits[0]) >= HIT_KEYS
    assert "shirbrig" in hits[0]["source"]
    assert [h["rank"] for h in hits] == list(range(1, 11))
    assert hits[0]["score"] >= hits[-1]["score"]
    assert hits[0]["page"] >= 1 and hits[0]["snippet"]


def test_readable_search_output_cites_page(
    demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        capsys, "search", "casualty evacuation golden hour", "--k", "3", "--data-dir", str(demo_dir)
    )
    assert code == 0
    assert " 1. " in out and "p. " in out


def test_manifest_describes_the_folder(demo_dir: Path) -> None:
    manifest = json.loads((demo_dir / MANIFEST_NAME).read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["dimension"] == 384 and "MiniLM" in manifest["model"]
    assert manifest["counts"]["documents"] == len(list(CORPUS_PDF.glob("*.pdf")))
    assert {"faiss-cpu", "torch", "spacy", "pdfplumber"} <= set(manifest["libraries"])
    with DataDir(demo_dir) as dd:
        assert dd.engine.count() == dd.store.counts()["passages"]
        assert manifest["generation"] == dd.store.generation


def test_gazetteer_resolves_long_forms_to_one_entity(demo_dir: Path) -> None:
    with DataDir(demo_dir) as dd:
        rows = dd.store.conn.execute(
            "SELECT DISTINCT text FROM entities WHERE label = 'MISSION' AND key = 'SHIRBRIG'"
        ).fetchall()
        forms = {r[0] for r in rows}
        assert "SHIRBRIG" in forms
        assert any("Standby High Readiness Brigade" in f for f in forms)
        docs = dd.store.documents()
        assert any("SHIRBRIG" in d.missions for d in docs)


def test_reingest_skips_unchanged_replaces_changed_and_prunes(tmp_path: Path) -> None:
    src = tmp_path / "pdfs"
    src.mkdir()
    names = sorted(p.name for p in CORPUS_PDF.glob("*.pdf"))[:3]
    for n in names:
        shutil.copy(CORPUS_PDF / n, src / n)
    settings = Settings.from_env(data_dir=tmp_path / "data")
    first = ingest_paths([src], settings)
    assert first.status_counts()["ok"] == 3

    again = ingest_paths([src], settings)
    assert again.status_counts()["skipped"] == 3

    changed = src / names[0]
    old_doc = next(f for f in first.files if f.path == str(changed))
    with DataDir(settings.data_dir) as dd:
        old_ids = set(dd.store.passage_ids(old_doc.doc_id or 0))
    shutil.copy(corpus_file("minusma"), changed)
    third = ingest_paths([src], settings)
    assert [f.status for f in third.files if f.path == str(changed)] == ["ok"]
    assert third.status_counts()["skipped"] == 2
    with DataDir(settings.data_dir) as dd:
        assert dd.engine.count() == dd.store.counts()["passages"]
        live = {int(i) for ids, _ in dd.store.iter_embeddings() for i in ids}
        assert not old_ids & live
        assert len(dd.engine.doc_ids(sorted(old_ids))) == 0  # gone from the engine too

    (src / names[1]).unlink()
    pruned = ingest_paths([src], settings, prune=True)
    assert pruned.pruned == [str(src / names[1])]
    with DataDir(settings.data_dir) as dd:
        assert dd.store.counts()["documents"] == 2
        assert dd.engine.count() == dd.store.counts()["passages"]


def one_brief(tmp_path: Path) -> tuple[Path, Settings]:
    """A folder holding one corpus PDF, and settings for an empty data folder beside it."""
    src = tmp_path / "a"
    src.mkdir()
    shutil.copy(corpus_file("shirbrig"), src / "brief.pdf")
    return src, Settings.from_env(data_dir=tmp_path / "data")


def test_a_moved_file_keeps_its_document(tmp_path: Path) -> None:
    src, settings = one_brief(tmp_path)
    doc_id = ingest_paths([src], settings).files[0].doc_id
    (src / "brief.pdf").rename(src / "renamed.pdf")
    moved = ingest_paths([src], settings, prune=True).files[0]
    assert moved.status == "skipped" and "moved" in (moved.reason or "")
    assert moved.doc_id == doc_id


def test_failures_are_reported_and_the_batch_goes_on(
    tmp_path: Path, sample_pdfs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for kind, path in sample_pdfs.items():
        shutil.copy(path, folder / f"{kind}.pdf")
    data = tmp_path / "data"
    code, out, _ = run_cli(capsys, "ingest", str(folder), "--data-dir", str(data), "--json")
    assert code == 0
    report = json.loads(out)
    by_name = {Path(f["path"]).stem: f for f in report["files"]}
    assert by_name["good"]["status"] == "ok" and by_name["good"]["passages"] > 0
    for kind in ("empty", "not_pdf", "truncated", "encrypted", "scanned", "blank"):
        assert by_name[kind]["status"] == "failed", kind
        assert by_name[kind]["reason"], kind
    assert set(report["files"][0]) >= {"path", "status", "reason", "doc_id", "pages", "passages"}
    assert isinstance(report["seconds"], float)

    code, out, _ = run_cli(capsys, "stats", "--data-dir", str(data))
    assert code == 0
    assert "documents:   1" in out and "no_text_layer  1" in out and "encrypted" in out

    code, out, _ = run_cli(
        capsys,
        "ingest",
        str(folder / "encrypted.pdf"),
        "--data-dir",
        str(data),
        "--password",
        "secret",
        "--json",
    )
    assert json.loads(out)["files"][0]["status"] == "ok"


def test_stale_or_missing_faiss_file_is_rebuilt_from_the_store(tmp_path: Path) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "data")
    ingest_paths([corpus_file("shirbrig")], settings)
    (settings.data_dir / FAISS_NAME).write_bytes(b"garbage")
    with DataDir(settings.data_dir) as dd:
        assert dd.engine.count() == dd.store.counts()["passages"] > 0


def test_data_folder_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DataDirError, match="ingest documents first"):
        DataDir(tmp_path / "nothing")
    folder = tmp_path / "data"
    with DataDir(folder, write=True), pytest.raises(DataDirError, match="another ingest"):
        DataDir(folder, write=True)
    (folder / MANIFEST_NAME).write_text(json.dumps({"format_version": FORMAT_VERSION + 1}))
    with pytest.raises(DataDirError, match="newer version"):
        DataDir(folder)


def test_reading_a_document_again_keeps_its_reviews(tmp_path: Path) -> None:
    from index.library.reviews import CARRIED_SOURCE
    from index.reviews import review_document, review_passage
    from nlp.training_data import text_key

    src, settings = one_brief(tmp_path)
    doc_id = ingest_paths([src], settings).files[0].doc_id
    assert doc_id is not None
    with DataDir(settings.data_dir, write=True) as dd:
        store = dd.store
        rows = store.conn.execute(
            "SELECT id, text FROM passages WHERE doc_id = ? ORDER BY seq", (doc_id,)
        ).fetchall()
        # As an older extractor might have read them: one passage with a word broken apart,
        # another nothing like any passage of the new reading.
        (near_id, near_text), (far_id, _) = (rows[0][0], rows[0][1]), (rows[1][0], rows[1][1])
        words = near_text.split()
        words[3] = words[3][:2] + "- " + words[3][2:]
        old_near = " ".join(words)
        old_far = "Text from a page the old reader got wrong, which no new passage resembles."
        for pid, text in ((near_id, old_near), (far_id, old_far)):
            store.conn.execute(
                "UPDATE passages SET text = ?, text_key = ? WHERE id = ?",
                (text, text_key(text), pid),
            )
        store.conn.commit()
        for pid in (near_id, far_id):
            shown = {"a4p": store.tags_for([pid])[pid]["a4p"], "pillars": []}
            review_passage(store, pid, a4p=["conduct"], reviewer="Amina", expected=shown)
        shown_doc = store.all_document_tags(doc_id=doc_id)[doc_id]
        review_document(store, doc_id, a4p=["partnerships"], reviewer="Amina", expected=shown_doc)

    again = ingest_paths([src], settings, force=True).files[0]
    assert again.status == "ok" and again.doc_id == doc_id  # same document, same id
    assert any("1 reviewed passage was read differently" in n for n in again.notes)
    assert any("1 reviewed passage no longer matches" in n for n in again.notes)
    assert (again.reviews_carried, again.reviews_unmatched) == (1, 1)
    with DataDir(settings.data_dir) as dd:
        store = dd.store
        assert store.all_document_tags(doc_id=doc_id)[doc_id]["a4p"] == ["partnerships"]
        new_id = store.conn.execute(
            "SELECT id FROM passages WHERE text_key = ?", (text_key(near_text),)
        ).fetchone()[0]
        assert store.tags_for([new_id])[new_id]["a4p"] == ["conduct"]
        carried = store.conn.execute(
            "SELECT reviewer, after FROM review_events WHERE source = ? AND passage_id = ?",
            (CARRIED_SOURCE, new_id),
        ).fetchall()
        assert [tuple(r) for r in carried] == [("Amina", '["conduct"]')]
        # The unmatched review is not dropped: it still trains the tagger.
        assert old_far in {item.text for item in store.reviewed_items()}


def test_files_read_by_an_older_extraction_are_read_again_once(tmp_path: Path) -> None:
    from pipeline import REREAD_NOTE

    src, settings = one_brief(tmp_path)
    first = ingest_paths([src], settings).files[0]
    # A library from before extraction versions were kept: opening it adds the column, and
    # its documents count as read by version 1.
    with sqlite3.connect(settings.data_dir / "lessons.db") as conn:
        conn.execute("ALTER TABLE documents DROP COLUMN extraction_version")
        conn.execute("DROP TABLE migrations")  # (it recorded no migration steps either)
    again = ingest_paths([src], settings).files[0]
    assert again.status == "ok" and again.doc_id == first.doc_id
    assert REREAD_NOTE in again.notes
    assert ingest_paths([src], settings).files[0].status == "skipped"
