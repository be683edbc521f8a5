"""Vectors, the keyword index and the SQLite store, kept together in one data folder.

Public surface: `DataDir` (open a data folder), `dense_search` and `SearchHit`.
Importing this package stays cheap: faiss, torch and sentence-transformers load on first use.
"""

from index.datadir import DataDir
from index.search import SearchHit, dense_search

__all__ = ["DataDir", "SearchHit", "dense_search"]
