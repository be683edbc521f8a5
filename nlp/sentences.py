"""A light sentence splitter for snippets and evidence, where loading spaCy is not worth it."""

from __future__ import annotations

import re

SENTENCE_RE = re.compile(r"(?<=[.!?;])\s+(?=[A-Z(\"'0-9])")


def split_sentences(text: str, min_words: int = 1) -> list[str]:
    """Sentences of `text` (whitespace normalised); short fragments below `min_words` are
    dropped, but never all of them."""
    parts = [s for s in SENTENCE_RE.split(" ".join(text.split())) if len(s.split()) >= min_words]
    return parts or [" ".join(text.split())]
