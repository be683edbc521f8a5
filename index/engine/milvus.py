"""The Milvus engine: a library's passages in one collection on a Milvus server (2.5 or later).

Chosen with an address (`--engine http://127.0.0.1:19530`, or LESSONS_ENGINE); what the
collection holds is in index/engine/milvus_schema.py. SQLite stays the library of record: the
writer mirrors every change here right after committing it (index/writes.py), and
`python cli.py engine sync` (`catch_up`) brings the collection to exactly the library's
passages: it compares what the server holds with the library, uploads what is missing or
different in batches, and removes what the library no longer has. It is idempotent, and a
killed sync loses nothing: what was uploaded is there, and the next one uploads the rest.

Staleness. The collection records the library generations it reflects (collection
properties). The writer records them after each mirrored change; a read handle (a search, the
app) that finds them behind the library refuses to search (`EngineStale`, naming the command
that repairs it) rather than return results that miss or resurrect documents. Tags are the
exception: a review is saved beside a read handle (the app's editor connection), so any handle
that sees the tags generation move rewrites the labels that changed.

Retrieval. Filters become one boolean expression applied inside both retrievals (the BM25
search on `sparse` and the HNSW search on `vector`), so a filtered page stays full. Each
retriever's list is sorted here by score, ties to the lower id (the contract's order), over a
few more hits than asked so that ties at the cut are settled here, not by the server.
`keyword_top` pads a short list with zero-scored passages in ascending id. Fusion asks for the
scores of the other retriever's candidates: BM25 through a search restricted to those ids,
inner products from the stored vectors (exact).

Where results can differ from the local engine's: BM25 statistics (document count, average
length, document frequencies) are the server's. Milvus counts a deleted passage in them until
its segment is compacted. Milvus Lite, the test server, keeps them per segment, and for rows
written since the last flush, over those rows alone (only the ones a filter lets through): so
`flush` (the end of an ingest or a sync) seals the rows, and a library loaded in one go scores
as bm25s does to float precision (tests/test_engines.py, tests/test_milvus.py: the same ranked
lists, scores included), while on Lite a row rewritten later (a review) is scored against the
few rows written with it, until Lite's compaction merges their segments. HNSW is approximate
where FAISS here is exact (`ef` is at least the number of hits asked; on the test libraries
the lists are the same).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from errors import EngineError, EngineStale, EngineUnavailable, SearchError
from index.engine import milvus_schema as ms
from index.engine.base import (
    DIMENSION,
    EngineFilter,
    EngineState,
    Ids,
    IndexedPassage,
    PassageSource,
    Scored,
    SearchEngine,
)

CONNECT_TIMEOUT_S = 10.0
CALL_TIMEOUT_S = 120.0  # a sync's upload batches are the longest calls
UPLOAD_BATCH = 512  # passages per upsert (about 1 MB of vectors)
READ_BATCH = 4096  # rows per query page
TIE_MARGIN = 32  # hits asked beyond k, so equal scores at the cut are ordered by id here
EF_MIN = 64  # HNSW breadth of search, at least; never below the number of hits asked
STALE_GRACE_S = 3.0  # a writer mirrors a change right after committing it: wait that long
CONNECT_FAILED = 2  # pymilvus's code for "no server there"

Progress = Callable[[int], None]  # passages checked since the last call


@dataclass(frozen=True)
class SyncReport:
    checked: int  # passages of the library compared with the engine
    uploaded: int  # passages written (missing, or held differently)
    removed: int  # passages the library no longer has
    seconds: float


def _quiet_pymilvus() -> None:
    """pymilvus logs every failed call with its traceback on stderr; this engine reports
    failures itself, as one line at the edges (the CLI, the app)."""
    for name in ("pymilvus", "pymilvus.milvus_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _client_uri(uri: str) -> str:
    """pymilvus speaks gRPC to http(s):// and tcp:// addresses; grpc:// means the same."""
    if uri.lower().startswith("grpc://"):
        return "http://" + uri[len("grpc://") :]
    return uri


def _chunks(values: Sequence[Any] | np.ndarray, size: int) -> Iterator[Any]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _best(hits: list[dict[str, Any]], k: int, *, bm25: bool = False) -> Scored:
    """The k best hits, best first, ties to the lower id (as every engine orders them)."""
    pairs = [
        (int(h["id"]), ms.bm25_score(h["distance"]) if bm25 else float(h["distance"])) for h in hits
    ]
    pairs = sorted(pairs, key=lambda p: (-np.float32(p[1]), p[0]))[: max(k, 0)]
    return Scored(
        np.asarray([p[0] for p in pairs], dtype=np.int64),
        np.asarray([p[1] for p in pairs], dtype=np.float32),
    )


