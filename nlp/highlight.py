"""Where a query's words occur in a text, as character spans, for marking them in results."""

from __future__ import annotations

import re

WORD_RE = re.compile(r"\w+(?:['’]\w+)?")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "how",
        "not",
        "no",
        "do",
        "does",
        "did",
    ]
)


def _stem(word: str) -> str:
    """A deliberately light stemmer: plural and possessive endings only, so 'lessons' marks
    'lesson' but 'operations' does not mark 'operate'."""
    w = word.lower().replace("’", "'").removesuffix("'s")
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def query_terms(query: str) -> frozenset[str]:
    return frozenset(
        _stem(w) for w in WORD_RE.findall(query) if w.lower() not in STOPWORDS and len(w) > 1
    )


def term_spans(text: str, query: str) -> tuple[tuple[int, int], ...]:
    """Character spans (start, end) of the words of `text` that match a query term."""
    terms = query_terms(query)
    if not terms:
        return ()
    return tuple((m.start(), m.end()) for m in WORD_RE.finditer(text) if _stem(m.group()) in terms)
