"""Snippets: the sentence or two of a passage that answers the query, with the query's words
marked as character spans (the app escapes the text and wraps the spans; the CLI brackets them).
Words match on their stems, so 'demobilized' marks a query's 'demobilization'."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from nlp.sentences import split_sentences

WORD_RE = re.compile(r"\w[\w'’-]*\w|\w")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from index.engine.keyword import stopwords

    return stopwords()


_STEMS: dict[str, str] = {}


def stem(word: str) -> str:
    """Stem of a lower-cased word, memoised: snippets stem the same words again and again."""
    out = _STEMS.get(word)
    if out is None:
        if len(_STEMS) > 200_000:
            _STEMS.clear()
        out = _STEMS[word] = _stemmer().stemWord(word)
    return out


def query_stems(terms: tuple[str, ...] | list[str]) -> frozenset[str]:
    words = [w for t in terms for w in t.lower().split() if w]
    words = [w for w in words if w not in _stopwords() and len(w) > 1]
    return frozenset(_stemmer().stemWords(words))


def _word_spans(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0)) for m in WORD_RE.finditer(text)]


def mark(text: str, stems: frozenset[str]) -> tuple[tuple[int, int], ...]:
    """Spans of the words of `text` whose stem is among `stems`."""
    if not stems:
        return ()
    spans = []
    for start, end, word in _word_spans(text):
        if stem(word.lower()) in stems:
            spans.append((start, end))
    merged: list[tuple[int, int]] = []
    for s, e in spans:  # "sexual and gender-based" stays three marks; adjacent words join
        if merged and text[merged[-1][1] : s].strip() == "":
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return tuple(merged)


def make_snippet(
    text: str, stems: frozenset[str], max_chars: int = 320
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The best sentence (and the next one when short) by distinct query stems matched."""
    if not text.strip():
        return "", ()
    sentences = split_sentences(text) or [text]

    def hits(sentence: str) -> int:
        return len({stem(w) for w in set(WORD_RE.findall(sentence.lower()))} & stems)

    best = max(range(len(sentences)), key=lambda i: (hits(sentences[i]), -i))
    out = sentences[best]
    if len(out) < max_chars // 2 and best + 1 < len(sentences):
        out = f"{out} {sentences[best + 1]}"
    if len(out) > max_chars:
        out = out[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    return out, mark(out, stems)


def bracket(
    text: str, spans: tuple[tuple[int, int], ...], left: str = "[", right: str = "]"
) -> str:
    """Text with each span wrapped, for terminals."""
    out, last = [], 0
    for s, e in spans:
        out.append(text[last:s])
        out.append(f"{left}{text[s:e]}{right}")
        last = e
    out.append(text[last:])
    return "".join(out)
