"""The library of record: one SQLite file, its tables grouped by family, each family's SQL in
its own module.

    Store
      database.py     the connection, transactions, meta, generations, migrations
      documents.py    documents, passages (with embeddings), entities; what engines index
      tags.py         passage tags, the model's scores, a document's own corrected tags
      reviews.py      reviewed labels and the audit trail of review events
      ingest_log.py   the last outcome of every file
      duplicates.py   near-duplicate groups
      users.py        accounts, sign-in attempts, the security log
      packs.py        briefing packs and their items (functions over a Store)

Open a Store through `index.datadir.DataDir`, which pairs it with the search engine.
"""

from __future__ import annotations

from index.library.documents import DocumentsTable
from index.library.duplicates import Duplicates
from index.library.ingest_log import IngestLog
from index.library.reviews import ReviewsTable
from index.library.tags import TagsTable
from index.library.users import UsersTable


class Store(DocumentsTable, TagsTable, ReviewsTable, IngestLog, Duplicates, UsersTable):
    """Typed access to the library's SQLite file. `Store(path)` opens it for writing and runs
    pending migrations; `Store(path, readonly=True)` never changes the file."""
