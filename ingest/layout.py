"""Reading order from word positions: lines, columns and bands.

Pure functions over `Segment`s, so both extractors (pdfium rects, pdfplumber words) share them.
A page is read band by band: text that crosses the column gutter (titles, full-width tables)
closes a band, and inside a band the left column is read before the right one.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from itertools import pairwise

from ingest.records import Line, Segment

# A gutter must be at least this wide (points) and both sides must hold real text columns.
MIN_GUTTER = 6.0
MIN_LINES_PER_COLUMN = 5
MAX_CROSSING_SHARE = 0.5
# Punctuation that follows a word without a space.
CLOSING = frozenset("’”),.;:!?%")


def merge_words(words: Sequence[Segment]) -> list[Segment]:
    """Join words on one baseline into runs, but never across a gap wide enough to be a gutter."""
    runs: list[Segment] = []
    for w in sorted(words, key=lambda s: (round(s.mid_y), s.x0)):
        if runs:
            last = runs[-1]
            same_line = abs(last.mid_y - w.mid_y) <= 0.4 * max(last.height, w.height, 1.0)
            gap = w.x0 - last.x1
            if same_line and -1.0 <= gap <= 0.9 * max(w.height, 1.0):
                runs[-1] = Segment(
                    last.x0,
                    min(last.top, w.top),
                    w.x1,
                    max(last.bottom, w.bottom),
                    last.text + " " + w.text,
                )
                continue
        runs.append(w)
    return runs


def find_gutter(segments: Sequence[Segment]) -> tuple[float, float] | None:
    """Return the x-interval of a column gutter, or None when the text is one column."""
    if len(segments) < 2 * MIN_LINES_PER_COLUMN:
        return None
    xmin = min(s.x0 for s in segments)
    xmax = max(s.x1 for s in segments)
    width = xmax - xmin
    if width < 200:
        return None
    lo, hi = int(xmin + 0.3 * width), int(xmin + 0.7 * width)
    # Count, for each candidate x, the segments that straddle it.
    crossing = [0] * (hi - lo + 1)
    for s in segments:
        a, b = max(int(s.x0) + 1, lo), min(int(s.x1) - 1, hi)
        for x in range(a, b + 1):
            crossing[x - lo] += 1
    best = min(crossing)
    if best > MAX_CROSSING_SHARE * len(segments):
        return None
    # Headings that end just inside the gutter must not hide it: tolerate a few crossings
    # and take the widest run of x positions under that bound.
    bound = best + max(2, int(0.05 * len(segments)))
    run_start, best_run = None, (0, -1)
    for i, c in enumerate([*crossing, bound + 1]):
        if c <= bound and run_start is None:
            run_start = i
        elif c > bound and run_start is not None:
            if i - run_start > best_run[1] - best_run[0]:
                best_run = (run_start, i)
            run_start = None
    mid = lo + (best_run[0] + best_run[1]) / 2
    flowing = [s for s in segments if not (s.x0 < mid < s.x1)]
    left = [s for s in flowing if s.x1 <= mid]
    right = [s for s in flowing if s.x0 >= mid]
    left_x1 = max((s.x1 for s in left), default=mid)
    right_x0 = min((s.x0 for s in right), default=mid)
    if right_x0 - left_x1 < MIN_GUTTER:
        return None
    if len(left) < MIN_LINES_PER_COLUMN or len(right) < MIN_LINES_PER_COLUMN:
        return None
    # Both sides must look like running text (wide lines), not a column of labels or numbers.
    left_w = statistics.median(s.x1 - s.x0 for s in left)
    right_w = statistics.median(s.x1 - s.x0 for s in right)
    if min(left_w, right_w) < 0.25 * width:
        return None
    # ... and sit side by side rather than one above the other.
    overlap = min(max(s.bottom for s in left), max(s.bottom for s in right)) - max(
        min(s.top for s in left), min(s.top for s in right)
    )
    shorter = min(
        max(s.bottom for s in left) - min(s.top for s in left),
        max(s.bottom for s in right) - min(s.top for s in right),
    )
    if shorter <= 0 or overlap < 0.3 * shorter:
        return None
    return left_x1, right_x0


def order_segments(segments: Sequence[Segment], depth: int = 0) -> list[tuple[int, list[Segment]]]:
    """Split segments into reading-order blocks: a list of (column index, segments)."""
    gutter = find_gutter(segments) if depth < 2 else None
    if gutter is None:
        return [(0, list(segments))]
    mid = sum(gutter) / 2
    spanning = sorted((s for s in segments if s.x0 < mid < s.x1), key=lambda s: s.top)
    rest = [s for s in segments if not (s.x0 < mid < s.x1)]
    blocks: list[tuple[int, list[Segment]]] = []
    edges = [float("-inf")] + [s.mid_y for s in spanning] + [float("inf")]
    for i in range(len(edges) - 1):
        band = [s for s in rest if edges[i] <= s.mid_y < edges[i + 1]]
        left = [s for s in band if s.x1 <= mid]
        right = [s for s in band if s.x0 >= mid]
        for col, part in ((0, left), (1, right)):
            if part:
                for sub_col, sub in order_segments(part, depth + 1):
                    blocks.append((col * 2 + sub_col if depth == 0 else col, sub))
        if i < len(spanning):
            blocks.append((0, [spanning[i]]))
    return blocks


def build_lines(segments: Iterable[Segment], page: int, column: int = 0) -> list[Line]:
    """Group segments of one column into lines, top to bottom."""
    segs = sorted(segments, key=lambda s: (s.top, s.x0))
    if not segs:
        return []
    col_x0 = min(s.x0 for s in segs)
    col_x1 = max(s.x1 for s in segs)
    groups: list[list[Segment]] = []
    for s in segs:
        if groups and _on_line(max(groups[-1], key=lambda t: t.height), s):
            groups[-1].append(s)
            continue
        groups.append([s])
    lines: list[Line] = []
    for g in groups:
        g.sort(key=lambda s: s.x0)
        # The line's tallest run sets the word-gap scale: a hyphen's, apostrophe's or "s"'s glyph
        # box is a fraction of the type size, and its own height would see a space in "people's".
        size = max(max(s.height for s in g), 1.0)
        text = g[0].text
        for prev, cur in pairwise(g):
            spaced = prev.text[-1:].isspace() or cur.text[:1].isspace()
            # Closing punctuation has a wide side bearing, so its ink starts far from the word.
            gap = 0.5 if cur.text[:1] in CLOSING else 0.25
            if not spaced and cur.x0 - prev.x1 > gap * size:
                text += " "
            text += cur.text
        text = " ".join(text.split())
        if not text:
            continue
        lines.append(
            Line(
                text=text,
                page=page,
                x0=min(s.x0 for s in g),
                top=min(s.top for s in g),
                x1=max(s.x1 for s in g),
                bottom=max(s.bottom for s in g),
                column=column,
                col_x0=col_x0,
                col_x1=col_x1,
            )
        )
    return lines


def _on_line(ref: Segment, s: Segment) -> bool:
    """Whether `s` sits on the line whose tallest run is `ref`. Some PDFs give punctuation its own
    glyph-sized box (a hyphen 0.8 pt high at x-height, an apostrophe at cap height): its middle
    is off the line's middle by more than its own height, yet the box lies inside the line."""
    if abs(ref.mid_y - s.mid_y) <= 0.5 * max(min(ref.height, s.height), 1.0):
        return True
    overlap = min(ref.bottom, s.bottom) - max(ref.top, s.top)
    return overlap > 0 and overlap >= 0.5 * min(ref.height, s.height)


def read_page(segments: Sequence[Segment], page: int) -> tuple[list[Line], int]:
    """Lines of a page in reading order, and the number of text columns found."""
    blocks = order_segments(segments)
    columns = max(1, len({c for c, _ in blocks}))
    lines: list[Line] = []
    for col, block in blocks:
        lines.extend(build_lines(block, page, col))
    return lines, columns
