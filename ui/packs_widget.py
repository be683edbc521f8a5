"""'Add to briefing pack' on a passage. Filled in when the packs library (index/packs.py) lands."""

from __future__ import annotations


def add_button(passage_id: int, *, key: str) -> None:
    return None
