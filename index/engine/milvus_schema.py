"""What the Milvus engine keeps in a collection, and how a filter becomes a Milvus expression.

    lessons_<library id>         one collection per library (`Store.library_id`)
      id         INT64 key        the passage id (the store never reuses one: AUTOINCREMENT)
      doc_id     INT64            its document: access and the document-level filters reach
                                  the engine as allowed documents (`EngineFilter.doc_ids`)
      text_hash  INT64            a fingerprint of the text, so a sync can tell the passage it
                                  holds under an id is the library's
      tokens     VARCHAR          the passage's keyword tokens, analysed (`enable_analyzer`)
                                  and fed to a BM25 function...
      sparse     SPARSE_FLOAT     ...whose output is searched (SPARSE_INVERTED_INDEX, BM25)
      vector     FLOAT_VECTOR 384 the embedding (HNSW, inner product)
      labels     ARRAY<VARCHAR>   the tag slugs in force (`array_contains_any`)
    properties   lessons.format, lessons.bm25 (k1, b), lessons.generation,
                 lessons.tags_generation: what the collection holds and reflects

Why tokens, not the passage text: the BM25 function is given the very tokens the local engine
indexes (`keyword.tokenize`: bm25s's English stopwords, Snowball stemmer), joined by spaces, and
Milvus's standard tokenizer splits them back unchanged. Milvus's own analyzers differ from bm25s
in their stopword list and word splitting, and Milvus Lite ignores the stemmer filter
altogether, so letting the server analyse the text would give different scores on different
servers; with the same tokens, the same k1 and b, and the (k1 + 1) factor Milvus multiplies in
divided out (`bm25_score`), a score is bm25s's wherever the collection's statistics are the
library's (see index/engine/milvus.py on when they are not). The passage text itself stays in
the library of record, where snippets are cut from.

Only pure functions and constants here; the engine (index/engine/milvus.py) does the talking.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from errors import SearchError
from index.engine import keyword
from index.engine.base import DIMENSION, EngineFilter, IndexedPassage

FORMAT = 1  # bump when the fields or what `tokens` holds change: collections are then rebuilt
PREFIX = "lessons_"
PROP_FORMAT = "lessons.format"
PROP_BM25 = "lessons.bm25"
PROP_GENERATION = "lessons.generation"
PROP_TAGS_GENERATION = "lessons.tags_generation"
BM25_PARAMS = f"k1={keyword.K1},b={keyword.B}"

MAX_TOPK = 16384  # Milvus's ceiling on a search's limit and on one query's window
TOKENS_MAX_BYTES = 65535  # VARCHAR's ceiling; a longer passage keeps its first tokens
MAX_LABELS = 64
LABEL_MAX_LENGTH = 128
HNSW = {"M": 16, "efConstruction": 200}


def collection_name(library_id: str) -> str:
    if not library_id or not all(ch.isalnum() or ch == "_" for ch in library_id):
        raise SearchError(f"the library identity {library_id!r} cannot name a collection")
    return PREFIX + library_id


def text_hash(text: str) -> int:
    """64 bits of BLAKE2b as a signed integer (Milvus's INT64)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


@dataclass(frozen=True)
class Held:
    """What a sync compares to tell whether the engine holds a passage as the library does."""

    doc_id: int
    text_hash: int
    labels: frozenset[str]


def held(passage: IndexedPassage) -> Held:
    return Held(passage.doc_id, text_hash(passage.text), frozenset(passage.labels))


def held_row(row: dict[str, Any]) -> Held:
    return Held(int(row["doc_id"]), int(row["text_hash"]), frozenset(row.get("labels") or ()))


def token_text(tokens: Sequence[str]) -> str:
    """Tokens joined by spaces, cut at a token boundary to fit a VARCHAR."""
    text = " ".join(tokens)
    raw = text.encode("utf-8")
    if len(raw) <= TOKENS_MAX_BYTES:
        return text
    return raw[:TOKENS_MAX_BYTES].decode("utf-8", errors="ignore").rsplit(" ", 1)[0]


def query_text(text: str) -> str:
    """A query as the BM25 function must see it ('' when no word of it is indexed)."""
    return token_text(keyword.tokenize([text])[0])


def rows(passages: Sequence[IndexedPassage]) -> list[dict[str, Any]]:
    """Passages as Milvus rows (every field: an upsert replaces the whole row)."""
    tokens = keyword.tokenize([p.text for p in passages])
    return [
        {
            "id": int(p.id),
            "doc_id": int(p.doc_id),
            "text_hash": text_hash(p.text),
            "tokens": token_text(toks),
            "vector": [float(x) for x in p.vector],
            "labels": sorted(p.labels),
        }
        for p, toks in zip(passages, tokens, strict=True)
    ]


def bm25_score(distance: float) -> float:
    """bm25s's score from what Milvus reports: Milvus multiplies the term weight by (k1 + 1),
    which ranks alike but reads larger, and Milvus Lite reports the score negated (a BM25
    score is never negative, so its magnitude is the score)."""
    return abs(distance) / (keyword.K1 + 1)


# -- filter expressions -----------------------------------------------------------------------
def matches_nothing(where: EngineFilter | None) -> bool:
    """No passage can pass: no document allowed, or a label group with no label in it."""
    return where is not None and (
        where.allows_nothing() or any(not group for group in where.label_groups)
    )


def ints(values: Iterable[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in sorted(set(values))) + "]"


def strings(values: Iterable[str]) -> str:
    """A list of string literals; quotes and backslashes escaped, so a label from a query
    can never end the literal and become part of the expression."""
    out = []
    for value in sorted(set(values)):
        if any(ord(ch) < 32 for ch in value):
            raise SearchError(f"a tag filter cannot hold control characters: {value!r}")
        out.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "[" + ",".join(out) + "]"


def expression(where: EngineFilter | None) -> str:
    """The boolean expression a search or a query applies inside the retrieval: AND across
    fields, OR within a label group ('' when nothing is filtered). Callers check
    `matches_nothing` first: Milvus has no literal for "false"."""
    if where is None:
        return ""
    parts = []
    if where.doc_ids is not None:
        parts.append(f"doc_id in {ints(where.doc_ids)}")
    for group in where.label_groups:
        parts.append(f"array_contains_any(labels, {strings(group)})")
    if where.exclude_ids:
        parts.append(f"id not in {ints(where.exclude_ids)}")
    if where.exclude_docs:
        parts.append(f"doc_id not in {ints(where.exclude_docs)}")
    return " and ".join(parts)


def both(first: str, second: str) -> str:
    return " and ".join(f"({e})" for e in (first, second) if e)


# -- the collection ---------------------------------------------------------------------------
def create(client: Any, name: str, timeout: float) -> None:
    """Create the collection with strong consistency (a write is seen by the next search, from
    any process), its indexes, load it, and only then mark it with its format: a collection
    interrupted while being made has no format, and is made again."""
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.INT64)
    schema.add_field("text_hash", DataType.INT64)
    schema.add_field(
        "tokens",
        DataType.VARCHAR,
        max_length=TOKENS_MAX_BYTES,
        enable_analyzer=True,
        analyzer_params={"tokenizer": "standard", "filter": ["lowercase"]},
    )
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIMENSION)
    schema.add_field(
        "labels",
        DataType.ARRAY,
        element_type=DataType.VARCHAR,
        max_capacity=MAX_LABELS,
        max_length=LABEL_MAX_LENGTH,
    )
    schema.add_function(
        Function(
            name="tokens_bm25",
            function_type=FunctionType.BM25,
            input_field_names=["tokens"],
            output_field_names=["sparse"],
        )
    )
    # Build parameters go nested under "params", the wire form Milvus still parses and the
    # only one Milvus Lite reads (pymilvus would otherwise send them as separate keys). BM25
    # keeps the server's default algorithm: every one of them is exact.
    index = client.prepare_index_params()
    index.add_index("vector", index_type="HNSW", metric_type="IP", params={"params": HNSW})
    index.add_index(
        "sparse",
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"params": {"bm25_k1": keyword.K1, "bm25_b": keyword.B}},
    )
    # doc_id carries every access check; labels go without an index (Milvus Lite refuses a
    # scalar index on an ARRAY, and a label filter is cheap to evaluate anyway).
    index.add_index("doc_id", index_type="INVERTED")
    client.create_collection(name, schema=schema, consistency_level="Strong", timeout=timeout)
    # Not waiting for the builds (pymilvus polls each every half second): on an empty
    # collection there is nothing to build, and loading needs only the indexes declared.
    client.create_index(name, index, timeout=timeout, sync=False)
    client.load_collection(name, timeout=timeout)
    client.alter_collection_properties(
        name, properties={PROP_FORMAT: str(FORMAT), PROP_BM25: BM25_PARAMS}, timeout=timeout
    )


def compatible(properties: dict[str, Any]) -> bool:
    return (
        str(properties.get(PROP_FORMAT)) == str(FORMAT) and properties.get(PROP_BM25) == BM25_PARAMS
    )
