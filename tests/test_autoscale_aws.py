"""Autoscaling against documented Application Auto Scaling behaviour (issue #13 items 9 and 17):
unbounded worst latency when overloaded, headroom applied once, scale-out during the scale-out
cooldown, CloudWatch's metric delay, and Apply commands that run against moto."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess

import boto3
import pytest
from typer.testing import CliRunner

from planner.catalog import load_catalog
from planner.cli import app
from planner.ingest.traffic import traffic_from_csv
from planner.recommend.autoscale import (
    SCALABLE_DIMENSION,
    apply_commands,
    plan_autoscaling,
    simulate_target_tracking,
)
from planner.scenarios.source import SAMPLE_STORE
from planner.traffic import TrafficProfile
from tests.test_autoscale import C5_RUN, _events, _policy, _tps, mmc_fit

runner = CliRunner()


def _step_traffic(tmp_path) -> TrafficProfile:
    """20 quiet minutes, 40 at 800 TPS (beyond one instance's 210 TPS saturation), 30 quiet."""
    path = tmp_path / "step.csv"
    path.write_text("minute,tps\n" + "".join(f"{m},{800 if 20 <= m < 60 else 50}\n" for m in range(90)))
    return traffic_from_csv(path)


def test_overloaded_minutes_leave_the_worst_latency_unbounded(tmp_path):
    plan = plan_autoscaling([mmc_fit()], load_catalog(), _step_traffic(tmp_path), latency_target_ms=1000)
    auto = plan.autoscaled
    assert auto.overloaded_minutes > 0 and auto.max_latency_ms is None  # was the worst *finite* minute
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["autoscaled"]["max_latency_ms"] is None and data["timeline"]["max_latency_ms"] is None
    assert data["autoscaled"]["overloaded_minutes"] == auto.overloaded_minutes
    assert plan.static.overloaded_minutes == 0 and plan.static.max_latency_ms < 1000


def test_the_target_value_applies_the_headroom_once(tmp_path):
    fit = mmc_fit()  # SLA 1000 ms: p99 stays under it almost to the 210 TPS saturation
    plan = plan_autoscaling([fit], load_catalog(), _step_traffic(tmp_path), latency_target_ms=1000,
                            max_utilization=0.7)
    max_tps = fit.capacity_at_sla(1000, 99.0, 1.0).capacity_rps
    assert plan.target_tps_per_instance == pytest.approx(max_tps)
    target = plan.policy.target_invocations_per_instance_per_minute
    assert target == pytest.approx(max_tps * 0.5 * 60, abs=0.01)
    assert target / 60 / fit.saturation_rps > 0.45  # was 0.7 × 0.5 = 35% of saturation
    assert "× 0.5 × 60" in plan.target_value_derivation and "once" in plan.target_value_derivation
    assert plan.capacity_tps_per_instance == pytest.approx(0.7 * fit.saturation_rps)  # the static count's cap


@pytest.mark.parametrize("cooldown_s", [0, 300, 600])
def test_scale_out_during_the_scale_out_cooldown_counts_capacity_already_added(cooldown_s):
    traffic = _tps([100] * 10 + [300] * 9 + [1000] * 20)
    policy = _policy(scale_out_cooldown_s=cooldown_s, metric_delay_minutes=0)
    timeline = simulate_target_tracking(traffic, policy, initial_capacity=1)
    # 1 -> 3 at the end of 12, serving from 18; 19..21 above the target: 10 wanted > the 3 already set,
    # so the scale-out cooldown (18 + 5 or 10 min) does not hold it back
    assert _events(timeline) == [(12, "scale-out", 1, 3), (21, "scale-out", 3, 10)]


@pytest.mark.parametrize(("cooldown_s", "expected"), [
    (300, [(14, "scale-out", 1, 3)]),
    # without a cooldown, the datapoint of minute 13 (300 invocations on the 1 instance then serving)
    # seen at the end of 15 is applied to the 3 now serving: 3 × 300 / 100 = 9
    (0, [(14, "scale-out", 1, 3), (15, "scale-out", 3, 9)])])
def test_a_delayed_datapoint_overshoots_only_outside_the_scale_out_cooldown(cooldown_s, expected):
    traffic = _tps([100] * 10 + [300] * 30)
    policy = _policy(scale_out_cooldown_s=cooldown_s, startup_s=0, metric_delay_minutes=2)
    assert _events(simulate_target_tracking(traffic, policy, initial_capacity=1))[:2] == expected


@pytest.mark.parametrize(("delay_minutes", "scale_out", "scale_in"), [(0, 12, 64), (2, 14, 66), (4, 16, 68)])
def test_the_metric_delay_postpones_every_decision(delay_minutes, scale_out, scale_in):
    traffic = _tps([50] * 10 + [300] * 40 + [50] * 40)  # the scale-in alarm needs 15 low datapoints: 50..64
    timeline = simulate_target_tracking(traffic, _policy(metric_delay_minutes=delay_minutes), initial_capacity=1)
    assert _events(timeline) == [(scale_out, "scale-out", 1, 3), (scale_in, "scale-in", 3, 1)]
    assert timeline.events[0].datapoint_minute == 12 and timeline.events[1].datapoint_minute == 64


def test_the_plan_says_where_the_simulation_differs_from_aws(tmp_path):
    plan = plan_autoscaling([mmc_fit()], load_catalog(), _step_traffic(tmp_path), latency_target_ms=1000,
                            metric_delay_minutes=3)
    assert plan.policy.metric_delay_minutes == 3
    differences = " ".join(plan.to_dict()["simulation_differences"])
    for phrase in ("start-up", "delay", "Updating", "15", "RANDOM"):
        assert phrase in differences


@pytest.mark.skipif(shutil.which("aws") is None, reason="needs the AWS CLI")
def test_cli_apply_commands_run_against_application_auto_scaling(aws_env, tmp_path):
    traffic = tmp_path / "step.csv"
    traffic.write_text("minute,tps\n" + "".join(f"{m},{1000 if 20 <= m < 60 else 20}\n" for m in range(90)))
    result = runner.invoke(app, ["autoscale", "--traffic", str(traffic), "--store", str(SAMPLE_STORE), "--run",
                                 C5_RUN, "--endpoint-name", "my-endpoint",
                                 "--variant-name", "blue"])
    assert result.exit_code == 0, result.output
    worst = re.search(r"overloaded for (\d+) min", result.stdout)
    assert worst and int(worst.group(1)) > 0  # not a finite worst p99
    assert "Differs from AWS:" in result.stdout and "metric delay 2 min" in result.stdout
    commands = [line.strip().removeprefix("Apply:").strip() for line in result.stdout.splitlines()
                if line.strip().startswith(("Apply:", "aws application-autoscaling"))]
    assert [shlex.split(c)[2] for c in commands] == ["register-scalable-target", "put-scaling-policy"]
    for command in commands:
        done = subprocess.run(shlex.split(command), env={**os.environ, **aws_env}, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
    client = boto3.client("application-autoscaling")
    resource = "endpoint/my-endpoint/variant/blue"
    (stored,) = client.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)["ScalingPolicies"]
    assert stored["ScalableDimension"] == SCALABLE_DIMENSION and stored["PolicyType"] == "TargetTrackingScaling"
    assert stored["PolicyName"] == "planner-target-tracking"
    target = stored["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]  # passed inline as JSON
    assert f"TargetValue {target:,.0f} invocations" in result.stdout


def test_apply_commands_name_the_policy_file_when_exported():
    register, put = apply_commands(_policy(min_capacity=2, max_capacity=7), "ep", "AllTraffic", "pol",
                                   configuration_file="out/policy.json")
    assert shlex.split(register)[-4:] == ["--min-capacity", "2", "--max-capacity", "7"]
    assert shlex.split(put)[-2:] == ["--target-tracking-scaling-policy-configuration", "file://out/policy.json"]
    assert "--policy-name pol" in put and "--resource-id endpoint/ep/variant/AllTraffic" in put
