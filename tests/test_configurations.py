"""Configurations split by user labels, unfitted configurations listed with their reasons, and
recommendations ranked within each served model: through the CLI on real ingested Locust files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.capacity import (
    RUN_LABELS,
    configurations,
    fit_collection_steps,
    fit_store,
    is_setup_label,
    with_setup_labels,
)
from planner.cli import app
from planner.fit_cache import FitCache
from planner.store import RunStore
from tests.synth import history_table

# user labels (variant differs, team is shared) and labels planner's collectors write (all differ)
RUNS = {
    "a": (0, ["--instance-type", "ml.g4dn.xlarge", "--model", "resnet50", "--label", "variant=a", "--label", "team=x"]),
    "b": (1, ["--instance-type", "ml.g4dn.xlarge", "--model", "resnet50", "--label", "variant=b", "--label", "team=x"]),
    "c": (2, ["--instance-type", "ml.m5.xlarge", "--model", "small-cpu", "--label", "team=y",
              "--label", "generator_saturated_users=100", "--label", "target_url=http://10.0.0.1:8080",
              "--label", "serve_local_workers=4", "--label", "stop_reason=shape-complete"]),
    "d": (3, ["--instance-type", "ml.m5.xlarge", "--model", "small-cpu", "--label", "team=y",
              "--label", "generator_saturated_users=90,100", "--label", "target_url=http://10.0.0.2:8080",
              "--label", "serve_local_workers=8", "--label", "stop_reason=max-duration"]),
}


def _history(path: Path, seed: int, rows: int = 600, level_s: int = 60) -> Path:
    """A synthetic Locust history (tests/synth.py) whose user count steps every ``level_s`` seconds."""
    table = history_table(rows, seed)
    if level_s != 60:
        users = pa.array((10 * (1 + np.arange(rows) // level_s)).astype(np.int64))
        table = table.set_column(table.schema.get_field_index("User Count"), "User Count", users)
    pacsv.write_csv(table, path)
    return path


def _ingest(store: str, path: Path, args: list[str]) -> None:
    done = CliRunner().invoke(app, ["ingest", str(path), "--store", store, *args])
    assert done.exit_code == 0, done.output


def _short_run(root: Path, store: str) -> None:
    """60 s of six 10 s levels: shorter in all than the ``--min-step-s 120`` (``STRICT``) the tests ask for,
    so the levels merge into one bin that is still too short."""
    _ingest(store, _history(root / "short_stats_history.csv", seed=4, rows=60, level_s=10),
            ["--instance-type", "ml.c5.large", "--model", "tiny"])


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("configs")
    store = str(root / "store")
    for name, (seed, args) in RUNS.items():
        _ingest(store, _history(root / f"{name}_stats_history.csv", seed), args)
    _short_run(root, store)
    return store


STRICT = ("--min-step-s", "120")


def _fit_json(*args: str) -> dict:
    done = CliRunner().invoke(app, ["fit", *args, "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_runs_with_different_user_labels_are_different_configurations(store_path):
    data = _fit_json("--store", store_path, "--config", "g4dn")
    by_label = {c["label"]: c for c in data["configs"]}
    assert set(by_label) == {"ml.g4dn.xlarge / resnet50 / variant=a", "ml.g4dn.xlarge / resnet50 / variant=b"}
    a = by_label["ml.g4dn.xlarge / resnet50 / variant=a"]
    assert a["config"]["setup_labels"] == {"variant": "a"}  # team=x is shared: it splits nothing
    assert a["config"]["labels"] == {"team": "x", "variant": "a"}
    assert len(a["run_ids"]) == 1 and a["run_ids"] != by_label["ml.g4dn.xlarge / resnet50 / variant=b"]["run_ids"]
    (only_b,) = _fit_json("--store", store_path, "--config", "variant=b")["configs"]
    assert only_b["label"].endswith("variant=b")


def test_labels_planner_sets_do_not_split_a_configuration(store_path):
    (small,) = _fit_json("--store", store_path, "--config", "ml.m5.xlarge")["configs"]
    assert small["label"] == "ml.m5.xlarge / small-cpu" and len(small["run_ids"]) == 2
    assert small["config"]["setup_labels"] == {} and small["config"]["labels"] == {"team": "y"}
    # the saturated-generator labels still flag their steps: 100 users in both runs, 90 in one
    assert small["n_steps"] == 20 and small["n_steps_used"] == 17


def test_unfitted_lists_a_run_of_only_too_short_steps_with_reason_and_flag_counts(store_path):
    data = _fit_json("--store", store_path, *STRICT)
    (short,) = data["unfitted"]
    assert short["label"] == "ml.c5.large / tiny" and len(short["run_ids"]) == 1
    assert short["n_steps"] == 1
    assert short["excluded_by_flag"] == {"too_short": 1, "errors": 0, "generator_saturated": 0}
    assert "1 of 1 steps excluded as too_short" in short["reason"]
    assert "latency model not fitted" in short["reason"]
    assert "ml.c5.large / tiny" not in [c["label"] for c in data["configs"]]  # only with --all
    assert "ml.c5.large / tiny" in [c["label"] for c in _fit_json("--store", store_path, "--all", *STRICT)["configs"]]
    table = CliRunner().invoke(app, ["fit", "--store", store_path, *STRICT])
    assert table.exit_code == 0
    (line,) = [s for s in table.stdout.splitlines() if s.startswith("not fitted:")]
    assert line.startswith("not fitted: ml.c5.large / tiny (1 step; too_short 1; runs ")
    assert "latency model not fitted" in line


def test_fit_with_nothing_fitted_exits_0_and_says_why(tmp_path):
    store = str(tmp_path / "store")
    _short_run(tmp_path, store)
    done = CliRunner().invoke(app, ["fit", "--store", store, *STRICT])
    assert done.exit_code == 0
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "None of the 1 configurations could be fitted:"
    assert len(lines) == 2 and lines[1].startswith("not fitted: ml.c5.large / tiny (1 step; too_short 1;")
    data = _fit_json("--store", store, *STRICT)
    assert data["configs"] == [] and [u["label"] for u in data["unfitted"]] == ["ml.c5.large / tiny"]


# (instance type, model, label, service time s, servers): M/M/c queues measured at 10%..90% of saturation
QUEUES = [("ml.g4dn.xlarge", "resnet50", "variant=a", 0.050, 4), ("ml.g4dn.xlarge", "resnet50", "variant=b", 0.040, 4),
          ("ml.m5.xlarge", "small-cpu", "variant=a", 0.010, 2), ("ml.c5.xlarge", "small-cpu", "variant=a", 0.008, 2)]


def _queue_points(path: Path, service_s: float, servers: int) -> Path:
    """A points CSV of an M/M/c queue's exact mean and percentiles at 10%..90% of its saturation."""
    from planner.queueing import mmc_mean_response_s, mmc_response_quantile_s

    loads = np.linspace(0.1, 0.9, 9) * servers / service_s
    frame = pd.DataFrame({"throughput_rps": loads,
                          "latency_mean_ms": [1000 * mmc_mean_response_s(x, service_s, servers) for x in loads]})
    frame.insert(0, "concurrency", frame["throughput_rps"] * frame["latency_mean_ms"] / 1000)
    for p in (50, 90, 95, 99):
        frame[f"latency_p{p}_ms"] = [1000 * mmc_response_quantile_s(p / 100, x, service_s, servers) for x in loads]
    frame.to_csv(path, index=False)
    return path


