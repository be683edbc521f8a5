"""Review (reviewers): passages the tagger is least sure about first; accept, remove or add
labels on both axes in a click or a key; every correction saved at once with name, time, before
and after (index/reviews.py). A correction overrides the prediction everywhere at once, and two
reviewers never overwrite each other unseen: the second is shown the conflict.

The reviewer's name and the queue filters live in the URL; what the reviewer was shown (to
detect a conflict) is kept in the session, since it is a fact about this screen.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import streamlit as st

from errors import LessonsError, ReviewConflict
from index.access import Access
from index.browse import library as library_list
from index.catalog import scope
from index.datadir import DataDir
from index.review_audit import events_csv, label_quality, list_events
from index.reviews import (
    QueueItem,
    QueuePage,
    accept_passage,
    pending_corrections,
    queue_item,
    retrain,
    review_passage,
    review_queue,
    should_auto_retrain,
)
from nlp.labels import AXES, all_labels, display_name, slugs
from ui.auth import current_access, may_open, require
from ui.common import (
    PAGE_DOCUMENT,
    esc,
    label_name,
    md_escape,
    meta_html,
    nice_date,
    open_library,
    page_header,
    settings,
)

AXIS_TITLES = {"a4p": "A4P areas", "pillars": "Partnership pillars"}
SHOWN = "review_shown"  # passage id -> (labels shown per axis, last event id seen)


# -- state -----------------------------------------------------------------------------------------
def _remember(item: QueueItem) -> None:
    shown: dict[int, Any] = st.session_state.setdefault(SHOWN, {})
    if item.passage_id not in shown:
        shown[item.passage_id] = (item.expected, item.last_event_id)


def _forget(passage_id: int) -> None:
    st.session_state.setdefault(SHOWN, {}).pop(passage_id, None)
    for axis in AXES:
        st.session_state.pop(f"pick-{axis}-{passage_id}", None)


def _chosen(passage_id: int, item_labels: dict[str, list[str]]) -> dict[str, list[str]]:
    return {
        axis: list(st.session_state.get(f"pick-{axis}-{passage_id}", item_labels[axis]) or [])
        for axis in AXES
    }


# -- saving ----------------------------------------------------------------------------------------
def _save(passage_id: int, accept: bool, overwrite: bool = False) -> None:
    """Store the review; a conflict is kept for the page to show, nothing is lost."""
    library = open_library()
    name = current_access()  # the signed-in reviewer: recorded with the change
    if library is None or name is None:
        return
    shown, seen = st.session_state.get(SHOWN, {}).get(passage_id, (None, None))
    conflict = st.session_state.get("review_conflict")
    if overwrite and conflict and conflict["passage_id"] == passage_id:
        shown, seen = conflict["current"], conflict["event_id"]
        wanted = conflict["wanted"]
    else:
        wanted = shown if accept else _chosen(passage_id, shown or {"a4p": [], "pillars": []})
    if shown is None:
        st.session_state["review_error"] = "Reload the passage before saving."
        return
    try:
        with library.write() as store:
            if accept and not overwrite:
                accept_passage(store, passage_id, reviewer=name, expected=shown, seen_event=seen)
            else:
                review_passage(
                    store,
                    passage_id,
                    a4p=wanted["a4p"],
                    pillars=wanted["pillars"],
                    reviewer=name,
                    expected=shown,
                    seen_event=seen,
                )
    except ReviewConflict as exc:
        st.session_state["review_conflict"] = {
            "passage_id": passage_id,
            "current": exc.current,
            "changed_by": exc.changed_by,
            "changed_at": exc.changed_at,
            "event_id": exc.event_id,
            "wanted": wanted,
        }
        return
    except LessonsError as exc:
        st.session_state["review_error"] = str(exc)
        return
    st.session_state.pop("review_conflict", None)
    _forget(passage_id)
    st.session_state["review_saved"] = passage_id
    st.toast(
        "Accepted." if accept and not overwrite else "Correction saved.", icon=":material/check:"
    )


def _keep_theirs(passage_id: int) -> None:
    st.session_state.pop("review_conflict", None)
    _forget(passage_id)


def _skip(passage_id: int) -> None:
    skipped: list[int] = st.session_state.setdefault("review_skipped", [])
    skipped.append(passage_id)
    _forget(passage_id)


# -- retraining ------------------------------------------------------------------------------------
def run_retrain(force: bool, why: str) -> None:
    s = settings()
    bar = st.progress(0.0, text=why)

    def progress(fraction: float, message: str) -> None:
        bar.progress(fraction, text=message)

    try:
        # Its own handle: training takes a while and must not hold the shared one.
        by = require("reviewer")
        with DataDir(s.data_dir, write=True) as dd:
            report = retrain(
                dd,
                force=force,
                threads=s.torch_threads,
                progress=progress,
                by=by,
            )
    except LessonsError as exc:
        bar.empty()
        st.error(f"Retraining did not run: {md_escape(str(exc))}")
        return
    bar.empty()
    if report.retrained:
        mix = report.library_mix
        learnt = (
            " Labels that now weigh their scores as your reviews do: "
            + ", ".join(display_name(k) for k in sorted(mix))
            + "."
            if mix
            else ""
        )
        st.success(
            f"Retrained on {report.examples} examples ({report.reviewed} reviewed) in "
            f"{report.seconds:.0f} s; {report.passages_retagged} passages changed tags.{learnt}"
        )
    else:
        st.info(md_escape(report.reason[:1].upper() + report.reason[1:]) + ".")


def retrain_panel(pending: int) -> None:
    every = settings().auto_retrain_after
    with st.container(border=True):
        st.markdown("**Tagger**")
        auto = (
            f"It retrains by itself after {every} corrections."
            if every
            else "Automatic retraining is off."
        )
        st.caption(f"{pending} correction{'s' * (pending != 1)} since the last model. {auto}")
        if st.button(
            "Retrain now",
            icon=":material/model_training:",
            key="retrain",
            disabled=pending == 0,
            help="Learn from the corrections saved so far.",
        ):
            run_retrain(False, "Retraining the tagger…")


# -- the passage -----------------------------------------------------------------------------------
def _pct(p: float | None) -> str:
    return "—" if p is None else f"{100 * p:.0f}%"


def item_view(item: QueueItem, position: str) -> None:
    _remember(item)
    shown, _ = st.session_state[SHOWN][item.passage_id]
    with st.container(border=True):
        st.html(
            f'<div class="ll-title">{esc(item.title)}</div>'
            + meta_html(
                [
                    item.symbol,
                    nice_date(item.date),
                    item.file_name,
                    item.locator.citation,
                    position,
                ]
            )
            + (f'<div class="ll-heading">{esc(item.heading)}</div>' if item.heading else "")
            + f'<div class="ll-passage">{esc(item.text)}</div>'
        )
        for axis in AXES:
            options = list(slugs(axis))
            predicted = set(item.predicted.get(axis, []))

            def fmt(slug: str, predicted: set[str] = predicted) -> str:
                # Our own label names and numbers only: pills render Markdown.
                name = f"**{label_name(slug)}**" if slug in predicted else label_name(slug)
                p = item.scores.get(slug)
                return f"{name} {_pct(p)}" if p is not None else name

            st.pills(
                AXIS_TITLES[axis] + (" (reviewed)" if axis in item.reviewed_axes else ""),
                options,
                selection_mode="multi",
                default=shown.get(axis, []),
                format_func=fmt,
                key=f"pick-{axis}-{item.passage_id}",
                help="Selected labels are the ones kept. Bold: the tagger's own prediction; "
                "the percentage is its probability.",
            )
        evidence_view(item)
        conflict = st.session_state.get("review_conflict")
        if conflict and conflict["passage_id"] == item.passage_id:
            conflict_view(item, conflict)
            return
        row = st.container(horizontal=True, vertical_alignment="center")
        row.button(
            "Accept as shown",
            key="review-accept",
            type="primary",
            shortcut="A",
            icon=":material/done_all:",
            on_click=_save,
            args=(item.passage_id, True),
            help="Keep these labels (A)",
        )
        row.button(
            "Save changes",
            key="review-save",
            shortcut="S",
            icon=":material/save:",
            on_click=_save,
            args=(item.passage_id, False),
            help="Save the labels selected above (S)",
        )
        row.button(
            "Skip",
            key="review-skip",
            shortcut="N",
            icon=":material/skip_next:",
            on_click=_skip,
            args=(item.passage_id,),
            type="tertiary",
            help="Next passage, without saving (N)",
        )
        if may_open(PAGE_DOCUMENT):
            row.page_link(
                PAGE_DOCUMENT,
                label="Open the document",
                icon=":material/article:",
                query_params={"doc": str(item.doc_id), "passage": str(item.passage_id)},
            )


def evidence_view(item: QueueItem) -> None:
    if not item.evidence:
        return
    rows = "".join(
        f"<li><b>{esc(label_name(label))}</b> — {esc(sentence)}</li>"
        for label, sentence in item.evidence.items()
        if sentence
    )
    if rows:
        with st.expander("Why the tagger thinks so", expanded=False):
            st.html(f'<ul class="ll-evidence">{rows}</ul>')


def conflict_view(item: QueueItem, conflict: dict[str, Any]) -> None:
    who = conflict["changed_by"] or "the retrained tagger"
    when = f" at {conflict['changed_at']}" if conflict["changed_at"] else ""

    def names(labels: list[str]) -> str:
        return ", ".join(label_name(x) for x in labels) or "none"

    lines = "".join(
        f"<li>{esc(AXIS_TITLES[axis])}: now <b>{esc(names(conflict['current'].get(axis, [])))}"
        f"</b>; yours <b>{esc(names(conflict['wanted'].get(axis, [])))}</b></li>"
        for axis in AXES
        if axis in conflict["current"]
    )
    st.error(
        f"{md_escape(who)} changed these labels{md_escape(when)}, after they were shown "
        "to you. Nothing of yours was saved yet.",
        icon=":material/warning:",
    )
    st.html(f"<ul>{lines}</ul>")
    row = st.container(horizontal=True)
    row.button(
        "Keep their labels",
        key="conflict-theirs",
        on_click=_keep_theirs,
        args=(item.passage_id,),
        type="primary",
    )
    row.button(
        "Save mine instead",
        key="conflict-mine",
        on_click=_save,
        args=(item.passage_id, False, True),
    )


# -- tabs ------------------------------------------------------------------------------------------
def sidebar(library_docs: list[Any]) -> tuple[str | None, int | None]:
    with st.sidebar:
        st.subheader("Queue")
        label = st.selectbox(
            "Label",
            [None, *slugs()],
            key="review_label",
            bind="query-params",
            format_func=lambda s: "Any label" if s is None else label_name(s),
        )
        titles = {d.doc_id: d.title for d in library_docs}
        doc = st.selectbox(
            "Document",
            [None, *titles],
            key="review_doc",
            bind="query-params",
            format_func=lambda i: "Any document" if i is None else titles.get(i, str(i)),
        )
    return label, doc


def queue_tab(label: str | None, doc_id: int | None, access: Access) -> None:
    library = open_library()
    assert library is not None
    focus = st.query_params.get("passage")
    skipped = [int(x) for x in st.session_state.get("review_skipped", [])]
    item: QueueItem | None = None
    page: QueuePage | None = None
    try:
        with library.read() as dd, library.write() as store:
            if focus and focus.isdigit():
                item = queue_item(dd, int(focus), access=access)
            else:
                page = review_queue(
                    dd,
                    label=label,
                    doc_id=doc_id,
                    limit=len(skipped) + 1,
                    scores_into=store,
                    access=access,
                )
                items = [i for i in page.items if i.passage_id not in skipped]
                item = items[0] if items else None
            pending = pending_corrections(dd)  # all of them decide retraining...
            shown = pending_corrections(dd, access)  # ...each reviewer sees their own part
    except LessonsError as exc:
        st.warning(md_escape(str(exc)))
        return
    if focus:
        st.page_link("ui/review_page.py", label="Back to the queue", icon=":material/arrow_back:")
    if item is None:
        total = page.total if page else 0
        if total and skipped:
            st.info("You skipped every passage left in this queue.")
            st.button(
                "Show the skipped passages again",
                on_click=lambda: st.session_state.pop("review_skipped", None),
            )
        else:
            st.success(
                "Nothing left to review here: every passage matching these filters has "
                "been reviewed. Choose another label or document, or retrain the tagger."
            )
    else:
        position = "opened from a link" if page is None else f"{page.total} left in this queue"
        item_view(item, position)
    error = st.session_state.pop("review_error", None)
    if error:
        st.error(md_escape(error))
    maybe_auto_retrain(pending)
    retrain_panel(shown)


def maybe_auto_retrain(pending: int) -> None:
    """`pending` counts every reviewer's corrections; the message names no number, since some
    may be on documents this reviewer may not see."""
    if st.session_state.pop("review_saved", None) is None:
        return
    if should_auto_retrain(pending, settings().auto_retrain_after):
        run_retrain(False, "Enough corrections since the last model: retraining…")


def audit_tab(access: Access) -> None:
    library = open_library()
    assert library is not None
    with library.read() as dd:  # the events of documents this user may see, only
        events = list_events(dd.store, doc_ids=scope(dd.store, access))
    if not events:
        st.caption(
            "No reviews yet. Each saved correction appears here with who, when, before and after."
        )
        return
    reviewers = sorted({e.reviewer for e in events if e.reviewer})
    cols = st.columns([1, 1, 2])
    who = cols[0].selectbox(
        "Reviewer",
        [None, *reviewers],
        key="audit_reviewer",
        format_func=lambda r: "Everyone" if r is None else r,
    )
    what = cols[1].selectbox(
        "Label",
        [None, *slugs()],
        key="audit_label",
        format_func=lambda s: "Any label" if s is None else label_name(s),
    )
    shown = [
        e
        for e in events
        if (who is None or e.reviewer == who)
        and (what is None or what in (e.after + (e.before or ()) + (e.predicted or ())))
    ]

    def names(labels: tuple[str, ...] | None) -> str:
        return "" if labels is None else ", ".join(label_name(x) for x in labels) or "none"

    st.dataframe(
        [
            {
                "When (UTC)": e.at.replace("T", " ")[:16],
                "Reviewer": e.reviewer or "",
                "Document": e.title or "(removed)",
                # a string column: a document's own tags have no page
                "Page": "whole document" if e.doc_id is not None else str(e.page or ""),
                "Axis": AXIS_TITLES.get(e.axis, e.axis),
                "Before": names(e.before),
                "After": names(e.after),
                "Added": names(e.added),
                "Removed": names(e.removed),
                "Predicted": names(e.predicted),
                "Source": e.source,
            }
            for e in shown
        ],
        hide_index=True,
        width="stretch",
    )
    st.download_button(
        "Download as CSV",
        data=events_csv(reversed(shown)),
        file_name="review-audit-trail.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key="audit_csv",
    )


def quality_tab(access: Access) -> None:
    library = open_library()
    assert library is not None
    with library.read() as dd:
        report = label_quality(dd.store, by="week", doc_ids=scope(dd.store, access))
    if report.reviews == 0:
        st.caption(
            "Precision and recall appear here once reviewers have confirmed or corrected "
            "some predictions."
        )
        return
    st.caption(
        "Precision: of the labels the tagger predicted, the share reviewers kept. Recall: of "
        "the labels reviewers wanted, the share the tagger had predicted. Counted from "
        f"{report.reviews} reviews, each text and axis once."
    )
    st.dataframe(
        [
            {
                "Label": label_name(q.label),
                "Axis": AXIS_TITLES[q.axis],
                "Reviews": q.overall.reviews,
                "Predicted": q.overall.predicted,
                "Kept": q.overall.kept,
                "Precision": q.precision,
                "Recall": q.recall,
            }
            for q in report.labels
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "Precision": st.column_config.ProgressColumn(
                format="percent", min_value=0, max_value=1
            ),
            "Recall": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
        },
    )
    rows = [
        {"label": label_name(q.label), "week": p.period, "measure": m, "value": v}
        for q in report.labels
        for p in q.trend
        for m, v in (("Precision", p.precision), ("Recall", p.recall))
        if v is not None
    ]
    if rows:
        st.subheader("Trend by week")
        chosen = st.selectbox(
            "Label", [lab.slug for lab in all_labels()], key="trend_label", format_func=label_name
        )
        data = [r for r in rows if r["label"] == label_name(chosen)]
        if data:
            chart = (
                alt.Chart(alt.Data(values=data))
                .mark_line(point=True)
                .encode(
                    x=alt.X("week:O", title=None),
                    y=alt.Y(
                        "value:Q",
                        title=None,
                        scale=alt.Scale(domain=[0, 1]),
                        axis=alt.Axis(format="%"),
                    ),
                    color=alt.Color(
                        "measure:N", title=None, scale=alt.Scale(range=["#1d4e89", "#2d6a3e"])
                    ),
                    tooltip=["week:O", "measure:N", alt.Tooltip("value:Q", format=".0%")],
                )
                .properties(height=240)
            )
            st.altair_chart(chart, width="stretch")
        else:
            st.caption("No reviews of this label yet.")


def render() -> None:
    page_header(
        "Review",
        "Confirm or correct the tagger’s labels, the passages it is least "
        "sure about first. Each correction is saved at once and used "
        "everywhere.",
    )
    access = require("reviewer")
    library = open_library()
    if library is None:
        st.info(
            "No documents yet: add some on the Library page; their passages then wait "
            "here for review."
        )
        return
    with library.read() as dd:
        docs = library_list(dd.store, access)
    if not docs:
        st.info(
            "No documents yet: add some on the Library page; their passages then wait "
            "here for review."
        )
        return
    label, doc_id = sidebar(docs)
    queue, audit, quality = st.tabs(["Queue", "Audit trail", "Label quality"])
    with queue:
        queue_tab(label, doc_id, access)
    with audit:
        audit_tab(access)
    with quality:
        quality_tab(access)


render()
