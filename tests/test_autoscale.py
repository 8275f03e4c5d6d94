"""Autoscaling: hand-checkable target-tracking scenarios, properties, traffic inputs, moto and the CLI."""

from __future__ import annotations

import json
import math
import re
import shutil
from functools import cache
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.capacity import fit_configuration, fit_store
from planner.catalog import load_catalog
from planner.cli import app
from planner.errors import InfeasibleError, InputError
from planner.ingest.traffic import traffic_from_csv, traffic_from_metrics
from planner.queueing import mmc_mean_response_s, mmc_response_quantile_s
from planner.recommend.autoscale import (
    SCALABLE_DIMENSION,
    TargetTrackingPolicy,
    latency_by_minute,
    plan_autoscaling,
    simulate_target_tracking,
)
from planner.recommend.realtime import recommend_realtime
from planner.scenarios.source import SAMPLE_STORE
from planner.store import RunStore
from planner.traffic import diurnal_traffic
from tests.samples import profile_run

C5_RUN = profile_run("c5.2xlarge-small-model")  # ml.c5.2xlarge, emulated, in the bundled sample collection
M5_RUN = profile_run("m5.xlarge-small-model")  # ml.m5.xlarge, likewise
FIXTURES = Path(__file__).parent / "fixtures"
SERVERS, SERVICE_S = 8, 8 / 210  # an M/M/8 instance saturating at 210 TPS
runner = CliRunner()


def _tps(invocations_per_minute) -> np.ndarray:
    return np.asarray(invocations_per_minute, dtype=float) / 60.0


def _policy(**kwargs) -> TargetTrackingPolicy:
    """Target 100 invocations per instance per minute, datapoints seen without delay: easy arithmetic
    for hand-checked timelines (tests/test_autoscale_aws.py covers the delay)."""
    return TargetTrackingPolicy(**{"target_invocations_per_instance_per_minute": 100.0, "min_capacity": 1,
                                   "max_capacity": 20, "metric_delay_minutes": 0, **kwargs})


def _events(timeline) -> list[tuple[int, str, int, int]]:
    return [(e.minute, e.action, e.from_count, e.to_count) for e in timeline.events]


@cache
def mmc_fit():
    """An instance measured exactly as an M/M/8 queue (p99 rises with load, then diverges)."""
    loads = np.linspace(20, 200, 10)
    frame = pd.DataFrame({"run_id": "0" * 16, "instance_type": "ml.m5.12xlarge", "origin": "emulated",
                          "source": "points", "throughput_rps": loads,
                          "latency_mean_ms": [1000 * mmc_mean_response_s(x, SERVICE_S, SERVERS) for x in loads]})
    for p in (50, 99):
        frame[f"latency_p{p}_ms"] = [1000 * mmc_response_quantile_s(p / 100, x, SERVICE_S, SERVERS) for x in loads]
    frame["concurrency"] = frame["throughput_rps"] * frame["latency_mean_ms"] / 1000
    return fit_configuration(frame, bootstrap_resamples=20, with_usl=False)


@cache
def c5_fits():
    return fit_store(RunStore(SAMPLE_STORE), [C5_RUN], for_sizing=True)


# --------------------------------------------------------------------------- hand-checked timelines


@pytest.mark.parametrize(("startup_s", "serving_from"), [(300, 18), (90, 15), (0, 13)])
def test_step_up_scales_out_after_three_minutes_plus_startup(startup_s, serving_from):
    traffic = _tps([50] * 10 + [300] * 30)  # 0.5x target, then 3x from minute 10
    timeline = simulate_target_tracking(traffic, _policy(startup_s=startup_s), initial_capacity=1)
    # minutes 10, 11, 12 above target: the alarm fires at the end of minute 12, for ceil(300/100) = 3
    assert _events(timeline)[0] == (12, "scale-out", 1, 3)
    assert timeline.events[0].effective_minute == serving_from  # 13 min + start-up, rounded up to a minute
    assert (timeline.in_service[:serving_from] == 1).all() and (timeline.in_service[serving_from:] == 3).all()
    # starting instances are billed from the decision
    assert (timeline.billed[:13] == 1).all() and (timeline.billed[13:] == 3).all()


