"""Ingest a batch of PDFs into a data folder: the one library call behind `cli.py ingest` and
the app's upload page.

Per file: hash -> skip if unchanged -> extract (child process, time-limited) -> passages and
entities (spaCy) -> embeddings -> the write path (index/writes.py: one store transaction, then
the search engine). The next file is extracted in the child while the parent embeds the current
one.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

from errors import IngestError
from index.access import LEVELS, OPERATOR, Access, check_groups, check_level, higher, rank
from index.datadir import DataDir
from index.library import PassageRecord, Replaced
from index.tagging import Tagging
from index.writes import LibraryWriter, StoredFile
from ingest import (
    EXTRACTION_VERSION,
    ExtractedDocument,
    ExtractionWorker,
    discover_pdfs,
    sha256_file,
)
from nlp.doctypes import classify_doc_type
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


def analyse_document(
    doc: ExtractedDocument, settings: Settings, tagging: Tagging | None = None
) -> tuple[list[str], list[PassageRecord], dict[str, float]]:
    """Passages, entities and embeddings for one extracted document."""
    from index.embeddings import encode
    from nlp.analysis import analyse, entity_keys
    from nlp.passages import build_passages

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
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
    missions = entity_keys(all_entities, "MISSION")
    timings["nlp"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    texts = [f"{p.heading}. {p.text}" if p.heading else p.text for p in passages]
    vecs = encode(texts, threads=settings.torch_threads, batch_size=settings.embed_batch_size)
    timings["embed"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    preds = (
        tagging.predict([p.text for p in passages], vecs, evidence=False)
        if tagging is not None and passages
        else []
    )
    timings["tag"] = time.perf_counter() - t0
    records = [
        PassageRecord(
            seq=p.seq,
            page_start=p.page_start,
            page_end=p.page_end,
            para_start=p.para_start,
            para_end=p.para_end,
            heading=p.heading,
            text=p.text,
            embedding=vecs[i],
            entities=per_passage[i],
            tags=tuple(preds[i].as_tags()) if preds else (),
            scores=preds[i].as_scores() if preds else (),
        )
        for i, p in enumerate(passages)
    ]
    return missions, records, timings


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
    """Read each planned file (in a time-limited child process, the next file while this one
    is analysed), analyse it, and store it through the write path."""
    store = writer.store
    tagging = Tagging(writer.dd, threads=settings.torch_threads)
    todo = plan.todo
    with ExitStack() as stack:
        # File n is read by worker n % len(pool); each worker reads its next file while this
        # process analyses, embeds and stores the ones before.
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
            failure: IngestError | None = None
            try:
                doc = worker.collect()
            except IngestError as exc:
                failure = exc
            if n + len(pool) < len(todo):
                worker.submit(todo[n + len(pool)][0], password)
            report.timings["extract"] += time.perf_counter() - t0
            if failure is not None:
                store.log_failure(str(path), sha, failure.reason, failure.message)
                finish(FileOutcome(str(path), "failed", failure.message, failure.reason))
                continue
            try:
                missions, records, timings = analyse_document(doc, settings, tagging)
            except Exception as exc:  # a text the NLP cannot handle must not stop the batch
                store.log_failure(str(path), sha, "processing", f"processing failed: {exc}")
                finish(FileOutcome(str(path), "failed", f"processing failed: {exc}", "processing"))
                continue
            for k, v in timings.items():
                report.timings[k] += v
            t0 = time.perf_counter()
            level = higher(given.level, doc.marking or LEVELS[0])
            stored = writer.store_document(
                _stored_file(path, sha, doc, missions, level, given.groups), records
            )
            report.timings["store"] += time.perf_counter() - t0
            finish(
                FileOutcome(
                    str(path),
                    "ok",
                    None,
                    None,
                    stored.doc_id,
                    doc.page_count,
                    len(records),
                    (
                        *([REREAD_NOTE] if path in plan.reread else []),
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
