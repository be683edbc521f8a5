"""The search engine wing: one interface (`base.SearchEngine`), one file per engine.

open_engine("local", folder, source)   FAISS + bm25s in the data folder (the default)
open_engine("exact", folder, source)   NumPy, exact, in memory (the reference)
open_engine("http://host:19530", folder, source, library_id=...)
                                       a Milvus server (index/engine/milvus.py); also https://,
                                       tcp:// and grpc:// addresses
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
SERVER_SCHEMES = ("http://", "https://", "tcp://", "grpc://")


def is_server(name: str) -> bool:
    """Whether `name` is a search server's address rather than an engine kept on this machine."""
    return name.strip().lower().startswith(SERVER_SCHEMES)


def open_engine(
    name: str,
    folder: Path,
    source: PassageSource,
    *,
    writable: bool = False,
    token: str = "",
    library_id: str | None = None,
) -> SearchEngine:
    """The engine called `name` (or at that address), on the library `source` (kept in `folder`
    where it keeps files). It is brought up to date with the library on first use. A server
    engine needs the library's identity (`library_id`, None when it was never made: such an
    engine says it holds nothing of this library) and, if the server asks, a `token`."""
    if is_server(name):
        from index.engine.milvus import MilvusEngine

        return MilvusEngine(
            name.strip(), folder, source, library_id=library_id, writable=writable, token=token
        )
    if name == "local":
        from index.engine.local import LocalEngine

        return LocalEngine(folder, source, writable=writable)
    if name == "exact":
        from index.engine.exact import ExactEngine

        return ExactEngine(source)
    raise SearchError(
        f"unknown search engine {name!r}: choose {', '.join(ENGINES)} or the address of a "
        "Milvus server (e.g. http://127.0.0.1:19530)"
    )


__all__ = [
    "ENGINES",
    "EngineFilter",
    "EngineState",
    "IndexedPassage",
    "PassageSource",
    "Scored",
    "SearchEngine",
    "is_server",
    "open_engine",
]