def _queues_store(root: Path, queues) -> str:
    store = str(root / "store")
    for i, (instance_type, model, label, service_s, servers) in enumerate(queues):
        _ingest(store, _queue_points(root / f"q{i}.csv", service_s, servers),
                ["--format", "points", "--instance-type", instance_type, "--model", model, "--label", label])
    return store


def _recommend(store: str, *args: str, as_json: bool = True):
    done = CliRunner().invoke(app, ["recommend", "--store", store, "--target-tps", "100", "--p99", "500ms", *args,
                                    *(["--json"] if as_json else [])], terminal_width=250)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout) if as_json else done.stdout


def test_recommend_with_two_models_says_so_and_ranks_within_each(tmp_path):
    store = _queues_store(tmp_path, QUEUES)
    data = _recommend(store)
    assert data["models"] == ["small-cpu", "resnet50"]  # the model with the cheapest option first
    note = "options serve 2 different models: small-cpu, resnet50; ranked within each model"
    assert data["notes"] == [note]
    assert len(data["options"]) == 4 and {o["served_model"] for o in data["options"]} == {"small-cpu", "resnet50"}
    assert {o["model"] for o in data["options"]} <= {"queueing", "isotonic"}  # still the latency model's name
    costs = [o["usd_per_month"] for o in data["options"]]
    assert costs == sorted(costs)
    # --top is per model: the cheapest of each
    top = _recommend(store, "--top", "1")["options"]
    assert [o["served_model"] for o in top] == ["small-cpu", "resnet50"]
    assert [o["label"] for o in top] == [next(o["label"] for o in data["options"] if o["served_model"] == m)
                                         for m in ("small-cpu", "resnet50")]
    table = _recommend(store, as_json=False)
    assert f"Note: {note}." in table
    header = next(line for line in table.splitlines() if line.startswith("┃ #"))
    assert [c.strip() for c in header.split("┃")[1:3]] == ["#", "model"]
    rows = [[c.strip() for c in line.split("│")[1:4]] for line in table.splitlines() if line.startswith("│ ")]
    rows = [r for r in rows if r[0]]  # first lines of the table rows
    assert [r[1] for r in rows] == ["small-cpu", "small-cpu", "resnet50", "resnet50"]
    assert [r[0] for r in rows] == ["1", "2", "1", "2"], "ranks restart within each model"


def test_options_with_no_recorded_model_rank_with_the_one_recorded_model(tmp_path):
    """An endpoint name is not a model: a run without --model does not split the ranking from one with it."""
    store = _queues_store(tmp_path, QUEUES[:1])
    _ingest(store, _queue_points(tmp_path / "unnamed.csv", 0.010, 2),
            ["--format", "points", "--instance-type", "ml.m5.xlarge", "--endpoint", "prod-endpoint"])
    data = _recommend(store)
    assert data["models"] == ["resnet50"] and len(data["options"]) == 2
    assert [o["served_model"] for o in data["options"]] == [None, "resnet50"]  # cheapest first, one ranking
    assert data["notes"] == ["1 of 2 options have no recorded model (ingest with --model): ranked together "
                             "with resnet50"]
    assert len(_recommend(store, "--top", "1")["options"]) == 1


