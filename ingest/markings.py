"""Classification markings printed on a document: "CONFIDENTIAL" or "STRICTLY CONFIDENTIAL" on
its first page or in its running header or footer (UN information sensitivity levels,
ST/SGB/2007/6).

A marking is a short line set in capitals that starts with the level, as markings are stamped;
a sentence that merely mentions confidential information is not one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ingest.records import PageLayout

_MARKING = re.compile(r"^(STRICTLY\s+CONFIDENTIAL|CONFIDENTIAL)\b")
MAX_WORDS = 8
EDGE_SHARE = 0.12  # a running header or footer sits in the top or bottom 12% of the page


def marking_of(lines: Iterable[str]) -> str | None:
    """The highest level marked among `lines`: 'strictly_confidential', 'confidential' or None."""
    found: str | None = None
    for raw in lines:
        text = " ".join(raw.split())
        if not text or len(text.split()) > MAX_WORDS or text != text.upper():
            continue
        m = _MARKING.match(text)
        if m is None:
            continue
        if m.group(1).startswith("STRICTLY"):
            return "strictly_confidential"
        found = "confidential"
    return found


def document_marking(layouts: Sequence[PageLayout]) -> str | None:
    """The marking of a document: on its first page anywhere, or at the top or bottom of any
    page (where running headers and footers are)."""
    if not layouts:
        return None
    lines = [ln.text for ln in layouts[0].lines]
    for page in layouts[1:]:
        edge = page.height * EDGE_SHARE
        lines += [
            ln.text for ln in page.lines if ln.top < edge or ln.bottom > page.height - edge
        ]
    return marking_of(lines)
