"""One entry point for every export format."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

from atomic import write_bytes_atomic
from briefing.outline import Outline, build_outline
from errors import ExportError
from index.library.packs import Pack

FORMATS = ("docx", "pdf", "md")
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "md": "text/markdown",
}


def _renderer(fmt: str) -> Callable[[Outline], bytes]:
    if fmt == "docx":
        from briefing.docx_export import render_docx

        return render_docx
    if fmt == "pdf":
        from briefing.pdf_export import render_pdf

        return render_pdf
    if fmt == "md":
        from briefing.markdown import render_markdown

        return lambda outline: render_markdown(outline).encode("utf-8")
    raise ExportError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")


def render_pack(pack: Pack, fmt: str, *, today: date | None = None) -> bytes:
    """The pack as a DOCX, PDF or Markdown file's bytes (for a download button)."""
    render = _renderer(fmt)
    if not pack.items:
        raise ExportError(
            f'the pack "{pack.name}" has no excerpts yet: add passages from search or from a '
            "document first"
        )
    return render(build_outline(pack, today))


def file_name(pack: Pack, fmt: str) -> str:
    """A safe file name for the export: the pack name in ASCII letters, digits and dashes."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", pack.name).strip("-")[:80] or "briefing-pack"
    return f"{stem}.{fmt}"


def export_pack(pack: Pack, path: Path, fmt: str | None = None) -> Path:
    """Write the export to `path` atomically; the format defaults to the file's suffix."""
    path = Path(path)
    fmt = fmt or path.suffix.lower().lstrip(".")
    if fmt == "markdown":
        fmt = "md"
    data = render_pack(pack, fmt)
    if not path.parent.is_dir():
        raise ExportError(f"no folder {path.parent} to write {path.name} into")
    write_bytes_atomic(path, data)
    return path
