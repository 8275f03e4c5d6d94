"""planner collect sagemaker://: real Locust and boto3 against a real moto server over HTTP.

moto 5.2.5 (server mode) answers sagemaker-runtime invoke_endpoint with canned bodies, keeps
SageMaker resources, and computes get-metric-data Sum/Average/Maximum over put_metric_data
datapoints; it answers percentile stats (Stat "p99") with HTTP 500, which the pull reports as a
warning while the other statistics still land. Paging (NextToken) and percentile answers, which
moto cannot give, are tested with botocore's Stubber on get_metric_data's real response shape.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import uuid
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.catalog import load_catalog
from planner.cli import app
from planner.collect.load import StairsShape, parse_shape
from planner.collect.sagemaker import (
    SageMakerTarget,
    collect_sagemaker,
    describe_endpoint,
    metric_queries,
    metric_window,
    parse_target,
)
from planner.collect.sweep import busy_seconds, parse_memory_sizes, plan_sweep, run_sweep
from planner.collection import reparse
from planner.errors import InputError, PlannerError
from planner.store import RunStore

TINY = "stairs:users=2,hold=2s,spawn-rate=20"
ROLE = "arn:aws:iam::123456789012:role/planner-test"
runner = CliRunner()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sagemaker(aws_env):
    return boto3.client("sagemaker")


@pytest.fixture
def model(sagemaker) -> str:
    name = _name("model")
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"})
    return name


def _endpoint(sagemaker, model: str, *variants: dict) -> str:
    name = _name("ep")
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": model, **v} for v in variants])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return name


def _put_metrics(endpoint: str, variant: str, at: dt.datetime) -> None:
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    cloudwatch = boto3.client("cloudwatch")
    series = [("AWS/SageMaker", "Invocations", "Count", (5.0, 7.0)),
              ("AWS/SageMaker", "ModelLatency", "Microseconds", (1000.0, 2000.0, 3000.0)),
              ("/aws/sagemaker/Endpoints", "CPUUtilization", "Percent", (40.0, 60.0))]
    for namespace, metric, unit, values in series:
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[
            {"MetricName": metric, "Dimensions": dims, "Timestamp": at, "Value": v, "Unit": unit} for v in values])


def _mine(sagemaker, prefix: str) -> list[str]:
    endpoints = [e["EndpointName"] for e in sagemaker.list_endpoints(MaxResults=100)["Endpoints"]]
    configs = [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]]
    return [n for n in endpoints + configs if n.startswith(prefix)]


# ---------------------------------------------------------------------------- collect


def test_run_is_labelled_from_describe_endpoint_and_holds_the_cloudwatch_pull(sagemaker, model, tmp_path):
    name = _endpoint(sagemaker, model, {"InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 2})
    _put_metrics(name, "AllTraffic", dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))  # inside the run
    store = RunStore(tmp_path / "store")
    result = collect_sagemaker(store, parse_target(f"sagemaker://{name}"), parse_shape(TINY),
                               out_dir=tmp_path / "out", max_duration_s=20, max_requests=80,
                               labels={"purpose": "test"})
    assert store.run_ids() == [result.outcome.run_id]  # Locust CSVs and CloudWatch pages: ONE run
    run = store.get(result.outcome.run_id).run
    assert (run["instance_type"], run["instance_count"], run["endpoint"], run["variant"]) == (
        "ml.m5.xlarge", 2, name, "AllTraffic")
    assert run["memory_mb"] is None and run["labels"]["purpose"] == "test"
    assert run["labels"]["target_url"] == f"sagemaker://{name}" and run["labels"]["endpoint_config"] == name
    assert result.collect.stop_reason == "max-requests" and result.collect.failure_count == 0
    requests = store.table("requests", [result.outcome.run_id])
    total = requests[requests["is_aggregate"]]["request_count"].iloc[0]
    assert 80 <= total <= 90 and name in set(requests["name"])
    metrics = store.table("metrics", [result.outcome.run_id])
    got = {(r.metric_name, r.statistic): (r.value, r.unit) for r in metrics.itertuples()}
    assert got[("Invocations", "Sum")] == (12.0, "count")
    assert got[("ModelLatency", "Average")] == (pytest.approx(2.0), "ms")  # 2000 µs
    assert got[("ModelLatency", "Maximum")] == (pytest.approx(3.0), "ms")
    assert got[("CPUUtilization", "Average")] == (50.0, "percent")
    assert set(metrics["dimensions"]) == {f"EndpointName={name};VariantName=AllTraffic"}
    assert set(metrics["period_s"]) == {60}
    assert any(i["name"].startswith("cloudwatch_statistics_") for i in run["inputs"])
    assert all("\n" not in w for w in result.warnings)
    # lossless: the merged run rebuilds from its raw inputs into the same tables
    before = {t: store.table(t, [result.outcome.run_id]) for t in ("requests", "history", "metrics")}
    (again,) = reparse(store, [result.outcome.run_id])
    assert again.status == "reparsed"
    for table, frame in before.items():
        pd.testing.assert_frame_equal(store.table(table, [result.outcome.run_id]), frame)


def test_cli_serverless_endpoint_without_cloudwatch(sagemaker, model, tmp_path):
    name = _endpoint(sagemaker, model, {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}})
    result = runner.invoke(app, ["collect", f"sagemaker://{name}?region=us-east-1", "--store", str(tmp_path / "s"),
                                 "--shape", TINY, "--max-requests", "40", "--no-cloudwatch", "--out-dir",
                                 str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["endpoint"] == {"endpoint": name, "variant": "AllTraffic", "memory_mb": 2048, "max_concurrency": 5,
                                "status": "InService", "config_name": name, "region": "us-east-1",
                                "serverless": True}
    assert data["cloudwatch"] is None and "metrics" not in data["run"]["tables"]
    run = RunStore(tmp_path / "s").get(data["run"]["run_id"]).run
    assert (run["memory_mb"], run["max_concurrency"], run["instance_type"], run["instance_count"]) == (
        2048, 5, None, None)
    assert not list((tmp_path / "out").glob("cloudwatch_*.json"))


def test_cloudwatch_failure_keeps_the_locust_run_and_warns_in_one_line(sagemaker, model, tmp_path, monkeypatch):
    name = _endpoint(sagemaker, model, {"InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 1})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", f"http://127.0.0.1:{closed}")  # CloudWatch unreachable
    result = runner.invoke(app, ["collect", f"sagemaker://{name}", "--store", str(tmp_path / "s"), "--shape", TINY,
                                 "--max-requests", "40", "--cloudwatch-wait-s", "0"])
    assert result.exit_code == 0, result.output
    # a loaded machine may add the generator-saturation warning; the CloudWatch ones must be exactly two
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:") and "CloudWatch" in line]
    assert len(warnings) == 2 and all("not pulled" in w and name in w for w in warnings)  # statistics, percentiles
    store = RunStore(tmp_path / "s")
    (run_id,) = store.run_ids()
    rec = store.get(run_id)
    assert "metrics" not in rec.tables and rec.run["instance_type"] == "ml.c5.xlarge"
    assert result.stdout.startswith(run_id)


def test_describe_errors_are_one_line(sagemaker, model):
    with pytest.raises(PlannerError, match=r"^sagemaker://nowhere-1: cannot describe the endpoint \(Validation"):
        describe_endpoint(SageMakerTarget("nowhere-1"))
    name = _endpoint(sagemaker, model, {"VariantName": "A", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1},
                     {"VariantName": "B", "InstanceType": "ml.g4dn.xlarge", "InitialInstanceCount": 3})
    with pytest.raises(InputError, match=r"^TARGET: variant: expected \?variant=NAME naming one of A, B, found 2"):
        describe_endpoint(SageMakerTarget(name))
    labelled = describe_endpoint(SageMakerTarget(name, variant="B"))
    assert (labelled.variant, labelled.instance_type, labelled.instance_count) == ("B", "ml.g4dn.xlarge", 3)


@pytest.mark.parametrize("text", [
    "sagemaker://", "sagemaker://-bad", "sagemaker://a_b", "sagemaker://ok/path", "sagemaker://ok?region=mars",
    "sagemaker://ok?zone=1", "sagemaker://ok?region=us-east-1&region=us-west-2", "sagemaker://ok?variant=",
    "sm://ok", "sagemaker://" + "a" * 64,
])
def test_bad_targets_are_one_line_input_errors(text):
    with pytest.raises(InputError, match=r"^TARGET: [\w ]+: expected ") as err:
        parse_target(text)
    assert "\n" not in str(err.value)


@settings(max_examples=60, deadline=None)
@given(name=st.from_regex(r"[a-zA-Z0-9](-?[a-zA-Z0-9]){0,30}", fullmatch=True),
       region=st.sampled_from([None, "us-east-1", "eu-west-2", "ap-southeast-1", "us-gov-west-1"]),
       variant=st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True)))
def test_target_text_round_trips(name, region, variant):
    target = SageMakerTarget(name, region, variant)
    assert parse_target(target.text) == target


def test_queries_cover_the_issue_metrics_and_the_window_is_whole_minutes():
    from planner.collect.sagemaker import EndpointDescription

    serverless = EndpointDescription("e", "v", "InService", "c", "us-east-1", memory_mb=2048, max_concurrency=5)
    plain = [(q["MetricStat"]["Metric"]["MetricName"], q["MetricStat"]["Stat"])
             for q in metric_queries(serverless, percentiles=False)]
    assert {m for m, _ in plain} >= {"Invocations", "ModelLatency", "OverheadLatency", "Invocation4XXErrors",
                                     "Invocation5XXErrors", "InvocationsPerInstance", "ModelSetupTime",
                                     "CPUUtilization", "MemoryUtilization", "GPUUtilization", "GPUMemoryUtilization"}
    tails = {q["MetricStat"]["Stat"] for q in metric_queries(serverless, percentiles=True)}
    assert tails == {"p50", "p90", "p99"}
    every = metric_queries(serverless, percentiles=False) + metric_queries(serverless, percentiles=True)
    assert len({q["Id"] for q in every}) == len(every)  # ids unique across both calls' pages
    assert all(q["MetricStat"]["Period"] == 60 for q in every)
    start, end = metric_window(1_700_000_059.5, 1_700_000_061.0)
    assert (start.timestamp(), end.timestamp()) == (1_700_000_040, 1_700_000_100)


# ---------------------------------------------------------------------------- serverless sweep


def test_busy_seconds_integrates_the_staircase():
    shape = StairsShape((2, 4), 10.0, 2.0)  # ramp 1 s to 2, hold 10 s, ramp 1 s to 4, hold 10 s
    assert busy_seconds(shape, 1e9, 10) == pytest.approx(1 + 20 + 3 + 40, abs=1e-6)
    assert busy_seconds(shape, 1e9, 3) == pytest.approx(1 + 20 + 1.25 + 1.5 + 30, abs=1e-6)
    assert busy_seconds(shape, 11.0, 10) == pytest.approx(1 + 20, abs=1e-6)  # cut by max_duration_s


@settings(max_examples=40, deadline=None)
@given(users=st.lists(st.integers(1, 50), min_size=1, max_size=5), hold_s=st.floats(0.5, 30),
       rate=st.floats(0.5, 20))
def test_busy_seconds_uncapped_is_the_user_seconds_of_the_shape(users, hold_s, rate):
    shape = StairsShape(tuple(users), hold_s, rate)
    previous, expected = 0, 0.0
    for u in users:
        expected += (previous + u) / 2 * abs(u - previous) / rate + u * hold_s
        previous = u
    assert busy_seconds(shape, 1e9, max(users)) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(users=st.lists(st.integers(1, 30), min_size=1, max_size=4), hold_s=st.floats(0.5, 10),
       rate=st.floats(0.5, 10), cap=st.integers(1, 30), cut=st.floats(0.0, 1.2))
def test_busy_seconds_matches_a_fine_numerical_integral_of_the_capped_staircase(users, hold_s, rate, cap, cut):
    shape = StairsShape(tuple(users), hold_s, rate)
    t_s = np.linspace(0.0, min(cut, 1.0) * shape.duration_s, 8001)
    numerical = np.trapezoid(np.minimum([shape.users_at(t) for t in t_s], cap), t_s)
    assert busy_seconds(shape, cut * shape.duration_s, cap) == pytest.approx(numerical, rel=2e-3, abs=1e-3)


def test_memory_sizes_are_checked():
    assert parse_memory_sizes("1024, 2048,3072MB") == (1024, 2048, 3072)
    for bad in ("1000", "1024,1024", "", "2GB", "7168"):
        with pytest.raises(InputError, match=r"^--serverless-sweep: memory sizes: expected distinct serverless"):
            parse_memory_sizes(bad)


def test_without_yes_the_sweep_prints_its_plan_and_creates_nothing(sagemaker, model, tmp_path):
    before = _mine(sagemaker, "planner-sweep-")
    result = runner.invoke(app, ["collect", "--serverless-sweep", "1024,2048", "--model-name", model,
                                 "--shape", "stairs:users=2,4,hold=10s,spawn-rate=2", "--max-concurrency", "3",
                                 "--region", "us-east-1", "--store", str(tmp_path / "s"), "--json"])
    assert result.exit_code == 1
    plan = json.loads(result.stdout)["plan"]
    assert [r["kind"] for r in plan["resources"]] == ["endpoint-config", "endpoint"] * 2
    assert plan["busy_s_per_endpoint"] == pytest.approx(53.75, abs=1e-6)
    catalog = load_catalog("us-east-1")
    expected = 53.75 * (catalog.serverless_usd_per_second(1024) + catalog.serverless_usd_per_second(2048))
    assert plan["estimated_usd"] == pytest.approx(expected)
    assert "--yes" in result.stderr
    assert _mine(sagemaker, "planner-sweep-") == before and not (tmp_path / "s").exists()


@pytest.mark.parametrize(("fail_on_call", "error"), [(2, RuntimeError), (1, KeyboardInterrupt)])
def test_a_failure_midway_deletes_everything_the_sweep_created(sagemaker, model, tmp_path, fail_on_call, error):
    plan = plan_sweep(model, (1024, 2048, 3072), parse_shape(TINY), max_duration_s=10,
                      catalog=load_catalog("us-east-1"), region="us-east-1", name_prefix=_name("planner-sweep"))
    calls, seen = [], []

    def collect(store, target, shape, **options):
        calls.append(target.endpoint)
        seen.append(sorted(_mine(sagemaker, plan.name_prefix)))
        if len(calls) == fail_on_call:
            raise error("injected")
        return None

    with pytest.raises(error, match="injected"):
        run_sweep(plan, RunStore(tmp_path / "s"), out_dir=tmp_path, collect=collect, poll_s=0.1)
    assert calls == [plan.endpoint_name(m) for m in (1024, 2048)[:fail_on_call]]
    assert seen[-1] == sorted([plan.endpoint_name(m) for m in (1024, 2048)[:fail_on_call]] * 2)  # were there
    assert _mine(sagemaker, plan.name_prefix) == []


def test_a_model_that_does_not_exist_stops_the_sweep_before_creating_anything(sagemaker, tmp_path):
    plan = plan_sweep("no-such-model", (1024,), parse_shape(TINY), max_duration_s=10,
                      catalog=load_catalog("us-east-1"), region="us-east-1", name_prefix=_name("planner-sweep"))
    with pytest.raises(PlannerError, match=r"^--model-name no-such-model: cannot describe the model .*nothing was"):
        run_sweep(plan, RunStore(tmp_path / "s"), out_dir=tmp_path)
    assert _mine(sagemaker, plan.name_prefix) == []


def test_cli_sweep_with_yes_collects_each_memory_size_and_deletes_its_endpoints(sagemaker, model, tmp_path):
    result = runner.invoke(app, ["collect", "--serverless-sweep", "1024,2048", "--model-name", model, "--yes",
                                 "--shape", TINY, "--max-requests", "30", "--cloudwatch-wait-s", "0",
                                 "--region", "us-east-1", "--store", str(tmp_path / "s"), "--out-dir",
                                 str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    prefix = data["plan"]["name_prefix"]
    store = RunStore(tmp_path / "s")
    runs = sorted((store.get(r["run"]["run_id"]).run for r in data["runs"]), key=lambda r: r["memory_mb"])
    assert [(r["memory_mb"], r["max_concurrency"], r["labels"]["sweep"]) for r in runs] == [
        (1024, 2, prefix), (2048, 2, prefix)]
    assert len(data["deleted"]) == 4 and _mine(sagemaker, prefix) == []
    assert all(Path(tmp_path / "out" / f"{m}mb" / "locust_stats.csv").exists() for m in (1024, 2048))


# ------------------------------------------------------ CloudWatch paths moto cannot serve (Stubber)


def _page(queries, start, values_by_id, token=None):
    """A get_metric_data response in the service's real shape: one datapoint per minute per query."""
    results = [{"Id": q["Id"], "Label": q["Label"], "StatusCode": "Complete",
                "Timestamps": [start + dt.timedelta(minutes=i) for i in range(len(values_by_id.get(q["Id"], [])))],
                "Values": values_by_id.get(q["Id"], [])} for q in queries]
    return {"MetricDataResults": results, "Messages": [], **({"NextToken": token} if token else {})}


