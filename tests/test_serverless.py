"""Serverless sizing: Erlang B oracles, the serverless toolkit's published MobileNetV2 table, properties, CLI."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.catalog import SERVERLESS_MEMORY_SIZES_MB, load_catalog
from planner.cli import app
from planner.errors import InfeasibleError
from planner.queueing import erlang_b
from planner.recommend.serverless import (
    MAX_CONCURRENCY,
    MemoryLatency,
    RealtimeBaseline,
    choose_memory,
    max_concurrency_for,
    memory_latencies,
    memory_options,
    provisioned_concurrency_for,
    recommend_serverless,
)

CATALOG = load_catalog()
SAMPLE = ["--store", "data/sample-store"]
TOOLKIT_RUN = [*SAMPLE, "--run", "cc3eabf4cffd606a"]  # only the toolkit's latencies: no other run's steps


# ---------------------------------------------------------------- Erlang B oracles


def _erlang_b_oracles(datasets) -> list[tuple[float, int, float]]:
    text = (datasets / "queueing" / "queueing_oracles.md").read_text()
    section = text.split("## Erlang B", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].replace(".", "").isdigit():
            rows.append((float(cells[0]), int(cells[1]), float(cells[2].split()[0])))
    return rows


def test_erlang_b_oracles_size_max_and_provisioned_concurrency(datasets):
    oracles = _erlang_b_oracles(datasets)
    assert len(oracles) == 5
    for load, servers, blocking in oracles:
        target = blocking * (1 + 1e-4)  # the published value is the smallest c meeting a target just above it
        c, throttle = max_concurrency_for(load, target)
        assert c == servers and throttle == pytest.approx(blocking, abs=1e-6)
        p, spill = provisioned_concurrency_for(load, target, MAX_CONCURRENCY)
        assert (p, spill) == (c, throttle)
        assert provisioned_concurrency_for(load, target, servers - 1 or 1)[0] == max(servers - 1, 1)  # capped


def test_max_concurrency_infeasible_beyond_200():
    c, throttle = max_concurrency_for(250.0, 0.001)  # 2500 TPS × 100 ms
    assert c == MAX_CONCURRENCY and throttle == pytest.approx(float(erlang_b(250.0, 200)))
    assert throttle > 0.15  # Erlang B(250, 200) ≈ 0.2: a fifth of requests throttled
    rec = recommend_serverless([MemoryLatency(2048, 100.0)], CATALOG, monthly_invocations=1e9, peak_tps=2500,
                               latency_target_ms=1000)
    assert not rec.feasible and rec.max_concurrency == 200 and rec.throttle_probability == throttle
    assert any("even MaxConcurrency 200" in n for n in rec.notes)


# ---------------------------------------------------------------- the toolkit's MobileNetV2 table


@pytest.fixture(scope="module")
def toolkit(datasets):
    """The toolkit's prices (smsb_cost_constants.csv), its latencies, its payload and its summary."""
    folder = datasets / "serverless-toolkit"
    constants = pd.read_csv(folder / "smsb_cost_constants.csv")
    value = dict(zip(constants.kind + ":" + constants.key.astype(str), constants.value, strict=True))
    compute = {mb: float(value[f"serverless_compute_price:{mb}"]) for mb in SERVERLESS_MEMORY_SIZES_MB}
    catalog = replace(CATALOG, serverless_usd_per_second_by_memory_mb=compute,
                      data_processing_usd_per_gb=float(value["data_processing_price:in+out"]),
                      source="sm-serverless-benchmarking cost_constants.py @ cb00285")
    metrics = pd.read_csv(folder / "smsb_mobilenet_metrics_with_cost.csv")
    metrics["memory_mb"] = SERVERLESS_MEMORY_SIZES_MB  # the toolkit dropped the column; rows are in order
    row = metrics.iloc[1]  # 2048 MB: its payload is (cost - compute) / data price per byte
    payload = (row.cost_per_invocation - compute[2048] * row.average_latency / 1000) / (
        catalog.data_processing_usd_per_gb / 1024**3)
    hours = float(value["hours_per_month:toolkit"])
    instance = RealtimeBaseline("ml.t2.medium", 1, float(value["instance_hourly_price:ml.t2.medium"]) * hours)
    latencies = [MemoryLatency(int(r.memory_mb), r.average_latency, origin="published") for r in metrics.itertuples()]
    summary = pd.read_csv(folder / "smsb_mobilenet_cost_savings_summary.csv")
    return {"catalog": catalog, "metrics": metrics, "payload": payload, "hours": hours, "instance": instance,
            "latencies": latencies, "summary": summary}


