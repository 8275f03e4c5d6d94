"""Autoscaling LLM inference components on ConcurrentRequestsPerCopy, on the suite's real CSVs."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import botocore.session
import pandas as pd
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.catalog import load_catalog
from planner.cli import app
from planner.errors import InfeasibleError
from planner.llm_fit import fit_llm_configurations
from planner.recommend.autoscale import (
    COPY_SCALABLE_DIMENSION,
    ScalingBehaviour,
    TargetTrackingPolicy,
    simulate_target_tracking,
)
from planner.recommend.llm import LlmSlo
from planner.recommend.llm_autoscale import copy_concurrency_metric, plan_copy_autoscaling
from planner.scenarios.autoscaling import AutoscaleScenario
from planner.scenarios.llm import LlmAutoscaleScenario, plan_llm_autoscale
from planner.traffic import diurnal_traffic, traffic_profile
from tests.test_llm_fit import KIMI_P5E, SUITE, fitted, suite_frames

CATALOG = load_catalog("us-east-1")
KIMI_SLO = (LlmSlo("e2e", "p99", 12_500),)
GPTOSS_G6E = SUITE / "gpt-oss-20b_g6e_g6e12xlarge_multiturn_chat_useast1_20260310_182735.csv"
CLOUDWATCH = Path(__file__).parent / "fixtures" / "cloudwatch" / "get_metric_statistics_invocations.boto3.json"
runner = CliRunner()


def kimi_plan(**kwargs):
    return plan_copy_autoscaling([fitted(KIMI_P5E)], CATALOG, diurnal_traffic(10, 1, 1440), input_tokens=511,
                                 output_tokens=600, slos=KIMI_SLO, **kwargs)


# --------------------------------------------------------------------------- the metric


def test_concurrency_at_the_measured_rates_is_the_measured_concurrency():
    """Open-loop arrivals at the rate a closed-loop level served keep that level's concurrency in flight."""
    fit = fitted(KIMI_P5E)
    levels = pd.read_csv(KIMI_P5E)
    for c, rps in levels[["concurrency", "rps"]].to_numpy():  # rps = c / latency_avg, as the suite derives it
        assert fit.concurrency_at_rate(rps, 64) == pytest.approx(c, rel=0.05)
    # above what any concurrency up to the limit serves: unbounded (the CSV's 2.61 at C=32, fitted 2.599)
    assert fit.concurrency_at_rate(2.61, 32) == math.inf and fit.concurrency_at_rate(0.0, 32) == 0.0


@settings(max_examples=40, deadline=None)
@given(share=st.floats(0.01, 0.99))
def test_concurrency_is_littles_law_fixed_point(share):
    fit = fitted(KIMI_P5E)
    rps = share * fit.requests_per_s(32)
    c = fit.concurrency_at_rate(rps, 32)
    assert c == pytest.approx(rps * fit.predict_ms("e2e", "mean", c) / 1000, rel=1e-6)


def test_one_more_copy_more_than_halves_the_concurrency():
    """Latency falls with the batch, so concurrency per copy is not proportional to 1 / copies."""
    metric = copy_concurrency_metric(fitted(KIMI_P5E), 32)
    one, two = metric(1.98, 1), metric(1.98, 2)
    assert one == pytest.approx(20.5, rel=0.05) and two == pytest.approx(7.4, rel=0.05) and two < one / 2


# --------------------------------------------------------------------------- the plan


