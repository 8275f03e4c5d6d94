"""`planner runs show`: the run's summary (requests, failures, duration, load levels) and its steps, through
the real CLI on a real Locust run (louskac/deep-vision: 10 → 100 users, 58,982 requests, none failed)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.steps import for_run
from planner.store import RunStore

PREFIX = "louskac_deep-vision__results_"


def _ingest(store, *paths) -> str:
    result = CliRunner().invoke(app, ["ingest", *map(str, paths), "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.stdout)["runs"]
    return run["run_id"]


@pytest.fixture(scope="module")
def deep_vision(datasets, tmp_path_factory):
    root = tmp_path_factory.mktemp("deep-vision")
    for part in ("stats", "stats_history", "failures", "exceptions"):
        shutil.copy(datasets / "locust" / f"{PREFIX}{part}.csv", root / f"results_{part}.csv")
    store = root / "store"
    return store, _ingest(store, root)


def test_show_json_has_the_runs_summary_and_its_steps(deep_vision):
    store, run_id = deep_vision
    result = CliRunner().invoke(app, ["runs", "show", run_id[:8], "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["run_id"] == run_id and "inputs" in shown["run"], "what it showed before is still there"
    summary = shown["summary"]
    assert summary["request_count"] == 58_982 and summary["failure_count"] == 0  # Locust's Aggregated totals
    assert summary["failure_rate"] == 0.0 and summary["totals_from"] == "requests"
    assert summary["duration_s"] == 25.0  # 07:47:22 → 07:47:47
    assert (summary["load_levels"], summary["load_users_min"], summary["load_users_max"]) == (10, 10.0, 100.0)
    steps = for_run(RunStore(str(store)), run_id)
    assert [s["step"] for s in shown["steps"]] == steps["step"].tolist()
    assert [s["throughput_rps"] for s in shown["steps"]] == pytest.approx(steps["throughput_rps"].tolist())
    assert [s["latency_mean_ms"] for s in shown["steps"]] == pytest.approx(steps["latency_mean_ms"].tolist())
    assert all("cumulative_percentiles" in s["flags"] for s in shown["steps"])
    assert "latency_p99_ms" not in shown["steps"][0], "a cumulative history has no per-step p99"


def test_show_table_prints_the_summary_and_the_steps_with_units(deep_vision):
    store, run_id = deep_vision
    result = CliRunner().invoke(app, ["runs", "show", run_id, "--store", str(store)], terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = {line.split("  ")[0]: line.split("  ", 1)[-1].strip() for line in result.stdout.splitlines()}
    assert lines["requests"] == "58,982" and lines["failures"] == "0" and lines["failure rate"] == "0.00%"
    assert lines["duration (s)"] == "25.0" and lines["load levels"] == "10 (10–100 users)"
    assert "throughput (rps)" in result.stdout and "latency mean (ms)" in result.stdout
    assert "2,663.3" in result.stdout, "step 0's throughput, formatted (7,990 requests in the first 3 s bin)"


def test_summary_counts_a_restarted_masters_history_and_its_failures(datasets, tmp_path):
    """No final totals, a counter reset: requests are both segments' last counts, not the last row's."""
    history = pd.read_csv(datasets / "locust" / f"{PREFIX}stats_history.csv")
    again = history.iloc[1:11].copy()
    again["Timestamp"] += 30
    again["Total Failure Count"] = range(10, 110, 10)
    path = tmp_path / "restarted_stats_history.csv"
    pd.concat([history, again]).to_csv(path, index=False)
    run_id = _ingest(tmp_path / "store", path)
    result = CliRunner().invoke(app, ["runs", "show", run_id, "--store", str(tmp_path / "store"), "--json"])
    summary = json.loads(result.stdout)["summary"]
    requests = int(history["Total Request Count"].iloc[-1] + again["Total Request Count"].iloc[-1])
    assert (summary["request_count"], summary["failure_count"]) == (requests, 100)
    assert summary["failure_rate"] == pytest.approx(100 / requests) and summary["totals_from"] == "history"


# ------------------------------------------------------------------ LLM runs (table llm_steps)

LLM = "llm/sagemaker-benchmark-suite/kimi-k2.5_p5e_p5e48xlarge_multiturn_chat_uswest2_20260310_185604.csv"


def test_show_counts_an_llm_runs_levels_requests_and_failures(datasets, tmp_path):
    """A suite CSV: 6 closed-loop levels (1 … 32 in flight), 30 requests each, none failed."""
    store = tmp_path / "store"
    run_id = _ingest(store, datasets / LLM)
    result = CliRunner().invoke(app, ["runs", "show", run_id, "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    assert (summary["load_levels"], summary["load_users_min"], summary["load_users_max"]) == (6, 1.0, 32.0)
    assert (summary["request_count"], summary["failure_count"], summary["failure_rate"]) == (180, 0, 0.0)
    assert summary["totals_from"] == "llm_steps" and summary["load_rate_min_rps"] is None
    table = CliRunner().invoke(app, ["runs", "show", run_id, "--store", str(store)], terminal_width=200).stdout
    assert "load levels      6 (1–32 users)" in table and "fitted by `planner llm fit`" in table
    assert "no steps" not in table


def _llm_summaries(store, path) -> list[dict]:
    done = CliRunner().invoke(app, ["ingest", str(path), "--store", str(store), "--json"])
    assert done.exit_code == 0, done.output
    return [json.loads(CliRunner().invoke(app, ["runs", "show", run["run_id"], "--store", str(store), "--json"])
                       .stdout)["summary"] for run in json.loads(done.stdout)["runs"]]


def test_show_gives_an_open_loop_llm_runs_offered_rates(datasets, tmp_path):
    """SGLang bench_serving JSONL: the llama 3.3 70B run offered 1, 2, 4, 8 and 16 req/s (300 … 3,200 requests);
    the tool does not count failures, so neither does the summary."""
    summaries = _llm_summaries(tmp_path / "store", datasets / "llm" / "sglang-bench-serving" /
                               "llama_3_3_70b_online_output.jsonl")
    five = next(s for s in summaries if s["load_levels"] == 5)
    assert (five["load_rate_min_rps"], five["load_rate_max_rps"]) == (1.0, 16.0)
    assert five["request_count"] == 300 + 600 + 1200 + 2400 + 3200 and five["totals_from"] == "llm_steps"
    assert five["failure_count"] is None and five["failure_rate"] is None and five["load_users_min"] is None


def test_an_all_at_once_llm_level_has_no_rate(datasets, tmp_path):
    """vLLM --save-result at request rate inf (all 12 requests sent at once): one level, no offered rate."""
    (summary,) = _llm_summaries(tmp_path / "store", datasets / "llm" / "derived" /
                                "serving_meta-llama-Llama-3.3-70B-Instruct_tp8_pp1_sharegpt_qps_inf.json")
    assert summary["load_levels"] == 1 and summary["request_count"] == 12
    assert summary["load_rate_min_rps"] is None and summary["load_rate_max_rps"] is None
