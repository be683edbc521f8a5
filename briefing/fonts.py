"""The Unicode font of PDF exports. fpdf2's core fonts are latin-1 only, and document text has
’ “ ” – é and more; the font comes from a PyPI package (font-source-sans-pro, SIL OFL: Latin,
Greek, Cyrillic), so a fresh machine needs no system fonts."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from errors import ExportError

FAMILY = "SourceSans"
STYLES = {"": "SourceSansPro", "B": "SourceSansProBold", "I": "SourceSansProIt"}


@lru_cache(maxsize=1)
def font_files() -> dict[str, Path]:
    """Style ("", "B", "I") -> TTF file."""
    try:
        import font_source_sans_pro
    except ImportError:
        raise ExportError(
            "PDF export needs the font package font-source-sans-pro: "
            "pip install -r requirements.txt"
        ) from None
    files = font_source_sans_pro.font_files_ttf
    out = {}
    for style, name in STYLES.items():
        path = Path(files.get(name, ""))
        if not path.is_file():
            raise ExportError(
                f"the font file {name}.ttf is missing: reinstall font-source-sans-pro"
            )
        out[style] = path
    return out


@lru_cache(maxsize=1)
def covered() -> frozenset[int]:
    """Code points the regular face can draw."""
    from fontTools.ttLib import TTFont

    with TTFont(str(font_files()[""]), lazy=True) as font:
        return frozenset(font.getBestCmap())