def test_plan_target_static_copies_and_costs():
    plan = kimi_plan()
    fit = plan.fit
    assert plan.option.instance_type == "ml.p5e.48xlarge" and plan.option.copies_per_instance == 1
    assert plan.concurrency_at_slo_per_copy == 32 and plan.policy.target_concurrent_requests_per_copy == 16
    # static: ceil(peak 10 req/s / 2.60 req/s per copy at C=32) = 4 copies, on 4 instances at $80/hour
    assert plan.requests_per_s_per_copy_at_slo == pytest.approx(fit.requests_per_s(32))
    assert (plan.static.max_copies, plan.static.max_instances, plan.static.breach_minutes) == (4, 4, 0)
    assert plan.static.usd == pytest.approx(4 * 24 * 80.0)
    assert plan.autoscaled.usd == pytest.approx(plan.timeline.billed.sum() / 60 * 80.0)
    assert 0 < plan.savings_usd < plan.static.usd and plan.autoscaled.breach_minutes == 0
    frame = plan.timeline_frame()
    busiest = frame.loc[frame["rps"].idxmax()]
    assert busiest["concurrent_requests_per_copy"] == pytest.approx(
        fit.concurrency_at_rate(10 / busiest["copies_in_service"], 32))
    assert busiest["e2e_ms"] == pytest.approx(fit.predict_ms("e2e", "p99", busiest["concurrent_requests_per_copy"]))
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["metric"] == "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    assert data["scaling_policy_configuration"]["TargetValue"] == 16.0


def test_scale_ins_undone_by_the_non_proportional_metric_are_reported_and_damped():
    counts = {}
    for ratio in (0.9, 0.5):
        plan = kimi_plan(scale_in_ratio=ratio)
        (note,) = [n for n in plan.notes if "undone by a scale-out" in n]
        counts[ratio] = int(note.split()[0])
    assert counts[0.9] == 12 and counts[0.5] == 4


