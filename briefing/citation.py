"""Citations of pack items: `Title (S/2005/123, 12 March 2005), p. 12, ¶ 31`."""

from __future__ import annotations

from datetime import date

from index.library import Locator
from index.library.packs import PackItem


def long_date(iso: str | None) -> str | None:
    """ "2005-03-12" -> "12 March 2005"; anything else is kept as it is."""
    if not iso:
        return None
    try:
        d = date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{d.day} {d.strftime('%B')} {d.year}"


def document_reference(item: PackItem) -> str:
    """Title with symbol and date: `Title (S/2005/123, 12 March 2005)`."""
    extra = ", ".join(x for x in (item.symbol, long_date(item.date)) if x)
    return f"{item.title} ({extra})" if extra else item.title


def citation(item: PackItem) -> str:
    """The full citation of an excerpt: document, pages and paragraphs."""
    where = Locator(item.page_start, item.page_end, item.para_start, item.para_end).citation
    return ", ".join(x for x in (document_reference(item), where) if x)


def source_entry(item: PackItem) -> str:
    """A line of the list of sources: the document and its file."""
    entry = f"{document_reference(item)}. File: {item.file_name}"
    return entry + (" (source removed from the library)" if item.source_removed else "")
