"""Files uploaded through the app are kept under `<data folder>/uploads/` before they are
ingested, and stay there whatever the ingest says: a failed file can be retried or inspected,
never silently lost."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from errors import UploadError

UPLOADS_DIR = "uploads"
_UNSAFE = re.compile(r"[^\w.\- ()]+")


@dataclass(frozen=True)
class SavedUpload:
    name: str  # the name the user gave
    path: Path  # where it is kept
    reused: bool  # the same bytes were already kept under that name


def safe_name(name: str) -> str:
    """A file name that cannot leave the uploads folder: no folders, no leading dots, .pdf."""
    base = Path(name.replace("\\", "/")).name
    base = _UNSAFE.sub("_", base).strip(" .")
    if not base:
        raise UploadError(f"{name!r} is not a usable file name")
    _stem, dot, ext = base.rpartition(".")
    if not dot or ext.lower() != "pdf":
        base = base + ".pdf"
    return base[-200:]


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_upload(data_dir: Path, name: str, data: bytes) -> SavedUpload:
    """Keep `data` as `<data_dir>/uploads/<name>`. A different file already under that name is
    never overwritten: the new one gets a numbered name ("report (2).pdf")."""
    folder = Path(data_dir) / UPLOADS_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UploadError(f"cannot create {folder}: {exc.strerror}") from None
    wanted = safe_name(name)
    digest = hashlib.sha256(data).hexdigest()
    stem, ext = wanted[: -len(".pdf")], wanted[-len(".pdf") :]
    n = 1
    while True:
        target = folder / (wanted if n == 1 else f"{stem} ({n}){ext}")
        if not target.exists():
            break
        if target.is_file() and _digest(target) == digest:
            return SavedUpload(name, target, reused=True)
        n += 1
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with open(part, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, target)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise UploadError(f"cannot save {wanted} in {folder}: {exc.strerror}") from None
    return SavedUpload(name, target, reused=False)