def _toolkit_recommendation(toolkit, **kwargs):
    args = {"monthly_invocations": 1e6, "peak_tps": 10, "latency_target_ms": 250, "request_bytes": toolkit["payload"],
            "realtime": toolkit["instance"], "billing_granularity_ms": None, "hours_per_month": toolkit["hours"]}
    return recommend_serverless(toolkit["latencies"], toolkit["catalog"], **(args | kwargs))


def test_toolkit_cost_per_million_reproduced_for_every_memory_size(toolkit):
    rec = _toolkit_recommendation(toolkit)
    published = toolkit["metrics"].cost_per_1M_invocations
    assert [o.memory_mb for o in rec.memory_options] == list(SERVERLESS_MEMORY_SIZES_MB)
    for option, usd in zip(rec.memory_options, published, strict=True):  # 5 rows checked independently
        assert option.usd_per_million_invocations == pytest.approx(usd, rel=1e-9)
    assert rec.memory_options[1].usd_per_million_invocations == pytest.approx(4.44, abs=0.005)


def test_toolkit_break_even_and_savings_table_reproduced(toolkit):
    rec = _toolkit_recommendation(toolkit)
    assert rec.recommended_memory_mb == 2048  # the toolkit's choice: 1024 MB's estimated p99 (~290 ms) misses 250
    assert toolkit["instance"].usd_per_month == pytest.approx(40.32)
    assert rec.break_even_monthly_invocations / 1e6 == pytest.approx(9.08, abs=0.005)
    per_invocation = rec.recommended.usd_per_invocation
    for invocations, usd in zip(toolkit["summary"].monthly_invocations, toolkit["summary"].serverless_monthly_cost,
                                strict=True):
        assert per_invocation * invocations == pytest.approx(usd, rel=1e-9)
    monthly = _toolkit_recommendation(toolkit, monthly_invocations=3e6)
    assert monthly.on_demand_cost.usd_per_month == pytest.approx(13.322538664406482, rel=1e-9)
    assert rec.realtime_option.to_dict() == {"instance_type": "ml.t2.medium", "instance_count": 1,
                                             "usd_per_month": pytest.approx(40.32), "label": None,
                                             "origin": "given"}


def test_toolkit_pareto_front_and_strategies(toolkit):
    rec = _toolkit_recommendation(toolkit, latency_target_ms=1000)
    # mean latencies 135.6, 96.2, 98.3, 93.5, 89.6, 90.6 ms with rising prices: 3072 and 6144 are dominated
    assert [o.memory_mb for o in rec.memory_options if o.pareto] == [1024, 2048, 4096, 5120]
    picks = {s: _toolkit_recommendation(toolkit, latency_target_ms=1000, strategy=s).recommended_memory_mb
             for s in ("cost", "speed", "balanced")}
    assert picks == {"cost": 1024, "speed": 5120, "balanced": 2048}
    assert all(o.latency_percentiles_source == "estimated-from-mean" for o in rec.memory_options)
    assert rec.latency_provenance["percentiles"] == "estimated-from-mean"
    assert rec.latency_provenance["origins"] == ["published"]


def test_p99_estimated_from_the_mean_is_the_exponential_quantile_at_scv_1():
    (option,) = memory_options([MemoryLatency(1024, 100.0)], CATALOG, monthly_invocations=1,
                               latency_target_ms=461, latency_scv=1.0)
    assert option.latency_p99_ms == pytest.approx(100 * math.log(100))  # 460.5 ms
    assert option.latency_p50_ms == pytest.approx(100 * math.log(2)) and option.meets_sla
    assert option.billed_duration_ms == 100 and option.usd_per_invocation == pytest.approx(0.1 * 0.00002)


