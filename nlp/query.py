"""Query understanding: what a short, acronym-heavy query asks for.

A query is expanded both ways through the glossary (SGBV <-> sexual and gender-based violence)
and the gazetteer (SHIRBRIG <-> Standby High Readiness Brigade); the missions, countries and
years it names become soft boosts in ranking (never filters: "DDR lessons Haiti" should still
find a strong DDR lesson from elsewhere, below the Haitian ones).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nlp.gazetteer import find_entries, load_gazetteer
from nlp.glossary import find_countries, find_terms

YEAR_RANGE_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*(?:-|–|to|until)\s*((?:19|20)?\d\d)(?!\d)")
YEAR_RE = re.compile(r"(?<![\d/])((?:19|20)\d\d)(?![\d])")
WORD_RE = re.compile(r"[\w'’-]+")


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    expansions: tuple[str, ...] = ()  # long forms and acronyms the query did not write
    missions: tuple[str, ...] = ()  # gazetteer ids of missions named
    organisations: tuple[str, ...] = ()  # gazetteer ids of organisations named
    countries: tuple[str, ...] = ()  # countries named, directly or through a mission
    years: tuple[int, int] | None = None  # the period the query names, inclusive
    terms: tuple[str, ...] = field(default=())  # words to mark in snippets

    @property
    def keyword_text(self) -> str:
        return " ".join((self.text, *self.expansions))

    @property
    def dense_text(self) -> str:
        if not self.expansions:
            return self.text
        return f"{self.text} ({'; '.join(self.expansions)})"


def _years(text: str) -> tuple[int, int] | None:
    m = YEAR_RANGE_RE.search(text)
    if m:
        start, end_raw = int(m.group(1)), m.group(2)
        end = int(end_raw) if len(end_raw) == 4 else start // 100 * 100 + int(end_raw)
        if start <= end <= start + 50:
            return start, end
    years = [int(y) for y in YEAR_RE.findall(text)]
    return (min(years), max(years)) if years else None


def parse_query(text: str) -> ParsedQuery:
    text = " ".join(text.split())
    expansions: list[str] = []
    lowered = text.lower()

    def add(form: str) -> None:
        if form.lower() not in lowered and form not in expansions:
            expansions.append(form)

    for _, _, term, as_acronym in find_terms(text):
        if as_acronym:
            add(term.long_forms[0])
        else:
            add(term.acronym)
    missions: list[str] = []
    organisations: list[str] = []
    countries: list[str] = []
    for _, _, entry in find_entries(text):
        bucket = missions if entry.kind == "MISSION" else organisations
        if entry.id not in bucket:
            bucket.append(entry.id)
        if entry.kind == "ORG":
            # Organisations are rare words: their other name is a strong keyword. A mission's
            # long form ("United Nations ... Mission in Haiti") is mostly common words, so
            # missions act through the document boost instead.
            add(entry.name if entry.id.lower() in lowered else entry.id)
        for country in entry.countries:
            if entry.kind == "MISSION" and country not in countries:
                countries.append(country)
    for _, _, country in find_countries(text):
        if country not in countries:
            countries.append(country)
    terms = tuple(
        dict.fromkeys(
            w.lower() for w in WORD_RE.findall(" ".join((text, *expansions))) if len(w) > 1
        )
    )
    return ParsedQuery(
        text=text,
        expansions=tuple(expansions),
        missions=tuple(missions),
        organisations=tuple(organisations),
        countries=tuple(countries),
        years=_years(text),
        terms=terms,
    )


def missions_in(countries: tuple[str, ...]) -> set[str]:
    """Every mission the gazetteer places in one of these countries."""
    wanted = set(countries)
    return {e.id for e in load_gazetteer() if e.kind == "MISSION" and wanted & set(e.countries)}