def test_no_scale_in_before_fifteen_low_minutes():
    steady = [400] * 10  # 4 instances at exactly the target: neither alarm
    timeline = simulate_target_tracking(_tps(steady + [100] * 40), _policy(), initial_capacity=4)
    assert _events(timeline) == [(24, "scale-in", 4, 1)]  # low minutes 10..24: fifteen of them
    assert (timeline.in_service[:25] == 4).all() and (timeline.in_service[25:] == 1).all()
    # one minute back at 0.9 x target or above restarts the count
    interrupted = simulate_target_tracking(_tps(steady + [100] * 10 + [360] + [100] * 30), _policy(),
                                           initial_capacity=4)
    assert _events(interrupted) == [(35, "scale-in", 4, 1)]  # low again from 21: 21..35


def test_no_activity_while_instances_start():
    # the alarm holds from the end of minute 12, but the first activity is still starting until 18
    traffic = _tps([100] * 10 + [300] * 3 + [1000] * 20)
    timeline = simulate_target_tracking(traffic, _policy(startup_s=300, scale_out_cooldown_s=0), initial_capacity=1)
    assert _events(timeline)[:2] == [(12, "scale-out", 1, 3), (18, "scale-out", 3, 10)]


@pytest.mark.parametrize(("cooldown_s", "second"), [(300, 24), (600, 29)])
def test_scale_in_cooldown_spaces_scale_ins(cooldown_s, second):
    traffic = _tps([1000] * 5 + [500] * 15 + [100] * 30)
    timeline = simulate_target_tracking(traffic, _policy(scale_in_cooldown_s=cooldown_s), initial_capacity=10)
    assert _events(timeline) == [(19, "scale-in", 10, 5), (second, "scale-in", 5, 1)]


def test_scale_out_during_scale_in_cooldown_ends_it():
    traffic = _tps([1000] * 5 + [100] * 25 + [300] * 10 + [100] * 40)
    policy = _policy(scale_in_cooldown_s=3600)
    timeline = simulate_target_tracking(traffic, policy, initial_capacity=10)
    # scale-in at 19 starts a one-hour cooldown; the scale-out at 32 is not blocked and ends it, so the
    # next scale-in needs only fifteen low minutes (40..54), not the end of the hour (minute 79)
    assert _events(timeline) == [(19, "scale-in", 10, 1), (32, "scale-out", 1, 3), (54, "scale-in", 3, 1)]
    no_spike = simulate_target_tracking(_tps([1000] * 5 + [500] * 15 + [100] * 60), policy, initial_capacity=10)
    assert _events(no_spike) == [(19, "scale-in", 10, 5), (79, "scale-in", 5, 1)]


def test_min_and_max_capacity_bound_every_decision():
    timeline = simulate_target_tracking(_tps([0] * 20 + [5000] * 20), _policy(min_capacity=2, max_capacity=6),
                                        initial_capacity=4)
    assert _events(timeline) == [(14, "scale-in", 4, 2), (22, "scale-out", 2, 6)]


def test_disable_scale_in_keeps_the_peak_count():
    traffic = _tps([100] * 5 + [600] * 20 + [50] * 60)
    assert [e.action for e in simulate_target_tracking(traffic, _policy()).events] == ["scale-out", "scale-in"]
    kept = simulate_target_tracking(traffic, _policy(disable_scale_in=True))
    assert [e.action for e in kept.events] == ["scale-out"] and kept.in_service[-1] == 6


