"""Ingest a batch of PDFs into a data folder: the one library call behind `cli.py ingest` and
the app's upload page.

Per file: hash -> skip if unchanged -> extract (reader process, time-limited) -> passages and
entities (nlp/) -> embeddings (in groups of documents) -> tags -> the write path
(index/writes.py: one store transaction per document, then the search engine). Readers work
ahead of this process, and a group of documents is embedded in a thread while the next group
is read, so extraction, analysis, embedding and storing overlap (docs/benchmarks.md, "Ingest
speed").
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from errors import IngestError
from index.access import LEVELS, OPERATOR, Access, check_groups, check_level, higher, rank
from index.datadir import DataDir
from index.embeddings import encode
from index.library import PassageRecord, Replaced, Store
from index.tagging import Tagging, TagPrediction
from index.writes import LibraryWriter, StoredFile
from ingest import (
    EXTRACTION_VERSION,
    ExtractedDocument,
    ExtractionWorker,
    discover_pdfs,
    sha256_file,
)
from nlp.doctypes import classify_doc_type
from nlp.passages import Passage
from settings import Settings


@dataclass
class FileOutcome:
    path: str
    status: str  # ok | skipped | failed
    reason: str | None = None
    reason_code: str | None = None
    doc_id: int | None = None
    pages: int = 0
    passages: int = 0
    notes: tuple[str, ...] = ()  # what a reader should know about a file that was read
    reviews_carried: int = 0  # reviewed passages whose text changed, labels handed on
    reviews_unmatched: int = 0  # reviewed passages the new reading has nothing close to

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d.pop("reason_code")
        d["notes"] = list(self.notes)
        return d


@dataclass
class IngestReport:
    files: list[FileOutcome] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def status_counts(self) -> Counter[str]:
        return Counter(f.status for f in self.files)

    def stage_shares(self) -> str:
        """'embed 61%, extract 20%, …': where the time of the files read went."""
        total = sum(self.timings.values()) or 1.0
        ranked = sorted(self.timings.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{k} {v / total:.0%}" for k, v in ranked if v / total >= 0.005)

    def failures_by_reason(self) -> Counter[str]:
        return Counter(f.reason_code or "failed" for f in self.files if f.status == "failed")

    def to_json(self) -> dict[str, object]:
        return {
            "files": [f.to_json() for f in self.files],
            "pruned": self.pruned,
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


ProgressFn = Callable[[FileOutcome], None]
# Passages embedded together: enough for full, length-sorted batches across short documents,
# few enough that a kill loses little (measured: docs/benchmarks.md, "Ingest speed").
EMBED_GROUP = 256


@dataclass(frozen=True)
class DocumentAnalysis:
    """One extracted document cut into passages, with their entities: what is left to do is
    embedding, tagging and storing."""

    passages: list[Passage]
    entities: list[tuple[tuple[str, str, str, int], ...]]  # per passage: label, key, text, n
    missions: list[str]

    def embedding_texts(self) -> list[str]:
        # The heading is part of what a passage is about.
        return [f"{p.heading}. {p.text}" if p.heading else p.text for p in self.passages]

    def records(self, vectors: np.ndarray, preds: Sequence[TagPrediction]) -> list[PassageRecord]:
        return [
            PassageRecord(
                seq=p.seq,
                page_start=p.page_start,
                page_end=p.page_end,
                para_start=p.para_start,
                para_end=p.para_end,
                heading=p.heading,
                text=p.text,
                embedding=vectors[i],
                entities=self.entities[i],
                tags=tuple(preds[i].as_tags()) if preds else (),
                scores=preds[i].as_scores() if preds else (),
            )
            for i, p in enumerate(self.passages)
        ]


def analyse_document(doc: ExtractedDocument, settings: Settings) -> DocumentAnalysis:
    """Passages and their entities for one extracted document."""
    from nlp.analysis import analyse, entity_keys
    from nlp.passages import build_passages

    paragraphs = doc.paragraphs
    body = [i for i, p in enumerate(paragraphs) if p.kind == "body"]
    # Sentences matter only where a paragraph is split across passages.
    analyses = analyse(
        [paragraphs[i].text for i in body], sentences_above=settings.passage_max_words
    )
    sentences: list[tuple[tuple[int, int], ...]] = [()] * len(paragraphs)
    ents_by_para: dict[int, tuple] = {}
    for i, a in zip(body, analyses, strict=True):
        sentences[i] = a.sentences
        ents_by_para[i] = a.entities
    passages = build_passages(
        paragraphs, sentences, settings.passage_min_words, settings.passage_max_words
    )
    all_entities = []
    per_passage = []
    for p in passages:
        counts: Counter[tuple[str, str]] = Counter()
        surface: dict[tuple[str, str], str] = {}
        for piece in p.pieces:
            for e in ents_by_para.get(piece.paragraph, ()):
                if piece.start <= e.start < piece.end:
                    counts[(e.label, e.key)] += 1
                    surface.setdefault((e.label, e.key), e.text)
                    all_entities.append(e)
        per_passage.append(
            tuple((lab, key, surface[(lab, key)], n) for (lab, key), n in counts.items())
        )
    return DocumentAnalysis(passages, per_passage, entity_keys(all_entities, "MISSION"))


def ingest_paths(
    paths: Sequence[Path | str],
    settings: Settings,
    *,
    password: str | None = None,
    prune: bool = False,
    progress: ProgressFn | None = None,
    on_start: Callable[[int], None] | None = None,
    force: bool = False,
    classification: str | None = None,
    groups: Sequence[str] = (),
    by: Access = OPERATOR,
    workers: int | None = None,
) -> IngestReport:
    """Ingest files and folders into `settings.data_dir`. Never raises for a bad file: each
    gets an outcome. Raises `DataDirError` when the data folder itself is unusable.
    `force` re-reads files even when unchanged. Unchanged files that an older version of the
    extraction read (`EXTRACTION_VERSION`) are read again anyway, with a note saying so.

    New documents get `classification` (default: the library's, `Settings.default_classification`)
    and the access `groups`; a marking printed on a document raises its level, never lowers it,
    and its outcome says so. Raises `AccountError` for an unknown level or a bad group name.

    `workers` PDF readers run beside this process (default: `default_workers()`)."""
    by.require("librarian", "adding documents")
    level = check_level(classification or settings.default_classification)
    access_groups = tuple(sorted(check_groups(groups)))
    started = time.perf_counter()
    files, _missing = discover_pdfs(paths)
    report = IngestReport()
    if on_start:
        on_start(len(files))

    def finish(outcome: FileOutcome) -> None:
        report.files.append(outcome)
        if progress:
            progress(outcome)

    with DataDir(settings.data_dir, write=True) as dd:
        writer = LibraryWriter(dd)
        plan = _plan(files, writer, force, report, finish)
        if plan.todo:
            given = _Classification(level, access_groups if groups else None)
            _read_and_store(
                plan,
                writer,
                settings,
                password,
                report,
                finish,
                given,
                workers or default_workers(),
            )
        if prune:
            report.pruned = writer.prune(paths)
        writer.finish()
    report.seconds = time.perf_counter() - started
    return report


def default_workers() -> int:
    """Reader processes beside the one that embeds: one per core beyond the first, at least
    one (on 2 cores: one reader, while embedding takes both cores' worth of threads)."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class _Classification:
    level: str
    groups: tuple[str, ...] | None  # None: leave a re-read document's groups as they are


@dataclass
class _Plan:
    todo: list[tuple[Path, str]]  # (file, its sha256) to read
    reread: set[Path]  # unchanged files read by an older version of the extractor


def _plan(
    files: Sequence[Path],
    writer: LibraryWriter,
    force: bool,
    report: IngestReport,
    finish: ProgressFn,
) -> _Plan:
    """Decide, cheaply, what needs reading: unchanged files are skipped, moved ones follow
    their file, copies of a file already in the library are not read twice."""
    store = writer.store
    plan = _Plan([], set())
    for path in files:
        t0 = time.perf_counter()
        try:
            sha = sha256_file(path)
        except OSError as exc:
            finish(
                FileOutcome(
                    str(path), "failed", f"cannot read the file: {exc.strerror}", "unreadable"
                )
            )
            continue
        report.timings["hash"] += time.perf_counter() - t0
        known = store.document_by_path(str(path))
        stale = known is not None and known.extraction_version < EXTRACTION_VERSION
        if known is not None and known.sha256 == sha and not force and not stale:
            finish(
                FileOutcome(
                    str(path),
                    "skipped",
                    "unchanged since the last ingest",
                    None,
                    known.id,
                    known.page_count,
                    len(store.passage_ids(known.id)),
                )
            )
            continue
        twin = store.document_by_sha(sha)
        if twin is not None and twin.source_path != str(path):
            if not Path(twin.source_path).exists():
                writer.move_document(twin.id, str(path))
                reason = f"moved from {twin.source_path}"
            else:
                reason = f"same content as {twin.file_name}"
            finish(FileOutcome(str(path), "skipped", reason, None, twin.id, twin.page_count))
            continue
        if stale and known is not None and known.sha256 == sha and not force:
            plan.reread.add(path)
        plan.todo.append((path, sha))
    return plan


@dataclass
class _Read:
    """A file read and analysed, waiting for its vectors."""

    path: Path
    sha: str
    doc: ExtractedDocument
    analysis: DocumentAnalysis


def _read_and_store(
    plan: _Plan,
    writer: LibraryWriter,
    settings: Settings,
    password: str | None,
    report: IngestReport,
    finish: ProgressFn,
    given: _Classification,
    workers: int,
) -> None:
    """Read each planned file (in time-limited reader processes, ahead of this one), analyse
    it, and store it through the write path.

    Embedding, most of the work, runs on groups of documents (`EMBED_GROUP` passages): one
    length-sorted pass over many short documents is 1.8x faster than one per document. A
    group is embedded in a thread while this one reads, analyses, tags and stores the next
    (ONNX Runtime and torch release the GIL while they compute), so the cores stay busy.
    Documents are committed one by one as their group's vectors arrive; a kill loses at most
    the groups in flight, which the next run reads again."""
    store = writer.store
    tagging = Tagging(writer.dd, threads=settings.torch_threads)
    todo = plan.todo
    group: list[_Read] = []
    in_flight: tuple[list[_Read], Future[np.ndarray]] | None = None

    def store_group(reads: list[_Read], vectors: Future[np.ndarray]) -> None:
        t0 = time.perf_counter()
        try:
            all_vecs = vectors.result()
        except Exception as exc:  # the encoder failed on this group: say so per file
            for r in reads:
                _failed(store, finish, r.path, r.sha, "processing", f"embedding failed: {exc}")
            return
        report.timings["embed"] += time.perf_counter() - t0
        at = 0
        for r in reads:
            n = len(r.analysis.passages)
            _store_read(r, all_vecs[at : at + n], writer, tagging, plan, given, report, finish)
            at += n

    with ExitStack() as stack:
        # The encoder's threads take the cores while this thread tags and stores: BLAS
        # threads of its own on top would only make them wait for each other.
        from threadpoolctl import threadpool_limits

        stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        embedder = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="embed"))

        def embed(reads: list[_Read]) -> Future[np.ndarray]:
            texts = [t for r in reads for t in r.analysis.embedding_texts()]
            return embedder.submit(
                encode, texts, threads=settings.torch_threads, batch_size=settings.embed_batch_size
            )

        # File n is read by worker n % len(pool); each worker reads its next file while this
        # process works on the ones before.
        pool = [
            stack.enter_context(
                ExtractionWorker(
                    settings.file_timeout_s,
                    extractor=settings.extractor,
                    max_file_mb=settings.max_file_mb,
                    max_pages=settings.max_pages,
                    ocr=settings.ocr,
                    ocr_max_pages=settings.ocr_max_pages,
                )
            )
            for _ in range(max(1, min(workers, len(todo))))
        ]
        for n in range(len(pool)):
            pool[n].submit(todo[n][0], password)
        for n, (path, sha) in enumerate(todo):
            worker = pool[n % len(pool)]
            t0 = time.perf_counter()
            try:
                doc: ExtractedDocument | None = worker.collect()
            except IngestError as exc:
                doc = None
                _failed(store, finish, path, sha, exc.reason, exc.message)
            if n + len(pool) < len(todo):
                worker.submit(todo[n + len(pool)][0], password)
            report.timings["extract"] += time.perf_counter() - t0
            if doc is not None:
                t0 = time.perf_counter()
                try:
                    group.append(_Read(path, sha, doc, analyse_document(doc, settings)))
                except Exception as exc:  # a text the NLP cannot handle must not stop the batch
                    _failed(store, finish, path, sha, "processing", f"processing failed: {exc}")
                report.timings["nlp"] += time.perf_counter() - t0
            last = n + 1 == len(todo)
            if group and (last or sum(len(r.analysis.passages) for r in group) >= EMBED_GROUP):
                started = embed(group)
                if in_flight is not None:
                    store_group(*in_flight)
                in_flight, group = (group, started), []
        if in_flight is not None:
            store_group(*in_flight)


