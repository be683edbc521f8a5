-- [('schema_version', '2')]
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_path TEXT NOT NULL UNIQUE,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    title TEXT NOT NULL,
    symbol TEXT,
    doc_date TEXT,
    page_count INTEGER NOT NULL,
    missions TEXT NOT NULL DEFAULT '[]',
    extractor TEXT NOT NULL,
    two_column_pages INTEGER NOT NULL DEFAULT 0,
    ingested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX documents_sha ON documents(sha256);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    para_start INTEGER,
    para_end INTEGER,
    heading TEXT,
    text TEXT NOT NULL,
    word_count INTEGER NOT NULL,
    embedding BLOB NOT NULL
, text_key TEXT);
CREATE INDEX passages_doc ON passages(doc_id, seq);
CREATE TABLE entities (
    passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    key TEXT NOT NULL,
    text TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (passage_id, label, key)
);
CREATE INDEX entities_key ON entities(label, key);
CREATE TABLE passage_tags (
    passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    axis TEXT NOT NULL,
    label TEXT NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (passage_id, axis, label)
);
CREATE TABLE reviewed_labels (
    text_key TEXT NOT NULL,
    axis TEXT NOT NULL,
    labels TEXT NOT NULL,
    text TEXT NOT NULL,
    reviewer TEXT,
    source TEXT,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (text_key, axis)
);
CREATE TABLE ingest_log (
    source_path TEXT PRIMARY KEY,
    sha256 TEXT,
    status TEXT NOT NULL,
    reason_code TEXT,
    reason TEXT,
    doc_id INTEGER,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE VIRTUAL TABLE passages_fts USING fts5(
    heading, text, content='passages', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts(rowid, heading, text) VALUES (new.id, new.heading, new.text);
END;
CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, heading, text)
    VALUES ('delete', old.id, old.heading, old.text);
END;
CREATE INDEX passages_text_key ON passages(text_key);
