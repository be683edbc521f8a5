"""Review (reviewers). Filled in when the review library (index/reviews.py) lands on main."""

from __future__ import annotations

import streamlit as st

from ui.common import page_header

page_header("Review", "Confirm or correct the tagger's labels, most uncertain passages first.")
st.info("The review queue is not available in this version yet.")
