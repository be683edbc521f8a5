"""The search engine's contract: what the rest of the project may ask of a passage index.

An engine holds, per passage, what retrieval needs and nothing more: the id, the document it
belongs to, its text for keyword search, its vector for dense search, and its labels for tag
filters. The SQLite library of record (`index/library/`) stays the source of truth; an engine is
derived from it and can always be rebuilt (`sync`).

Filters travel *into* every retrieval as an `EngineFilter`, so a restricted search ranks only the
passages it may return and a page of results stays full. Fusion of the two retrievers lives
outside the engine (`index/fusion.py`), so results mean the same whichever engine runs.

Implementations: `index/engine/local.py` (FAISS + bm25s, the default) and
`index/engine/exact.py` (NumPy, exact, in memory: the reference the shared test-suite compares
against). `index.engine.open_engine` chooses one from a name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

DIMENSION = 384
Ids = Sequence[int] | np.ndarray  # passage ids, as a list or an int64 array


@dataclass(frozen=True)
class IndexedPassage:
    """One passage as an engine indexes it."""

    id: int
    doc_id: int
    text: str
    vector: np.ndarray  # L2-normalised float32, DIMENSION long
    labels: frozenset[str] = frozenset()  # tag slugs in force (a4p and pillar slugs are distinct)


@dataclass(frozen=True)
class EngineFilter:
    """What a retrieval may return: AND across fields, OR within `label_groups`' groups.

    `doc_ids=None` allows every document; an empty set allows none. A passage passes the label
    groups when, for each group, it carries at least one of the group's labels."""

    doc_ids: frozenset[int] | None = None
    label_groups: tuple[frozenset[str], ...] = ()
    exclude_ids: frozenset[int] = frozenset()
    exclude_docs: frozenset[int] = frozenset()

    @property
    def empty(self) -> bool:
        return self == EngineFilter()

    def allows_nothing(self) -> bool:
        return self.doc_ids is not None and not self.doc_ids

    def admits(self, passage_id: int, doc_id: int, labels: frozenset[str]) -> bool:
        """The filter's meaning, one passage at a time (engines apply it in bulk)."""
        if self.doc_ids is not None and doc_id not in self.doc_ids:
            return False
        if passage_id in self.exclude_ids or doc_id in self.exclude_docs:
            return False
        return all(group & labels for group in self.label_groups)


class Scored(NamedTuple):
    """Passage ids and their scores, best first (ties: lower id first)."""

    ids: np.ndarray  # int64
    scores: np.ndarray  # float32

    @classmethod
    def empty(cls) -> Scored:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))

    def pairs(self) -> list[tuple[int, float]]:
        return list(zip(self.ids.tolist(), self.scores.tolist(), strict=True))


class PassageSource(Protocol):
    """Where an engine rebuilds from: the library of record, read in batches."""

    @property
    def generation(self) -> int:
        """Bumped by every change to passages."""
        ...

    @property
    def tags_generation(self) -> int:
        """Bumped by every change to passage tags (reviews, retagging)."""
        ...

    def passage_count(self) -> int: ...

    def iter_indexed(self, batch: int = 4096, after: int = 0) -> Iterator[list[IndexedPassage]]:
        """Every passage whose id is above `after`, with its vector and labels, in ascending id
        order (ids are never reused, so an engine catches up by reading past its last id)."""
        ...

    def passage_texts(self, batch: int = 4096, after: int = 0) -> Iterator[list[tuple[int, str]]]:
        """(passage id, text) of every passage whose id is above `after`, in ascending id
        order."""
        ...

    def passage_docs(self) -> Iterator[tuple[int, int]]:
        """(passage id, document id) of every passage."""
        ...

    def passage_labels(self) -> Iterator[tuple[int, str]]:
        """(passage id, label) for every tag in force."""
        ...


