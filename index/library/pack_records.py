"""The records of briefing packs: a pack, its items as a viewer sees them, its groups."""

from __future__ import annotations

from dataclasses import dataclass

from index.access import LEVELS, higher
from nlp.labels import display_name, slugs

OTHER = "Other"


@dataclass(frozen=True)
class PackItem:
    id: int
    position: int  # 0-based, in pack order
    passage_id: int | None  # the passage holding this text now; None once the source is gone
    text: str
    heading: str | None
    note: str
    title: str
    symbol: str | None
    date: str | None  # ISO date of the document
    file_name: str
    page_start: int | None
    page_end: int | None
    para_start: int | None
    para_end: int | None
    a4p: tuple[str, ...]  # current tags while the source exists, else as when added; best first
    pillars: tuple[str, ...]
    added_at: str
    source_removed: bool
    classification: str = "unclassified"  # its document's, now (or when added, if gone)
    groups: tuple[str, ...] = ()  # its document's need-to-know groups

    def labels(self, axis: str) -> tuple[str, ...]:
        return self.a4p if axis == "a4p" else self.pillars


@dataclass(frozen=True)
class PackGroup:
    key: str | None  # the label slug; None for "Other" and for an ungrouped pack
    title: str
    items: tuple[PackItem, ...]


@dataclass(frozen=True)
class Pack:
    id: int
    name: str
    intro: str
    grouping: str  # none | a4p | pillars
    created_at: str
    updated_at: str
    items: tuple[PackItem, ...]  # those the viewer may see
    owner: str | None = None  # None: made by the operator's tools
    shared_with_all: bool = False
    shared_with: tuple[str, ...] = ()
    hidden: int = 0  # items the viewer may not see (said, never shown)

    @property
    def classification(self) -> str:
        """The highest level among the items shown: what an export is marked with."""
        level = LEVELS[0]
        for item in self.items:
            level = higher(level, item.classification)
        return level

    def groups(self) -> list[PackGroup]:
        """Items by their first (highest-scoring) label on the grouping axis, in label-set
        order; items without one under "Other", last. Pack order is kept inside a group. An
        ungrouped pack is one group titled "Excerpts"."""
        if self.grouping == "none":
            return [PackGroup(None, "Excerpts", self.items)] if self.items else []
        by_label: dict[str | None, list[PackItem]] = {}
        for item in self.items:
            labels = item.labels(self.grouping)
            by_label.setdefault(labels[0] if labels else None, []).append(item)
        out = [
            PackGroup(label, display_name(label), tuple(by_label[label]))
            for label in slugs(self.grouping)
            if label in by_label
        ]
        if None in by_label:
            out.append(PackGroup(None, OTHER, tuple(by_label[None])))
        return out


@dataclass(frozen=True)
class PackSummary:
    id: int
    name: str
    items: int  # those the viewer may see
    grouping: str
    created_at: str
    updated_at: str
    owner: str | None = None
    shared: bool = False  # shared with anyone besides its owner


@dataclass(frozen=True)
class AddReport:
    added: tuple[PackItem, ...]
    skipped: tuple[int, ...]  # passage ids whose text was already in the pack