def test_more_max_capacity_can_add_breaches_when_scaling_in():
    """Target tracking is not monotone in max capacity: a larger fleet sees a lower metric, scales in
    where a capped fleet cannot, and then meets a spike with fewer instances."""
    fit = mmc_fit()
    target = 60.0 * 100.0  # 100 TPS per instance
    low = [350.0] * 9 + [460.0]  # the capped fleet (5) sees 92 TPS each once every 10 minutes: never low
    traffic = np.array([900.0] * 20 + low * 4 + [900.0] * 20)  # 5 instances: 180 TPS each, within the SLA
    breaches = {}
    for cap in (5, 8):
        timeline = simulate_target_tracking(traffic, TargetTrackingPolicy(target, 1, cap, metric_delay_minutes=0),
                                            initial_capacity=cap)
        _, latency = latency_by_minute(fit, traffic, timeline.in_service)
        breaches[cap] = int((latency > 300).sum())
        assert timeline.in_service[59] == (5 if cap == 5 else 4)
    # minute 59 (460 TPS, 115 each on 4) already counts for the alarm: scale-out at the end of 61, serving
    # from 67; until then 4 instances take 225 TPS each, beyond their 210 TPS saturation
    assert breaches == {5: 0, 8: 7}


# --------------------------------------------------------------------------- properties

traffic_minutes = st.lists(st.floats(min_value=0, max_value=2000, allow_nan=False), min_size=1, max_size=240)


@settings(max_examples=60, deadline=None)
@given(traffic=traffic_minutes, low=st.integers(1, 5), extra=st.integers(0, 20), start=st.integers(0, 40),
       startup_s=st.integers(0, 900), disable=st.booleans())
def test_instance_count_always_within_min_and_max(traffic, low, extra, start, startup_s, disable):
    policy = TargetTrackingPolicy(6000.0, low, low + extra, startup_s=startup_s, disable_scale_in=disable)
    timeline = simulate_target_tracking(traffic, policy, initial_capacity=start)
    assert timeline.in_service.min() >= low and timeline.billed.max() <= low + extra
    assert (timeline.billed >= timeline.in_service).all()
    assert np.allclose(timeline.invocations_per_instance, np.asarray(traffic) * 60 / timeline.in_service)


@settings(max_examples=40, deadline=None)
@given(traffic=traffic_minutes, cap=st.integers(1, 15), more=st.integers(1, 15), sla_ms=st.floats(180, 2000))
def test_more_max_capacity_never_adds_breaches_without_scale_in(traffic, cap, more, sla_ms):
    fit = mmc_fit()
    breaches = []
    for max_capacity in (cap, cap + more):
        policy = TargetTrackingPolicy(6000.0, 1, max_capacity, disable_scale_in=True)
        timeline = simulate_target_tracking(traffic, policy, initial_capacity=1)
        breaches.append(int((latency_by_minute(fit, np.asarray(traffic), timeline.in_service)[1] > sla_ms).sum()))
    assert breaches[1] <= breaches[0]


@settings(max_examples=40, deadline=None)
@given(traffic=traffic_minutes.filter(lambda t: max(t) > 0), sla_ms=st.floats(180, 2000),
       max_utilization=st.floats(0.3, 1.0))
def test_static_provisioning_at_peak_never_breaches(traffic, sla_ms, max_utilization):
    fit = mmc_fit()
    capacity = fit.capacity_at_sla(sla_ms, 99.0, max_utilization).capacity_rps
    count = max(1, math.ceil(max(traffic) / capacity))  # a subnormal peak divides to 0
    policy = TargetTrackingPolicy(6000.0, count, count)
    timeline = simulate_target_tracking(traffic, policy)
    assert (timeline.in_service == count).all() and not timeline.events
    load, latency = latency_by_minute(fit, np.asarray(traffic), timeline.in_service)
    assert (load <= capacity * (1 + 1e-9)).all() and (latency <= sla_ms * (1 + 1e-9)).all()


def test_a_week_at_one_minute_resolution_scales_out_and_in_every_day():
    traffic = diurnal_traffic(1000, 100, 1440, 7 * 1440, noise=0.2, seed=1)
    timeline = simulate_target_tracking(traffic.tps, TargetTrackingPolicy(8000.0, 1, 50))
    assert timeline.in_service.size == 10080 and len(timeline.events) > 14  # at least one out and in per day


# --------------------------------------------------------------------------- traffic inputs


