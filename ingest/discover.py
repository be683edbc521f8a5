"""Find the PDF files named by command-line paths (files and folders, recursively)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def discover_pdfs(paths: Iterable[Path | str]) -> tuple[list[Path], list[Path]]:
    """Return (files to ingest, paths that do not exist). Explicit files are taken whatever
    their extension (so a mislabelled file gets a clear 'not a PDF'); folders contribute *.pdf."""
    found: dict[Path, None] = {}
    missing: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() == ".pdf":
                    found[f.resolve()] = None
        elif p.is_file():
            found[p.resolve()] = None
        else:
            missing.append(p)
    return list(found), missing