# ---------------------------------------------------------------- latencies from steps


def test_memory_latencies_from_measured_steps():
    steps = pd.DataFrame({
        "run_id": ["a", "a", "a", "b"], "memory_mb": [2048.0, 2048.0, 2048.0, 512.0],
        "request_count": [100.0, 300.0, 200.0, 100.0], "latency_mean_ms": [50.0, 70.0, 900.0, 80.0],
        "latency_p99_ms": [120.0, 140.0, 5000.0, 200.0], "errors": [False, False, True, False],
        "too_short": [False] * 4, "origin": ["measured", "measured", "measured", "emulated"]})
    (found,), notes = memory_latencies(steps)
    assert found.memory_mb == 2048 and found.latency_mean_ms == pytest.approx(65.0)  # request-weighted, errors out
    assert found.latency_percentiles_ms == {99.0: 130.0} and found.run_ids == ("a",)
    assert notes and "512 MB is not a serverless memory size" in notes[0]
    (option,) = memory_options([found], CATALOG, monthly_invocations=1e6, latency_target_ms=125)
    assert option.latency_p99_ms == 130.0 and option.latency_percentiles_source == "measured"
    assert not option.meets_sla and option.latency_p50_ms is None


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(50, 500), min_size=3, max_size=12))
def test_measured_p99_over_three_or_more_steps_has_an_interval_around_the_median(p99s):
    n = len(p99s)
    steps = pd.DataFrame({"run_id": "r", "memory_mb": 3072.0, "request_count": 100.0, "latency_mean_ms": 40.0,
                          "latency_p99_ms": p99s, "errors": False, "too_short": False, "origin": "measured"},
                         index=range(n))
    (found,), _ = memory_latencies(steps)
    (option,) = memory_options([found], CATALOG, monthly_invocations=1e6, latency_target_ms=300)
    assert option.latency_p99_ms == pytest.approx(float(np.median(p99s)))
    low, high = option.latency_p99_ci_lower_ms, option.latency_p99_ci_upper_ms
    assert min(p99s) <= low <= option.latency_p99_ms <= high <= max(p99s)
    two = memory_latencies(steps.iloc[:2])[0][0]  # too few steps for an interval
    assert memory_options([two], CATALOG, monthly_invocations=1e6,
                          latency_target_ms=300)[0].latency_p99_ci_lower_ms is None
    assert option.latency_p99_interval.startswith("95% bootstrap")


def test_a_p99_estimated_from_a_mean_is_bracketed_by_the_assumed_variability_range():
    # Shifted-exponential service: p99 = mean * (1 + cv * (ln 100 - 1)); cv = sqrt(Cs²).
    (estimated,) = memory_options([MemoryLatency(3072, 40.0)], CATALOG, monthly_invocations=1e6, latency_target_ms=300,
                                  latency_scv=0.1)
    assert estimated.latency_percentiles_source == "estimated-from-mean"
    p99_ms = [40.0 * (1 + np.sqrt(scv) * (np.log(100) - 1)) for scv in (0.025, 0.1, 0.4)]
    assert (estimated.latency_p99_ci_lower_ms, estimated.latency_p99_ms, estimated.latency_p99_ci_upper_ms) == \
        pytest.approx(p99_ms, rel=1e-9)
    assert "Cs² of 0.025–0.4 (not a confidence interval)" in estimated.latency_p99_interval
    rec = recommend_serverless([MemoryLatency(3072, 40.0)], CATALOG, monthly_invocations=1e6, peak_tps=10,
                               latency_target_ms=100)  # 86 ms estimated, 131 ms at Cs² 0.4
    assert rec.recommended.meets_sla and any("not across its bracket (63–131 ms" in n for n in rec.notes)
    measured_once = MemoryLatency(3072, 40.0, {99.0: 90.0})
    (measured,) = memory_options([measured_once], CATALOG, monthly_invocations=1e6, latency_target_ms=300)
    assert (measured.latency_p99_ci_lower_ms, measured.latency_p99_interval) == (None, None)


