"""Cut a document's paragraphs into passages of roughly 80-250 words.

Passages follow paragraph boundaries (so a UN paragraph number can be cited) and are split at
sentence boundaries only when a paragraph is too long. Each passage knows its pages, paragraph
numbers and the section heading above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ingest.records import Paragraph


@dataclass(frozen=True)
class Piece:
    """A span of one paragraph's text that belongs to a passage."""

    paragraph: int
    start: int
    end: int


@dataclass(frozen=True)
class Passage:
    seq: int
    text: str
    page_start: int
    page_end: int
    para_start: int | None
    para_end: int | None
    heading: str | None
    pieces: tuple[Piece, ...]

    @property
    def word_count(self) -> int:
        return len(self.text.split())


def _words(text: str) -> int:
    return len(text.split())


def _split_long(
    text: str, sentences: Sequence[tuple[int, int]], max_words: int
) -> list[tuple[int, int]]:
    """Split one paragraph into balanced chunks of whole sentences, none above max_words
    unless a single sentence is longer."""
    total = _words(text)
    n_chunks = -(-total // max_words)
    target = total / n_chunks
    chunks: list[tuple[int, int]] = []
    start: int | None = None
    count, prev_end = 0, 0
    for s, e in sentences or [(0, len(text))]:
        w = _words(text[s:e])
        if start is not None and (count + w > max_words or count >= target):
            chunks.append((start, prev_end))
            start, count = None, 0
        if start is None:
            start = s
        count += w
        prev_end = e
    if start is not None:
        chunks.append((start, prev_end))
    return chunks


def build_passages(
    paragraphs: Sequence[Paragraph],
    sentences: Sequence[Sequence[tuple[int, int]]],
    min_words: int = 80,
    max_words: int = 250,
) -> list[Passage]:
    """`sentences[i]` holds the sentence spans of `paragraphs[i]` (empty for headings)."""
    passages: list[Passage] = []
    current: list[Piece] = []
    heading: str | None = None
    current_heading: str | None = None

    def words_in(pieces: Sequence[Piece]) -> int:
        return sum(_words(paragraphs[p.paragraph].text[p.start : p.end]) for p in pieces)

    def flush() -> None:
        nonlocal current
        if current:
            passages.append(_make(len(passages), current, paragraphs, current_heading))
        current = []

    for i, para in enumerate(paragraphs):
        if para.kind == "heading":
            if words_in(current) >= min_words // 2:
                flush()
            heading = para.text
            continue
        w = _words(para.text)
        if w > max_words:
            flush()
            current_heading = heading
            for s, e in _split_long(para.text, sentences[i], max_words):
                current = [Piece(i, s, e)]
                flush()
            continue
        have = words_in(current)
        if current and (have >= min_words or have + w > max_words):
            flush()
        if not current:
            current_heading = heading
        current.append(Piece(i, 0, len(para.text)))
    flush()
    # A short tail is folded into the passage before it rather than left as a stub.
    if len(passages) >= 2 and passages[-1].word_count < min_words // 2:
        last, prev = passages[-1], passages[-2]
        if prev.word_count + last.word_count <= max_words * 1.2:
            merged = _make(prev.seq, list(prev.pieces + last.pieces), paragraphs, prev.heading)
            passages[-2:] = [merged]
    return passages


def _make(
    seq: int, pieces: Sequence[Piece], paragraphs: Sequence[Paragraph], heading: str | None
) -> Passage:
    first, last = pieces[0], pieces[-1]
    texts = [paragraphs[p.paragraph].text[p.start : p.end].strip() for p in pieces]
    numbers = [paragraphs[p.paragraph].number for p in pieces if paragraphs[p.paragraph].number]
    return Passage(
        seq=seq,
        text="\n\n".join(t for t in texts if t),
        page_start=paragraphs[first.paragraph].page_at(first.start),
        page_end=paragraphs[last.paragraph].page_at(max(last.end - 1, 0)),
        para_start=numbers[0] if numbers else None,
        para_end=numbers[-1] if numbers else None,
        heading=heading,
        pieces=tuple(pieces),
    )
