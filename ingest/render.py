"""A PDF page as an image, with a passage's words highlighted: what the reader sees next to a
search result, so a citation can be checked against the page itself.

The passage text went through cleanup (hyphens rejoined, headers dropped, columns reordered), so
it is found on the page by matching runs of normalised words rather than by exact string: runs
of at least `MIN_RUN` consecutive words in the same order as in the passage are boxed.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from errors import PageRenderError

MIN_RUN = 3
DEFAULT_RESOLUTION = 110
HIGHLIGHT_FILL = (255, 214, 10, 80)
HIGHLIGHT_STROKE = (214, 160, 0, 200)
_NON_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class RenderedPage:
    png: bytes
    width: int
    height: int
    page: int  # 1-based
    page_count: int
    highlighted_words: int  # page words boxed as belonging to the passage


def normalise_word(word: str) -> str:
    """Lower case, accents and punctuation removed: 'Peace-keeping,' -> 'peacekeeping'."""
    folded = unicodedata.normalize("NFKD", word)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _NON_WORD.sub("", folded.lower())


def passage_words(text: str) -> list[str]:
    return [w for w in (normalise_word(t) for t in text.split()) if w]


def match_words(
    page_words: Sequence[str], wanted: Sequence[str], min_run: int = MIN_RUN
) -> list[int]:
    """Indices of `page_words` inside runs of at least `min_run` words that appear, in order,
    in `wanted`. Both sequences are normalised words."""
    if not page_words or not wanted:
        return []
    matcher = SequenceMatcher(None, list(page_words), list(wanted), autojunk=False)
    hits: list[int] = []
    for block in matcher.get_matching_blocks():
        if block.size >= min(min_run, len(wanted)):
            hits.extend(range(block.a, block.a + block.size))
    return hits


Box = tuple[float, float, float, float]  # x0, top, x1, bottom in PDF points


def line_boxes(boxes: Sequence[Box]) -> list[Box]:
    """Merge word boxes that follow each other on one line into a single box, so the passage
    reads like a highlighter stroke rather than a grid of little rectangles."""
    out: list[Box] = []
    for x0, top, x1, bottom in boxes:
        if out:
            px0, ptop, px1, pbottom = out[-1]
            same_line = abs(top - ptop) < 0.5 * (pbottom - ptop) and x0 >= px1 - 1
            if same_line and x0 - px1 < 2 * (bottom - top):
                out[-1] = (px0, min(top, ptop), max(x1, px1), max(bottom, pbottom))
                continue
        out.append((x0, top, x1, bottom))
    return out


def render_page(
    path: Path | str,
    page: int,
    highlight: str = "",
    *,
    resolution: int = DEFAULT_RESOLUTION,
    password: str | None = None,
) -> RenderedPage:
    """Render page `page` (1-based) of the PDF at `path` as PNG, boxing the words of
    `highlight` found on it. Raises `PageRenderError` with a reason a reader can act on."""
    import pdfplumber

    path = Path(path)
    if not path.is_file():
        raise PageRenderError(
            f"the PDF is no longer at {path}; re-ingest it from its new place to see its pages"
        )
    try:
        pdf = pdfplumber.open(str(path), password=password or "")
    except Exception as exc:  # pdfminer raises many types for unreadable or encrypted files
        raise PageRenderError(f"cannot open {path.name}: {type(exc).__name__}") from None
    with pdf:
        count = len(pdf.pages)
        if not 1 <= page <= count:
            raise PageRenderError(f"{path.name} has {count} pages; there is no page {page}")
        try:
            pl_page = pdf.pages[page - 1]
            words = pl_page.extract_words(keep_blank_chars=False, use_text_flow=True)
            normalised = [normalise_word(w["text"]) for w in words]
            # Words that are only punctuation normalise to "" and would break runs.
            kept = [i for i, w in enumerate(normalised) if w]
            hits = match_words([normalised[i] for i in kept], passage_words(highlight))
            boxes = line_boxes(
                [
                    (
                        words[kept[i]]["x0"],
                        words[kept[i]]["top"],
                        words[kept[i]]["x1"],
                        words[kept[i]]["bottom"],
                    )
                    for i in hits
                ]
            )
            image = pl_page.to_image(resolution=resolution)
            if boxes:
                image.draw_rects(
                    boxes, fill=HIGHLIGHT_FILL, stroke=HIGHLIGHT_STROKE, stroke_width=1
                )
            buf = io.BytesIO()
            image.annotated.save(buf, format="PNG", optimize=True)
        except PageRenderError:
            raise
        except Exception as exc:
            raise PageRenderError(
                f"page {page} of {path.name} cannot be drawn: {type(exc).__name__}"
            ) from None
        width, height = image.annotated.size
    return RenderedPage(buf.getvalue(), width, height, page, count, len(hits))
