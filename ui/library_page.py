"""Library: add PDFs (several at once, with a progress bar and the ingest report), see every
document with its status and tags, open, re-read or delete one.

Uploaded files are kept under `<data folder>/uploads/` before they are read and stay there
whatever the outcome, so a failed file is never lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from errors import LessonsError
from index.access import LEVEL_NAMES, LEVELS, Access, rank
from index.browse import STATUS_READY, DocumentSummary, ingest_problems, library
from index.datadir import DataDir
from index.writes import delete_document
from ingest.uploads import save_upload
from nlp.doctypes import display_doc_type
from pipeline import FileOutcome, IngestReport, ingest_paths
from ui.auth import may_open, require
from ui.common import (
    PAGE_DOCUMENT,
    label_name,
    md_escape,
    nice_date,
    open_library,
    page_header,
    settings,
    show_error,
)

STATUS_WORDS = {"ok": "Added", "skipped": "Unchanged", "failed": "Not added"}


def _round() -> int:
    return int(st.session_state.get("upload_round", 0))


def _flash(message: str, kind: str = "success") -> None:
    st.session_state["library_flash"] = (kind, message)


def show_flash() -> None:
    flash = st.session_state.pop("library_flash", None)
    if flash:
        kind, message = flash
        {"success": st.success, "warning": st.warning}.get(kind, st.error)(message)


def report_rows(report: IngestReport, names: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for f in report.files:
        rows.append(
            {
                "File": names.get(f.path, Path(f.path).name),
                "Result": STATUS_WORDS.get(f.status, f.status),
                "Pages": f.pages or None,
                "Passages": f.passages or None,
                "Details": f.reason or "; ".join(f.notes),
            }
        )
    return rows


def report_summary(report: IngestReport) -> str:
    c = report.status_counts()
    parts = [f"{c['ok']} added", f"{c['skipped']} unchanged"]
    if c["failed"]:
        parts.append(f"{c['failed']} could not be read")
    return (
        f"{len(report.files)} file{'s' * (len(report.files) != 1)} in "
        f"{report.seconds:.0f} s: " + ", ".join(parts) + "."
    )


def upload_section(access: Access) -> None:
    st.subheader("Add documents")
    files = st.file_uploader(
        "PDF reports",
        type=["pdf"],
        accept_multiple_files=True,
        key=f"uploads-{_round()}",
        help="Policy briefs, mission reports, after-action reviews, end-of-assignment reports. "
        "Each file is read, cut into citable passages and tagged.",
    )
    left, right = st.columns(2)
    level = left.selectbox(
        "Classification",
        [lv for lv in LEVELS if rank(lv) <= rank(access.clearance) or access.full],
        index=LEVELS.index(settings().default_classification)
        if rank(settings().default_classification) <= rank(access.clearance)
        else 0,
        format_func=lambda lv: LEVEL_NAMES[lv],
        key=f"upload-level-{_round()}",
        help="A marking printed on a document (CONFIDENTIAL, STRICTLY CONFIDENTIAL) raises "
        "its level; it is never lowered.",
    )
    groups = right.multiselect(
        "Access groups (optional)",
        sorted(access.groups),
        key=f"upload-groups-{_round()}",
        help="When set, only members of one of these groups may see the documents.",
    )
    go = st.button(
        "Add to the library", type="primary", disabled=not files, icon=":material/upload:"
    )
    if not (go and files):
        return
    s = settings()
    names: dict[str, str] = {}
    paths: list[Path] = []
    for f in files:
        try:
            saved = save_upload(s.data_dir, f.name, f.getvalue())
        except LessonsError as exc:
            show_error(exc, f"{f.name} was not kept")
            continue
        names[str(saved.path.resolve())] = f.name
        paths.append(saved.path)
    if not paths:
        return
    bar = st.progress(0.0, text="Starting…")
    total = [len(paths)]
    done = [0]

    def on_start(n: int) -> None:
        total[0] = max(n, 1)

    def progress(outcome: FileOutcome) -> None:
        done[0] += 1
        name = names.get(outcome.path, Path(outcome.path).name)
        bar.progress(min(done[0] / total[0], 1.0), text=f"{done[0]} of {total[0]} · {name}")

    try:
        report = ingest_paths(
            paths,
            s,
            progress=progress,
            on_start=on_start,
            classification=level,
            groups=groups,
            by=access,
        )
    except LessonsError as exc:
        bar.empty()
        show_error(
            exc, f"Nothing was read; the uploaded files are kept in {s.data_dir / 'uploads'}"
        )
        return
    bar.empty()
    st.session_state["last_report"] = (report_summary(report), report_rows(report, names))
    st.session_state["upload_round"] = _round() + 1
    st.rerun()


def last_report() -> None:
    last = st.session_state.get("last_report")
    if not last:
        return
    summary, rows = last
    with st.container(border=True):
        st.markdown("**Ingest report** — " + md_escape(summary))
        st.dataframe(rows, hide_index=True, width="stretch")
        if st.button("Dismiss", type="tertiary"):
            st.session_state.pop("last_report", None)
            st.rerun()


def table_rows(docs: list[DocumentSummary]) -> list[dict[str, Any]]:
    return [
        {
            "Title": d.title,
            "Type": display_doc_type(d.doc_type) if d.doc_type != "other" else "",
            "Date": d.date or "",
            "Missions": ", ".join(d.missions[:4]),
            "A4P areas": ", ".join(label_name(x) for x in d.a4p),
            "Pillars": ", ".join(label_name(x) for x in d.pillars),
            "Passages": d.passages,
            "Classification": LEVEL_NAMES[d.classification]
            + (f" ({', '.join(d.groups)})" if d.groups else ""),
            "Status": "Ready" if d.status == STATUS_READY else "PDF missing",
            "Symbol": d.symbol or "",
            "File": d.file_name,
        }
        for d in docs
    ]


def _ask_delete(doc_id: int) -> None:
    st.session_state["confirm_delete"] = doc_id


def _cancel_delete() -> None:
    st.session_state.pop("confirm_delete", None)


def _delete(doc: DocumentSummary) -> None:
    st.session_state.pop("confirm_delete", None)
    try:
        access = require("librarian")
        with DataDir(settings().data_dir, write=True) as dd:
            gone = delete_document(dd, doc.doc_id, by=access)
    except LessonsError as exc:
        _flash(f"Not deleted: {md_escape(str(exc))}", "error")
    else:
        _flash(f"Deleted “{md_escape(gone.title)}” ({gone.passages_removed} passages).")
    st.session_state["table_round"] = int(st.session_state.get("table_round", 0)) + 1


def confirm_delete(doc: DocumentSummary) -> None:
    """Deleting asks first, in place, naming what goes and what stays."""
    with st.container(border=True):
        st.warning(
            "Delete this document? It leaves search, the dashboard and the review queue. "
            "Briefing packs keep their copy of its excerpts, and the PDF file is not touched.",
            icon=":material/delete:",
        )
        st.text(f"{doc.title}\n{doc.source_path}")
        row = st.container(horizontal=True)
        row.button("Delete", type="primary", key="confirm-delete", on_click=_delete, args=(doc,))
        row.button("Cancel", key="cancel-delete", on_click=_cancel_delete)


def reingest(doc: DocumentSummary) -> None:
    if not Path(doc.source_path).is_file():
        _flash(f"Cannot re-read: the PDF is no longer at {md_escape(doc.source_path)}.", "error")
        return
    with st.spinner("Reading the document again…"):
        try:
            report = ingest_paths(
                [doc.source_path], settings(), force=True, by=require("librarian")
            )
        except LessonsError as exc:
            _flash(f"Not re-read: {md_escape(str(exc))}", "error")
            return
    outcome = report.files[0] if report.files else None
    if outcome and outcome.status == "ok":
        said = "".join(f" {md_escape(n)}." for n in outcome.notes)
        # A review that found no passage to follow is worth a second look, not a green tick.
        kind = "warning" if outcome.reviews_unmatched else "success"
        _flash(f"Re-read “{md_escape(doc.title)}”: {outcome.passages} passages.{said}", kind)
    else:
        reason = outcome.reason if outcome else "nothing was read"
        _flash(
            f"Re-reading failed: {md_escape(reason or '')}. The earlier version is kept.", "error"
        )
    st.session_state["table_round"] = int(st.session_state.get("table_round", 0)) + 1


def documents_section(docs: list[DocumentSummary], librarian: bool) -> None:
    st.subheader(f"Documents ({len(docs)})")
    if not docs:
        st.info(
            "No documents yet. Add PDF reports above; each is read, cut into citable "
            "passages and tagged."
        )
        return
    event = st.dataframe(
        table_rows(docs),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=f"library-table-{st.session_state.get('table_round', 0)}",
        height=min(38 + 35 * len(docs), 640),
        column_config={
            "Title": st.column_config.TextColumn(width="large"),
            "Passages": st.column_config.NumberColumn(width="small"),
            "Status": st.column_config.TextColumn(width="small"),
        },
    )
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if not rows:
        st.caption("Select a row to open, re-read or delete a document.")
        return
    doc = docs[rows[0]]
    cols = st.columns([1, 1, 1, 3], vertical_alignment="center")
    if may_open(PAGE_DOCUMENT):
        cols[0].page_link(
            PAGE_DOCUMENT,
            label="Open",
            icon=":material/article:",
            query_params={"doc": str(doc.doc_id)},
        )
    if not librarian:
        return
    if cols[1].button(
        "Re-read",
        key="reread-doc",
        icon=":material/refresh:",
        help="Read the PDF again (after a tool upgrade, or to refresh its tags).",
    ):
        reingest(doc)
        st.rerun()
    cols[2].button(
        "Delete…",
        icon=":material/delete:",
        key="delete-doc",
        on_click=_ask_delete,
        args=(doc.doc_id,),
    )
    if st.session_state.get("confirm_delete") == doc.doc_id:
        confirm_delete(doc)


def problems_section(lib_problems: list[Any]) -> None:
    if not lib_problems:
        return
    with st.expander(f"Files that could not be read ({len(lib_problems)})"):
        st.dataframe(
            [
                {
                    "File": p.file_name,
                    "Reason": p.reason or p.reason_code or "",
                    "When": nice_date(p.at),
                    "Path": p.source_path,
                }
                for p in lib_problems
            ],
            hide_index=True,
            width="stretch",
        )


def render() -> None:
    access = require()
    librarian = access.has("librarian")
    page_header(
        "Library",
        "Add reports, see what the library holds, and keep it tidy."
        if librarian
        else "What the library holds that you may see.",
    )
    show_flash()
    if librarian:
        with st.container(border=True):
            upload_section(access)
        last_report()
    handle = open_library()
    if handle is None:
        documents_section([], librarian)
        return
    with handle.read() as dd:
        docs = library(dd.store, access)
        problems = ingest_problems(dd.store) if librarian else []
    documents_section(docs, librarian)
    problems_section(problems)


render()