def _failed(
    store: Store, finish: ProgressFn, path: Path, sha: str, reason: str, message: str
) -> None:
    store.log_failure(str(path), sha, reason, message)
    finish(FileOutcome(str(path), "failed", message, reason))


def _store_read(
    r: _Read,
    vectors: np.ndarray,
    writer: LibraryWriter,
    tagging: Tagging,
    plan: _Plan,
    given: _Classification,
    report: IngestReport,
    finish: ProgressFn,
) -> None:
    t0 = time.perf_counter()
    texts = [p.text for p in r.analysis.passages]
    try:
        preds = tagging.predict(texts, vectors, evidence=False) if texts else []
    except Exception as exc:  # as for the NLP: one file's failure, not the batch's
        _failed(writer.store, finish, r.path, r.sha, "processing", f"tagging failed: {exc}")
        return
    records = r.analysis.records(vectors, preds)
    report.timings["tag"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    doc = r.doc
    level = higher(given.level, doc.marking or LEVELS[0])
    stored = writer.store_document(
        _stored_file(r.path, r.sha, doc, r.analysis.missions, level, given.groups), records
    )
    report.timings["store"] += time.perf_counter() - t0
    finish(
        FileOutcome(
            str(r.path),
            "ok",
            None,
            None,
            stored.doc_id,
            doc.page_count,
            len(records),
            (
                *([REREAD_NOTE] if r.path in plan.reread else []),
                *_marking_notes(doc.marking, given.level),
                *doc.warnings,
                *_review_notes(stored),
            ),
            stored.reviews_carried,
            stored.reviews_unmatched,
        )
    )


def _marking_notes(marking: str | None, given: str) -> list[str]:
    if marking is None:
        return []
    shown = marking.replace("_", " ").upper()
    if rank(marking) > rank(given):
        return [f"marked {shown} on the document: stored as {marking} (asked: {given})"]
    return [f"marked {shown} on the document; stored as {given}, as asked"]


def _stored_file(
    path: Path,
    sha: str,
    doc: ExtractedDocument,
    missions: Sequence[str],
    level: str,
    groups: tuple[str, ...] | None,
) -> StoredFile:
    return StoredFile(
        source_path=str(path),
        file_name=path.name,
        sha256=sha,
        size_bytes=doc.size_bytes,
        title=doc.title,
        symbol=doc.symbol,
        doc_date=doc.date,
        page_count=doc.page_count,
        missions=tuple(missions),
        extractor=doc.extractor,
        two_column_pages=doc.two_column_pages,
        doc_type=classify_doc_type(
            doc.title,
            doc.symbol,
            "\n".join((*doc.front_matter, doc.page_texts[0] if doc.page_texts else "")),
        ),
        extraction_version=EXTRACTION_VERSION,
        classification=level,
        groups=groups,
    )


REREAD_NOTE = "read again: text extraction has improved since this file was last read"


def _review_notes(stored: Replaced) -> list[str]:
    """What re-reading a document did to its reviewed passages, said rather than silent."""
    notes = []
    if n := stored.reviews_carried:
        notes.append(
            f"{n} reviewed passage{' was' if n == 1 else 's were'} read differently this time; "
            "the reviewed labels now apply to the new text (carried over, in the audit trail)"
        )
    if n := stored.reviews_unmatched:
        notes.append(
            f"{n} reviewed passage{' no longer matches' if n == 1 else 's no longer match'} any "
            "passage of this document; the labels stay in the training set and the audit trail"
        )
    return notes
