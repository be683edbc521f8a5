"""The peacekeeping glossary (acronyms and their long forms) and the place names queries use.

`nlp/data/glossary.tsv` holds thematic acronyms (DDR, SGBV, PoC, ...); mission and organisation
names come from the gazetteer. `nlp/data/places.tsv` maps the ways a query names a country
(Bosnia, Haitian, Phnom Penh) to the gazetteer's country names.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class GlossaryTerm:
    acronym: str
    long_forms: tuple[str, ...]


def _rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        lines = [line for line in fh if line.strip() and not line.startswith("#")]
    return [row for row in csv.reader(lines[1:], delimiter="\t", quoting=csv.QUOTE_NONE) if row]


@lru_cache(maxsize=1)
def glossary() -> tuple[GlossaryTerm, ...]:
    return tuple(
        GlossaryTerm(row[0].strip(), tuple(f.strip() for f in row[1].split("|") if f.strip()))
        for row in _rows(DATA / "glossary.tsv")
        if len(row) >= 2
    )


@lru_cache(maxsize=1)
def places() -> dict[str, str]:
    """Lower-cased form -> country name (the country's own name included)."""
    out: dict[str, str] = {}
    for row in _rows(DATA / "places.tsv"):
        country = row[0].strip()
        out[country.lower()] = country
        for form in row[1].split("|") if len(row) > 1 else ():
            if form.strip():
                out[form.strip().lower()] = country
    return out


def _alternation(forms: list[str]) -> str:
    forms = sorted(set(forms), key=len, reverse=True)
    return "|".join(re.escape(f).replace(r"\ ", r"\s+") for f in forms) or "(?!)"


@lru_cache(maxsize=1)
def _term_patterns() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, GlossaryTerm]]:
    by_form: dict[str, GlossaryTerm] = {}
    for term in glossary():
        by_form.setdefault(term.acronym.lower(), term)
        for form in term.long_forms:
            by_form.setdefault(" ".join(form.lower().split()), term)
    # Acronyms match case-sensitively (so 'sea' is not SEA); 'PoC' and 'POC' are both listed.
    acronyms = re.compile(
        r"(?<![\w-])(" + _alternation([t.acronym for t in glossary()]) + r")s?(?![\w-])"
    )
    long_forms = re.compile(
        r"(?<!\w)(" + _alternation([f for t in glossary() for f in t.long_forms]) + r")(?!\w)",
        re.IGNORECASE,
    )
    return acronyms, long_forms, by_form


def find_terms(text: str) -> list[tuple[int, int, GlossaryTerm, bool]]:
    """Glossary mentions as (start, end, term, written as the acronym)."""
    acronyms, long_forms, by_form = _term_patterns()
    found: list[tuple[int, int, GlossaryTerm, bool]] = []
    for m in long_forms.finditer(text):
        term = by_form.get(" ".join(m.group(1).lower().split()))
        if term:
            found.append((m.start(), m.end(), term, False))
    taken = [(s, e) for s, e, _, _ in found]
    for m in acronyms.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        term = by_form.get(m.group(1).lower())
        if term:
            found.append((m.start(), m.end(), term, True))
    return sorted(found, key=lambda t: t[0])


@lru_cache(maxsize=1)
def _place_pattern() -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(" + _alternation(list(places())) + r")(?![\w-])", re.IGNORECASE)


def find_countries(text: str) -> list[tuple[int, int, str]]:
    """Countries a text names, as (start, end, gazetteer country name)."""
    table = places()
    out = []
    for m in _place_pattern().finditer(text):
        country = table.get(" ".join(m.group(1).lower().split()))
        # 'CAR' and 'DRC' are acronyms: a lower-case 'car' is not the Central African Republic.
        if country and (len(m.group(1)) > 3 or m.group(1).isupper()):
            out.append((m.start(), m.end(), country))
    return out
