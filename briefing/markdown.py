"""Markdown export. Every piece of document text is escaped, so a passage holding
`<script>` or `[x](javascript:...)` shows those characters and never becomes markup."""

from __future__ import annotations

import re

from briefing.outline import Outline

# ASCII punctuation that starts emphasis, code, links, headings, tables, strikethrough or math
# anywhere in a line (CommonMark, GFM, Streamlit); a backslash makes each one literal. `<`, `>`
# and `&` become entities, so no raw HTML or autolink can start. Links need `[`, which is
# escaped, so `(`, `)` and `!` can stay.
_ESCAPE = re.compile(r"([\\`*_{}\[\]#|~$])")
# Block markers that count only at the start of a line: lists, quotes, setext underlines.
_LINE_START = re.compile(r"^(\d+)([.)])|^([-+=])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    """Plain text as Markdown that renders to exactly that text, on one line."""
    out = "".join(_ENTITIES.get(ch, ch) for ch in " ".join(text.split()))
    out = _ESCAPE.sub(r"\\\1", out)
    return _LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", out)


def render_markdown(outline: Outline) -> str:
    lines = [f"**{outline.marking}**", ""]
    lines += [
        f"# {escape(outline.title)}",
        "",
        f"*{escape(outline.subtitle)} — {outline.date}*",
        "",
    ]
    for p in outline.intro:
        lines += [escape(p), ""]
    lines += ["## Contents", ""]
    for level, heading in outline.contents():
        lines.append("  " * (level - 1) + f"- {escape(heading)}")
    lines.append("")
    for section in outline.sections:
        lines += [f"## {escape(section.title)}", ""]
        for e in section.excerpts:
            lines += [f"### {escape(e.heading)}", ""]
            for p in e.paragraphs:
                lines += [f"> {escape(p)}", ">"]
            if e.paragraphs:
                lines.pop()
            lines.append("")
            if e.note:
                lines += [f"**Note:** {escape(e.note)}", ""]
            removed = " *(source removed from the library)*" if e.source_removed else ""
            lines += [f"— {escape(e.citation)}{removed}", ""]
    if outline.sources:
        lines += ["## Sources", ""]
        lines += [f"{n}. {escape(s)}" for n, s in enumerate(outline.sources, start=1)]
        lines.append("")
    lines += [f"**{outline.marking}**", ""]
    return "\n".join(lines)