def test_copies_pack_onto_instances_by_accelerators():
    """One copy per GPU on the 4-GPU ml.g6e.12xlarge: instances = ceil(copies / 4)."""
    runs, steps = suite_frames(GPTOSS_G6E, labels={"gpu_count": "1"})
    fits = fit_llm_configurations(runs, steps)
    plan = plan_copy_autoscaling(fits, CATALOG, diurnal_traffic(20, 2, 720), input_tokens=567, output_tokens=600,
                                 slos=[LlmSlo("e2e", "p99", 12_000)])
    assert plan.option.copies_per_instance == 4
    frame = plan.timeline_frame()
    assert (frame["instances_billed"] == -(-frame["copies_billed"] // 4)).all()
    assert plan.static.max_instances == math.ceil(plan.static.max_copies / 4)
    assert plan.static.usd == pytest.approx(plan.static.max_instances * 12 * 13.12)


@settings(max_examples=25, deadline=None)
@given(peak=st.floats(0.5, 30), trough_share=st.floats(0, 1))
def test_static_copies_at_the_peak_never_breach(peak, trough_share):
    plan = plan_copy_autoscaling([fitted(KIMI_P5E)], CATALOG, diurnal_traffic(peak, peak * trough_share, 60),
                                 input_tokens=511, output_tokens=600, slos=KIMI_SLO)
    assert plan.static.breach_minutes == 0 and plan.static.overloaded_minutes == 0
    assert plan.autoscaled.min_copies >= plan.policy.min_capacity
    assert plan.autoscaled.max_copies <= plan.policy.max_capacity


def test_unreachable_slo_says_why():
    with pytest.raises(InfeasibleError, match="unreachable even at concurrency 1"):
        plan_copy_autoscaling([fitted(KIMI_P5E)], CATALOG, diurnal_traffic(10, 1, 60), input_tokens=511,
                              output_tokens=600, slos=[LlmSlo("e2e", "p99", 1_000)])


def test_behaviour_defaults_are_defined_once():
    defaults = ScalingBehaviour()
    for scenario in (AutoscaleScenario(latency_target_ms=200), LlmAutoscaleScenario(input_tokens=1, output_tokens=1)):
        assert scenario.startup_s == defaults.startup_s and scenario.scale_in_ratio == defaults.scale_in_ratio
    assert TargetTrackingPolicy(60.0, 1, 2).metric_delay_minutes == defaults.metric_delay_minutes
    plan = plan_llm_autoscale([fitted(KIMI_P5E)], CATALOG, diurnal_traffic(10, 1, 120),
                              LlmAutoscaleScenario(input_tokens=511, output_tokens=600, e2e_ms=12_500,
                                                   scale_in_minutes=5, startup_s=60))
    assert (plan.policy.scale_in_minutes, plan.policy.startup_s) == (5, 60)


def test_an_overloaded_minute_asks_for_the_maximum():
    metric = copy_concurrency_metric(fitted(KIMI_P5E), 32)
    policy = plan_copy_autoscaling([fitted(KIMI_P5E)], CATALOG, diurnal_traffic(10, 1, 60), input_tokens=511,
                                   output_tokens=600, slos=KIMI_SLO, metric_delay_minutes=0).policy
    timeline = simulate_target_tracking(traffic_profile([1.0] * 3 + [20.0] * 10, "step").tps, policy,
                                        initial_capacity=1, metric=metric)
    assert math.isinf(timeline.invocations_per_instance[3])
    assert timeline.events[0].to_count == policy.max_capacity


# --------------------------------------------------------------------------- AWS and the CLI


def test_copy_policy_names_are_in_the_application_auto_scaling_api_model():
    """moto's server does not know inference components yet: check the names against botocore's API model."""
    model = botocore.session.get_session().get_service_model("application-autoscaling")
    config = kimi_plan().policy.scaling_policy_configuration()
    metric = config["PredefinedMetricSpecification"]["PredefinedMetricType"]
    assert metric == "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    assert metric in model.shape_for("MetricType").enum
    assert COPY_SCALABLE_DIMENSION in model.shape_for("ScalableDimension").enum
    members = model.shape_for("TargetTrackingScalingPolicyConfiguration").members
    assert set(config) <= set(members) and config["TargetValue"] == 16.0


def test_cli_json_with_traffic_from_an_ingested_cloudwatch_run(tmp_path):
    store = tmp_path / "store"
    for path in (KIMI_P5E, CLOUDWATCH):
        result = runner.invoke(app, ["ingest", str(path), "--store", str(store)])
        assert result.exit_code == 0, result.output
    run_id = next(line.split()[0] for line in result.stdout.splitlines() if "added" in line)
    policy_file = tmp_path / "policy.json"
    result = runner.invoke(app, ["llm", "autoscale", "--traffic", f"run:{run_id[:8]}", "--store", str(store),
                                 "--input-tokens", "511", "--output-tokens", "600", "--e2e-p99", "12.5s",
                                 "--export-policy", str(policy_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # 50, 50, 100 requests/s: static copies = ceil(100 / 2.60) = 39 on as many ml.p5e.48xlarge
    assert data["traffic"]["peak_tps"] == 100 and data["static_at_peak"]["max_copies"] == 39
    assert data["configuration"].startswith("ml.p5e.48xlarge kimi-k2.5")
    assert json.loads(policy_file.read_text()) == data["scaling_policy_configuration"]
    assert "inference-component/INFERENCE_COMPONENT_NAME" in data["apply_commands"][0]
    text = runner.invoke(app, ["llm", "autoscale", "--traffic", "diurnal:peak=10,trough=1,period=2h",
                               "--store", str(store), "--input-tokens", "511", "--output-tokens", "600",
                               "--e2e-p99", "12.5s"])
    assert text.exit_code == 0, text.output
    assert "ConcurrentRequestsPerCopy TargetValue 16" in text.stdout and "SLO-breach minutes" in text.stdout


@pytest.mark.parametrize("args", [["--percentile", "p42"], ["--min-copies", "5", "--max-copies", "2"],
                                  ["--traffic", "nothing-here.csv"]])
def test_cli_usage_errors(args, tmp_path):
    base = ["llm", "autoscale", "--traffic", "diurnal:peak=10,trough=1,period=1h", "--input-tokens", "511",
            "--output-tokens", "600", "--store", str(tmp_path / "store")]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 2, result.output


def test_cli_behaviour_defaults_are_the_library_defaults():
    """The CLI spells the defaults in its --help; they must be ScalingBehaviour's, for both commands."""
    root = typer.main.get_command(app)
    commands = [root.commands["autoscale"], root.commands["llm"].commands["autoscale"]]
    expected = asdict(ScalingBehaviour())
    for command in commands:
        defaults = {p.name: p.default for p in command.params if p.name in expected}
        assert defaults == expected