def test_diurnal_shape_runs_from_trough_to_peak():
    day = diurnal_traffic(1000, 100, 1440)
    assert day.minutes == 1440 and day.tps[0] == pytest.approx(100) and day.tps[720] == pytest.approx(1000)
    assert day.tps.mean() == pytest.approx(550) and day.tps[360] == pytest.approx(550)
    noisy = diurnal_traffic(1000, 100, 1440, 2880, noise=0.1, seed=7)
    assert noisy.minutes == 2880 and np.array_equal(noisy.tps, diurnal_traffic(1000, 100, 1440, 2880, 0.1, 7).tps)
    assert not np.array_equal(noisy.tps, diurnal_traffic(1000, 100, 1440, 2880, 0.1, 8).tps)
    assert abs(noisy.tps / np.tile(day.tps, 2) - 1).std() == pytest.approx(0.1 * math.sqrt(1 - 2 / math.pi), rel=0.1)


def test_csv_minute_tps(tmp_path):
    path = tmp_path / "traffic.csv"
    path.write_text("minute,tps\n0,10\n1,12.5\n2,0\n")
    assert traffic_from_csv(path).tps.tolist() == [10, 12.5, 0]
    path.write_text("minute,tps\n0,10\n2,12.5\n")
    with pytest.raises(InputError, match=r"traffic.csv: line 3 field 'minute': expected 1 \(consecutive"):
        traffic_from_csv(path)
    path.write_text("minute,tps\n0,10\n1,fast\n")
    with pytest.raises(InputError, match=r"line 3 field 'tps': expected a finite number >= 0, found 'fast'"):
        traffic_from_csv(path)


def test_csv_timestamp_invocations_spreads_periods_and_fills_gaps(tmp_path):
    path = tmp_path / "invocations.csv"
    path.write_text("timestamp,invocations\n2024-05-01T10:10:00Z,600\n2024-05-01T10:00:00Z,3000\n"
                    "2024-05-01T10:05:00Z,1500\n2024-05-01T10:20:00Z,300\n")
    profile = traffic_from_csv(path)
    expected = [3000 / 5] * 5 + [1500 / 5] * 5 + [600 / 5] * 5 + [0] * 5 + [300 / 5] * 5
    assert profile.tps.tolist() == pytest.approx(np.array(expected) / 60)
    assert profile.start.startswith("2024-05-01T10:00:00")
    assert any("1 missing period" in n for n in profile.notes)
    path.write_text("timestamp,invocations\n1714557600,60\n1714557660,120\n")  # epoch seconds
    assert traffic_from_csv(path).tps.tolist() == [1, 2]
    path.write_text("when,count\n1,2\n")
    with pytest.raises(InputError, match=r"header: expected columns 'minute,tps' or 'timestamp,invocations'"):
        traffic_from_csv(path)


def test_traffic_from_an_ingested_cloudwatch_invocations_series(tmp_path):
    store = tmp_path / "store"
    result = runner.invoke(app, ["ingest", str(FIXTURES / "cloudwatch" / "get_metric_statistics_invocations.boto3.json"),
                                 "--store", str(store)])
    assert result.exit_code == 0, result.output
    found = RunStore(store)
    (run_id,) = found.run_ids()
    profile = traffic_from_metrics(found.table("metrics", [run_id]), f"run {run_id}")
    assert profile.tps.tolist() == [50, 50, 100]  # Sum per minute 3000, 3000, 6000 (published out of order)
    with pytest.raises(InputError, match="run x: metrics: expected a CloudWatch metrics table"):
        traffic_from_metrics(RunStore(SAMPLE_STORE).table("metrics", [C5_RUN]), "run x")
    latency_only = found.table("metrics", [run_id]).assign(metric_name="ModelLatency", statistic="Average")
    with pytest.raises(InputError, match="expected an AWS/SageMaker Invocations Sum series, found ModelLatency"):
        traffic_from_metrics(latency_only, "run y")


# --------------------------------------------------------------------------- the plan