def test_no_latencies_is_an_infeasible_error():
    with pytest.raises(InfeasibleError, match="no latency per serverless memory size"):
        recommend_serverless([], CATALOG, monthly_invocations=1e6, peak_tps=10, latency_target_ms=100)


# ---------------------------------------------------------------- properties

loads = st.floats(min_value=0.0, max_value=300.0)
targets = st.floats(min_value=1e-6, max_value=0.5)


@settings(max_examples=60, deadline=None)
@given(loads, targets, targets)
def test_higher_throttle_target_never_needs_more_max_concurrency(load, t1, t2):
    low, high = sorted((t1, t2))
    c_low, p_low = max_concurrency_for(load, low)
    c_high, _ = max_concurrency_for(load, high)
    assert c_high <= c_low
    if c_low < MAX_CONCURRENCY:  # minimal and meets the target
        assert p_low <= low and (c_low == 1 or erlang_b(load, c_low - 1) > low)


@settings(max_examples=60, deadline=None)
@given(loads, targets, st.integers(1, 199))
def test_more_provisioned_concurrency_never_raises_spillover(load, target, cap):
    p_small, spill_small = provisioned_concurrency_for(load, target, cap)
    p_large, spill_large = provisioned_concurrency_for(load, target, cap + 1)
    assert p_small <= p_large <= cap + 1 and spill_large <= spill_small
    assert erlang_b(load, p_small + 1) <= spill_small


latency_lists = st.lists(st.floats(min_value=1.0, max_value=2000.0), min_size=1, max_size=6)


@settings(max_examples=80, deadline=None)
@given(latency_lists, st.floats(0.0, 1.0))
def test_strategies_order_and_pareto(means, weight):
    latencies = [MemoryLatency(mb, ms) for mb, ms in zip(SERVERLESS_MEMORY_SIZES_MB, means, strict=False)]
    options = memory_options(latencies, CATALOG, monthly_invocations=1e6, latency_target_ms=1e9)
    cost, speed = choose_memory(options, "cost"), choose_memory(options, "speed")
    balanced = choose_memory(options, "balanced", weight)
    assert cost.usd_per_invocation <= balanced.usd_per_invocation <= speed.usd_per_invocation
    assert speed.latency_p99_ms <= balanced.latency_p99_ms <= cost.latency_p99_ms
    assert cost.pareto and speed.pareto and balanced.pareto
    assert choose_memory(options, "balanced", 1.0) == cost and choose_memory(options, "balanced", 0.0) == speed


@settings(max_examples=40, deadline=None)
@given(st.floats(1.0, 1000.0), st.floats(0.1, 200.0), st.floats(1e4, 1e9))
def test_monthly_costs_are_consistent(mean_ms, peak_tps, invocations):
    rec = recommend_serverless([MemoryLatency(3072, mean_ms)], CATALOG, monthly_invocations=invocations,
                               peak_tps=peak_tps, latency_target_ms=1e6, realtime=RealtimeBaseline("x", 1, 100.0))
    assert rec.on_demand_cost.usd_per_month == pytest.approx(rec.recommended.usd_per_invocation * invocations)
    standby = rec.provisioned_concurrency * CATALOG.provisioned_standby_usd_per_second(3072) * 730 * 3600
    assert rec.provisioned_cost.provisioned_standby_usd_per_month == pytest.approx(standby)
    assert rec.provisioned_cost.usd_per_month > standby
    assert rec.break_even_monthly_invocations * rec.recommended.usd_per_invocation == pytest.approx(100.0)
    assert rec.offered_load_erlang == pytest.approx(peak_tps * mean_ms / 1000)
    assert 1 <= rec.provisioned_concurrency <= rec.max_concurrency <= MAX_CONCURRENCY


# ---------------------------------------------------------------- CLI


