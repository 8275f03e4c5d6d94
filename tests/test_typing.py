"""mypy over the library with the configuration in pyproject.toml: no error (the types are checked, not
just written)."""

from __future__ import annotations

from pathlib import Path

from mypy import api

REPO = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_error_in_the_library(monkeypatch):
    monkeypatch.chdir(REPO)  # pyproject.toml's [tool.mypy] and paths relative to the repository
    stdout, stderr, status = api.run(["--cache-dir", str(REPO / ".mypy_cache"), "--no-pretty", "--no-error-summary",
                                      "planner"])
    assert status == 0, stdout + stderr
