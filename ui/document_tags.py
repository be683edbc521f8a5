"""Correcting a document's own tags on the document page. A document's tags are derived from
its passages (`index.browse.DOCUMENT_TAG_RULE`); a reviewer may set them instead, per axis,
or hand an axis back to the passages. Saving is conflict-checked like a passage review: what the
reviewer was shown is kept in the session and sent as `expected`, so nothing is overwritten
unseen and nothing typed is lost on a conflict."""

from __future__ import annotations

import streamlit as st

from errors import DocumentReviewConflict, LessonsError
from index.browse import DOCUMENT_TAG_RULE
from index.reviews import review_document
from nlp.labels import AXES, slugs
from ui.auth import current_access
from ui.common import label_name, nice_time, open_library

SHOWN = "doc_tags_shown"  # doc id -> the tags shown per axis when the editor was drawn
AXIS_NAMES = {"a4p": "A4P areas", "pillars": "Partnership pillars"}


def _key(axis: str, doc_id: int) -> str:
    return f"doc-tags-{axis}-{doc_id}"


def _save(doc_id: int, derive: tuple[str, ...] = (), overwrite: bool = False) -> None:
    """Store the document's tags; a conflict is kept for the page to show."""
    library = open_library()
    access = current_access()
    if library is None or access is None:
        return
    conflict = st.session_state.get("doc_tags_conflict")
    if overwrite and conflict and conflict["doc_id"] == doc_id:
        shown, wanted, derive = conflict["current"], conflict["wanted"], conflict["derive"]
    else:
        shown = st.session_state.get(SHOWN, {}).get(doc_id)
        wanted = {axis: list(st.session_state.get(_key(axis, doc_id)) or []) for axis in AXES}
    if shown is None:
        st.session_state["doc_tags_error"] = "Reload the document before saving."
        return
    give = {axis: None if axis in derive else wanted[axis] for axis in AXES}
    try:
        with library.write() as store:
            review_document(
                store,
                doc_id,
                a4p=give["a4p"],
                pillars=give["pillars"],
                derive=derive,
                reviewer=access,
                expected=shown,
            )
    except DocumentReviewConflict as exc:
        st.session_state["doc_tags_conflict"] = {
            "doc_id": doc_id,
            "current": {**shown, **exc.current},
            "message": str(exc),
            "wanted": wanted,
            "derive": derive,
        }
        return
    except LessonsError as exc:
        st.session_state["doc_tags_error"] = str(exc)
        return
    st.session_state.pop("doc_tags_conflict", None)
    for axis in AXES:
        st.session_state.pop(_key(axis, doc_id), None)
    st.toast(
        "Document tags derived from the passages again." if derive else "Document tags saved.",
        icon=":material/check:",
    )


def editor(doc_id: int, tags: dict[str, list[str]], own: dict[str, tuple]) -> None:
    """The expander with the document's tags per axis: who set them, or how they are derived,
    and the fields to change them. `own` is `Store.document_reviews(doc_id)`."""
    shown = st.session_state.setdefault(SHOWN, {})
    # What the fields started from: kept while they hold the reviewer's unsaved choice, so a
    # change saved meanwhile by someone else shows up as a conflict instead of being overwritten.
    if doc_id not in shown or any(_key(axis, doc_id) not in st.session_state for axis in AXES):
        shown[doc_id] = {axis: list(tags[axis]) for axis in AXES}
    with st.expander("Correct this document's tags", expanded=bool(own)):
        for axis in AXES:
            if axis in own:
                _, who, at = own[axis]
                st.caption(
                    f"{AXIS_NAMES[axis]}: set by {who or 'a reviewer'}"
                    + (f" on {nice_time(at)}" if at else "")
                )
            else:
                st.caption(
                    f"{AXIS_NAMES[axis]}: derived from the passages ({DOCUMENT_TAG_RULE})"
                )
            st.multiselect(
                AXIS_NAMES[axis],
                list(slugs(axis)),
                default=tags[axis],
                format_func=label_name,
                key=_key(axis, doc_id),
                placeholder="None apply",
            )
        row = st.container(horizontal=True)
        row.button(
            "Save document tags",
            key=f"doc-tags-save-{doc_id}",
            type="primary",
            on_click=_save,
            args=(doc_id,),
        )
        if own:
            row.button(
                "Derive from the passages again",
                key=f"doc-tags-derive-{doc_id}",
                on_click=_save,
                args=(doc_id, tuple(axis for axis in AXES if axis in own)),
            )
        error = st.session_state.pop("doc_tags_error", None)
        if error:
            st.error(error)
        conflict = st.session_state.get("doc_tags_conflict")
        if conflict and conflict["doc_id"] == doc_id:
            st.warning(conflict["message"])
            st.button(
                "Save mine instead",
                key=f"doc-tags-overwrite-{doc_id}",
                on_click=_save,
                args=(doc_id, (), True),
            )
