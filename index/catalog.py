"""What search knows about every document: the fields filters and facets work on.

Read from the library in a handful of grouped queries and cached until the database changes (any
commit, from this process or another: `Store.change_state`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from index.access import Access
from index.filters import Filters
from index.library import Store, Tags
from nlp.gazetteer import load_gazetteer
from nlp.glossary import places

# An organisation counts for a document when the document names it at least this often
# (a single passing mention of the AU in a UN report does not make it an AU document).
ORG_MIN_MENTIONS = 2
MATCHING_KEPT = 32  # (user, filter) document sets kept by a catalogue


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    file_name: str
    source_path: str
    title: str
    symbol: str | None
    date: str | None
    year: int | None
    doc_type: str
    missions: tuple[str, ...]
    countries: tuple[str, ...]
    organisations: tuple[str, ...]
    a4p: tuple[str, ...]  # the document's own tags (derived from its passages, or reviewed)
    pillars: tuple[str, ...]
    passages: int
    page_count: int
    # Labels carried by at least one of its passages: what a tag filter (which keeps tagged
    # passages) keeps this document for, so tag facets count these.
    passage_a4p: tuple[str, ...] = ()
    passage_pillars: tuple[str, ...] = ()
    ingested_at: str = ""
    classification: str = "unclassified"
    groups: tuple[str, ...] = ()  # need-to-know groups

    def matches(self, f: Filters) -> bool:
        if f.doc_ids and self.id not in f.doc_ids:
            return False
        if f.missions and not {m.lower() for m in f.missions} & {m.lower() for m in self.missions}:
            return False
        if f.countries and not {c.lower() for c in f.countries} & {
            c.lower() for c in self.countries
        }:
            return False
        if f.organisations and not {o.lower() for o in f.organisations} & {
            o.lower() for o in self.organisations
        }:
            return False
        if f.doc_types and self.doc_type not in f.doc_types:
            return False
        if f.a4p and not set(f.a4p) & set(self.passage_a4p):
            return False
        if f.pillars and not set(f.pillars) & set(self.passage_pillars):
            return False
        if f.year_from is not None or f.year_to is not None:
            if self.year is None:
                return False
            if f.year_from is not None and self.year < f.year_from:
                return False
            if f.year_to is not None and self.year > f.year_to:
                return False
        return True


def _mission_countries() -> dict[str, tuple[str, ...]]:
    return {e.id: e.countries for e in load_gazetteer() if e.kind == "MISSION"}


def load_catalog(store: Store) -> dict[int, DocumentInfo]:
    org_ids = {e.id for e in load_gazetteer() if e.kind == "ORG"}
    mission_countries = _mission_countries()
    place_names = places()
    orgs: dict[int, list[str]] = {}
    gpes: dict[int, set[str]] = {}
    for doc_id, label, key, n in store.entity_mentions(("ORG", "GPE")):
        if label == "ORG" and key in org_ids and n >= ORG_MIN_MENTIONS:
            orgs.setdefault(doc_id, []).append(key)
        elif label == "GPE" and n >= ORG_MIN_MENTIONS and key.lower() in place_names:
            gpes.setdefault(doc_id, set()).add(place_names[key.lower()])
    sizes = store.passage_counts()
    tags = store.all_document_tags()
    passage_labels = store.labels_by_document()
    out: dict[int, DocumentInfo] = {}
    for doc in store.documents():
        countries: dict[str, None] = {}
        for m in doc.missions:
            for c in mission_countries.get(m, ()):
                countries.setdefault(c, None)
        for c in sorted(gpes.get(doc.id, ())):
            countries.setdefault(c, None)
        date = doc.doc_date
        year = int(date[:4]) if date and date[:4].isdigit() else None
        doc_tags = tags.get(doc.id, Tags())
        out[doc.id] = DocumentInfo(
            id=doc.id,
            file_name=doc.file_name,
            source_path=doc.source_path,
            title=doc.title,
            symbol=doc.symbol,
            date=date,
            year=year,
            doc_type=doc.doc_type or "other",
            missions=doc.missions,
            countries=tuple(countries),
            organisations=tuple(sorted(orgs.get(doc.id, ()))),
            a4p=doc_tags.a4p,
            pillars=doc_tags.pillars,
            passages=sizes.get(doc.id, 0),
            page_count=doc.page_count,
            passage_a4p=tuple(passage_labels.get((doc.id, "a4p"), ())),
            passage_pillars=tuple(passage_labels.get((doc.id, "pillars"), ())),
            ingested_at=doc.ingested_at,
            classification=doc.classification,
            groups=doc.groups,
        )
    return out


def scope(store: Store, access: Access) -> frozenset[int] | None:
    """The documents `access` may see, as a scope for library queries; None when that is every
    document (the queries then run unscoped, as fast as before)."""
    if access.full:
        return None
    docs = store.documents()
    seen = frozenset(d.id for d in docs if access.may_see(d.classification, d.groups))
    return None if len(seen) == len(docs) else seen


class Catalog:
    """The document catalogue of one store, reloaded only when the database changed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._state: tuple[int, int] | None = None
        self._docs: dict[int, DocumentInfo] = {}
        self._visible: dict[tuple[str, frozenset[str]], dict[int, DocumentInfo]] = {}
        self._matching: dict[tuple[bool, str, frozenset[str], Filters | None], frozenset[int]] = {}

    @property
    def documents(self) -> dict[int, DocumentInfo]:
        """Every document, whoever may see it: for the library's own bookkeeping only; what a
        person is shown comes from `visible`."""
        state = self.store.change_state()
        if state != self._state:
            self._docs = load_catalog(self.store)
            self._state = state
            self._visible.clear()
            self._matching.clear()
        return self._docs

    def visible(self, access: Access) -> dict[int, DocumentInfo]:
        """The documents `access` may see (cached per user until the library changes)."""
        docs = self.documents
        if access.full:
            return docs
        key = (access.clearance, access.groups)
        found = self._visible.get(key)
        if found is None:
            found = {i: d for i, d in docs.items() if access.may_see(d.classification, d.groups)}
            self._visible[key] = found
        return found

    def matching(self, access: Access, filters: Filters | None) -> frozenset[int]:
        """Ids of the documents `access` may see that match `filters` (all of them: None),
        cached like `visible`: a search's filter is matched against every document once, not
        on every page of results (16,000 documents take about 80 ms)."""
        visible = self.visible(access)
        key = (access.full, access.clearance, access.groups, filters)
        found = self._matching.get(key)
        if found is None:
            found = frozenset(
                i for i, d in visible.items() if filters is None or d.matches(filters)
            )
            if len(self._matching) >= MATCHING_KEPT:
                self._matching.pop(next(iter(self._matching)))
            self._matching[key] = found
        return found


def facet_counts(docs: list[DocumentInfo]) -> dict[str, dict[str, int]]:
    """Documents per value of every filter key, most frequent first."""
    counters: dict[str, Counter[str]] = {
        k: Counter()
        for k in ("a4p", "pillars", "missions", "organisations", "countries", "years", "doc_types")
    }
    for d in docs:
        counters["a4p"].update(d.passage_a4p)
        counters["pillars"].update(d.passage_pillars)
        counters["missions"].update(d.missions)
        counters["organisations"].update(d.organisations)
        counters["countries"].update(d.countries)
        if d.year is not None:
            counters["years"][str(d.year)] += 1
        counters["doc_types"][d.doc_type] += 1
    return {k: dict(c.most_common()) for k, c in counters.items()}
