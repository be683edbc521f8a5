"""What kind of document a PDF is, from its title, symbol and opening text.

The kinds are the ones officers filter by. Our own documents print their kind in the title block
("Type: After-action review"); UN documents are told apart by their symbol series and the
standard wording of their first page.
"""

from __future__ import annotations

import re

DOC_TYPES: dict[str, str] = {
    "policy-brief": "Policy brief",
    "after-action-review": "After-action review",
    "end-of-assignment": "End-of-assignment report",
    "lessons-learned": "Lessons-learned note",
    "mission-report": "Mission report",
    "sg-report": "Report of the Secretary-General",
    "budget": "Budget document",
    "letter": "Letter",
    "resolution": "Resolution",
    "other": "Other",
}

# Phrases that name a kind, in the order they are tried (most specific first).
_KIND_PHRASES: tuple[tuple[str, str], ...] = (
    ("after-action-review", r"after[- ]action review|\bAAR\b"),
    ("end-of-assignment", r"end[- ]of[- ]assignment"),
    ("lessons-learned", r"lessons[- ]learned note|lessons[- ]learned|lessons from"),
    ("policy-brief", r"policy brief"),
    ("mission-report", r"mission report"),
)
TYPE_LINE_RE = re.compile(r"\bType:\s*([A-Za-z -]+?)(?:\s+Date:|\n|$)")


def display_doc_type(slug: str | None) -> str:
    return DOC_TYPES.get(slug or "other", slug or "Other")


def classify_doc_type(title: str, symbol: str | None, opening: str) -> str:
    """A slug of DOC_TYPES. `opening` is the first page or so of text."""
    m = TYPE_LINE_RE.search(opening[:600])
    if m:
        declared = m.group(1).strip().lower()
        for slug, pattern in _KIND_PHRASES:
            if re.search(pattern, declared, re.IGNORECASE):
                return slug
    head = f"{title}\n{opening[:1500]}"
    symbol = symbol or ""
    if re.match(r"A/\d+/6\b", symbol) or (
        symbol.startswith("A/")
        and re.search(
            r"\bbudget|financing of|Advisory Committee on Administrative", head, re.IGNORECASE
        )
    ):
        return "budget"
    if re.search(r"\bresolution\s+\d+\s*\(\d{4}\)", title, re.IGNORECASE) and "/RES/" in symbol:
        return "resolution"
    if re.search(r"^\s*letter dated", title, re.IGNORECASE | re.MULTILINE):
        return "letter"
    # Most S/ documents that are not letters or resolutions are the Secretary-General's reports;
    # old scans garble the wording, so the symbol alone decides.
    if symbol.startswith("S/") or re.search(
        r"report of the secretary\s*-\s*general", head, re.IGNORECASE
    ):
        return "sg-report"
    for slug, pattern in _KIND_PHRASES:
        if re.search(pattern, title, re.IGNORECASE):
            return slug
    return "other"
