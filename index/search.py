"""Dense passage search over the data folder, returning typed `SearchHit`s."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from index import vectors
from index.datadir import DataDir
from index.embeddings import encode
from nlp.sentences import split_sentences

WORD_RE = re.compile(r"[\w'-]+")


@dataclass(frozen=True)
class SearchHit:
    rank: int
    doc_id: int
    source: str
    title: str
    page: int
    passage_id: int
    score: float
    snippet: str
    a4p: list[str] = field(default_factory=list)
    pillars: list[str] = field(default_factory=list)
    symbol: str | None = None
    date: str | None = None
    paragraph: int | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def snippet(text: str, query: str, max_chars: int = 320) -> str:
    """The sentence (or two) of a passage sharing most words with the query."""
    terms = {w.lower() for w in WORD_RE.findall(query) if len(w) > 2}
    if not text.strip():
        return ""
    sentences = split_sentences(text)
    best = max(
        range(len(sentences)),
        key=lambda i: (len(terms & {w.lower() for w in WORD_RE.findall(sentences[i])}), -i),
    )
    out = sentences[best]
    if len(out) < max_chars // 2 and best + 1 < len(sentences):
        out += " " + sentences[best + 1]
    return out if len(out) <= max_chars else out[: max_chars - 1].rsplit(" ", 1)[0] + "…"


def dense_search(dd: DataDir, query: str, k: int = 10, *, threads: int = 2) -> list[SearchHit]:
    index = dd.vector_index()
    qvec = encode([query], threads=threads)[0]
    scores, ids = vectors.search(index, qvec, k)
    rows = dd.store.passages_by_ids(int(i) for i in ids)
    tags = dd.store.tags_for(int(i) for i in ids)
    hits: list[SearchHit] = []
    for score, pid in zip(scores, ids, strict=True):
        row = rows.get(int(pid))
        if row is None:  # the index and store disagree: never show a wrong passage
            continue
        hits.append(
            SearchHit(
                rank=len(hits) + 1,
                doc_id=row["doc_id"],
                source=row["file_name"],
                title=row["title"],
                page=row["page_start"],
                passage_id=int(pid),
                score=round(float(score), 4),
                snippet=snippet(row["text"], query),
                a4p=tags[int(pid)].get("a4p", []),
                pillars=tags[int(pid)].get("pillars", []),
                symbol=row["symbol"],
                date=row["doc_date"],
                paragraph=row["para_start"],
            )
        )
    return hits
