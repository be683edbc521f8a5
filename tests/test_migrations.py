"""The library opens every schema the project has shipped and brings it up to date.

tests/data/schemas/ holds the schema each earlier version of the store wrote to a new file (its
first line: the meta rows it set). Each is filled with a document, a reviewed passage and an
event, opened by today's Store, and compared with a store made new today."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from errors import DataDirError
from index.datadir import DataDir
from index.library import Store
from index.library.migrations import MIGRATIONS, SCHEMA_VERSION
from nlp.training_data import text_key

SCHEMAS = sorted((Path(__file__).parent / "data" / "schemas").glob("*.sql"))
TEXT = "The force commander asked for a gender adviser in every sector headquarters."


def shape(db: Path) -> dict[str, object]:
    """Tables with their columns, and indexes, as a comparable value."""
    conn = sqlite3.connect(db)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            "tables": {
                t: sorted((r[1], r[2], r[3]) for r in conn.execute(f"PRAGMA table_info({t})"))
                for t in tables
            },
            "indexes": sorted(
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                )
            ),
        }
    finally:
        conn.close()


def old_store(schema: Path, db: Path) -> None:
    """A store as that version wrote it, holding one document, one passage, its review."""
    sql = schema.read_text(encoding="utf-8")
    meta = ast.literal_eval(sql.splitlines()[0][3:])
    conn = sqlite3.connect(db)
    conn.executescript(sql)
    conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta)
    conn.execute(
        "INSERT INTO documents(source_path, file_name, sha256, size_bytes, title, page_count,"
        " extractor) VALUES ('/lib/a.pdf', 'a.pdf', 'abc', 10, 'After-action review', 3, 'x')"
    )
    cols = {r[1] for r in conn.execute("PRAGMA table_info(passages)")}
    values = {
        "doc_id": 1,
        "seq": 0,
        "page_start": 2,
        "page_end": 2,
        "text": TEXT,
        "word_count": len(TEXT.split()),
        "embedding": np.ones(384, dtype=np.float32).tobytes(),
    }
    if "text_key" in cols:
        values["text_key"] = text_key(TEXT)
    conn.execute(
        f"INSERT INTO passages({', '.join(values)}) VALUES ({','.join('?' * len(values))})",
        tuple(values.values()),
    )
    conn.execute(
        "INSERT INTO passage_tags(passage_id, axis, label, score) VALUES (1, 'a4p', 'wps', 0.9)"
    )
    has_reviews = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'reviewed_labels'"
    ).fetchone()
    if has_reviews:
        conn.execute(
            "INSERT INTO reviewed_labels(text_key, axis, labels, text, reviewer, source)"
            " VALUES (?, 'a4p', '[\"politics\", \"wps\"]', ?, 'amina', 'app')",
            (text_key(TEXT), TEXT),
        )
    conn.commit()
    conn.close()


@pytest.fixture(scope="module")
def new_shape(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    db = tmp_path_factory.mktemp("new") / "lessons.db"
    Store(db).close()
    return shape(db)


def test_every_shipped_schema_is_in_the_fixtures() -> None:
    assert len(SCHEMAS) >= 12


@pytest.mark.parametrize("schema", SCHEMAS, ids=[s.stem for s in SCHEMAS])
def test_an_older_store_opens_and_migrates(
    schema: Path, tmp_path: Path, new_shape: dict[str, object]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "lessons.db"
    old_store(schema, db)

    with pytest.raises(DataDirError, match="needs upgrading"):
        DataDir(data)  # a read handle never migrates
    before = shape(db)["tables"]
    assert "migrations" not in before  # type: ignore[operator]
    had_doc_type = "doc_type" in {c[0] for c in before["documents"]}  # type: ignore[index]

    ran = DataDir.upgrade(data)
    assert ran == [m.name for m in MIGRATIONS]
    assert shape(db) == new_shape  # the same tables, columns and indexes as a new store

    with DataDir(data) as dd:  # now a read handle opens it
        store = dd.store
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert store.schema_steps() == [m.name for m in MIGRATIONS]
        doc = store.documents()[0]
        assert (doc.title, doc.extraction_version) == ("After-action review", 1)
        if not had_doc_type:
            assert doc.doc_type  # classified from its opening passage when the column came
        passage = store.passages_by_ids([1])[1]
        assert passage.text == TEXT and passage.text_key == text_key(TEXT)
        events = store.list_events()
        reviews = store.reviewed_for([text_key(TEXT)])
        if reviews:  # the version kept reviews
            assert reviews[text_key(TEXT)]["a4p"] == ["politics", "wps"]
            old_version = int(
                dict(ast.literal_eval(schema.read_text().splitlines()[0][3:]))["schema_version"]
            )
            if old_version < 4:  # before the audit trail: the reviews became its first events
                assert [e.after for e in events] == [("politics", "wps")]
        assert dd.engine.count() == 1  # the engine is built from the migrated store

    assert DataDir.upgrade(data) == []  # nothing left to run, and no lock taken
    again = Store(db)  # a writer opening it again runs no step twice
    assert again.migrated == []
    again.close()
