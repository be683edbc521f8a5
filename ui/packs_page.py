"""Briefing packs (liaison staff). Filled in when the packs library (index/packs.py) lands."""

from __future__ import annotations

import streamlit as st

from ui.common import page_header

page_header("Briefing packs", "Assemble excerpts into a pack and export it.")
st.info("Briefing packs are not available in this version yet.")
