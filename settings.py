"""One settings object. Every setting is declared once, with its default, its environment
variable and its help text; `docs/settings.md` and `cli.py --help` are written from this table."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "LESSONS_"


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting(Path("data"), "Folder holding the SQLite store, FAISS index and manifest.")
    extractor: str = _setting(
        "pdfium", "Text extractor for the character stream: 'pdfium' (fast) or 'pdfplumber'."
    )
    max_file_mb: float = _setting(200.0, "Files larger than this many MiB are refused.")
    file_timeout_s: float = _setting(
        120.0, "Per-file time limit for PDF extraction, in seconds; the file is reported as timed out."
    )
    max_pages: int = _setting(2000, "Pages beyond this number are not read (the file is still ingested).")
    torch_threads: int = _setting(
        1, "Threads torch may use for embeddings; 1 measured fastest on 2-core machines."
    )
    embed_batch_size: int = _setting(32, "Passages per embedding batch.")
    passage_min_words: int = _setting(80, "Passages are merged up to at least this many words.")
    passage_max_words: int = _setting(250, "Passages are split at sentence boundaries above this.")

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
