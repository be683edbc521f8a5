"""The exception tree of the project. Errors become one-line messages only at the edges.

LessonsError
├── IngestError               a file could not be ingested; `.reason` is a stable code
│   ├── NotAPdf               the bytes are not a PDF
│   ├── EmptyFile             zero bytes, or a PDF with no pages
│   ├── EncryptedPdf          needs a password, or the password given is wrong
│   ├── DamagedPdf            the PDF structure cannot be read
│   ├── NoTextLayer           pages are images only (a scan): nothing to read without OCR
│   ├── FileTooLarge          above the configured size limit
│   └── ExtractionTimeout     extraction ran past the per-file time limit (or crashed the reader)
├── DataDirError              the data folder is unusable (unwritable, newer format, locked)
├── ModelUnavailable          an installed model package is missing
├── TaggerError               the tagger cannot be trained or used (e.g. no reviewed labels)
├── SearchError               a search that cannot run as asked (unreadable filter, unknown passage)
├── EngineError               the search engine server failed a request (says which, and why)
│   ├── EngineUnavailable     it cannot be reached at the configured address
│   └── EngineStale           it is behind the library (or never held it): `engine sync` catches up
├── ReviewError               a review cannot be saved as asked (unknown passage or label)
│   └── ReviewConflict        another reviewer changed the labels since they were shown
├── PackError                 a briefing pack operation is not possible (name taken, no such
│   │                         pack or item, passage already in the pack)
│   └── DuplicateItem         the passage is already in the pack
├── ExportError               a briefing pack cannot be exported (unknown format, no font)
├── DocumentNotFound          a document or passage id is not (or no longer) in the library
├── PageRenderError           a PDF page cannot be shown (file gone, page out of range)
├── UploadError               an uploaded file cannot be kept (bad name, unwritable folder)
├── AccountError              an account cannot be created or changed as asked (bad name,
│                             unknown role or level, name taken)
├── SignInError               a sign-in was refused (wrong name or password, disabled, locked)
│   └── AccountLocked         too many failed attempts: locked until a given time
└── PermissionDenied          the signed-in user's roles do not allow the action
"""

from __future__ import annotations


class LessonsError(Exception):
    """Base class of every error this project raises on purpose."""


class IngestError(LessonsError):
    """A file could not be ingested. `reason` is a stable machine-readable code."""

    reason = "failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAPdf(IngestError):
    reason = "not_a_pdf"


class EmptyFile(IngestError):
    reason = "empty"


class EncryptedPdf(IngestError):
    reason = "encrypted"


class DamagedPdf(IngestError):
    reason = "damaged"


class NoTextLayer(IngestError):
    reason = "no_text_layer"


class FileTooLarge(IngestError):
    reason = "too_large"


class ExtractionTimeout(IngestError):
    reason = "timeout"


INGEST_ERRORS: dict[str, type[IngestError]] = {
    cls.reason: cls
    for cls in (
        NotAPdf,
        EmptyFile,
        EncryptedPdf,
        DamagedPdf,
        NoTextLayer,
        FileTooLarge,
        ExtractionTimeout,
    )
}


class DataDirError(LessonsError):
    """The data folder cannot be used as it is."""


class ModelUnavailable(LessonsError):
    """A model package the project depends on is not installed."""


class TaggerError(LessonsError):
    """The tagger cannot be trained or applied."""


class DocumentNotFound(LessonsError):
    """A document or passage id is not in the library (never was, or was deleted since)."""


class OcrUnavailable(LessonsError):
    """Scanned pages cannot be read: Tesseract or its English data is not installed."""


class PageRenderError(LessonsError):
    """A PDF page cannot be rendered: the file moved, the page does not exist, or it is
    unreadable."""


class UploadError(LessonsError):
    """An uploaded file cannot be saved into the data folder."""


class SearchError(LessonsError):
    """A search that cannot be run as asked (an unreadable filter, an unknown passage)."""


class EngineError(LessonsError):
    """The search engine server (Milvus) failed a request. The library of record is untouched:
    what it committed stays, and `python cli.py engine sync` brings the engine up to date."""


class EngineUnavailable(EngineError):
    """The search engine cannot be reached at the configured address (down, wrong address)."""


class EngineStale(EngineError):
    """The search engine does not reflect the library (a write it missed, or it never held this
    library): searching it would return wrong results, so nothing is searched."""


class ReviewError(LessonsError):
    """A review cannot be saved as asked: unknown passage, axis or label, no reviewer name."""


def _conflict_message(
    subject: str,
    current: dict[str, list[str]],
    changed_by: str | None,
    changed_at: str | None,
    no_reviewer: str,
) -> str:
    """What a reviewer whose save was refused reads: who changed what, when, and what now."""
    when = f" at {changed_at}" if changed_at else ""
    who = f"by {changed_by}{when}" if changed_by else no_reviewer
    shown = "; ".join(f"{axis}: {', '.join(x) or 'none'}" for axis, x in current.items())
    return (
        f"{subject} were changed {who} after they were shown to you (now {shown}); nothing "
        "was saved: look again, then save to overwrite"
    )


class ReviewConflict(ReviewError):
    """The labels of an axis changed since the reviewer was shown them: nothing was stored.

    `current` holds the labels now in force per conflicting axis, `changed_by` and `changed_at`
    who saved them and when (UTC), `event_id` the latest review event of the passage: re-submit
    with `expected=conflict.current, seen_event=conflict.event_id` to overwrite on purpose."""

    def __init__(
        self,
        passage_id: int,
        current: dict[str, list[str]],
        changed_by: str | None,
        changed_at: str | None,
        event_id: int,
    ) -> None:
        super().__init__(
            _conflict_message(
                f"the labels of passage {passage_id}",
                current,
                changed_by,
                changed_at,
                "by the retrained tagger",
            )
        )
        self.passage_id = passage_id
        self.current = current
        self.changed_by = changed_by
        self.changed_at = changed_at
        self.event_id = event_id


class DocumentReviewConflict(ReviewError):
    """A document's own tags on an axis changed since the reviewer was shown them: nothing was
    stored. `current` holds the tags now in force per conflicting axis; re-submit with
    `expected=conflict.current` to overwrite on purpose."""

    def __init__(
        self,
        doc_id: int,
        current: dict[str, list[str]],
        changed_by: str | None,
        changed_at: str | None,
    ) -> None:
        super().__init__(
            _conflict_message(
                f"the tags of document {doc_id}",
                current,
                changed_by,
                changed_at,
                "as its passages were retagged",
            )
        )
        self.doc_id = doc_id
        self.current = current
        self.changed_by = changed_by
        self.changed_at = changed_at


class PackError(LessonsError):
    """A briefing pack operation is not possible as asked."""


class DuplicateItem(PackError):
    """The passage is already in the pack (packs hold each text once)."""


class ExportError(LessonsError):
    """A briefing pack cannot be exported."""


class AccountError(LessonsError):
    """An account cannot be created or changed as asked."""


class SignInError(LessonsError):
    """A sign-in was refused. The message never says whether the name exists."""


class AccountLocked(SignInError):
    """Too many failed sign-ins: the account is locked until `until` (UTC, ISO 8601)."""

    def __init__(self, until: str) -> None:
        super().__init__(
            f"too many failed attempts: this account is locked until {until[11:16]} UTC; "
            "try again then, or ask an administrator"
        )
        self.until = until


class PermissionDenied(LessonsError):
    """The user's roles do not allow this action (checked in the library, not only the UI)."""
