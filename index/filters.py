"""Search filters: what the CLI's `--filter KEY=VALUE` and the app's sidebar restrict to.

AND across keys, OR within a key. Applied inside retrieval (the candidate set is restricted
before ranking), so a filter never empties a page that a broader search would have filled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from errors import SearchError
from nlp.doctypes import DOC_TYPES
from nlp.gazetteer import load_gazetteer
from nlp.labels import slugs

# CLI keys and their aliases -> Filters field
KEYS: dict[str, str] = {
    "a4p": "a4p",
    "area": "a4p",
    "pillar": "pillars",
    "pillars": "pillars",
    "mission": "missions",
    "missions": "missions",
    "org": "organisations",
    "organisation": "organisations",
    "organization": "organisations",
    "organisations": "organisations",
    "country": "countries",
    "countries": "countries",
    "year": "years",
    "years": "years",
    "type": "doc_types",
    "doc_type": "doc_types",
    "doc": "doc_ids",
    "document": "doc_ids",
}
YEAR_RANGE = re.compile(r"^\s*(\d{4})?\s*(?:-|–|\.\.)\s*(\d{4})?\s*$")


@dataclass(frozen=True)
class Filters:
    a4p: tuple[str, ...] = ()
    pillars: tuple[str, ...] = ()
    missions: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    doc_types: tuple[str, ...] = ()
    doc_ids: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return self == Filters()

    @property
    def document_level(self) -> bool:
        """Whether any filter restricts documents (rather than passages by tag)."""
        return replace(self, a4p=(), pillars=()) != Filters()

    def describe(self) -> list[str]:
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("year_from", "year_to") or not value:
                continue
            out.append(f"{f.name}={','.join(str(v) for v in value)}")
        if self.year_from is not None or self.year_to is not None:
            out.append(f"years={self.year_from or ''}-{self.year_to or ''}")
        return out

    @classmethod
    def parse(cls, items: Sequence[str]) -> Filters:
        """["a4p=protection", "mission=MINUSTAH", "year=2004-2010", "type=sg-report"]."""
        values: dict[str, list[str]] = {}
        year_from: int | None = None
        year_to: int | None = None
        for item in items:
            key, sep, raw = item.partition("=")
            name = KEYS.get(key.strip().lower())
            if not sep or name is None or not raw.strip():
                raise SearchError(
                    f"cannot read the filter {item!r}: use KEY=VALUE with KEY one of "
                    "a4p, pillar, mission, org, country, year, type, doc"
                )
            if name == "years":
                year_from, year_to = _years(raw)
                continue
            for value in raw.split(","):
                if value.strip():
                    values.setdefault(name, []).append(value.strip())
        for axis in ("a4p", "pillars"):
            unknown = [v for v in values.get(axis, []) if v not in slugs(axis)]
            if unknown:
                raise SearchError(
                    f"unknown {axis} label {unknown[0]!r}: choose from {', '.join(slugs(axis))}"
                )
        bad_types = [v for v in values.get("doc_types", []) if v not in DOC_TYPES]
        if bad_types:
            raise SearchError(
                f"unknown document type {bad_types[0]!r}: choose from {', '.join(DOC_TYPES)}"
            )
        try:
            doc_ids = tuple(int(v) for v in values.get("doc_ids", []))
        except ValueError:
            raise SearchError("a document filter takes document ids (numbers)") from None
        return cls(
            a4p=tuple(values.get("a4p", ())),
            pillars=tuple(values.get("pillars", ())),
            missions=tuple(_canonical(v) for v in values.get("missions", ())),
            organisations=tuple(values.get("organisations", ())),
            countries=tuple(values.get("countries", ())),
            year_from=year_from,
            year_to=year_to,
            doc_types=tuple(values.get("doc_types", ())),
            doc_ids=doc_ids,
        )


def _canonical(name: str) -> str:
    """A mission as the gazetteer spells its id ('minusma' -> 'MINUSMA', 'eulex kosovo' ->
    'EULEX Kosovo'); a name it does not know is kept as typed (matching ignores case)."""
    for entry in load_gazetteer():
        if name.lower() in (entry.id.lower(), entry.name.lower()):
            return entry.id
    return name


def _years(raw: str) -> tuple[int | None, int | None]:
    raw = raw.strip()
    if raw.isdigit() and len(raw) == 4:
        return int(raw), int(raw)
    m = YEAR_RANGE.match(raw)
    if m and (m.group(1) or m.group(2)):
        start = int(m.group(1)) if m.group(1) else None
        end = int(m.group(2)) if m.group(2) else None
        if start is None or end is None or start <= end:
            return start, end
    raise SearchError(f"cannot read the year filter {raw!r}: use 2005, 2004-2010, 2004- or -2010")
