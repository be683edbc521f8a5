"""Briefing-pack exports: DOCX (python-docx), PDF (fpdf2) and Markdown, from one outline.

Public surface: `render_pack(pack, fmt) -> bytes`, `export_pack(pack, path, fmt=None)`,
`FORMATS`, `MEDIA_TYPES`, `file_name(pack, fmt)`, `citation(item)`.
Document text is third-party: every exporter writes it as plain text, never as markup.
"""

from briefing.citation import citation
from briefing.export import FORMATS, MEDIA_TYPES, export_pack, file_name, render_pack

__all__ = ["FORMATS", "MEDIA_TYPES", "citation", "export_pack", "file_name", "render_pack"]
