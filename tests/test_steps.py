"""Steady-state steps: exact throughput and mean latency from cumulative counters, flags, no silent drops."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.collection import ingest
from planner.steps import StepRules, for_collection, for_run, from_history
from planner.store import RunStore
from tests.synth import write_history


def _history(levels: list[tuple[int, int, int, float]], start: int = 1_700_000_000) -> pd.DataFrame:
    """Rows of one second each: (users, seconds, requests per second, mean latency ms of that level)."""
    rows, t, count, total_ms = [], start, 0, 0.0
    for users, seconds, rate, mean_ms in levels:
        for _ in range(seconds):
            t += 1
            count += rate
            total_ms += rate * mean_ms
            rows.append({"timestamp": pd.Timestamp(t, unit="s", tz="UTC"), "user_count": users, "is_aggregate": True,
                         "total_request_count": count, "total_failure_count": 0,
                         "total_latency_mean_ms": total_ms / count if count else 0.0, "latency_p99_ms": 3 * mean_ms})
    frame = pd.DataFrame(rows)
    frame["row"] = np.arange(len(frame))
    return frame


@given(st.lists(st.tuples(st.integers(1, 300), st.integers(31, 90), st.integers(10, 500),
                          st.floats(1.0, 2000.0)), min_size=1, max_size=6, unique_by=lambda x: x[0]))
@settings(max_examples=60, deadline=None)
def test_throughput_and_mean_latency_are_exact_per_level(levels):
    steps = from_history(_history(levels), "window")
    assert len(steps) == len(levels), "one step per level, none dropped"
    for (users, _, rate, mean_ms), (_, step) in zip(levels, steps.iterrows(), strict=True):
        assert step["concurrency"] == users
        assert step["throughput_rps"] == pytest.approx(rate, rel=1e-9)
        assert step["latency_mean_ms"] == pytest.approx(mean_ms, rel=1e-6)
        assert step["latency_p99_ms"] == pytest.approx(3 * mean_ms)
        assert step["warmup_trimmed"] and not step["too_short"]


def test_cumulative_percentiles_are_never_per_step_values():
    steps = from_history(_history([(10, 40, 100, 20.0), (20, 40, 150, 35.0)]), "cumulative")
    assert steps["cumulative_percentiles"].all()
    assert "latency_p99_ms" not in steps or steps["latency_p99_ms"].isna().all()
    assert steps["latency_mean_ms"].tolist() == pytest.approx([20.0, 35.0])


def test_trim_drops_the_lagging_start_of_each_level():
    # the first 10 s of the level run at another rate: a 10 s trim cuts them away, so the steady rate is exact
    steps = from_history(_history([(10, 40, 100, 20.0), (20, 10, 400, 90.0), (20, 40, 150, 35.0)]), "window",
                         StepRules(trim_s=10))
    assert len(steps) == 2
    assert steps["throughput_rps"].iloc[1] == pytest.approx(150)
    untrimmed = from_history(_history([(10, 40, 100, 20.0), (20, 10, 400, 90.0), (20, 40, 150, 35.0)]), "window",
                             StepRules(trim_s=0))
    assert untrimmed["throughput_rps"].iloc[1] == pytest.approx((10 * 400 + 40 * 150) / 50)


def test_real_cumulative_history_louskac(datasets, tmp_path):
    for f in (datasets / "locust").glob("louskac_deep-vision__results_*.csv"):
        if "optimized" not in f.name:
            shutil.copy(f, tmp_path / f.name)
    store = RunStore(tmp_path / "store")
    (run,) = ingest(store, [tmp_path])
    steps = for_run(store, run.run_id)
    # a ramp of 10 users/s to 100 (one row per level), then 15 s at 100 users. Bins of 200 requests and 5 s
    # (10..60, a short 70..90) and the hold are two steady levels, too few for a fit: the ramp is cut
    # finer (3 s bins, flag small_bin), each at its time-weighted mean users, a second in which the count
    # changed at the mid-point (0->10, 10->20, 20->30: 15 users); the hold is one level
    assert steps["concurrency"].tolist() == [15, 45, 75, 100]
    assert steps["levels_merged"].tolist() == [3, 3, 3, 1]
    assert not steps["too_short"].any()
    assert steps["small_bin"].tolist() == [True, True, True, False]
    assert steps["request_count"].iloc[0] == 7990  # from the zero-user row before the first level (0 requests)
    last = steps.iloc[-1]
    # trimmed 2 s from the previous level's last row (t=...851): rows at t=...853 (24818 requests, mean
    # 25.45748) and t=...867 (51423, mean 39.43785)
    assert last["throughput_rps"] == pytest.approx((51423 - 24818) / 14)
    expected_mean = (39.437845511770774 * 51423 - 25.457476 * 24818) / (51423 - 24818)
    assert last["latency_mean_ms"] == pytest.approx(expected_mean)
    assert last["cumulative_percentiles"] and last["warmup_trimmed"]
    assert "latency_p99_ms" not in steps or steps["latency_p99_ms"].isna().all()


def test_duplicate_timestamps_and_zero_user_rows_zhajiangmian(datasets, tmp_path):
    for f in (datasets / "locust").glob("zhajiangmian2342_20200823__locust_*.csv"):
        shutil.copy(f, tmp_path / f.name)
    store = RunStore(tmp_path / "store")
    (run,) = ingest(store, [tmp_path])
    steps = for_run(store, run.run_id)
    # two one-row levels (1 user, then 10) make one bin: the first row starts it, and the 2 s to the next
    # row, in which the count went from 1 to 10, count at the mid-point
    assert steps["concurrency"].tolist() == [5.5] and steps["levels_merged"].tolist() == [2]
    assert steps["too_short"].all()
    assert steps["throughput_rps"].iloc[0] == pytest.approx(10 / 2)


def test_synthetic_window_history_and_collection_config(tmp_path):
    write_history(tmp_path / "s_stats_history.csv", rows=600)
    store = RunStore(tmp_path / "store")
    ingest(store, [tmp_path / "s_stats_history.csv"], meta={"instance_type": "ml.m5.xlarge", "instance_count": 2})
    steps = for_collection(store)
    assert steps["concurrency"].tolist() == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert not steps["too_short"].any() and not steps["cumulative_percentiles"].any()
    assert steps["latency_p99_ms"].notna().all()
    assert (steps["instance_type"] == "ml.m5.xlarge").all()
    assert steps["throughput_per_instance_rps"].tolist() == pytest.approx((steps["throughput_rps"] / 2).tolist())
    # the generator's server saturates at 4 workers / 50 ms = 80 rps
    assert steps["throughput_rps"].iloc[-1] == pytest.approx(80, rel=0.05)


def test_points_and_recommender_runs_become_steps(datasets, tmp_path):
    store = RunStore(tmp_path / "store")
    ingest(store, [datasets / "sagemaker-mme-gpu" /
                   "aws-samples_sagemaker-mme-gpu-benchmarking__cv-benchmark__load_test_summary_table.csv"])
    ingest(store, [datasets / "recommender" / "ir_doc_default_job_describe_sample.pyrepr.txt"])
    steps = for_collection(store)
    mme = steps[steps["source"] == "mme_gpu"]
    assert len(mme) == 20 and mme["cumulative_percentiles"].all()
    assert sorted(mme["framework"].unique()) == ["pytorch", "tensorrt"]
    ir = steps[steps["source"] == "recommender"].set_index("instance_type")
    assert ir.loc["ml.c5.xlarge", "throughput_rps"] == pytest.approx(648 / 60)
    assert ir.loc["ml.c5.xlarge", "latency_mean_ms"] == pytest.approx(263.596)


def test_cloudwatch_periods_become_steps(tmp_path):
    fixtures = Path(__file__).parent / "fixtures" / "cloudwatch"
    store = RunStore(tmp_path / "store")
    ingest(store, [fixtures / "get_metric_data_page1.json", fixtures / "get_metric_data_page2.json",
                   fixtures / "get_metric_data_queries.json"], meta={"instance_type": "ml.g5.2xlarge"})
    steps = for_collection(store)
    # Invocations per minute 3000, 3000, 6000, 9000, 12000 -> 50, 50, 100, 150, 200 rps
    assert steps["throughput_rps"].tolist() == pytest.approx([50, 50, 100, 150, 200])
    # ModelLatency p99 arrives in µs and is stored in ms
    assert steps["latency_p99_ms"].tolist() == pytest.approx([52.48, 61.5, 98.12, 154.3, 187.25])
    assert (steps["duration_s"] == 60).all() and (steps["instance_type"] == "ml.g5.2xlarge").all()
    assert not steps["cumulative_percentiles"].any()
