"""Vectors, the keyword index and the SQLite store of a data folder.

Public surface: `DataDir` (open a data folder), `Searcher` with `Filters`, and the result
records `SearchHit`, `DocumentResult` and `SearchResults`.
"""

from index.datadir import DataDir
from index.filters import Filters
from index.search import DocumentResult, Searcher, SearchHit, SearchResults

__all__ = ["DataDir", "DocumentResult", "Filters", "SearchHit", "SearchResults", "Searcher"]