def test_plan_target_static_count_and_costs():
    fits = c5_fits()
    catalog = load_catalog()
    traffic = diurnal_traffic(1000, 100, 1440, 2 * 1440)
    plan = plan_autoscaling(fits, catalog, traffic, latency_target_ms=200)
    (best,) = recommend_realtime(fits, catalog, target_tps=1000, latency_target_ms=200, routing="random").options
    assert plan.instance_type == "ml.c5.2xlarge" and plan.static.max_instances == best.instance_count
    max_tps = fits[0].capacity_at_sla(200, 99.0, 1.0).capacity_rps  # not capped: the 0.5 is the headroom
    assert plan.capacity_tps_per_instance == pytest.approx(best.capacity_tps_per_instance)
    assert plan.capacity_tps_per_instance < max_tps
    assert plan.target_tps_per_instance == pytest.approx(max_tps)
    assert plan.policy.target_invocations_per_instance_per_minute == pytest.approx(max_tps * 0.5 * 60, abs=0.01)
    price = catalog.price("ml.c5.2xlarge")
    assert plan.static.usd == pytest.approx(best.instance_count * 48 * price)
    assert plan.autoscaled.usd == pytest.approx(plan.timeline.billed.sum() / 60 * price)
    assert plan.static.breach_minutes == 0 and 0 < plan.savings_usd < plan.static.usd
    chosen = [r for r in plan.max_capacity_search if r["max_capacity"] == plan.policy.max_capacity]
    assert chosen and min(r["breach_minutes"] for r in plan.max_capacity_search) == chosen[0]["breach_minutes"]
    given_plan = plan_autoscaling(fits, catalog, traffic, latency_target_ms=200, target_tps_per_instance=200,
                                  safety_factor=0.6, min_capacity=2, max_capacity=7)
    assert given_plan.policy.target_invocations_per_instance_per_minute == pytest.approx(200 * 0.6 * 60)
    assert (given_plan.policy.min_capacity, given_plan.policy.max_capacity) == (2, 7)
    assert given_plan.timeline.in_service.min() >= 2 and given_plan.timeline.billed.max() <= 7


def test_a_longer_scale_out_window_reacts_later_to_the_morning_ramp():
    fits, catalog = c5_fits(), load_catalog()
    traffic = diurnal_traffic(1000, 100, 1440, 1440)
    plans = {m: plan_autoscaling(fits, catalog, traffic, latency_target_ms=200, min_capacity=1, max_capacity=8,
                                 scale_out_minutes=m) for m in (3, 10)}
    first_out = {m: next(e.minute for e in p.timeline.events if e.action == "scale-out") for m, p in plans.items()}
    assert plans[10].policy.scale_out_minutes == 10 and first_out[10] >= first_out[3] + 7


def test_plan_for_an_instance_type_without_a_curve_says_why():
    with pytest.raises(InfeasibleError, match="no fitted latency curve of ml.c5d.xlarge"):
        plan_autoscaling(c5_fits(), load_catalog(), diurnal_traffic(100, 10, 60), latency_target_ms=200,
                         instance_type="ml.c5d.xlarge")


