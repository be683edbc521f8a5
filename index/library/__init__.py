"""The library of record (SQLite): documents, passages, tags, reviews, packs. All SQL of the
project lives in this package; other modules get typed records (`records.py`)."""

from index.library.records import (
    DocumentRow,
    IngestProblem,
    LabelScore,
    Locator,
    PassageRecord,
    Replaced,
    StoredPassage,
    Tags,
    utc_now,
)
from index.library.store import Store

__all__ = [
    "DocumentRow",
    "IngestProblem",
    "LabelScore",
    "Locator",
    "PassageRecord",
    "Replaced",
    "Store",
    "StoredPassage",
    "Tags",
    "utc_now",
]