def test_paged_statistics_and_percentiles_land_in_one_run(tmp_path, datasets):
    """moto answers percentile stats with HTTP 500 and never pages: the same pull against botocore's
    Stubber, with a NextToken between two statistics pages and a percentile page, as CloudWatch does."""
    from botocore.stub import Stubber

    from planner.collect.sagemaker import EndpointDescription, ingest_one_run, pull_metrics

    endpoint = EndpointDescription("ep-paged", "AllTraffic", "InService", "ep-paged", "us-east-1", "ml.c5.xlarge", 2)
    client = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    started_s, ended_s = 1_700_000_010.0, 1_700_000_130.0
    start, end = metric_window(started_s, ended_s)
    stats, pcts = metric_queries(endpoint, percentiles=False), metric_queries(endpoint, percentiles=True)
    window = {"StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"}
    stubber = Stubber(client)
    stubber.add_response("get_metric_data", _page(stats, start, {"invocations_sum": [600.0, 1200.0]}, token="t-1"),
                         {"MetricDataQueries": stats, **window})
    stubber.add_response("get_metric_data", _page(stats, start, {"modellatency_average": [15000.0, 21000.0]}),
                         {"MetricDataQueries": stats, "NextToken": "t-1", **window})
    stubber.add_response("get_metric_data", _page(pcts, start, {"modellatency_p99": [40000.0, 65000.0]}),
                         {"MetricDataQueries": pcts, **window})
    with stubber:
        pull = pull_metrics(endpoint, started_s, ended_s, tmp_path, client=client)
    stubber.assert_no_pending_responses()
    assert [p.name for p in pull.paths] == ["cloudwatch_statistics_1.json", "cloudwatch_statistics_2.json",
                                            "cloudwatch_percentiles_1.json"]
    assert pull.datapoints == 6 and pull.warnings == ()
    store = RunStore(tmp_path / "store")
    real_set = sorted((datasets / "locust").glob("louskac_deep-vision__results_[!o]*.csv"))  # a real Locust set
    outcome, warnings = ingest_one_run(store, real_set, pull.paths, meta=endpoint.meta(), labels={})
    assert warnings == ()
    metrics = store.table("metrics", [outcome.run_id])
    got = {(r.metric_name, r.statistic): sorted(metrics[(metrics.metric_name == r.metric_name)
                                                        & (metrics.statistic == r.statistic)]["value"])
           for r in metrics.itertuples()}
    assert got[("Invocations", "Sum")] == [600.0, 1200.0]  # page 1
    assert got[("ModelLatency", "Average")] == [pytest.approx(15.0), pytest.approx(21.0)]  # page 2, µs -> ms
    assert got[("ModelLatency", "p99")] == [pytest.approx(40.0), pytest.approx(65.0)]  # the percentile page
    assert set(metrics.loc[metrics.metric_name == "ModelLatency", "unit"]) == {"ms"}
