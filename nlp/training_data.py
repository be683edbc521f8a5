"""The data the shipped (cold-start) tagger learns from: only what this project owns.

- the label definitions (`nlp/data/labels.json`), one positive example each;
- seed passages written for every label (`nlp/data/seeds/*.jsonl`);
- the labelled demo corpus (`corpus/src/*.md` with labels in their front matter), one example
  per document.
Never the tagger's own predictions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from nlp.labels import AXES, all_labels, slugs

SEEDS_DIR = Path(__file__).parent / "data" / "seeds"
CORPUS_SRC = Path(__file__).resolve().parent.parent / "corpus" / "src"


@dataclass(frozen=True)
class LabelledText:
    """A text with reviewed labels per axis; None on an axis means 'not reviewed there'."""

    text: str
    a4p: tuple[str, ...] | None
    pillars: tuple[str, ...] | None
    source: str = ""
    group: str = ""  # texts of one group (a mission, a document) stay in one fold

    def on(self, axis: str) -> tuple[str, ...] | None:
        return self.a4p if axis == "a4p" else self.pillars


def text_key(text: str) -> str:
    """Identity of a text for reviews: whitespace- and case-insensitive."""
    return hashlib.sha1(" ".join(text.lower().split()).encode("utf-8")).hexdigest()


def parse_labelled(row: dict[str, object], source: str = "") -> LabelledText:
    """One `{"text", "a4p": [...], "pillars": [...]}` line; a missing axis is not reviewed."""
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('each line needs a non-empty "text"')
    values: dict[str, tuple[str, ...] | None] = {}
    for axis in AXES:
        raw = row.get(axis)
        if raw is None:
            values[axis] = None
            continue
        if not isinstance(raw, list):
            raise ValueError(f'"{axis}" must be a list of labels')
        unknown = [x for x in raw if x not in slugs(axis)]
        if unknown:
            raise ValueError(f"unknown {axis} label(s) {unknown}; known: {', '.join(slugs(axis))}")
        values[axis] = tuple(dict.fromkeys(str(x) for x in raw))
    group = row.get("mission") or row.get("doc") or ""
    return LabelledText(text, values["a4p"], values["pillars"], source, str(group))


def read_jsonl(path: Path, group: str | None = None) -> list[LabelledText]:
    """Labelled lines of a file. Each line's group is `group` when given, else its "mission"
    or "doc" field, else none (the text is a group of its own)."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                item = parse_labelled(json.loads(line), f"{path.name}:{n}")
                out.append(replace(item, group=group) if group else item)
            except (ValueError, json.JSONDecodeError) as exc:
                raise ValueError(f"{path}:{n}: {exc}") from None
    return out


def definitions() -> list[LabelledText]:
    out = []
    for lab in all_labels():
        labels = (lab.slug,)
        out.append(
            LabelledText(
                f"{lab.name}. {lab.description}",
                labels if lab.axis == "a4p" else None,
                labels if lab.axis == "pillars" else None,
                f"definition:{lab.slug}",
            )
        )
    return out


def seed_passages() -> list[LabelledText]:
    # One group per seed file: grouping seeds by their (many, small) missions made the
    # cold-start thresholds worse (docs/benchmarks.md).
    return [x for f in sorted(SEEDS_DIR.glob("*.jsonl")) for x in read_jsonl(f, f.name)]


def corpus_documents(src: Path = CORPUS_SRC) -> list[LabelledText]:
    """Each demo-corpus document as one example, labelled from its front matter."""
    out = []
    for path in sorted(src.glob("*.md")):
        meta, body = split_front_matter(path.read_text(encoding="utf-8"))
        out.append(
            LabelledText(
                " ".join(re.sub(r"[#|*]+", " ", body).split()),
                tuple(x.strip() for x in meta.get("a4p", "").split(";") if x.strip()),
                tuple(x.strip() for x in meta.get("pillars", "").split(";") if x.strip()),
                f"corpus:{path.stem}",
            )
        )
    return out


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    lines = text.splitlines()
    meta: dict[str, str] = {}
    if not lines or lines[0].strip() != "---":
        return meta, text
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return meta, "\n".join(lines[i + 1 :])
        if ":" in line:
            key, value = line.split(":", 1)
            meta[key.strip()] = value.split(" #", 1)[0].strip()
    return meta, ""


def cold_start_set(exclude_corpus: Iterable[str] = ()) -> list[LabelledText]:
    skip = set(exclude_corpus)
    docs = [d for d in corpus_documents() if d.source.removeprefix("corpus:") not in skip]
    return definitions() + seed_passages() + docs


def label_matrix(items: Sequence[LabelledText], labels: Sequence[str]) -> list[list[int]]:
    """1 / 0 where the item's axis was reviewed, -1 where it was not."""
    axis = {lab.slug: lab.axis for lab in all_labels()}
    rows = []
    for item in items:
        row = []
        for label in labels:
            given = item.on(axis[label])
            row.append(-1 if given is None else int(label in given))
        rows.append(row)
    return rows


def fingerprint(items: Sequence[LabelledText]) -> str:
    """A hash of a training set: changes whenever a text or one of its labels changes."""
    h = hashlib.sha256()
    for key, a4p, pillars in sorted(
        (
            text_key(x.text),
            ",".join(sorted(x.a4p)) if x.a4p is not None else "-",
            ",".join(sorted(x.pillars)) if x.pillars is not None else "-",
        )
        for x in items
    ):
        h.update(f"{key}|{a4p}|{pillars}\n".encode())
    return h.hexdigest()
