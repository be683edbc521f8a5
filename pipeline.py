"""Ingest a batch of PDFs into a data folder: the one library call behind `cli.py ingest` and
the app's upload page.

Per file: hash -> skip if unchanged -> extract (child process, time-limited) -> passages and
entities (spaCy) -> embeddings -> one store transaction -> mirror in FAISS. The next file is
extracted in the child while the parent embeds the current one.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from errors import IngestError
from index.datadir import DataDir
from index.dedup import link_near_duplicates, scan_all
from index.store import PassageRecord, Replaced
from index.tagging import Tagging
from ingest import (
    EXTRACTION_VERSION,
    ExtractedDocument,
    ExtractionWorker,
    discover_pdfs,
    sha256_file,
)
from nlp.doctypes import classify_doc_type
from settings import Settings

SAVE_EVERY_S = 60.0


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
    analyses = analyse([paragraphs[i].text for i in body])
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
) -> IngestReport:
    """Ingest files and folders into `settings.data_dir`. Never raises for a bad file: each
    gets an outcome. Raises `DataDirError` when the data folder itself is unusable.
    `force` re-reads files even when unchanged. Unchanged files that an older version of the
    extraction read (`EXTRACTION_VERSION`) are read again anyway, with a note saying so."""
    started = time.perf_counter()
    files, _missing = discover_pdfs(paths)
    report = IngestReport()
    if on_start:
        on_start(len(files))
    with (
        DataDir(settings.data_dir, write=True) as dd,
        ExtractionWorker(
            settings.file_timeout_s,
            extractor=settings.extractor,
            max_file_mb=settings.max_file_mb,
            max_pages=settings.max_pages,
            ocr=settings.ocr,
            ocr_max_pages=settings.ocr_max_pages,
        ) as worker,
    ):
        dd.vector_index()
        store = dd.store
        tagging = Tagging(dd, threads=settings.torch_threads)
        last_save = time.monotonic()
        dirty = False

        def finish(outcome: FileOutcome) -> None:
            report.files.append(outcome)
            if progress:
                progress(outcome)

        # Decide, cheaply, what needs extracting.
        todo: list[tuple[Path, str]] = []
        reread: set[Path] = set()  # unchanged files read by an older version of the extractor
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
                    store.move_document(twin.id, str(path))
                    finish(
                        FileOutcome(
                            str(path),
                            "skipped",
                            f"moved from {twin.source_path}",
                            None,
                            twin.id,
                            twin.page_count,
                        )
                    )
                else:
                    finish(
                        FileOutcome(
                            str(path),
                            "skipped",
                            f"same content as {twin.file_name}",
                            None,
                            twin.id,
                            twin.page_count,
                        )
                    )
                continue
            if stale and known is not None and known.sha256 == sha and not force:
                reread.add(path)
            todo.append((path, sha))

        if todo:
            worker.submit(todo[0][0], password)
        for n, (path, sha) in enumerate(todo):
            t0 = time.perf_counter()
            try:
                doc = worker.collect()
            except IngestError as exc:
                if n + 1 < len(todo):
                    worker.submit(todo[n + 1][0], password)
                report.timings["extract"] += time.perf_counter() - t0
                store.log_failure(str(path), sha, exc.reason, exc.message)
                finish(FileOutcome(str(path), "failed", exc.message, exc.reason))
                continue
            report.timings["extract"] += time.perf_counter() - t0
            if n + 1 < len(todo):
                worker.submit(todo[n + 1][0], password)
            try:
                missions, records, timings = analyse_document(doc, settings, tagging)
            except Exception as exc:  # a text the NLP cannot handle must not stop the batch
                store.log_failure(str(path), sha, "processing", f"processing failed: {exc}")
                finish(FileOutcome(str(path), "failed", f"processing failed: {exc}", "processing"))
                continue
            for k, v in timings.items():
                report.timings[k] += v
            t0 = time.perf_counter()
            stored = store.replace_document(
                source_path=str(path),
                file_name=path.name,
                sha256=sha,
                size_bytes=doc.size_bytes,
                title=doc.title,
                symbol=doc.symbol,
                doc_date=doc.date,
                page_count=doc.page_count,
                missions=missions,
                extractor=doc.extractor,
                two_column_pages=doc.two_column_pages,
                passages=records,
                extraction_version=EXTRACTION_VERSION,
                doc_type=classify_doc_type(
                    doc.title,
                    doc.symbol,
                    "\n".join((*doc.front_matter, doc.page_texts[0] if doc.page_texts else "")),
                ),
            )
            vecs = np.vstack([r.embedding for r in records]) if records else None
            added = (np.asarray(stored.new_ids, dtype=np.int64), vecs) if vecs is not None else None
            dd.apply(added, stored.removed)
            if added is not None:
                link_near_duplicates(store, dd.vector_index(), *added)
            dirty = True
            if time.monotonic() - last_save > SAVE_EVERY_S:
                dd.save_vectors()
                last_save, dirty = time.monotonic(), False
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
                        *([REREAD_NOTE] if path in reread else []),
                        *doc.warnings,
                        *_review_notes(stored),
                    ),
                    stored.reviews_carried,
                    stored.reviews_unmatched,
                )
            )

        if prune:
            roots = [Path(p).expanduser().resolve() for p in paths]
            for row in store.documents():
                src = Path(row.source_path)
                if not src.exists() and any(src.is_relative_to(r) for r in roots):
                    removed = store.delete_document(row.id)
                    dd.apply(None, removed)
                    report.pruned.append(row.source_path)
                    dirty = True
        if dirty or not (settings.data_dir / "manifest.json").exists():
            dd.save_vectors()
        dd.save_keyword_index()
        if store.get_meta("near_duplicates_scanned") is None:
            scan_all(store, dd.vector_index())
    report.seconds = time.perf_counter() - started
    return report


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
