"""What every export shows, in order, independent of the format: title page, contents,
sections of excerpts (each under its heading with its note and citation), sources."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from briefing.citation import citation, source_entry
from index.library.packs import Pack

HEADING_CHARS = 90
# Characters XML 1.0 cannot hold (python-docx refuses them) and that mean nothing in print.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def clean(text: str | None) -> str:
    """Text safe for any output: control characters dropped, line ends normalised."""
    if not text:
        return ""
    return _UNPRINTABLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def paragraphs(text: str | None) -> list[str]:
    """Blank-line separated paragraphs, each on one line."""
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", clean(text)) if p.strip()]


@dataclass(frozen=True)
class Excerpt:
    number: int  # 1-based, through the whole pack
    heading: str
    paragraphs: tuple[str, ...]
    note: str
    citation: str
    source_removed: bool


@dataclass(frozen=True)
class Section:
    title: str
    excerpts: tuple[Excerpt, ...]


@dataclass(frozen=True)
class Outline:
    title: str
    subtitle: str
    date: str
    intro: tuple[str, ...]
    sections: tuple[Section, ...]
    sources: tuple[str, ...]
    # The highest classification of the excerpts, as it is printed on the title page and in
    # every page's header and footer ("UNCLASSIFIED", "CONFIDENTIAL", "STRICTLY CONFIDENTIAL").
    marking: str = "UNCLASSIFIED"

    def contents(self) -> list[tuple[int, str]]:
        """(level, heading) of the table of contents: sections (1), excerpts (2), sources."""
        out: list[tuple[int, str]] = []
        for s in self.sections:
            out.append((1, s.title))
            out += [(2, e.heading) for e in s.excerpts]
        if self.sources:
            out.append((1, "Sources"))
        return out


def _shorten(text: str, limit: int = HEADING_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def build_outline(pack: Pack, today: date | None = None) -> Outline:
    day = today or date.today()
    sections = []
    number = 0
    for group in pack.groups():
        excerpts = []
        for item in group.items:
            number += 1
            where = f" (p. {item.page_start})" if item.page_start is not None else ""
            excerpts.append(
                Excerpt(
                    number,
                    f"{number}. {_shorten(clean(item.heading or item.title))}{where}",
                    tuple(paragraphs(item.text)),
                    " ".join(clean(item.note).split()),
                    clean(citation(item)),
                    item.source_removed,
                )
            )
        sections.append(Section(clean(group.title), tuple(excerpts)))
    sources = list(dict.fromkeys(clean(source_entry(item)) for item in pack.items))
    return Outline(
        clean(pack.name),
        "Briefing pack",
        f"{day.day} {day.strftime('%B')} {day.year}",
        tuple(paragraphs(pack.intro)),
        tuple(sections),
        tuple(sources),
        pack.classification.replace("_", " ").upper(),
    )