def test_recommend_with_one_model_has_no_note_and_no_model_column(tmp_path):
    store = _queues_store(tmp_path, QUEUES[:2])
    data = _recommend(store)
    assert data["models"] == ["resnet50"] and data["notes"] == [] and len(data["options"]) == 2
    assert _recommend(store, "--top", "1")["options"] == data["options"][:1]
    table = _recommend(store, as_json=False)
    header = next(line for line in table.splitlines() if line.startswith("┃ #"))
    assert "model" not in header and "Note:" not in table


def test_labels_planner_collectors_write_are_all_run_labels():
    from planner.collect.endpoint import EndpointSettings
    from planner.collect.load import CollectResult, StairsShape, run_labels

    base = dict(url="http://127.0.0.1:1", shape=StairsShape((1, 2), 30.0, 1.0), out_dir=Path("."), csv_paths=(),
                stop_reason="shape-complete", exit_code=0, wall_s=1.0, request_count=1, failure_count=0,
                generator_cpu_max_percent=99.0, generator_saturated_levels=(2,), started_at_s=0.0, ended_at_s=1.0,
                log_path=Path("x.log"))
    written = {}
    for extra in ({"processes": 2}, {"processes": 3, "remote_workers": 2, "serve_local": EndpointSettings()}):
        written |= run_labels(CollectResult(**base, **extra), {"variant": "trt"})
    written |= {"endpoint_config": "c", "aws_region": "r", "sweep": "s"}  # collect/sagemaker.py, collect/sweep.py
    assert {k for k in written if is_setup_label(k)} == {"variant"}
    assert any(k.startswith("serve_local_") for k in written) and "serve_local_*" in RUN_LABELS


@given(st.lists(st.fixed_dictionaries({}, optional={
    "variant": st.sampled_from(["a", "b"]), "team": st.sampled_from(["x", "y"]),
    "target_url": st.sampled_from(["http://h1", "http://h2"]), "serve_local_workers": st.sampled_from(["1", "2"]),
    "generator_saturated_users": st.sampled_from(["10", "20"])}), min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
def test_configurations_are_the_runs_with_equal_user_labels(labels):
    runs = {f"{i:016x}": run for i, run in enumerate(labels)}
    steps = pd.DataFrame({"run_id": list(runs), "instance_type": "ml.m5.xlarge", "throughput_rps": 1.0})
    groups = configurations(with_setup_labels(steps, runs.get))
    user = {r: tuple(sorted((k, v) for k, v in run.items() if k in ("variant", "team"))) for r, run in runs.items()}
    expected = {}
    for run, key in user.items():
        expected.setdefault(key, set()).add(run)
    assert sorted(sorted(g["run_id"]) for _, g in groups) == sorted(sorted(v) for v in expected.values())
    varying = {k for k in ("variant", "team") if len({dict(u).get(k) for u in user.values()}) > 1}
    for config, group in groups:
        run = dict(user[group["run_id"].iloc[0]])
        assert dict(config.setup_labels) == {k: run.get(k) for k in varying}
        assert all(f"{k}={run[k]}" in config.label for k in varying if k in run)
    assert len({config.label for config, _ in groups}) == len(groups)


def test_a_label_change_is_a_different_fit_cache_entry(store_path, tmp_path):
    from planner.steps import for_collection

    store, cache = RunStore(store_path), FitCache(tmp_path / "cache")
    steps = for_collection(store)
    steps = steps[steps["instance_type"] == "ml.g4dn.xlarge"]
    ids = sorted(steps["run_id"].unique())
    same = {ids[0]: {"variant": "a"}, ids[1]: {"variant": "a"}}
    split = {ids[0]: {"variant": "a"}, ids[1]: {"variant": "b"}}
    (pooled,) = [g for _, g in configurations(with_setup_labels(steps, same.get))]
    first, second = [g for _, g in configurations(with_setup_labels(steps, split.get))]
    keys = cache.keys([pooled, first, second], {})
    assert len(set(keys)) == 3
    assert cache.keys([first], {}) == cache.keys([first.copy()], {})
    # a fit_store read back from the cache keeps its labelled configurations
    fresh = [f.config for f in fit_store(store, ids, cache=cache)]
    assert [f.config for f in fit_store(store, ids, cache=cache)] == fresh
    assert [c.label for c in fresh] == ["ml.g4dn.xlarge / resnet50 / variant=a", "ml.g4dn.xlarge / resnet50 / variant=b"]
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == 2
    # fit_collection_steps counts each configuration's excluded steps, from the cache too
    assert all(f.excluded_by_flag == {"too_short": 0, "errors": 0, "generator_saturated": 0}
               for f in fit_collection_steps(with_setup_labels(steps, split.get), cache=cache))