@dataclass
class EngineState:
    """What an engine reflects of its source; compared with the source to detect staleness."""

    generation: int = -1
    tags_generation: int = -1
    passages: int = 0


class SearchEngine(ABC):
    """A passage index with keyword and dense retrieval.

    An engine is opened on its `PassageSource` (the library). Writes (`upsert`, `delete`,
    `set_labels`) change what searches see at once; `flush` makes them durable and records the
    library generation they reflect. `sync` brings a stale engine up to date from the library
    (at open, or after another process wrote)."""

    name: str = "engine"

    # -- state ----------------------------------------------------------------------------
    @property
    @abstractmethod
    def state(self) -> EngineState:
        """The generations this engine reflects."""

    @abstractmethod
    def count(self) -> int:
        """Passages indexed."""

    @abstractmethod
    def sync(self) -> bool:
        """Bring the engine up to date with its source when it is stale (another process
        wrote, or the engine's files are missing or old). Returns whether anything changed."""

    @abstractmethod
    def flush(self) -> None:
        """Persist what was written, recording the source's generations as reflected."""

    def checkpoint(self) -> None:
        """Persist cheaply what a crash would otherwise cost the most to redo (a long ingest
        calls this now and then); engines whose writes are durable at once need nothing."""
        self.flush()

    def close(self) -> None:  # noqa: B027 (engines holding no resource need nothing)
        """Release connections or files."""

    # -- writes ---------------------------------------------------------------------------
    @abstractmethod
    def upsert(self, passages: Sequence[IndexedPassage]) -> None:
        """Add passages, replacing any with the same id."""

    @abstractmethod
    def delete(self, ids: Ids) -> None:
        """Remove passages; unknown ids are ignored."""

    @abstractmethod
    def set_labels(self, labels: Mapping[int, frozenset[str]], tags_generation: int) -> None:
        """Replace the labels of the given passages (a review, a retagging)."""

    # -- retrieval ------------------------------------------------------------------------
    @abstractmethod
    def keyword_top(self, text: str, k: int, where: EngineFilter | None = None) -> Scored:
        """The k best BM25 scores among the passages `where` allows (zero scores included)."""

    @abstractmethod
    def dense_top(self, vector: np.ndarray, k: int, where: EngineFilter | None = None) -> Scored:
        """The k best inner products with `vector` among the passages `where` allows."""

    @abstractmethod
    def keyword_scores(self, text: str, ids: Ids) -> np.ndarray:
        """BM25 score of each given passage (0 for unknown ids)."""

    @abstractmethod
    def dense_scores(self, vector: np.ndarray, ids: Ids) -> np.ndarray:
        """Inner product of each given passage with `vector` (0 for unknown ids)."""

    @abstractmethod
    def vectors(self, ids: Ids) -> np.ndarray:
        """The stored vectors of the given passages (rows of zeros for unknown ids)."""

    @abstractmethod
    def doc_passages(self, doc_id: int) -> np.ndarray:
        """Ids of a document's passages, ascending."""

    @abstractmethod
    def doc_ids(self, ids: Ids) -> np.ndarray:
        """The document of each given passage that the engine holds (unknown ids are left
        out, so the result can be shorter)."""

    def neighbours(self, vectors: np.ndarray, k: int) -> list[Scored]:
        """For each vector, its k nearest passages (near-duplicates, more-like-this)."""
        return [self.dense_top(v, k) for v in np.atleast_2d(vectors)]


def top_rows(scores: np.ndarray, allowed: np.ndarray | None, k: int) -> np.ndarray:
    """Row numbers of the k best allowed scores, best first (stable among the k chosen)."""
    rows = np.flatnonzero(allowed) if allowed is not None else np.arange(len(scores))
    if len(rows) == 0 or k <= 0:
        return rows[:0]
    if len(rows) > k:
        part = np.argpartition(-scores[rows], k - 1)[:k]
        rows = rows[part]
    return rows[np.argsort(-scores[rows], kind="stable")]
