"""The records that cross module lines from the library of record: typed, frozen, never rows.

`Tags` is a passage's or a document's labels on the two axes; `Locator` is where a passage sits
and renders its own citation ("p. 12, ¶ 31"), the same in search results, the document page,
the review queue and briefing packs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from nlp.labels import AXES


def utc_now() -> str:
    """UTC time with milliseconds: review events and pack edits in one second stay ordered."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True, eq=False)
class Tags(Mapping[str, list[str]]):
    """Labels on the A4P axis and the partnership-pillar axis, in the order given (strongest
    first where they come from scores). Read like a mapping of axis to labels (`tags["a4p"]`),
    so it is what a review's `expected=` takes; equal to another with the same labels."""

    a4p: tuple[str, ...] = ()
    pillars: tuple[str, ...] = ()

    @classmethod
    def from_axes(cls, by_axis: Mapping[str, Sequence[str]]) -> Tags:
        return cls(tuple(by_axis.get("a4p", ())), tuple(by_axis.get("pillars", ())))

    def on(self, axis: str) -> tuple[str, ...]:
        if axis not in AXES:
            raise KeyError(axis)
        return self.a4p if axis == "a4p" else self.pillars

    def __getitem__(self, axis: str) -> list[str]:
        """One axis's labels as a list: `tags["a4p"]`."""
        return list(self.on(axis))

    def __iter__(self) -> Iterator[str]:
        return iter(AXES)

    def __len__(self) -> int:
        return len(AXES)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return {k: list(v) for k, v in self.items()} == {k: list(v) for k, v in other.items()}
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.a4p, self.pillars))

    @property
    def labels(self) -> frozenset[str]:
        """Every label on either axis (the slugs of the two axes are distinct)."""
        return frozenset(self.a4p) | frozenset(self.pillars)

    def as_json(self) -> dict[str, list[str]]:
        return {"a4p": list(self.a4p), "pillars": list(self.pillars)}

    def __bool__(self) -> bool:
        return bool(self.a4p or self.pillars)

    def __repr__(self) -> str:
        return f"Tags(a4p={self.a4p!r}, pillars={self.pillars!r})"


def _span(one: str, many: str, start: int | None, end: int | None) -> str | None:
    if start is None:
        return None
    if end is None or end == start:
        return f"{one} {start}"
    return f"{many} {start}–{end}"


@dataclass(frozen=True)
class Locator:
    """Where a passage sits in its document: pages and, when the document numbers them,
    paragraphs."""

    page: int | None
    page_end: int | None = None
    paragraph: int | None = None
    paragraph_end: int | None = None

    @property
    def citation(self) -> str:
        """As readers expect it: "p. 12, ¶ 31" or "pp. 12–13, ¶¶ 31–33"."""
        parts = (
            _span("p.", "pp.", self.page, self.page_end),
            _span("¶", "¶¶", self.paragraph, self.paragraph_end),
        )
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class DocumentRow:
    id: int
    source_path: str
    file_name: str
    sha256: str
    title: str
    symbol: str | None
    doc_date: str | None
    page_count: int
    missions: tuple[str, ...]
    doc_type: str | None = None
    extraction_version: int = 1  # ingest's EXTRACTION_VERSION when the file was read
    ingested_at: str = ""  # UTC, when this version of the file was read
    extractor: str = ""
    size_bytes: int = 0
    classification: str = "unclassified"
    groups: tuple[str, ...] = ()  # need-to-know groups; none: anyone cleared for the level


# (label, probability, probability minus the label's threshold, the model's decision 0/1)
LabelScore = tuple[str, float, float, int]


@dataclass(frozen=True)
class PassageRecord:
    """A passage ready to be stored."""

    seq: int
    page_start: int
    page_end: int
    para_start: int | None
    para_end: int | None
    heading: str | None
    text: str
    embedding: np.ndarray
    entities: tuple[tuple[str, str, str, int], ...] = ()  # (label, key, text, count)
    tags: tuple[tuple[str, str, float], ...] = ()  # (axis, label, score)
    scores: tuple[LabelScore, ...] = ()  # the model's own view, for the review queue


@dataclass(frozen=True)
class StoredPassage:
    """A stored passage with its document's citation fields (what search hits and pack items
    are built from)."""

    id: int
    doc_id: int
    seq: int
    locator: Locator
    heading: str | None
    text: str
    text_key: str
    file_name: str
    title: str
    symbol: str | None
    doc_date: str | None


@dataclass(frozen=True)
class IngestProblem:
    """A file whose last ingest failed."""

    source_path: str
    file_name: str
    reason_code: str | None
    reason: str | None
    at: str


@dataclass(frozen=True)
class Replaced:
    """What `Store.replace_document` did."""

    doc_id: int
    new_ids: list[int]
    removed: list[int]
    reviews_carried: int = 0  # reviewed texts changed by the new reading, labels handed on
    reviews_unmatched: int = 0  # reviewed texts with no close enough new passage


@dataclass(frozen=True)
class User:
    """An account. The password hash never leaves the library except to be verified."""

    id: int
    username: str
    display_name: str
    email: str | None
    roles: frozenset[str]
    clearance: str
    groups: frozenset[str]
    disabled: bool
    created_at: str
    last_sign_in: str | None
    failed_attempts: int = 0
    locked_until: str | None = None
    has_password: bool = True

    def to_json(self) -> dict[str, object]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "email": self.email,
            "roles": sorted(self.roles),
            "clearance": self.clearance,
            "groups": sorted(self.groups),
            "disabled": self.disabled,
            "created_at": self.created_at,
            "last_sign_in": self.last_sign_in,
            "locked_until": self.locked_until,
            "sign_in": "password" if self.has_password else "single sign-on",
        }


@dataclass(frozen=True)
class SecurityEvent:
    """One line of the security log."""

    id: int
    at: str  # UTC, ISO 8601
    actor: str | None
    event: str  # sign_in, sign_in_failed, account_locked, user_created, user_changed, ...
    target: str | None
    detail: str
    client: str | None
