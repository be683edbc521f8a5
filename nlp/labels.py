"""The fixed label sets: 8 A4P areas and the 4 partnership pillars, with readable names and
the definitions the zero-shot features and the seed passages follow (`nlp/data/labels.json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LABELS_PATH = Path(__file__).parent / "data" / "labels.json"
AXES = ("a4p", "pillars")


@dataclass(frozen=True)
class Label:
    axis: str
    slug: str
    name: str
    description: str


@lru_cache(maxsize=1)
def all_labels() -> tuple[Label, ...]:
    data = json.loads(LABELS_PATH.read_text(encoding="utf-8"))
    return tuple(
        Label(axis, slug, spec["name"], spec["description"])
        for axis in AXES
        for slug, spec in data["axes"][axis].items()
    )


def slugs(axis: str | None = None) -> tuple[str, ...]:
    return tuple(lab.slug for lab in all_labels() if axis is None or lab.axis == axis)


def axis_of(slug: str) -> str:
    for lab in all_labels():
        if lab.slug == slug:
            return lab.axis
    raise KeyError(f"unknown label {slug!r}; known: {', '.join(slugs())}")


def display_name(slug: str) -> str:
    return next(lab.name for lab in all_labels() if lab.slug == slug)
