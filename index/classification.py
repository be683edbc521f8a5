"""Changing who may see a document: its classification level and need-to-know groups.

A librarian's change, checked here (not only in the app) and recorded in the security log. The
search engine needs no update: access is applied through the catalogue, which reloads when the
library changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from errors import DocumentNotFound
from index.access import OPERATOR, Access, check_groups, check_level
from index.library import DocumentRow, Store


def set_document_access(
    store: Store,
    doc_id: int,
    *,
    level: str,
    groups: Iterable[str] | None = None,
    by: Access = OPERATOR,
) -> DocumentRow:
    """Set a document's level and (when given) its groups; None keeps the groups. A document
    `by` may not see is not found for them."""
    by.require("librarian", "classifying documents")
    doc = store.document(doc_id)
    if doc is None or not by.may_see(doc.classification, doc.groups):
        raise DocumentNotFound(f"document {doc_id} is not in the library")
    changed = store.set_document_access(
        doc_id,
        check_level(level),
        None if groups is None else sorted(check_groups(groups)),
        actor=by.name,
    )
    if changed is None:
        raise DocumentNotFound(f"document {doc_id} is not in the library")
    return changed
