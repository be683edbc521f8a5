"""Removing a document from the library: the store rows and its vectors, together.

`Store.delete_document` changes SQLite only; this keeps the FAISS and BM25 indexes and the
manifest in step through the data folder, the same way an ingest does, so search never returns a
deleted passage.
"""

from __future__ import annotations

from dataclasses import dataclass

from errors import DataDirError, DocumentNotFound
from index.datadir import DataDir


@dataclass(frozen=True)
class DeletedDocument:
    doc_id: int
    title: str
    source_path: str
    passages_removed: int


def delete_document(dd: DataDir, doc_id: int) -> DeletedDocument:
    """Delete one document, its passages, entities, tags and vectors. The PDF file itself is
    left where it is. Needs the data folder opened for writing (the ingest lock)."""
    if not dd.write:
        raise DataDirError("open the data folder for writing to delete documents")
    row = next((d for d in dd.store.documents() if d.id == doc_id), None)
    if row is None:
        raise DocumentNotFound(f"document {doc_id} is not in the library (already deleted?)")
    dd.vector_index()  # load before the store changes, so the removal is mirrored, not rebuilt
    removed = dd.store.delete_document(doc_id)
    dd.apply(None, removed)
    dd.save_vectors()
    dd.save_keyword_index()
    return DeletedDocument(doc_id, row.title, row.source_path, len(removed))