class MilvusEngine(SearchEngine):
    """One library's collection on a Milvus server. Connects on first use; every failure is an
    `EngineError` naming the server (`EngineUnavailable` when it cannot be reached)."""

    name = "milvus"

    def __init__(
        self,
        uri: str,
        folder: Path,
        source: PassageSource,
        *,
        library_id: str | None,
        writable: bool = False,
        token: str = "",
    ) -> None:
        self.uri = uri
        self.folder = Path(folder)
        self.source = source
        self.writable = writable
        self.token = token
        self.collection = None if library_id is None else ms.collection_name(library_id)
        self._client: Any = None
        self._loaded = False
        self._state = EngineState()

    # -- talking to the server ----------------------------------------------------------------
    def _api(self) -> Any:
        if self._client is None:
            try:
                from pymilvus import MilvusClient
            except ImportError:
                raise EngineError(
                    "the Milvus engine needs the pymilvus package: pip install pymilvus"
                ) from None
            _quiet_pymilvus()
            with self._calling("connect"):
                self._client = MilvusClient(
                    uri=_client_uri(self.uri), token=self.token, timeout=CONNECT_TIMEOUT_S
                )
        return self._client

    @contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Server failures as the project's errors, one line each."""
        import grpc
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except MilvusException as exc:
            if exc.code == CONNECT_FAILED:
                raise self._unreachable() from None
            if exc.code == 100:  # the collection is gone (dropped by hand, or never made)
                raise self._never_synced() from None
            raise EngineError(
                f"the search engine at {self.uri} could not {what}: {exc.message}"
            ) from None
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise self._unreachable() from None
            raise EngineError(
                f"the search engine at {self.uri} could not {what}: {exc.details()}"
            ) from None

    def _unreachable(self) -> EngineUnavailable:
        return EngineUnavailable(
            f"the search engine at {self.uri} cannot be reached: start it, or choose another "
            "with --engine or LESSONS_ENGINE (the library itself is untouched)"
        )

    def _sync_command(self) -> str:
        return f"python cli.py engine sync --engine {self.uri} --data-dir {self.folder}"

    def _never_synced(self) -> EngineStale:
        return EngineStale(
            f"the search engine at {self.uri} holds no copy of the library in {self.folder}: "
            f"copy it there with `{self._sync_command()}`"
        )

    def _name(self) -> str:
        if self.collection is None:
            raise self._never_synced()
        return self.collection

    def _saved_state(self) -> EngineState | None:
        """The generations the collection reflects, as recorded by its writers; None when it
        is missing or was written in another format."""
        client, name = self._api(), self._name()
        with self._calling("describe the library's collection"):
            if not client.has_collection(name, timeout=CALL_TIMEOUT_S):
                return None
            properties = client.describe_collection(name, timeout=CALL_TIMEOUT_S).get(
                "properties", {}
            )
            if not ms.compatible(properties):
                return None
            if not self._loaded:  # a restarted server may hold the collection unloaded
                if "Loaded" not in str(client.get_load_state(name).get("state")):
                    client.load_collection(name, timeout=CALL_TIMEOUT_S)
                self._loaded = True
        return EngineState(
            int(properties.get(ms.PROP_GENERATION, -1)),
            int(properties.get(ms.PROP_TAGS_GENERATION, -1)),
            self._state.passages,
        )

    def _record(self, *, generation: int | None = None, tags_generation: int | None = None) -> None:
        properties = {}
        if generation is not None:
            properties[ms.PROP_GENERATION] = str(generation)
            self._state.generation = generation
        if tags_generation is not None:
            properties[ms.PROP_TAGS_GENERATION] = str(tags_generation)
            self._state.tags_generation = tags_generation
        with self._calling("record the library generation it reflects"):
            self._api().alter_collection_properties(
                self._name(), properties=properties, timeout=CALL_TIMEOUT_S
            )

    def _writable(self) -> str:
        if not self.writable:
            raise SearchError("this engine was opened read-only")
        if self._state.generation < 0:  # first write of this handle: make sure it is current
            self.sync()
        return self._name()

    # -- state ----------------------------------------------------------------------------
    @property
    def state(self) -> EngineState:
        """The generations reflected, as of this handle's last sync or write (and the passages
        counted by its last catch-up: `count()` asks the server)."""
        return EngineState(
            self._state.generation, self._state.tags_generation, self._state.passages
        )

    def count(self) -> int:
        with self._calling("count passages"):
            rows = self._api().query(
                self._name(), filter="", output_fields=["count(*)"], timeout=CALL_TIMEOUT_S
            )
        return int(rows[0]["count(*)"]) if rows else 0

    def sync(self) -> bool:
        """A writer catches up (`catch_up`); a read handle only follows label changes, and
        refuses an engine behind the library (`EngineStale`), since catching up means
        uploading passages and that is a writer's job."""
        generation, tags = self.source.generation, self.source.tags_generation
        saved = self._saved_state()
        if saved is not None and (saved.generation, saved.tags_generation) == (generation, tags):
            self._state = saved
            return False
        if self.writable:
            if saved is None or saved.generation != generation:
                self.catch_up()
            else:
                self._state = saved
                self.refresh_labels()
            return True
        deadline = time.monotonic() + STALE_GRACE_S
        while saved is None or saved.generation != generation:
            if saved is None:
                raise self._never_synced()
            if time.monotonic() > deadline:
                raise EngineStale(
                    f"the search engine at {self.uri} is out of step with the library in "
                    f"{self.folder} (it reflects change {saved.generation}; the library is at "
                    f"{generation}): bring it up to date with `{self._sync_command()}`"
                )
            time.sleep(0.25)
            generation, saved = self.source.generation, self._saved_state()
        self._state = saved
        if saved.tags_generation != self.source.tags_generation:
            self.refresh_labels()
        return True

    def flush(self) -> None:
        """Seal what was written (on Milvus Lite this also gives BM25 one set of statistics)
        and record the library generation it reflects."""
        name = self._writable()
        with self._calling("flush"):
            self._api().flush(name, timeout=CALL_TIMEOUT_S)
        self._record(generation=self.source.generation)

    def checkpoint(self) -> None:
        """Writes are durable on the server as they are made: only the generation is due."""
        self._writable()
        self._record(generation=self.source.generation)

    def close(self) -> None:
        if self._client is not None:
            # Closing a connection that already failed: there is nothing left to release.
            with suppress(Exception):
                self._client.close()
            self._client = None

    # -- catching up ----------------------------------------------------------------------
    def _ensure_collection(self) -> str:
        """The collection, created (or recreated, when another format wrote it) if need be."""
        client, name = self._api(), self._name()
        with self._calling("create the library's collection"):
            if client.has_collection(name, timeout=CALL_TIMEOUT_S):
                properties = client.describe_collection(name, timeout=CALL_TIMEOUT_S).get(
                    "properties", {}
                )
                if ms.compatible(properties):
                    return name
                client.drop_collection(name, timeout=CALL_TIMEOUT_S)
            ms.create(client, name, CALL_TIMEOUT_S)
        self._loaded = True
        return name

    def _held(
        self, fields: Sequence[str], expr: str = "", limit: int = -1
    ) -> Iterator[dict[str, Any]]:
        """The rows the collection holds (those `expr` allows: all by default; the first
        `limit`), with the given fields and the id, page by page in id order."""
        client, name = self._api(), self._name()
        with self._calling("read what it holds"):
            pages = client.query_iterator(
                name,
                batch_size=READ_BATCH if limit < 0 else min(limit, READ_BATCH),
                limit=limit,
                filter=expr,
                output_fields=list(fields),
                timeout=CALL_TIMEOUT_S,
            )
            try:
                while page := pages.next():
                    yield from page
            finally:
                pages.close()

    def catch_up(self, progress: Progress | None = None) -> SyncReport:
        """Bring the collection to exactly the library's passages (a writer's job: the CLI's
        `engine sync`, or a writer handle finding the engine behind). Safe to repeat and to
        interrupt: each batch uploaded stays, and the generation is recorded only at the end,
        so until then read handles see the engine as behind."""
        if not self.writable:
            raise SearchError("this engine was opened read-only")
        started = time.perf_counter()
        # Read first: a change committed during the catch-up shows up as staleness next time.
        generation, tags = self.source.generation, self.source.tags_generation
        name = self._ensure_collection()
        held = {
            int(row["id"]): ms.held_row(row)
            for row in self._held(("doc_id", "text_hash", "labels"))
        }
        checked = uploaded = 0
        for batch in self.source.iter_indexed(batch=UPLOAD_BATCH):
            differs = [p for p in batch if held.pop(p.id, None) != ms.held(p)]
            if differs:
                self._upload(name, differs)
            checked += len(batch)
            uploaded += len(differs)
            if progress is not None:
                progress(len(batch))
        gone = sorted(held)  # what is left was not in the library
        self._remove(name, gone)
        with self._calling("flush"):
            self._api().flush(name, timeout=CALL_TIMEOUT_S)
        self._record(generation=generation, tags_generation=tags)
        self._state.passages = checked
        return SyncReport(checked, uploaded, len(gone), time.perf_counter() - started)

    def refresh_labels(self) -> int:
        """Rewrite the rows whose labels the library changed (a review, a retagging) and record
        the tags generation; returns how many changed. The library's labels are read first, so
        a review saved meanwhile is seen as a change next time."""
        tags = self.source.tags_generation
        wanted: dict[int, set[str]] = {}
        for pid, label in self.source.passage_labels():
            wanted.setdefault(pid, set()).add(label)
        present = {pid for pid, _ in self.source.passage_docs()}
        changed = [
            int(row["id"])
            for row in self._held(("labels",))
            if int(row["id"]) in present
            and set(row.get("labels") or ()) != wanted.get(int(row["id"]), set())
        ]
        self._relabel({pid: frozenset(wanted.get(pid, ())) for pid in changed})
        self._record(tags_generation=tags)
        return len(changed)

    def _relabel(self, labels: Mapping[int, frozenset[str]]) -> None:
        """Rows rewritten whole with new labels (an upsert replaces every field on Milvus)."""
        name = self._name()
        fields = ["doc_id", "text_hash", "tokens", "vector"]
        ids = sorted(labels)
        for chunk in _chunks(ids, UPLOAD_BATCH):
            with self._calling("change labels"):
                rows = self._api().query(
                    name, ids=list(chunk), output_fields=fields, timeout=CALL_TIMEOUT_S
                )
                for row in rows:
                    row["labels"] = sorted(labels[int(row["id"])])
                    row["vector"] = [float(x) for x in row["vector"]]
                if rows:
                    self._api().upsert(name, rows, timeout=CALL_TIMEOUT_S)

    def _upload(self, name: str, passages: Sequence[IndexedPassage]) -> None:
        for chunk in _chunks(passages, UPLOAD_BATCH):
            with self._calling("store passages"):
                self._api().upsert(name, ms.rows(chunk), timeout=CALL_TIMEOUT_S)

    def _remove(self, name: str, ids: Sequence[int]) -> None:
        for chunk in _chunks(ids, READ_BATCH):
            with self._calling("delete passages"):
                self._api().delete(name, ids=[int(i) for i in chunk], timeout=CALL_TIMEOUT_S)

    # -- writes ---------------------------------------------------------------------------
    def upsert(self, passages: Sequence[IndexedPassage]) -> None:
        if not passages:
            return
        name = self._writable()
        self._upload(name, passages)
        self._record(generation=self.source.generation)

    def delete(self, ids: Ids) -> None:
        if len(ids) == 0:
            return
        name = self._writable()
        self._remove(name, [int(i) for i in ids])
        self._record(generation=self.source.generation)

    def set_labels(self, labels: Mapping[int, frozenset[str]], tags_generation: int) -> None:
        self._writable()
        self._relabel(labels)
        self._record(tags_generation=tags_generation)

    # -- retrieval ------------------------------------------------------------------------
    def _search(
        self, field: str, data: list[Any], limit: int, expr: str, params: dict[str, Any]
    ) -> list[list[dict[str, Any]]]:
        with self._calling("search"):
            result = self._api().search(
                self._name(),
                data=data,
                anns_field=field,
                limit=limit,
                filter=expr,
                output_fields=["doc_id"],  # the smallest: Milvus Lite otherwise sends every field
                search_params=params,
                timeout=CALL_TIMEOUT_S,
            )
        return [list(hits) for hits in result]

    @staticmethod
    def _asked(k: int) -> int:
        return min(k + TIE_MARGIN, ms.MAX_TOPK)

    def _dense_params(self, limit: int) -> dict[str, Any]:
        return {"metric_type": "IP", "params": {"ef": max(limit, EF_MIN)}}

    def keyword_top(self, text: str, k: int, where: EngineFilter | None = None) -> Scored:
        k = min(k, ms.MAX_TOPK)
        if k <= 0 or ms.matches_nothing(where):
            return Scored.empty()
        expr = ms.expression(where)
        query = ms.query_text(text)
        top = Scored.empty()
        if query:
            limit = self._asked(k)
            hits = self._search("sparse", [query], limit, expr, {"metric_type": "BM25"})
            top = _best(hits[0], k, bm25=True)
        if len(top.ids) < k:
            top = self._with_zeros(top, k, expr)
        return top

    def _with_zeros(self, top: Scored, k: int, expr: str) -> Scored:
        """Pad with zero-scored allowed passages, lowest ids first (ties to the lower id)."""
        need = k - len(top.ids)
        if len(top.ids):
            expr = ms.both(expr, f"id not in {ms.ints(top.ids.tolist())}")
        zeros = [int(row["id"]) for row in self._held(("doc_id",), expr, limit=need)]
        zeros = sorted(zeros)[:need]
        return Scored(
            np.concatenate([top.ids, np.asarray(zeros, dtype=np.int64)]),
            np.concatenate([top.scores, np.zeros(len(zeros), dtype=np.float32)]),
        )

    def dense_top(self, vector: np.ndarray, k: int, where: EngineFilter | None = None) -> Scored:
        k = min(k, ms.MAX_TOPK)
        if k <= 0 or ms.matches_nothing(where):
            return Scored.empty()
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        limit = self._asked(k)
        hits = self._search(
            "vector", [q.tolist()], limit, ms.expression(where), self._dense_params(limit)
        )
        return _best(hits[0], k)

    def keyword_scores(self, text: str, ids: Ids) -> np.ndarray:
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        query = ms.query_text(text)
        if not query or len(wanted) == 0:
            return np.zeros(len(wanted), dtype=np.float32)
        found: dict[int, float] = {}
        for chunk in _chunks(np.unique(wanted).tolist(), ms.MAX_TOPK):
            hits = self._search(
                "sparse", [query], len(chunk), f"id in {ms.ints(chunk)}", {"metric_type": "BM25"}
            )
            found.update((int(h["id"]), ms.bm25_score(h["distance"])) for h in hits[0])
        return np.asarray([found.get(int(i), 0.0) for i in wanted], dtype=np.float32)

    def dense_scores(self, vector: np.ndarray, ids: Ids) -> np.ndarray:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        return np.asarray(self.vectors(ids) @ q, dtype=np.float32)

    def _rows_by_id(self, ids: Sequence[int], fields: list[str]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(sorted(set(ids)), READ_BATCH):
            with self._calling("read passages"):
                rows = self._api().query(
                    self._name(), ids=list(chunk), output_fields=fields, timeout=CALL_TIMEOUT_S
                )
            out.update((int(row["id"]), row) for row in rows)
        return out

    def vectors(self, ids: Ids) -> np.ndarray:
        wanted = [int(i) for i in ids]
        rows = self._rows_by_id(wanted, ["vector"])
        out = np.zeros((len(wanted), DIMENSION), dtype=np.float32)
        for i, pid in enumerate(wanted):
            row = rows.get(pid)
            if row is not None:
                out[i] = np.asarray(row["vector"], dtype=np.float32)
        return out

    def doc_passages(self, doc_id: int) -> np.ndarray:
        ids = [int(row["id"]) for row in self._held(("doc_id",), f"doc_id == {int(doc_id)}")]
        return np.asarray(sorted(ids), dtype=np.int64)

    def doc_ids(self, ids: Ids) -> np.ndarray:
        wanted = [int(i) for i in ids]
        rows = self._rows_by_id(wanted, ["doc_id"])
        return np.asarray([int(rows[i]["doc_id"]) for i in wanted if i in rows], dtype=np.int64)

    def neighbours(self, vectors: np.ndarray, k: int) -> list[Scored]:
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        k = min(k, ms.MAX_TOPK)
        if k <= 0 or len(queries) == 0:
            return [Scored.empty() for _ in range(len(queries))]
        limit = self._asked(k)
        out: list[Scored] = []
        for chunk in _chunks(queries, 256):  # query vectors per request
            hits = self._search(
                "vector", [q.tolist() for q in chunk], limit, "", self._dense_params(limit)
            )
            out.extend(_best(h, k) for h in hits)
        return out
