"""The one write path: every change to a library's passages commits the store of record, then
brings the search engine up to date.

    with DataDir(path, write=True) as dd:
        writer = LibraryWriter(dd)
        stored = writer.store_document(StoredFile(...), passages)   # ingest, re-read
        writer.move_document(doc_id, new_path)                      # same bytes, new place
        writer.delete_document(doc_id)                              # the library's Delete
        writer.prune(roots)                                         # files gone from disk
        writer.finish()                                             # durable, manifest written

Order matters for crash safety: SQLite commits first (one transaction per document), the engine
follows, and the engine's files are written after. A kill between the two leaves the engine
behind the store's generation, which the next open detects and repairs from the store.

Tag changes (reviews, retagging) need no call here: they commit in the store, which bumps its
tags generation, and every engine reloads the labels it filters on when that moves
(`SearchEngine.sync`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from errors import DataDirError, DocumentNotFound
from index.access import OPERATOR, Access
from index.datadir import DataDir
from index.dedup import link_near_duplicates, scan_all
from index.engine import IndexedPassage
from index.library import PassageRecord, Replaced
from index.library.records import DocumentRow

CHECKPOINT_EVERY_S = 60.0  # a long ingest saves the engine this often


@dataclass(frozen=True)
class StoredFile:
    """What the library records about a file that was read."""

    source_path: str
    file_name: str
    sha256: str
    size_bytes: int
    title: str
    symbol: str | None
    doc_date: str | None
    page_count: int
    missions: tuple[str, ...]
    extractor: str
    two_column_pages: int
    doc_type: str | None
    extraction_version: int
    classification: str = "unclassified"
    groups: tuple[str, ...] | None = None  # None: a document read again keeps its groups

    @classmethod
    def copy_of(cls, doc: DocumentRow, **changes: Any) -> StoredFile:
        """A stored document's record, with `changes`, to store again elsewhere (libraries
        built from another one's documents, as the benchmarks do)."""
        file = cls(
            source_path=doc.source_path,
            file_name=doc.file_name,
            sha256=doc.sha256,
            size_bytes=doc.size_bytes,
            title=doc.title,
            symbol=doc.symbol,
            doc_date=doc.doc_date,
            page_count=doc.page_count,
            missions=doc.missions,
            extractor=doc.extractor,
            two_column_pages=0,
            doc_type=doc.doc_type,
            extraction_version=doc.extraction_version,
            classification=doc.classification,
            groups=doc.groups,
        )
        return replace(file, **changes)


@dataclass(frozen=True)
class DeletedDocument:
    doc_id: int
    title: str
    source_path: str
    passages_removed: int


class LibraryWriter:
    """Changes to one library, through its writer handle (`DataDir(path, write=True)`)."""

    def __init__(self, dd: DataDir) -> None:
        if not dd.write:
            raise DataDirError("open the data folder for writing to change the library")
        self.dd = dd
        self.store = dd.store
        self.engine = dd.engine
        self.engine.sync()  # load before the store changes, so changes are mirrored, not rebuilt
        self._dirty = False
        self._last_checkpoint = time.monotonic()

    # -- documents --------------------------------------------------------------------------
    def store_document(
        self,
        file: StoredFile,
        passages: Sequence[PassageRecord],
        *,
        near_duplicates: bool = True,
    ) -> Replaced:
        """Insert or replace a document with all its passages, mirror it in the engine, and
        link its passages to their near-duplicates elsewhere in the library (unless
        `near_duplicates` is off: a benchmark's deliberate copies)."""
        stored = self.store.replace_document(
            source_path=file.source_path,
            file_name=file.file_name,
            sha256=file.sha256,
            size_bytes=file.size_bytes,
            title=file.title,
            symbol=file.symbol,
            doc_date=file.doc_date,
            page_count=file.page_count,
            missions=file.missions,
            extractor=file.extractor,
            two_column_pages=file.two_column_pages,
            passages=passages,
            doc_type=file.doc_type,
            extraction_version=file.extraction_version,
            classification=file.classification,
            groups=file.groups,
        )
        self.engine.delete(stored.removed)
        if passages:
            indexed = [
                IndexedPassage(
                    pid,
                    stored.doc_id,
                    p.text,
                    np.ascontiguousarray(p.embedding, dtype=np.float32),
                    frozenset(label for _, label, _ in p.tags),
                )
                for pid, p in zip(stored.new_ids, passages, strict=True)
            ]
            self.engine.upsert(indexed)
        if passages and near_duplicates:
            link_near_duplicates(
                self.store,
                self.engine,
                np.asarray(stored.new_ids, dtype=np.int64),
                np.vstack([p.embedding for p in passages]),
            )
        self._changed()
        return stored

    def move_document(self, doc_id: int, new_path: str) -> None:
        """A file moved or renamed with the same bytes keeps its passages and reviews (the
        engine holds nothing of the path)."""
        self.store.move_document(doc_id, new_path)

    def delete_document(self, doc_id: int) -> DeletedDocument:
        """Delete one document, its passages, entities, tags and vectors. The PDF file itself
        is left where it is."""
        row = next((d for d in self.store.documents() if d.id == doc_id), None)
        if row is None:
            raise DocumentNotFound(f"document {doc_id} is not in the library (already deleted?)")
        removed = self.store.delete_document(doc_id)
        self.engine.delete(removed)
        self._changed()
        return DeletedDocument(doc_id, row.title, row.source_path, len(removed))

    def prune(self, roots: Sequence[Path | str]) -> list[str]:
        """Delete the documents whose file under one of `roots` no longer exists."""
        resolved = [Path(r).expanduser().resolve() for r in roots]
        pruned = []
        for row in self.store.documents():
            src = Path(row.source_path)
            if not src.exists() and any(src.is_relative_to(r) for r in resolved):
                self.engine.delete(self.store.delete_document(row.id))
                pruned.append(row.source_path)
                self._changed()
        return pruned

    # -- durability -------------------------------------------------------------------------
    def _changed(self) -> None:
        self._dirty = True
        if time.monotonic() - self._last_checkpoint > CHECKPOINT_EVERY_S:
            self.dd.checkpoint()
            self._last_checkpoint = time.monotonic()

    def finish(self) -> None:
        """Make every change durable in the engine and the manifest, and link near-duplicates
        across the whole library once for a store written before they were tracked."""
        if self._dirty or not self.dd.manifest() or self.dd.manifest().get("corrupt"):
            self.dd.flush()
        else:
            self.dd.engine.flush()  # the engine's own files may still be missing or stale
        self._dirty = False
        if not self.store.duplicates_scanned:
            scan_all(self.store, self.engine)


def delete_document(dd: DataDir, doc_id: int, *, by: Access = OPERATOR) -> DeletedDocument:
    """Delete one document and make it durable (the library page's Delete). Needs the data
    folder opened for writing (the ingest lock) and the librarian role; a document `by` may
    not see is not found."""
    by.require("librarian", "deleting documents")
    doc = dd.store.document(doc_id)
    if doc is not None and not by.may_see(doc.classification, doc.groups):
        raise DocumentNotFound(f"document {doc_id} is not in the library (already deleted?)")
    writer = LibraryWriter(dd)
    gone = writer.delete_document(doc_id)
    writer.finish()
    return gone