def test_cli_on_the_sample_store_answers_with_sensible_values():
    args = ["serverless", "--monthly-invocations", "3M", "--peak-tps", "40", "--p99", "300ms", *SAMPLE, "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    sizes = [o["memory_mb"] for o in data["memory_options"]]
    assert sizes == list(SERVERLESS_MEMORY_SIZES_MB) and data["recommended_memory_mb"] in sizes
    chosen = next(o for o in data["memory_options"] if o["memory_mb"] == data["recommended_memory_mb"])
    assert chosen["meets_sla"] and chosen["latency_p99_ms"] <= 300 and chosen["pareto"]
    assert chosen == min((o for o in data["memory_options"] if o["meets_sla"]), key=lambda o: o["usd_per_invocation"])
    load = 40 * chosen["latency_mean_ms"] / 1000
    assert data["offered_load_erlang"] == pytest.approx(load)
    assert data["throttle_probability"] <= 0.001 < erlang_b(load, data["max_concurrency"] - 1)
    assert data["spillover_probability"] <= 0.01 < erlang_b(load, data["provisioned_concurrency"] - 1)
    assert data["usd_per_month"]["on_demand"] == pytest.approx(3e6 * chosen["usd_per_invocation"])
    assert data["usd_per_month"]["with_provisioned"] > data["usd_per_month"]["on_demand"]
    realtime = data["realtime_option"]
    assert realtime["instance_type"].startswith("ml.") and realtime["instance_count"] >= 1
    assert realtime["origin"] in ("measured", "emulated", "published")  # the sample's real-time data
    assert data["break_even_monthly_invocations"] == pytest.approx(realtime["usd_per_month"]
                                                                   / chosen["usd_per_invocation"])
    assert data["price_catalog"]["date"] == "2026-11-23" and data["price_catalog"]["region"] == "us-east-1"
    assert data["latency_provenance"]["origins"] == ["published"]
    assert data["latency_provenance"]["run_ids"] == ["cc3eabf4cffd606a"]
    assert any("another model" in n for n in data["notes"])


def test_cli_compare_instance_tables_and_plot(tmp_path):
    plot = tmp_path / "cost.html"
    args = ["serverless", "--monthly-invocations", "9M", "--peak-tps", "20", "--p99", "250ms", *TOOLKIT_RUN,
            "--compare-instance", "ml.t2.medium", "--strategy", "balanced", "--request-bytes", "40k",
            "--plot", str(plot)]
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "real-time ml.t2.medium × 1" in result.stdout and "MaxConcurrency" in result.stdout
    assert "best balance" in result.stdout and "Prices: USD prices for us-east-1 as of 2026-11-23" in result.stdout
    assert plot.is_file() and "break-even" in plot.read_text()


def test_cli_infeasible_sla_exits_1():
    args = ["serverless", "--monthly-invocations", "1M", "--peak-tps", "5", "--p99", "50ms", *TOOLKIT_RUN,
            "--compare-instance", "ml.t2.medium", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert not data["feasible"] and data["recommended_memory_mb"] == 5120  # the fastest is shown
    assert data["notes"][0].startswith("no memory size meets p99 ≤ 50 ms")


@pytest.mark.parametrize(("args", "hint"), [
    (["--strategy", "fastest"], "--strategy"), (["--p99", "soon"], "--p99"), (["--peak-tps", "-3"], "--peak-tps"),
    (["--request-bytes", "-1"], "--request-bytes"), (["--throttle-target", "2"], "--throttle-target")])
def test_cli_usage_errors_exit_2(args, hint):
    base = {"--monthly-invocations": "3M", "--peak-tps": "40", "--p99": "300ms"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = CliRunner().invoke(app, ["serverless", *[x for kv in base.items() for x in kv], *SAMPLE])
    assert result.exit_code == 2 and hint in result.output


def test_cli_missing_store_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    from planner.cli import main

    monkeypatch.setattr(sys, "argv", ["planner", "serverless", "--monthly-invocations", "3M", "--peak-tps", "40",
                                      "--p99", "300ms", "--store", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    assert exit_info.value.code == 1 and captured.out == ""
    assert captured.err.count("\n") == 1 and "no run collection here" in captured.err