def test_exported_policy_is_accepted_by_application_auto_scaling(aws_env, tmp_path):
    plan = plan_autoscaling(c5_fits(), load_catalog(), diurnal_traffic(1000, 100, 1440), latency_target_ms=200,
                            scale_in_cooldown_s=600)
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(plan.policy.scaling_policy_configuration()))
    client = boto3.client("application-autoscaling")
    resource = "endpoint/my-endpoint/variant/AllTraffic"
    client.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource,
                                    ScalableDimension=SCALABLE_DIMENSION, MinCapacity=plan.policy.min_capacity,
                                    MaxCapacity=plan.policy.max_capacity)
    exported = json.loads(policy_file.read_text())
    client.put_scaling_policy(PolicyName="planner-target-tracking", ServiceNamespace="sagemaker", ResourceId=resource,
                              ScalableDimension=SCALABLE_DIMENSION, PolicyType="TargetTrackingScaling",
                              TargetTrackingScalingPolicyConfiguration=exported)
    (stored,) = client.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)["ScalingPolicies"]
    config = stored["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == pytest.approx(plan.policy.target_invocations_per_instance_per_minute)
    assert config["PredefinedMetricSpecification"] == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert (config["ScaleInCooldown"], config["ScaleOutCooldown"]) == (600, 300)
    (target,) = client.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (plan.policy.min_capacity, plan.policy.max_capacity)


# --------------------------------------------------------------------------- CLI


def test_cli_on_the_sample_collection_with_a_diurnal_profile(tmp_path):
    policy_file, chart = tmp_path / "policy.json", tmp_path / "timeline.html"
    result = runner.invoke(app, ["autoscale", "--traffic", "diurnal:peak=1000,trough=100,period=24h,duration=2d",
                                 "--store", str(SAMPLE_STORE), "--run", C5_RUN, "--startup-s", "600",
                                 "--export-policy", str(policy_file), "--plot", str(chart)])
    assert result.exit_code == 0, result.output
    assert "SLA-breach minutes" in result.stdout and "start-up 600 s" in result.stdout
    assert re.search(r"Savings against static provisioning at the peak: \$\d+\.\d\d \(\d+%\); \d+ SLA-breach "
                     r"minutes autoscaled", result.stdout)
    exported = json.loads(policy_file.read_text())
    assert exported["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert f"TargetValue {exported['TargetValue']:,.0f} invocations" in result.stdout
    assert "SLA-breach minutes" in chart.read_text()


def test_cli_json_with_traffic_from_an_ingested_cloudwatch_run(tmp_path):
    store = tmp_path / "store"
    shutil.copytree(SAMPLE_STORE, store)
    ingest = runner.invoke(app, ["ingest", str(FIXTURES / "cloudwatch" / "get_metric_statistics_invocations.boto3.json"),
                                 "--store", str(store)])
    assert ingest.exit_code == 0, ingest.output
    run_id = ingest.stdout.split()[0]
    result = runner.invoke(app, ["autoscale", "--traffic", f"run:{run_id[:8]}", "--store", str(store), "--run", C5_RUN,
                                 "--run", M5_RUN, "--target-tps-per-instance", "50", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # the cheapest feasible at the 100 TPS peak: one ml.m5.xlarge (~107 TPS at the SLA) beats one ml.c5.2xlarge
    assert data["instance_type"] == "ml.m5.xlarge" and data["static_at_peak"]["max_instances"] == 1
    assert data["traffic"]["minutes"] == 3 and data["traffic"]["peak_tps"] == 100 and run_id in data["traffic"]["source"]
    assert data["target_value_invocations_per_instance_per_minute"] == 50 * 0.5 * 60
    assert data["target_tps_per_instance_source"] == "given"
    assert data["breach_minutes"] == data["autoscaled"]["breach_minutes"]
    usd = data["usd"]
    assert usd["savings"] == pytest.approx(usd["static_at_peak"] - usd["autoscaled"])
    assert data["min_capacity"] <= data["timeline"]["min_in_service"] <= data["max_capacity"]
    assert data["price_catalog"]["date"] and data["model"]["label"].startswith("ml.m5.xlarge")
    assert {"heldout_error", "latency_model", "origin", "run_ids"} <= data["model"].keys()
    assert data["model"]["run_ids"] == [M5_RUN]


@pytest.mark.parametrize("args", [["--traffic", "diurnal:peak=100,trough=500,period=1h"],
                                  ["--traffic", "diurnal:peak=100,period=1h"],
                                  ["--traffic", "diurnal:peak=100,trough=5,period=1h,color=red"],
                                  ["--traffic", "nothing-here.csv"],
                                  ["--traffic", "diurnal:peak=100,trough=5,period=1h", "--min-capacity", "5",
                                   "--max-capacity", "2"]])
def test_cli_usage_errors(args):
    result = runner.invoke(app, ["autoscale", *args, "--store", str(SAMPLE_STORE)])
    assert result.exit_code == 2, result.output
