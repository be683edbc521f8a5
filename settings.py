"""One settings object. Every setting is declared once, with its default, its environment
variable and its help text; `docs/settings.md` and `cli.py --help` are written from this table."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "LESSONS_"


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting(
        Path("data"), "Folder holding the SQLite store, FAISS index and manifest."
    )
    engine: str = _setting(
        "local",
        "Search engine: 'local' (FAISS + bm25s files in the data folder) or the address of a "
        "Milvus server (2.5 or later), e.g. http://127.0.0.1:19530 (also https://, tcp://, "
        "grpc://); fill or repair it with `python cli.py engine sync`. `--engine` sets it for "
        "one command.",
    )
    engine_token: str = _setting(
        "",
        "Credentials for a Milvus server that asks for them: 'user:password', or an API key.",
    )
    extractor: str = _setting(
        "pdfium", "Text extractor for the character stream: 'pdfium' (fast) or 'pdfplumber'."
    )
    max_file_mb: float = _setting(200.0, "Files larger than this many MiB are refused.")
    file_timeout_s: float = _setting(
        300.0,
        "Per-file time limit for PDF extraction (OCR included), in seconds; the file is reported "
        "as timed out.",
    )
    ocr: bool = _setting(
        True,
        "Read scanned pages (images without a text layer) with Tesseract, when it is installed "
        "(Debian package tesseract-ocr; `make setup` installs it).",
    )
    ocr_max_pages: int = _setting(
        50, "Scanned pages read by OCR per file, at most (each takes about 2.5 s on one core)."
    )
    max_pages: int = _setting(
        2000, "Pages beyond this number are not read (the file is still ingested)."
    )
    torch_threads: int = _setting(
        2,
        "Threads the encoder (ONNX Runtime or torch) may use for embeddings; on 2 cores, 2 "
        "threads measured 1.57x faster than 1 (benchmarks/embed_threads.py).",
    )
    encoder: str = _setting(
        "auto",
        "Embedding runtime: 'onnx' (the int8 MiniLM built at set-up; 2.2x torch's speed), "
        "'torch' (fp32 sentence-transformers) or 'auto' (onnx when built, else torch with a "
        "one-line notice).",
    )
    encoder_dir: str = _setting(
        "",
        "Folder of the ONNX encoder that `python cli.py encoder build` (run by `make setup`) "
        "writes; empty: share/lessons/encoder-minilm-int8 inside the Python environment.",
    )
    embed_batch_size: int = _setting(32, "Passages per embedding batch.")
    passage_min_words: int = _setting(80, "Passages are merged up to at least this many words.")
    passage_max_words: int = _setting(250, "Passages are split at sentence boundaries above this.")
    auto_retrain_after: int = _setting(
        20,
        "The app retrains the tagger by itself once this many review corrections were saved "
        "since the last model; 0 turns automatic retraining off.",
    )

    default_classification: str = _setting(
        "unclassified",
        "Level of a document ingested without one (unclassified, confidential or "
        "strictly_confidential); a marking on the PDF's first page raises it, never lowers it.",
    )
    session_hours: float = _setting(
        8.0, "An app session ends after this many hours without activity."
    )
    lockout_failures: int = _setting(
        5, "Failed sign-ins in a row that lock an account (for `lockout_minutes`)."
    )
    lockout_minutes: float = _setting(15.0, "How long a locked account stays locked.")
    sso_create_accounts: bool = _setting(
        True,
        "Single sign-on creates an account on first sign-in (with `sso_role` and "
        "`sso_clearance`); off: only e-mail addresses of existing accounts may sign in.",
    )
    sso_role: str = _setting("officer", "Roles of an account created by single sign-on.")
    sso_clearance: str = _setting(
        "unclassified", "Clearance of an account created by single sign-on."
    )

    @property
    def encoder_folder(self) -> Path:
        if self.encoder_dir:
            return Path(self.encoder_dir)
        return Path(sys.prefix) / "share" / "lessons" / "encoder-minilm-int8"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `LESSONS_*` environment variables, then explicit overrides (CLI flags)."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, raw, f.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        return replace(cls(), **values)


def _parse(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid value") from exc
    return raw


def describe() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) for every setting."""
    return [
        (ENV_PREFIX + f.name.upper(), str(f.default), f.metadata["help"]) for f in fields(Settings)
    ]


def markdown_table() -> str:
    rows = ["| Environment variable | Default | Meaning |", "|---|---|---|"]
    rows += [f"| `{env}` | `{default}` | {help} |" for env, default, help in describe()]
    return "\n".join(rows)


if __name__ == "__main__":
    print("# Settings\n")
    print("Every setting has a default, can be set by environment variable, and the data folder")
    print("also by `--data-dir`. Generated by `python settings.py > docs/settings.md`.\n")
    print(markdown_table())
