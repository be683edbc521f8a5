"""The scale benchmark's libraries: the realdocs passages, with their judgments, among distractors.

`build(n, target, ...)` writes a data folder of n passages through the project's write path
(`LibraryWriter`: each document one SQLite transaction, then the engine; `finish()` writes the
engine's files, the approximate index included). SQLite takes about 14,000 passages a second
here, so even a million go through the real path, and the benchmark searches them with the
real `Searcher` (catalogue, access, boosts, snippets, near-duplicate folding).

A library holds:

1. every realdocs document and passage (12,469), under their own file names, so the qrels
   judge them exactly as in benchmarks/search.py;
2. distractor documents of DOC_PASSAGES passages, each about one realdocs mission (missions
   drawn as often as realdocs passages belong to them), with the missions, date and type of a
   real report of that mission, so the place and period boosts lift them as much as the judged
   reports. Their passages:
   - texts: real sentences of that mission's reports, shuffled across its documents and
     grouped to the length of a real passage (lengths drawn from realdocs);
   - vectors: for the first POOL passages, the MiniLM embedding of that text (computed once,
     cached in benchmarks/out/scale-pool/); beyond the pool, a noisy copy of the vector of a
     real or pooled passage of the same mission: v + N(0, s^2 I), renormalised, with s set so
     that a copy keeps a cosine of COPY_COSINE with its source.

Why they push the judged documents down: every real passage gets, on average, N/40,000
near-twins (cosine 0.9) in distractor documents of its own mission and period, so the dense
retriever's top 1,000 fills with them; the recombined texts hold the mission's own vocabulary
(names, places, programmes), so BM25 finds them too; and a judged report must outscore
documents that share its mission, its period, its words and its neighbours in vector space.
They are also the hard case for an approximate index: tight clusters of near-copies are where
IVF and HNSW lose recall.

Why noisy copies beyond the pool: embedding runs at about 80 passages a second here, so a
million real embeddings would take three and a half hours; 20,000 distinct ones give the
cluster centres in about four minutes, the copies the density.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.datadir import DataDir
from index.engine.base import DIMENSION
from index.library import PassageRecord
from index.library.records import DocumentRow
from index.writes import LibraryWriter, StoredFile

DOC_PASSAGES = 60  # passages per distractor document (realdocs reports average 63)
POOL = 20_000  # distractor passages with a real embedding
COPY_COSINE = 0.9  # cosine between a noisy copy and the vector it copies
SEED = 13
SENTENCE = re.compile(r"(?<=[.;:!?])\s+")


@dataclass
class Corpus:
    """What distractors are made from: realdocs' sentences, lengths, vectors by mission."""

    docs: list[DocumentRow]
    sentences: dict[str, list[str]]
    lengths: list[int]
    vectors: dict[str, np.ndarray]  # mission -> vectors of its real passages
    reports: dict[str, list[DocumentRow]]  # mission -> its real reports
    missions: list[str]
    weights: np.ndarray  # share of realdocs passages per mission


def mission_of(doc: DocumentRow) -> str:
    return doc.missions[0] if doc.missions else "other"


def read_corpus(realdocs: Path) -> Corpus:
    sentences: dict[str, list[str]] = {}
    vectors: dict[str, list[np.ndarray]] = {}
    reports: dict[str, list[DocumentRow]] = {}
    lengths: list[int] = []
    with DataDir(realdocs) as dd:
        docs = dd.store.documents()
        for doc in docs:
            m = mission_of(doc)
            reports.setdefault(m, []).append(doc)
            for rec in dd.store.passage_records(doc.id):
                lengths.append(len(rec.text.split()))
                vectors.setdefault(m, []).append(np.asarray(rec.embedding, dtype=np.float32))
                sentences.setdefault(m, []).extend(
                    s for s in SENTENCE.split(rec.text) if len(s.split()) >= 4
                )
    missions = sorted(m for m in vectors if sentences.get(m))
    counts = np.asarray([len(vectors[m]) for m in missions], dtype=np.float64)
    return Corpus(
        docs,
        sentences,
        lengths,
        {m: np.vstack(v) for m, v in vectors.items()},
        reports,
        missions,
        counts / counts.sum(),
    )


def recombined(corpus: Corpus, mission: str, rng: random.Random) -> str:
    """Sentences of one mission's reports, drawn across its documents, to a real length."""
    target = rng.choice(corpus.lengths)
    pool = corpus.sentences[mission]
    out: list[str] = []
    words = 0
    while words < target:
        sentence = rng.choice(pool)
        out.append(sentence)
        words += len(sentence.split())
    return " ".join(out)


@dataclass
class Pool:
    texts: list[str]
    missions: list[str]
    vectors: np.ndarray


