"""Dashboard: what the library holds (documents and passages per A4P area, pillar, mission and
year), how much of it is tagged, and how far review has got."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import streamlit as st

from index.browse import DashboardStats, LabelCount, dashboard
from ui.auth import require
from ui.common import label_name, nice_time, open_library, page_header

BLUE, GREEN = "#1d4e89", "#2d6a3e"
MAX_MISSIONS = 15


def bar_chart(counts: Sequence[LabelCount], measure: str, *, labels: bool = False) -> alt.Chart:
    """Horizontal bars of one measure (documents or passages), largest first; the tooltip
    gives both."""
    rows = [
        {
            "name": label_name(c.key) if labels else c.key,
            "Documents": c.documents,
            "Passages": c.passages,
        }
        for c in counts
    ]
    colour = BLUE if measure == "Documents" else GREEN
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar(color=colour, cornerRadiusEnd=2)
        .encode(
            y=alt.Y("name:N", sort="-x", title=None, axis=alt.Axis(labelLimit=240)),
            x=alt.X(f"{measure}:Q", title=measure, axis=alt.Axis(tickMinStep=1)),
            tooltip=[alt.Tooltip("name:N", title="Name"), "Documents:Q", "Passages:Q"],
        )
        .properties(height=alt.Step(24))  # one band per row, whatever the count
    )


def year_chart(stats: DashboardStats, measure: str) -> alt.Chart:
    """Every year from the first to the last, so gaps show as gaps."""
    by_year = {int(c.key): c for c in stats.years}
    rows = [
        {
            "year": str(y),
            "Documents": by_year[y].documents if y in by_year else 0,
            "Passages": by_year[y].passages if y in by_year else 0,
        }
        for y in range(min(by_year), max(by_year) + 1)
    ]
    colour = BLUE if measure == "Documents" else GREEN
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar(color=colour, cornerRadiusEnd=2)
        .encode(
            x=alt.X("year:O", title=None, axis=alt.Axis(labelAngle=-45, labelOverlap="greedy")),
            y=alt.Y(f"{measure}:Q", title=measure, axis=alt.Axis(tickMinStep=1)),
            tooltip=[alt.Tooltip("year:O", title="Year"), "Documents:Q", "Passages:Q"],
        )
        .properties(height=260)
    )


def _pct(n: int, total: int) -> str:
    return f"{(100 * n / total):.0f}%" if total else "—"


def render() -> None:
    page_header(
        "Dashboard", "What the library holds, how much of it is tagged, and how far review has got."
    )
    access = require("officer")
    library = open_library()
    if library is None:
        st.info("No documents yet: add some on the Library page.")
        return
    with library.read() as dd:
        stats = dashboard(dd.store, access)
    if stats.documents == 0:
        st.info("No documents yet: add some on the Library page.")
        return
    cov, rev = stats.coverage, stats.review
    cols = st.columns(5)
    cols[0].metric("Documents", f"{stats.documents:,}")
    cols[1].metric("Pages", f"{stats.pages:,}")
    cols[2].metric("Passages", f"{stats.passages:,}")
    cols[3].metric(
        "Tagged passages",
        _pct(cov.passages - cov.untagged, cov.passages),
        help="Passages carrying at least one A4P area or partnership pillar.",
    )
    cols[4].metric(
        "Reviewed passages",
        _pct(rev.reviewed_any, rev.passages),
        help="Passages whose tags a reviewer confirmed or corrected on either axis.",
    )

    measure = (
        st.segmented_control(
            "Count",
            ["Documents", "Passages"],
            default="Documents",
            key="dash_measure",
            bind="query-params",
        )
        or "Documents"
    )
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("A4P areas")
        st.altair_chart(bar_chart(stats.a4p, measure, labels=True), width="stretch")
    with right:
        st.subheader("Partnership pillars")
        st.altair_chart(bar_chart(stats.pillars, measure, labels=True), width="stretch")

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Missions")
        missions = stats.missions[:MAX_MISSIONS]
        if missions:
            st.altair_chart(bar_chart(missions, measure), width="stretch")
            if len(stats.missions) > MAX_MISSIONS:
                st.caption(
                    f"The {MAX_MISSIONS} missions named in most documents, of "
                    f"{len(stats.missions)}."
                )
        else:
            st.caption("No mission is named in the documents yet.")
    with right:
        st.subheader("Years")
        if stats.years:
            st.altair_chart(year_chart(stats, measure), width="stretch")
            undated = stats.documents - sum(c.documents for c in stats.years)
            if undated:
                st.caption(f"{undated} document{'s' * (undated != 1)} without a date.")
        else:
            st.caption("No document has a date yet.")

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Tag coverage")
        for label, n in (
            ("At least one A4P area", cov.with_a4p),
            ("At least one partnership pillar", cov.with_pillar),
            ("No tag at all", cov.untagged),
        ):
            share = n / cov.passages if cov.passages else 0.0
            st.progress(
                share, text=f"{label}: {n:,} of {cov.passages:,} passages ({_pct(n, cov.passages)})"
            )
    with right:
        st.subheader("Review progress")
        for label, n in (
            ("A4P areas reviewed", rev.reviewed_a4p),
            ("Partnership pillars reviewed", rev.reviewed_pillars),
        ):
            share = n / rev.passages if rev.passages else 0.0
            st.progress(
                share, text=f"{label}: {n:,} of {rev.passages:,} passages ({_pct(n, rev.passages)})"
            )
        if rev.reviewers:
            st.caption(
                f"{rev.reviewers} reviewer{'s' * (rev.reviewers != 1)}; last correction "
                f"{nice_time(rev.last_review)}."
            )
        else:
            st.caption(
                "No passage has been reviewed yet: the Review page lists the passages "
                "the tagger is least sure about first."
            )


render()
