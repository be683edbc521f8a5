"""Near-duplicate passages: paragraphs copied from report to report, and shared boilerplate.

Found at ingest for the new passages only: their nearest neighbours in the engine (cosine at least
NEAR_COSINE; passages are embedded with their section heading, so an identical paragraph under
two headings scores about 0.9), confirmed by the overlap of word 3-gram shingles (Jaccard at
least NEAR_JACCARD), so that two paragraphs on one topic in different words are never folded.
A group is keyed by its earliest passage id; search shows one passage per group, with the other
documents that hold a copy.
"""

from __future__ import annotations

import re

import numpy as np

from index.engine import SearchEngine
from index.library import Store

NEAR_COSINE = 0.85
NEAR_JACCARD = 0.6
NEIGHBOURS = 8
_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def link_near_duplicates(
    store: Store, engine: SearchEngine, ids: np.ndarray, vecs: np.ndarray
) -> int:
    """Group each new passage with its near-duplicates already indexed (the engine holds the
    new passages too). Returns how many new passages joined a group."""
    if len(ids) == 0:
        return 0
    found = engine.neighbours(vecs, NEIGHBOURS + 1)
    candidates: dict[int, list[int]] = {}
    for pid, near_ones in zip(ids.tolist(), found, strict=True):
        near = [
            int(o)
            for o, s in near_ones.pairs()
            if int(o) != pid and s >= NEAR_COSINE
        ]
        if near:
            candidates[pid] = near
    if not candidates:
        return 0
    wanted = set(candidates) | {o for near in candidates.values() for o in near}
    rows = store.passages_by_ids(wanted)
    texts = {pid: row.text for pid, row in rows.items()}
    doc_of = {pid: row.doc_id for pid, row in rows.items()}
    links: dict[int, int] = {}
    for pid, near in candidates.items():
        mine = shingles(texts.get(pid, ""))
        same = [
            o
            for o in near
            if o in texts
            and doc_of.get(o) != doc_of.get(pid)
            and jaccard(mine, shingles(texts[o])) >= NEAR_JACCARD
        ]
        if same:
            links[pid] = min([pid, *same])
    return store.link_duplicates(links)


def scan_all(store: Store, engine: SearchEngine, batch: int = 1024) -> int:
    """Group near-duplicates across every stored passage: once for a store written before
    near-duplicates were tracked. Returns how many passages joined a group."""
    linked = 0
    for ids, vecs in store.iter_embeddings(batch):
        linked += link_near_duplicates(store, engine, ids, vecs)
    store.mark_duplicates_scanned()
    return linked