def pool(corpus: Corpus, size: int, folder: Path) -> Pool:
    """POOL recombined passages with real embeddings, made once and cached in `folder`."""
    manifest = folder / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text())["size"] == size:
        return Pool(
            json.loads((folder / "texts.json").read_text()),
            json.loads((folder / "missions.json").read_text()),
            np.load(folder / "vectors.npy"),
        )
    from index.embeddings import MODEL_NAME, encode

    rng = random.Random(SEED)
    nrng = np.random.default_rng(SEED)
    missions = [str(m) for m in nrng.choice(corpus.missions, size=size, p=corpus.weights)]
    texts = [recombined(corpus, m, rng) for m in missions]
    started = time.perf_counter()
    parts = []
    for start in range(0, size, 512):
        parts.append(encode(texts[start : start + 512], threads=2))
        print(f"  pool: embedded {start + len(parts[-1])}/{size}", flush=True)
    vectors = np.vstack(parts).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "texts.json").write_text(json.dumps(texts))
    (folder / "missions.json").write_text(json.dumps(missions))
    np.save(folder / "vectors.npy", vectors)
    took = time.perf_counter() - started
    manifest.write_text(json.dumps({"size": size, "model": MODEL_NAME, "seconds": took}))
    return Pool(texts, missions, vectors)


def noisy_copy(source: np.ndarray, nrng: np.random.Generator) -> np.ndarray:
    """`source` plus Gaussian noise, renormalised: cosine COPY_COSINE with it on average
    (for a unit vector, cos = 1 / sqrt(1 + d s^2))."""
    s = np.sqrt((1 / COPY_COSINE**2 - 1) / DIMENSION)
    v = source + nrng.normal(0.0, s, DIMENSION).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32)


def distractors(
    corpus: Corpus, pooled: Pool, count: int
) -> Iterator[tuple[StoredFile, list[PassageRecord]]]:
    """`count` distractor passages in documents of DOC_PASSAGES, the pool's first (grouped by
    mission), then noisy copies. Deterministic: a smaller library is a prefix of a larger."""
    rng = random.Random(SEED + 1)
    nrng = np.random.default_rng(SEED + 1)
    sources = {
        m: np.vstack(
            [corpus.vectors[m]]
            + [pooled.vectors[i][None] for i, pm in enumerate(pooled.missions) if pm == m]
        )
        for m in corpus.missions
    }
    by_mission: dict[str, list[int]] = {}
    for i, m in enumerate(pooled.missions[: min(count, len(pooled.missions))]):
        by_mission.setdefault(m, []).append(i)
    plan: list[tuple[str, list[int] | int]] = []  # (mission, pool rows or a count of copies)
    for m in sorted(by_mission):
        mine = by_mission[m]
        plan += [(m, mine[i : i + DOC_PASSAGES]) for i in range(0, len(mine), DOC_PASSAGES)]
    left = count - sum(len(r) for _, r in plan if isinstance(r, list))
    while left > 0:
        m = str(nrng.choice(corpus.missions, p=corpus.weights))
        plan.append((m, min(DOC_PASSAGES, left)))
        left -= DOC_PASSAGES
    for number, (m, rows) in enumerate(plan):
        like = rng.choice(corpus.reports[m])
        if isinstance(rows, list):
            texts = [pooled.texts[i] for i in rows]
            vectors = [pooled.vectors[i] for i in rows]
        else:
            texts = [recombined(corpus, m, rng) for _ in range(rows)]
            picks = nrng.integers(0, len(sources[m]), rows)
            vectors = [noisy_copy(sources[m][j], nrng) for j in picks]
        name = f"distractor-{number:06d}.pdf"
        file = StoredFile(
            source_path=f"/scale/{name}",
            file_name=name,
            sha256=hashlib.sha256(name.encode()).hexdigest(),
            size_bytes=0,
            title=f"Distractor report {number} ({m})",
            symbol=None,
            doc_date=like.doc_date,
            page_count=1 + len(texts) // 3,
            missions=like.missions,
            extractor="scale-benchmark",
            two_column_pages=0,
            doc_type=like.doc_type,
            extraction_version=like.extraction_version,
        )
        records = [
            PassageRecord(
                seq=i,
                page_start=1 + i // 3,
                page_end=1 + i // 3,
                para_start=None,
                para_end=None,
                heading=None,
                text=text,
                embedding=vector,
            )
            for i, (text, vector) in enumerate(zip(texts, vectors, strict=True))
        ]
        yield file, records


def build(n: int, target: Path, realdocs: Path, pool_folder: Path) -> dict[str, float]:
    """Write the library of `n` passages into `target` (a new folder); returns timings."""
    corpus = read_corpus(realdocs)
    real = sum(len(v) for v in corpus.vectors.values())
    if n < real:
        raise SystemExit(f"--passages must be at least the {real} realdocs passages")
    pooled = pool(corpus, POOL, pool_folder)  # made once; a small library uses its first part
    started = time.perf_counter()
    with DataDir(realdocs) as src, DataDir(target, write=True) as dst:
        writer = LibraryWriter(dst)
        for doc in corpus.docs:
            records = src.store.passage_records(doc.id)
            writer.store_document(
                StoredFile.copy_of(doc, extractor=doc.extractor or "realdocs"),
                records,
                near_duplicates=False,
            )
        written = real
        for file, records in distractors(corpus, pooled, n - real):
            writer.store_document(file, records, near_duplicates=False)
            written += len(records)
            if written % 100_000 < len(records):
                print(f"  wrote {written:,} passages", flush=True)
        stored = time.perf_counter()
        writer.finish()  # the engine's base, keyword index and approximate index
        finished = time.perf_counter()
    return {
        "write_s": round(stored - started, 1),
        "engine_files_s": round(finished - stored, 1),
        "build_s": round(finished - started, 1),
    }
