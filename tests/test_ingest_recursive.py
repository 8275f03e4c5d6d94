"""`planner ingest DIR --recursive`: a sweep's result folders in one call; without it, the directories
inside are named as skipped (and an otherwise empty directory is refused, nothing written)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app, main

LLM = Path(__file__).parent / "datasets" / "llm"


def _ingest(*args: str) -> tuple[int, dict]:
    done = CliRunner().invoke(app, ["ingest", *args, "--json"])
    return done.exit_code, json.loads(done.stdout)


def test_a_directory_of_result_folders_is_read_with_recursive_and_named_without(tmp_path, monkeypatch, capsys):
    tree = tmp_path / "sweep"
    shutil.copytree(LLM / "aiperf", tree / "aiperf")
    shutil.copytree(LLM / "genai-perf", tree / "genai-perf")
    shutil.copytree(LLM / "aiperf", tree / ".cache" / "aiperf")  # hidden: never read
    (tree / "notes.md").write_text("# what we ran\n")
    store = str(tmp_path / "store")
    monkeypatch.setattr(sys, "argv", ["planner", "ingest", str(tree), "--store", store])
    with pytest.raises(SystemExit) as exit_info:
        main()
    shown = capsys.readouterr().err
    assert exit_info.value.code == 1 and len(shown.strip().splitlines()) == 1
    assert "aiperf: a directory (--recursive reads the directories inside)" in shown
    assert not Path(store).exists(), "nothing written"
    code, shown = _ingest(str(tree), "--recursive", "--store", store)
    assert code == 0
    added = sorted((r["format"], r["inputs"][0]) for r in shown["runs"] if r["status"] == "added")
    assert added == [("aiperf-json", "profile_export_aiperf.json"),
                     ("genai-perf-json", "profile_export_genai_perf.json")]
    assert [(r["status"], r["inputs"]) for r in shown["runs"] if r["status"] != "added"] == [
        ("skipped", ["notes.md"])]
    code, again = _ingest(str(tree), "-r", "--store", store)
    assert code == 0 and {r["status"] for r in again["runs"]} == {"present", "skipped"}


def test_every_llm_format_in_the_test_datasets_is_ingested_in_one_recursive_call(tmp_path):
    code, shown = _ingest(str(LLM), "-r", "--store", str(tmp_path / "store"))
    assert code == 0
    formats = {r["format"] for r in shown["runs"] if r["status"] == "added"}
    assert {"sagemaker-suite-csv", "sagemaker-suite-csv-headerless", "fmbench-summary-csv", "vllm-bench-serving-json",
            "sglang-bench-serving-jsonl", "llmperf-summary-json", "guidellm-json", "guidellm-yaml", "genai-perf-json",
            "aiperf-json"} <= formats
    skipped = sorted(r["inputs"][0] for r in shown["runs"] if r["status"] == "skipped")
    assert all(name.endswith((".md", ".json")) for name in skipped) and len(skipped) == 3
