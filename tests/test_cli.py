"""The command line: instant help with examples, clear usage errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import cli
from settings import Settings, describe
from tests.conftest import ROOT

COMMANDS = [
    "ingest",
    "search",
    "eval",
    "stats",
    "tag",
    "train",
    "eval-tags",
    "reviews",
    "pack",
    "engine",
]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_is_instant_and_has_an_example(command: str | None) -> None:
    argv = [sys.executable, "cli.py", *([command] if command else []), "--help"]
    start = time.perf_counter()
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert time.perf_counter() - start < 1.0
    assert "Example:" in out


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, runpy; sys.argv=['cli.py','--help']\n"
        "try: runpy.run_path('cli.py', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('torch','spacy','faiss','sentence_transformers','pdfplumber')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ingest", str(tmp_path / "nope"), "--data-dir", str(tmp_path / "d")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_search_without_data_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["search", "DDR", "--data-dir", str(tmp_path / "none")]) == 1
    assert "ingest documents first" in capsys.readouterr().err


def test_settings_come_from_environment_and_flags(tmp_path: Path) -> None:
    s = Settings.from_env({"LESSONS_DATA_DIR": str(tmp_path), "LESSONS_FILE_TIMEOUT_S": "5"})
    assert s.data_dir == tmp_path and s.file_timeout_s == 5.0
    assert Settings.from_env({"LESSONS_DATA_DIR": "x"}, data_dir=tmp_path).data_dir == tmp_path
    with pytest.raises(ValueError, match="LESSONS_MAX_PAGES"):
        Settings.from_env({"LESSONS_MAX_PAGES": "many"})


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text()
    for env, _default, _help in describe():
        assert env in doc
