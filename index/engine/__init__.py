"""The search engine wing: one interface (`base.SearchEngine`), one file per engine.

open_engine("local", folder, source)   FAISS + bm25s in the data folder (the default)
open_engine("exact", folder, source)   NumPy, exact, in memory (the reference)
"""

from __future__ import annotations

from pathlib import Path

from errors import SearchError
from index.engine.base import (
    EngineFilter,
    EngineState,
    IndexedPassage,
    PassageSource,
    Scored,
    SearchEngine,
)

ENGINES = ("local", "exact")


def open_engine(
    name: str, folder: Path, source: PassageSource, *, writable: bool = False
) -> SearchEngine:
    """The engine called `name`, on the library `source` (kept in `folder` where it keeps
    files). It is brought up to date with the library on first use."""
    if name == "local":
        from index.engine.local import LocalEngine

        return LocalEngine(folder, source, writable=writable)
    if name == "exact":
        from index.engine.exact import ExactEngine

        return ExactEngine(source)
    raise SearchError(f"unknown search engine {name!r}: choose from {', '.join(ENGINES)}")


__all__ = [
    "ENGINES",
    "EngineFilter",
    "EngineState",
    "IndexedPassage",
    "PassageSource",
    "Scored",
    "SearchEngine",
    "open_engine",
]
