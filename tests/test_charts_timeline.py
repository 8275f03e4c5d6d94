"""The load test over time (planner.charts.timeline) and the Runs page's fitted curves: the statistic that was
measured is the one that is fitted and drawn; the SLA is drawn and the steps that miss it are marked
(issue #14)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner import charts
from planner.charts.timeline import CLEAN, FLAGGED, TRIMMED
from planner.scenarios.source import runs_at
from planner.steps import for_run
from planner.store import RunStore

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample-store"
C5 = "8655be92da9d0ed8"  # the sample's ml.c5.2xlarge open-loop Locust run (windowed percentiles)
DEEP_VISION = "2a80952db7cfd580"  # louskac/deep-vision "optimized": 10 -> 100 users in 25 s, cumulative percentiles
MEAN_ONLY = "188c5d537ff5e556"  # ml.g4dn.2xlarge / pytorch / resnet50: points with mean latency only


@pytest.fixture(scope="module")
def store() -> RunStore:
    return RunStore(SAMPLE)


def _series(series: pd.DataFrame, name: str) -> pd.Series:
    return series[series["series"] == name].set_index("elapsed_s")["value"]


def _y_titles(spec) -> set[str]:
    """Every y-axis title in a (nested) Vega-Lite spec."""
    if isinstance(spec, list):
        return set().union(*map(_y_titles, spec)) if spec else set()
    if not isinstance(spec, dict):
        return set()
    own = spec.get("encoding", {}).get("y", {}).get("title")
    return ({own} if own else set()) | _y_titles(list(spec.values()))


def test_timeline_series_are_lockusts_columns_and_steps_are_shaded_with_their_flags(store):
    history, steps = store.table("history", [DEEP_VISION]), for_run(store, DEEP_VISION)
    series, spans = charts.timeline_frames(history, steps)
    users, rps = _series(series, "users"), _series(series, "requests/s")
    assert users.index.max() == 25.0 and users.max() == 100 and users.iloc[0] == 0
    assert rps.iloc[-1] == pytest.approx(1233.7)  # the file's last Requests/s
    assert _series(series, "failures/s").max() == 0.0
    assert _series(series, "p99").iloc[-1] == 540.0
    assert spans["step"].tolist() == [0, 1, 2, 3]
    # the file: 10, 20 ... 90 users at 1-9 s, one per second, 100 from 10 s to 25 s. Bins of 5 s give two steady
    # levels, too few for a fit, so the ramp is cut in 3 s bins (at their mean users, each spawn second at
    # its mid-point), the hold trimmed
    assert spans["start_s"].tolist() == [1.0, 4.0, 7.0, 10.0] and spans["end_s"].tolist() == [3.0, 6.0, 9.0, 25.0]
    assert spans["users"].tolist() == [15.0, 45.0, 75.0, 100.0]
    assert spans["status"].tolist() == [CLEAN, CLEAN, CLEAN, TRIMMED]
    assert all("finer bin" in f for f in spans["flags"][:3]) and "trimmed" in spans["flags"][3]
    assert all("percentiles dropped (cumulative history)" in f for f in spans["flags"])


def test_timeline_chart_names_cumulative_percentiles_and_marks_past_the_knee(store):
    history, steps = store.table("history", [C5]), for_run(store, C5)
    spec = charts.timeline_chart(history, steps, percentiles="window", arrivals="open", past_knee={8})
    spans = pd.DataFrame(spec["datasets"]["spans"])
    assert len(spans) == 9 and spans.loc[8, "status"] == FLAGGED and "past the knee" in spans.loc[8, "flags"]
    assert (spans.loc[:7, "status"] != FLAGGED).all()
    assert np.allclose(spans["throughput_rps"], steps["throughput_rps"])
    titles = [_y_titles(view) for view in spec["vconcat"]]
    assert titles[0] == {"users (open loop: each at a fixed rate)"} and titles[2] == {"latency, 10 s window (ms)"}
    cumulative = charts.timeline_chart(store.table("history", [DEEP_VISION]), for_run(store, DEEP_VISION),
                                       percentiles="cumulative")
    assert _y_titles(cumulative["vconcat"][2]) == {"latency, cumulative since start (ms)"}
    assert len(charts.container_views(spec)) == 3  # one view per panel, each as wide as its column


@pytest.fixture(scope="module")
def mean_only_fit():
    (fit,) = [f for f in runs_at(str(SAMPLE)).fits([MEAN_ONLY]) if f.latency is not None]
    return fit


def test_a_measured_mean_is_drawn_against_a_fitted_mean(mean_only_fit):
    """The defect: the Runs page drew measured means against the fitted p99 curve."""
    fit = mean_only_fit
    assert charts.plotted_statistic(fit, 99) == "mean"
    measured, curve = charts.measured_frame([fit], 99), charts.curve_frame([fit], 99)
    assert set(measured["statistic"]) == set(curve["statistic"]) == {"mean"}
    assert np.allclose(measured["latency_ms"], fit.steps["latency_mean_ms"].dropna())
    grid = curve["throughput_rps"].to_numpy()
    assert np.allclose(curve["latency_ms"], fit.latency.predict(grid, "mean"), equal_nan=True)
    assert (fit.latency.predict(grid, 99) > curve["latency_ms"].to_numpy() * 1.05).any()  # p99 would differ
    title = charts.fit_chart([fit], 99).to_dict()["title"]
    assert title.startswith("Fitted mean latency")


def test_fit_chart_draws_the_sla_and_rings_the_steps_that_miss_it(store):
    (fit,) = [f for f in runs_at(str(SAMPLE)).fits([C5]) if f.latency is not None]
    measured = charts.measured_frame([fit], 99, sla_ms=45.0)
    assert measured["statistic"].unique().tolist() == ["p99"]
    assert measured["latency_ms"].tolist() == [42.0, 40.0, 41.0, 40.0, 42.0, 42.0, 42.0, 49.0, 77.0]
    assert (measured["sla"] == charts.MISSES_SLA).sum() == 2
    spec = charts.fit_chart([fit], 99, sla_ms=45.0).to_dict()
    rings = [layer for layer in spec["layer"] if layer.get("mark", {}).get("color") == "red"
             and layer["mark"].get("type") == "point"]
    assert len(rings) == 1 and len(spec["datasets"][rings[0]["data"]["name"]]) == 2
    assert any(d == [{"sla_ms": 45.0, "text": "SLA: p99 ≤ 45 ms"}] for d in spec["datasets"].values())
    curve_rows = next(d for d in spec["datasets"].values() if d and "upper_ms" in d[0])
    assert max(r["upper_ms"] for r in curve_rows) <= 3 * 77.0  # the axis stops at 3 × the highest step


CLOUDWATCH = Path(__file__).parent / "fixtures" / "cloudwatch" / "two_instances"


@pytest.fixture(scope="module")
def cloudwatch_run(tmp_path_factory) -> tuple[RunStore, str]:
    """The 12 one-minute periods of a 2-instance endpoint (fixture README), ingested."""
    from planner.collection import ingest

    store = RunStore(tmp_path_factory.mktemp("cw") / "store")
    (run,) = ingest(store, [CLOUDWATCH / "results_iso.json", CLOUDWATCH / "queries.json"])
    return store, run.run_id


def test_a_cloudwatch_run_over_time_is_its_periods_each_shaded_as_a_step(cloudwatch_run):
    store, run_id = cloudwatch_run
    steps = for_run(store, run_id)
    spec = charts.metrics_timeline_chart(steps)
    series, spans = pd.DataFrame(spec["datasets"]["series"]), pd.DataFrame(spec["datasets"]["spans"])
    by_name = {name: part.set_index("elapsed_s")["value"] for name, part in series.groupby("series")}
    assert set(by_name) == {"instances", "requests/s", "failures/s", "mean"}
    assert by_name["instances"].tolist() == [2.0] * 12  # InvocationsPerInstance ÷ Invocations, per period
    assert by_name["requests/s"].index.tolist() == [60.0 * i for i in range(12)]
    assert by_name["requests/s"].tolist() == pytest.approx(steps["throughput_rps"].tolist())
    assert by_name["mean"].tolist() == pytest.approx(steps["latency_mean_ms"].tolist())  # Model + Overhead
    assert spans["start_s"].tolist() == [60.0 * i for i in range(12)]
    assert spans["end_s"].tolist() == [60.0 * (i + 1) for i in range(12)]
    titles = [_y_titles(view) for view in spec["vconcat"]]
    assert titles == [{"instances (InvocationsPerInstance ÷ Invocations)"}, {"requests/s, failures/s"},
                      {"latency per 60 s period (ms)"}]
    assert charts.metrics_timeline_chart(steps.iloc[0:0]) is None
