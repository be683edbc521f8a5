"""The peacekeeping gazetteer: missions and organisations with their long forms and aliases.

Loaded from `nlp/data/gazetteer.tsv` (kind, id, name, aliases, country, start, end). It feeds the
entity rulers of `nlp/analysis.py` (so 'Standby High Readiness Brigade' and 'SHIRBRIG' resolve to
one id) and a regex lookup for short texts (document metadata, queries).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

GAZETTEER_PATH = Path(__file__).parent / "data" / "gazetteer.tsv"


@dataclass(frozen=True)
class GazetteerEntry:
    kind: str  # MISSION or ORG
    id: str
    name: str
    aliases: tuple[str, ...]
    countries: tuple[str, ...]
    start: int | None
    end: int | None

    @property
    def surface_forms(self) -> tuple[str, ...]:
        return (self.id, self.name, *self.aliases)


def _year(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() else None


@lru_cache(maxsize=1)
def load_gazetteer(path: Path = GAZETTEER_PATH) -> tuple[GazetteerEntry, ...]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return tuple(
        GazetteerEntry(
            kind=r["kind"].strip(),
            id=r["id"].strip(),
            name=r["name"].strip(),
            aliases=tuple(a.strip() for a in (r.get("aliases") or "").split("|") if a.strip()),
            countries=tuple(c.strip() for c in (r.get("country") or "").split("|") if c.strip()),
            start=_year(r.get("start") or ""),
            end=_year(r.get("end") or ""),
        )
        for r in rows
        if r.get("id")
    )


def is_acronym(form: str) -> bool:
    return form.upper() == form and len(form) <= 12


@lru_cache(maxsize=1)
def _matcher() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, GazetteerEntry]]:
    """Acronyms match case-sensitively, long forms case-insensitively; longest form wins."""
    by_form: dict[str, GazetteerEntry] = {}
    acronyms: list[str] = []
    names: list[str] = []
    for entry in load_gazetteer():
        for form in entry.surface_forms:
            key = form if is_acronym(form) else form.lower()
            by_form.setdefault(key, entry)
            (acronyms if is_acronym(form) else names).append(form)

    def alternation(forms: list[str]) -> str:
        forms = sorted(set(forms), key=len, reverse=True)
        return "|".join(re.escape(f).replace(r"\ ", r"\s+") for f in forms) or "(?!)"

    acr = re.compile(r"(?<![\w/-])(" + alternation(acronyms) + r")(?![\w-])")
    nam = re.compile(r"(?<!\w)(" + alternation(names) + r")(?!\w)", re.IGNORECASE)
    return acr, nam, by_form


def find_entries(text: str) -> list[tuple[int, int, GazetteerEntry]]:
    """Every gazetteer mention in `text` as (start, end, entry), without spaCy."""
    acr, nam, by_form = _matcher()
    spans: list[tuple[int, int, GazetteerEntry]] = []
    for m in nam.finditer(text):
        entry = by_form.get(" ".join(m.group(1).lower().split()))
        if entry:
            spans.append((m.start(), m.end(), entry))
    taken = [(s, e) for s, e, _ in spans]
    for m in acr.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        entry = by_form.get(m.group(1))
        if entry:
            spans.append((m.start(), m.end(), entry))
    return sorted(spans, key=lambda t: t[0])
