"""CloudWatch exports -> metrics table: shapes from botocore's model, units, pages, sidecars, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from planner.ingest import cloudwatch
from planner.schema import TABLES

FIXTURES = Path(__file__).parent / "fixtures" / "cloudwatch"
DATA, STATS, CSV = cloudwatch.FORMATS
PAGES = [FIXTURES / "get_metric_data_page1.json", FIXTURES / "get_metric_data_page2.json"]
QUERIES = FIXTURES / "get_metric_data_queries.json"
T0 = pd.Timestamp("2024-05-01T10:00:00Z")


def _one(paths, fmt):
    runs = cloudwatch.parse(paths, fmt)
    assert len(runs) == 1
    return runs[0]


def _series(frame: pd.DataFrame, metric: str, stat: str | None = None) -> pd.Series:
    rows = frame[frame["metric_name"] == metric]
    if stat is not None:
        rows = rows[rows["statistic"] == stat]
    return rows.set_index("timestamp")["value"].astype(float)


def _client():
    return boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


# ---------------------------------------------------------------------------- sniff


@pytest.mark.parametrize(("name", "fmt"), [
    ("get_metric_data_page1.json", DATA), ("get_metric_data_queries.json", DATA),
    ("get_metric_data_with_queries_epoch.json", DATA), ("get_metric_statistics_model_latency.json", STATS),
    ("get_metric_statistics_invocations.boto3.json", STATS), ("console_download.csv", CSV),
])
def test_sniff_detects_each_fixture(name, fmt):
    path = FIXTURES / name
    assert cloudwatch.sniff(path, path.read_bytes()[:65536]) == fmt


@pytest.mark.parametrize("rel", [
    "locust/CDLUC3_mrt-locust__sample.md__locust_json_output.json",
    "locust/louskac_deep-vision__results_stats_history.csv",
    "locust/zhajiangmian2342_20200823__locust_stats_history.csv",
    "perf_analyzer/perf_analyzer_inception_example.csv",
    "recommender/ir_doc_samples_normalized.DERIVED.json",
    "usl/usl_specsdm91.csv",
])
def test_sniff_leaves_other_sources_alone(datasets, rel):
    path = datasets / rel
    assert cloudwatch.sniff(path, path.read_bytes()[:65536]) is None


# ---------------------------------------------------------------------------- get-metric-data


def test_pages_with_query_sidecar_make_one_run_in_ms_with_dimensions():
    run = _one([*PAGES, QUERIES], DATA)
    frame = run.tables["metrics"]
    assert list(frame.columns[: len(TABLES["metrics"].required)]) == list(TABLES["metrics"].required)
    assert str(frame["timestamp"].dtype) == TABLES["metrics"].required["timestamp"]
    assert len(frame) == 10  # 2 series x 5 minutes; 10:02 appears on both pages
    assert run.notes["duplicates_dropped"] == 2
    latency = _series(frame, "ModelLatency", "p99")
    assert latency[T0] == pytest.approx(52.48)  # 52480 us
    assert latency[T0 + pd.Timedelta(minutes=4)] == pytest.approx(187.25)
    assert set(frame.loc[frame["metric_name"] == "ModelLatency", "unit"]) == {"ms"}
    invocations = _series(frame, "Invocations", "Sum")
    assert invocations.tolist() == [3000, 3000, 6000, 9000, 12000]
    assert set(frame.loc[frame["metric_name"] == "Invocations", "unit"]) == {"count"}
    assert set(frame["dimensions"]) == {"EndpointName=resnet50-ep;VariantName=AllTraffic"}  # sorted
    assert set(frame["namespace"]) == {"AWS/SageMaker"}
    assert set(frame["period_s"]) == {60}
    assert run.meta == {"started_at": "2024-05-01T10:00:00+00:00", "ended_at": "2024-05-01T10:04:00+00:00",
                        "endpoint": "resnet50-ep", "variant": "AllTraffic"}
    assert run.notes["partial_data"] == ["model_latency_p99", "invocations"]
    assert "unresolved_series" not in run.notes
    assert (run.source, run.format) == ("cloudwatch", DATA)


def test_file_order_does_not_matter():
    a = _one([*PAGES, QUERIES], DATA).tables["metrics"]
    b = _one([QUERIES, PAGES[1], PAGES[0]], DATA).tables["metrics"]
    pd.testing.assert_frame_equal(a, b)


def test_without_sidecar_metric_and_stat_come_from_id_and_label_and_gaps_are_noted():
    run = _one(PAGES, DATA)
    frame = run.tables["metrics"]
    latency = frame[frame["series_id"] == "model_latency_p99"]
    assert set(latency["metric_name"]) == {"ModelLatency"} and set(latency["statistic"]) == {"p99"}
    assert latency["value"].max() == pytest.approx(187.25)
    assert frame["dimensions"].isna().all()
    # "Invocations" names the metric but not the statistic: kept, unit known, gap reported.
    assert run.notes["unresolved_series"] == [{"series_id": "invocations", "label": "Invocations",
                                               "missing": ["statistic"]}]
    assert run.notes["period_s_inferred_from_spacing"] == {"invocations": 60, "model_latency_p99": 60}
    assert "endpoint" not in run.meta


def test_unknown_label_keeps_values_with_unit_unknown(tmp_path):
    doc = {"MetricDataResults": [{"Id": "e1", "Label": "errors / requests", "StatusCode": "Complete",
                                  "Timestamps": ["2024-05-01T10:00:00Z"], "Values": [-0.5]}]}
    path = tmp_path / "expr.json"
    path.write_text(json.dumps(doc))
    run = _one([path], DATA)
    row = run.tables["metrics"].iloc[0]
    assert (row["unit"], row["value"], row["metric_name"]) == ("unknown", -0.5, "errors / requests")
    assert pd.isna(row["namespace"])
    assert run.notes["unresolved_series"][0]["missing"] == ["metric_name", "statistic"]


def test_combined_queries_and_epoch_seconds_samplecount_stays_a_count():
    run = _one([FIXTURES / "get_metric_data_with_queries_epoch.json"], DATA)
    frame = run.tables["metrics"]
    assert frame["timestamp"].min() == T0  # 1714557600
    cpu = _series(frame, "CPUUtilization", "Average")
    assert cpu.max() == pytest.approx(312.25)  # percent summed over cores: not clipped to 100
    assert set(frame.loc[frame["metric_name"] == "CPUUtilization", "namespace"]) == {"/aws/sagemaker/Endpoints"}
    assert set(frame.loc[frame["metric_name"] == "CPUUtilization", "unit"]) == {"percent"}
    assert _series(frame, "ModelLatency", "Average")[T0 + pd.Timedelta(minutes=1)] == pytest.approx(41.2505)
    counts = frame[frame["statistic"] == "SampleCount"]
    assert set(counts["unit"]) == {"count"} and counts["value"].tolist() == [3000, 3000, 6000]


def test_boto3_response_via_stubber_and_json_dumps_default_str(tmp_path):
    """The exact bytes a user gets from json.dumps(client.get_metric_data(...), default=str)."""
    stamps = [datetime(2024, 5, 1, 10, m, tzinfo=UTC) for m in (2, 1, 0)]
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "overhead", "Label": "OverheadLatency", "Timestamps": stamps, "Values": [2100.0, 1800.0, 1500.0],
             "StatusCode": "Complete"}], "Messages": []})
        response = client.get_metric_data(MetricDataQueries=[{"Id": "overhead", "MetricStat": {
            "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "OverheadLatency"}, "Period": 60,
            "Stat": "Average"}}], StartTime=stamps[-1], EndTime=stamps[0] + timedelta(minutes=1))
    path = tmp_path / "boto3.json"
    path.write_text(json.dumps(response, default=str))
    assert '"2024-05-01 10:02:00+00:00"' in path.read_text()  # boto3's str(datetime)
    assert cloudwatch.sniff(path, path.read_bytes()) == DATA
    frame = _one([path], DATA).tables["metrics"]
    assert _series(frame, "OverheadLatency").tolist() == pytest.approx([1.5, 1.8, 2.1])


@settings(max_examples=25, deadline=None)
@given(points=st.dictionaries(st.integers(0, 600), st.integers(0, 10**7), min_size=1, max_size=40),
       cuts=st.lists(st.integers(0, 40), min_size=1, max_size=4), epoch=st.booleans())
def test_any_split_into_overlapping_pages_gives_the_same_series(points, cuts, epoch):
    minutes = sorted(points)
    bounds = sorted({0, len(minutes), *(min(c, len(minutes)) for c in cuts)})
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
            chunk = minutes[max(lo - 1, 0):hi]  # each page repeats the previous page's last point
            stamps = [(T0 + pd.Timedelta(minutes=m)) for m in chunk]
            doc = {"MetricDataResults": [{
                "Id": "model_latency_p50", "Label": "ModelLatency", "StatusCode": "Complete",
                "Timestamps": [s.timestamp() if epoch else s.isoformat() for s in stamps],
                "Values": [points[m] for m in chunk]}]}
            paths.append(Path(tmp) / f"page{i}.json")
            paths[-1].write_text(json.dumps(doc))
        frame = _one(paths, DATA).tables["metrics"]
    assert frame["timestamp"].tolist() == [T0 + pd.Timedelta(minutes=m) for m in minutes]
    assert frame["value"].astype(float).tolist() == pytest.approx([points[m] / 1000 for m in minutes])


# ---------------------------------------------------------------------------- get-metric-statistics


def test_get_metric_statistics_one_row_per_timestamp_and_statistic():
    run = _one([FIXTURES / "get_metric_statistics_model_latency.json",
                FIXTURES / "get_metric_statistics_invocations.boto3.json"], STATS)
    frame = run.tables["metrics"]
    latency = frame[frame["metric_name"] == "ModelLatency"]
    assert len(latency) == 8  # 2 datapoints x (SampleCount, Average, Maximum, p99)
    assert _series(frame, "ModelLatency", "p99")[T0] == pytest.approx(50.12)
    assert _series(frame, "ModelLatency", "Average")[T0] == pytest.approx(38.9)
    samples = latency[latency["statistic"] == "SampleCount"]
    assert set(samples["unit"]) == {"count"} and set(samples["value"]) == {3000}
    # the boto3 file lists datapoints out of order: rows come back sorted
    assert _series(frame, "Invocations", "Sum").tolist() == [3000, 3000, 6000]
    assert set(frame["namespace"]) == {"AWS/SageMaker"}
    assert set(frame["period_s"]) == {60}
    assert run.meta["ended_at"] == "2024-05-01T10:02:00+00:00"


def test_unit_field_contradicting_the_metric_is_an_error(tmp_path):
    doc = json.loads((FIXTURES / "get_metric_statistics_model_latency.json").read_text())
    doc["Datapoints"][1]["Unit"] = "Percent"
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"stats\.json: Datapoints\[1\]\..*Unit Microseconds.*'Percent'"):
        cloudwatch.parse([path], STATS)


def test_unit_field_of_an_unknown_metric_converts_microseconds(tmp_path):
    path = tmp_path / "custom.json"
    path.write_text(json.dumps({"Label": "TokenLatency", "Datapoints": [
        {"Timestamp": "2024-05-01T10:00:00Z", "Average": 2500.0, "Unit": "Microseconds"}]}))
    row = _one([path], STATS).tables["metrics"].iloc[0]
    assert (row["value"], row["unit"]) == (2.5, "ms")


# ---------------------------------------------------------------------------- console CSV


def test_console_csv_maps_known_columns_and_reports_the_rest():
    run = _one([FIXTURES / "console_download.csv"], CSV)
    frame = run.tables["metrics"]
    pages = _one([*PAGES, QUERIES], DATA).tables["metrics"]
    csv_latency = _series(frame, "ModelLatency")
    assert csv_latency.tolist() == pytest.approx(_series(pages, "ModelLatency", "p99")[csv_latency.index].tolist())
    assert _series(frame, "CPUUtilization").max() == pytest.approx(312.25)
    other = frame[frame["series_id"] == "m1 / m2"]
    assert set(other["unit"]) == {"unknown"} and other["value"].tolist() == [0.5, 0.75]  # empty cell skipped
    unresolved = {u["series_id"]: u["missing"] for u in run.notes["unresolved_series"]}
    assert unresolved["m1 / m2"] == ["metric_name", "statistic"]
    assert unresolved["ModelLatency"] == ["statistic"]
    assert run.notes["naive_timestamps_assumed_utc"] is True


def test_each_csv_is_its_own_run(tmp_path):
    second = tmp_path / "second.csv"
    second.write_text("Time,Invocations\n2024-05-02T00:00:00Z,10\n")
    runs = cloudwatch.parse([FIXTURES / "console_download.csv", second], CSV)
    assert [r.inputs for r in runs] == [(FIXTURES / "console_download.csv",), (second,)]
    assert runs[1].tables["metrics"]["value"].tolist() == [10]


# ---------------------------------------------------------------------------- bad input

_RESULT = {"Id": "model_latency_p99", "Label": "ModelLatency", "StatusCode": "Complete",
           "Timestamps": ["2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"], "Values": [1000.0, 2000.0]}


def _results(**change):
    return json.dumps({"MetricDataResults": [{**_RESULT, **change}]})


BAD = {
    "not_cloudwatch": ('{"foo": 1}', DATA, r"top level: expected a CloudWatch get-metric-data export.*foo"),
    "invalid_json": ('{"MetricDataResults": [', DATA, r"line 1 column \d+: expected JSON"),
    "length_mismatch": (_results(Values=[1.0]), DATA,
                        r"MetricDataResults\[0\]: expected as many Values as Timestamps, found 1 Values and 2"),
    "non_numeric": (_results(Values=[1.0, "fast"]), DATA, r"Values\[1\]: expected a finite number, found 'fast'"),
    "internal_error": (_results(StatusCode="InternalError", Messages=[{"Code": "X", "Value": "try later"}]), DATA,
                       r"StatusCode: expected Complete or PartialData, found 'InternalError' \(try later\)"),
    "negative_latency": (_results(Values=[1000.0, -5.0]), DATA, r"Values\[1\]: expected a non-negative ModelLatency"),
    "bad_timestamp": (_results(Timestamps=["2024-05-01T10:00:00Z", "yesterday"]), DATA,
                      r"Timestamps\[1\]: expected an ISO-8601 timestamp or epoch seconds, found 'yesterday'"),
    "epoch_millis": (_results(Timestamps=[1714557600000, 1714557660000]), DATA,
                     r"Timestamps\[0\]: expected a timestamp in epoch seconds, found 1714557600000"),
    "empty_results": ('{"MetricDataResults": []}', DATA,
                      r"MetricDataResults: expected a non-empty list of results, found a list of 0"),
    "no_datapoints": (_results(Timestamps=[], Values=[]), DATA, r"datapoints: expected at least one datapoint"),
    "stats_without_timestamp": ('{"Label": "Invocations", "Datapoints": [{"Sum": 1.0}]}', STATS,
                                r"Datapoints\[0\]: expected a datapoint with a Timestamp"),
    "csv_no_timestamp": ("endpoint,ModelLatency\nx,1000\n", CSV,
                         r"header: expected a timestamp column .*found columns \['endpoint', 'ModelLatency'\]"),
    "csv_non_numeric": ("Timestamp,Invocations\n2024-05-01T10:00:00Z,many\n", CSV,
                        r"line 2 column 'Invocations': expected a number, found 'many'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_naming_file_and_place(tmp_path, case):
    text, fmt, pattern = BAD[case]
    path = tmp_path / f"{case}.{'csv' if fmt == CSV else 'json'}"
    path.write_text(text)
    with pytest.raises(InputError, match=pattern) as info:
        cloudwatch.parse([path], fmt)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_locust_json_is_refused(datasets):
    path = datasets / "locust" / "CDLUC3_mrt-locust__sample.md__locust_json_output.json"
    with pytest.raises(InputError, match=r"top level: .*found a list of"):
        cloudwatch.parse([path], DATA)


def test_conflicting_duplicate_across_pages_is_an_error(tmp_path):
    page = json.loads(PAGES[1].read_text())
    page["MetricDataResults"][0]["Values"][0] = 99999.0  # 10:02 differs from page 1's 98120
    path = tmp_path / "page2.json"
    path.write_text(json.dumps(page))
    with pytest.raises(InputError, match=r"page2\.json: MetricDataResults\[0\]\.Values\[0\]: expected the same "
                                         r"value .*'model_latency_p99' at 2024-05-01T10:02:00\+00:00"):
        cloudwatch.parse([PAGES[0], path], DATA)


def test_queries_alone_are_not_a_run():
    with pytest.raises(InputError, match="only MetricDataQueries"):
        cloudwatch.parse([QUERIES], DATA)


def test_ingest_dispatch_groups_a_directory_of_exports_by_format():
    from planner.ingest import parse_paths

    runs = {r.format: r for r in parse_paths([FIXTURES])}
    assert sorted(runs) == sorted(cloudwatch.FORMATS)
    assert len(runs[DATA].inputs) == 4  # both pages, the query sidecar and the combined file: one run
    assert set(runs[DATA].tables["metrics"]["series_id"]) == {
        "model_latency_p99", "invocations", "cpu", "latency_avg", "latency_n"}


# ---------------------------------------------------------------------------- instance count, fixed delay
# two_instances/: 12 minutes of a 2-instance endpoint (see its README): InvocationsPerInstance is
# exactly half of Invocations; ModelLatency from M/G/2 per instance at S = 30 ms; OverheadLatency ~2.6 ms.

TWO = FIXTURES / "two_instances"
TWO_RESULTS = {"iso": TWO / "results_iso.json", "epoch": TWO / "results_epoch.json"}


def _raw(name: str, series_id: str) -> list[float]:
    """A series' Values from the fixture, oldest first (the export lists newest first)."""
    doc = json.loads(TWO_RESULTS[name].read_text())
    return next(r["Values"] for r in doc["MetricDataResults"] if r["Id"] == series_id)[::-1]


@pytest.mark.parametrize("stamps", sorted(TWO_RESULTS))
def test_two_instances_give_count_2_per_period_and_half_the_load_per_instance(stamps):
    from planner.capacity import _per_instance
    from planner.steps import from_metrics

    run = _one([TWO_RESULTS[stamps], TWO / "queries.json"], DATA)
    assert run.meta["instance_count"] == 2
    assert run.notes["instance_count"]["periods_by_count"] == {"2": 12}
    assert run.notes["measured_fields"]["instance_count"]["file"] == TWO_RESULTS[stamps].name
    assert "assumed_fields" not in run.notes
    steps = from_metrics(run.tables["metrics"])
    assert steps["instance_count"].tolist() == [2] * 12
    per_instance = _per_instance(steps)
    expected_rps = [v / 60 for v in _raw(stamps, "invocations_per_instance")]
    assert per_instance["throughput_rps"].tolist() == pytest.approx(expected_rps)
    assert steps["throughput_rps"].tolist() == pytest.approx([v / 60 for v in _raw(stamps, "invocations")])
    assert per_instance["concurrency"].tolist() == pytest.approx((steps["concurrency"] / 2).tolist())
    assert set(steps["arrivals"]) == {"open"}


def test_fixed_delay_is_the_overhead_average_in_ms_and_the_mean_latency_still_includes_it():
    from planner.steps import from_metrics

    steps = from_metrics(_one([TWO_RESULTS["iso"], TWO / "queries.json"], DATA).tables["metrics"])
    overhead_us, model_us = _raw("iso", "overhead_latency"), _raw("iso", "model_latency")
    assert steps["fixed_delay_ms"].tolist() == pytest.approx([v / 1000 for v in overhead_us])
    assert steps["latency_mean_ms"].tolist() == pytest.approx([(m + o) / 1000 for m, o in zip(model_us, overhead_us,
                                                                                                 strict=True)])


def _counts_export(path: Path, periods: list[tuple[float, float]]) -> Path:
    """A get-metric-data export of (Invocations, InvocationsPerInstance) Sums per minute from T0."""
    stamps = [(T0 + pd.Timedelta(minutes=i)).isoformat() for i in range(len(periods))]
    results = [{"Id": sid, "Label": label, "StatusCode": "Complete", "Timestamps": stamps,
                "Values": [p[k] for p in periods]}
               for k, (sid, label) in enumerate((("invocations_sum", "Invocations Sum"),
                                                 ("per_instance_sum", "InvocationsPerInstance Sum")))]
    path.write_text(json.dumps({"MetricDataResults": results, "Messages": []}))
    return path


@settings(max_examples=40, deadline=None)
@given(periods=st.lists(st.tuples(st.integers(1, 8), st.integers(1, 5000)), min_size=2, max_size=30))
def test_each_period_gets_its_own_count_and_the_run_the_most_common(periods):
    """Autoscaling changes the count between periods: every step divides by its own count."""
    from planner.capacity import _per_instance
    from planner.steps import from_metrics

    with tempfile.TemporaryDirectory() as tmp:
        path = _counts_export(Path(tmp) / "scaling.json", [(n * k, float(k)) for n, k in periods])
        run = _one([path], DATA)
    counts = [n for n, _ in periods]
    steps = from_metrics(run.tables["metrics"])
    assert steps["instance_count"].tolist() == counts
    assert _per_instance(steps)["throughput_rps"].tolist() == pytest.approx([k / 60 for _, k in periods])
    tally = pd.Series(counts).value_counts()
    assert run.meta["instance_count"] == min(tally.index[tally == tally.max()])


def test_autoscaling_2_to_3_and_a_period_between_counts(tmp_path):
    # 10:02 scaled out mid-minute: 1500 requests at 2 instances (750 per instance), 1500 at 3 (500)
    path = _counts_export(tmp_path / "scaling.json", [(3000, 1500), (3000, 1500), (3000, 1250), (3000, 1000),
                                                      (3000, 1000), (3000, 1000), (3030, 1000)])
    run = _one([path], DATA)
    from planner.steps import from_metrics

    steps = from_metrics(run.tables["metrics"])
    assert steps["instance_count"].tolist() == pytest.approx([2, 2, 2.4, 3, 3, 3, 3])  # 3.03 is 3 (within 2%)
    assert run.meta["instance_count"] == 3
    assert run.notes["instance_count"]["periods_by_count"] == {"2": 3, "3": 4}  # 2.4 tallied as 2
    assert run.notes["instance_count"]["periods_between_counts"] == [(T0 + pd.Timedelta(minutes=2)).isoformat()]


def test_more_per_instance_than_in_total_is_an_error_naming_file_and_period(tmp_path):
    path = _counts_export(tmp_path / "bad.json", [(3000, 1500), (3000, 6000)])
    with pytest.raises(InputError, match=r"bad\.json: MetricDataResults\[1\]\.Values\[1\]: expected an "
                                         r"InvocationsPerInstance of at most Invocations .*found Invocations / "
                                         r"InvocationsPerInstance = 0\.5 at 2024-05-01T10:01:00\+00:00") as info:
        cloudwatch.parse([path], DATA)
    assert "\n" not in str(info.value)


def test_given_count_that_disagrees_is_one_error_naming_both_and_nothing_is_written(tmp_path):
    from planner.collection import ingest
    from planner.store import RunStore

    store = RunStore(tmp_path / "store")
    paths = [TWO_RESULTS["iso"], TWO / "queries.json"]
    with pytest.raises(InputError) as info:
        ingest(store, paths, meta={"instance_count": 3})
    assert str(info.value) == (f"{TWO_RESULTS['iso']}: InvocationsPerInstance: expected instance_count 3 as given "
                               "at ingest, found 2 (Invocations / InvocationsPerInstance in 12 of 12 periods)")
    assert not (tmp_path / "store").exists()
    (added,) = ingest(store, paths, meta={"instance_count": 2})  # the same count: accepted
    assert store.get(added.run_id).run["instance_count"] == 2


def test_without_invocations_per_instance_the_count_is_noted_as_assumed_unless_given(tmp_path):
    from planner.collection import ingest
    from planner.steps import for_run
    from planner.store import RunStore

    run = _one([*PAGES, QUERIES], DATA)
    assert "instance_count" not in run.meta
    assert "assumed 1" in run.notes["assumed_fields"]["instance_count"]
    store = RunStore(tmp_path / "store")
    (plain,) = ingest(store, [*PAGES, QUERIES])
    assert "assumed 1" in store.get(plain.run_id).run["notes"]["assumed_fields"]["instance_count"]
    assert set(for_run(store, plain.run_id)["throughput_per_instance_rps"]) == set(
        for_run(store, plain.run_id)["throughput_rps"])
    (given,) = ingest(RunStore(tmp_path / "given"), [*PAGES, QUERIES], meta={"instance_count": 4})
    record = RunStore(tmp_path / "given").get(given.run_id)
    assert record.run["instance_count"] == 4 and "assumed_fields" not in record.run["notes"]
    steps = for_run(RunStore(tmp_path / "given"), given.run_id)
    assert steps["throughput_per_instance_rps"].tolist() == pytest.approx((steps["throughput_rps"] / 4).tolist())


def test_cli_ingest_then_fit_sizes_one_instance_not_both(tmp_path):
    """End to end: the fitted service time is the light-load minutes' ModelLatency, not inflated by
    the overhead or the doubled load, and one instance saturates at 2 workers / 30 ms, not twice that.

    Tolerances: the fixture's light-load minutes (3-5 rps per instance, utilisation <= 8%) queue for
    < 0.5% of S and carry 1% noise, so S is within 5% of their ModelLatency; fitted as one instance
    (or with the 2.6 ms overhead taken as service time) S is 9% off and saturation ~2x."""
    from typer.testing import CliRunner

    from planner.cli import app

    store = str(tmp_path / "store")
    runner = CliRunner()
    added = runner.invoke(app, ["ingest", str(TWO_RESULTS["iso"]), str(TWO / "queries.json"), "--store", store,
                                "--instance-type", "ml.c5.xlarge"])
    assert added.exit_code == 0, added.output
    fit = runner.invoke(app, ["fit", "--store", store, "--json"])
    assert fit.exit_code == 0, fit.output
    (config,) = json.loads(fit.output)["configs"]
    model = config["latency_model"]
    assert config["config"]["instance_counts"] == [2]
    light_ms = np.mean([v / 1000 for v in _raw("iso", "model_latency")[:2]])
    assert model["service_time_ms"] == pytest.approx(light_ms, rel=0.05)
    assert model["delay_ms"] == pytest.approx(np.median([v / 1000 for v in _raw("iso", "overhead_latency")]))
    assert model["servers"] == 2
    assert model["saturation_rps"] == pytest.approx(2 / 0.030, rel=0.05)
    refused = subprocess.run([sys.executable, "-m", "planner.cli", "ingest", str(TWO_RESULTS["iso"]),
                              str(TWO / "queries.json"), "--store", str(tmp_path / "other"), "--instance-count", "3"],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip().count("\n") == 0
    assert f"{TWO_RESULTS['iso']}: InvocationsPerInstance: expected instance_count 3 as given at ingest, found 2" \
        in refused.stderr
    assert not (tmp_path / "other").exists()


# ---------------------------------------------------------------------------- the live pull (moto server)


def _live_endpoint(instances: int) -> str:
    """An InService endpoint of ``instances`` ml.c5.xlarge on the moto server."""
    sagemaker = boto3.client("sagemaker")
    name = f"cw-count-{instances}-{datetime.now(UTC).strftime('%H%M%S%f')}"
    sagemaker.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::123456789012:role/planner-test",
                           PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"})
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.c5.xlarge",
         "InitialInstanceCount": instances}])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return name


def _put_invocations(endpoint: str, at: datetime, invocations: float, per_instance: float | None) -> None:
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]
    data = [("Invocations", invocations), ("ModelLatency", 20000.0)] + (
        [("InvocationsPerInstance", per_instance)] if per_instance is not None else [])
    boto3.client("cloudwatch").put_metric_data(Namespace="AWS/SageMaker", MetricData=[
        {"MetricName": m, "Dimensions": dims, "Timestamp": at, "Value": v} for m, v in data])


@pytest.mark.parametrize(("described", "per_instance", "kept", "warned"), [
    (3, 600.0, 2, True),  # DescribeEndpoint before the run said 3, CloudWatch measured 2 all run
    (2, 600.0, 2, False),
    (3, None, 3, False),  # no InvocationsPerInstance: DescribeEndpoint's count, not "assumed 1"
])
def test_live_pull_count_from_cloudwatch_else_describe_endpoint(aws_env, tmp_path, described, per_instance, kept,
                                                                 warned):
    from planner.collect.sagemaker import describe_endpoint, ingest_one_run, parse_target, pull_metrics
    from planner.store import RunStore
    from tests.synth import write_history

    endpoint = describe_endpoint(parse_target(f"sagemaker://{_live_endpoint(described)}"))
    assert endpoint.instance_count == described
    now = datetime.now(UTC)
    _put_invocations(endpoint.endpoint, now, 1200.0, per_instance)
    pull = pull_metrics(endpoint, now.timestamp() - 5, now.timestamp() + 5, tmp_path)
    assert pull.datapoints >= 2
    store = RunStore(tmp_path / "store")
    locust = write_history(tmp_path / "run_stats_history.csv", 60)
    outcome, warnings = ingest_one_run(store, [locust], pull.paths, meta=endpoint.meta(), labels={})
    run = store.get(outcome.run_id).run
    assert run["instance_count"] == kept
    disagreement = [w for w in warnings if "DescribeEndpoint" in w]
    assert disagreement == ([f"DescribeEndpoint said {described} instances, CloudWatch measured 2 (Invocations / "
                             "InvocationsPerInstance, in most minutes of the run): 2 kept"] if warned else [])
    assert "assumed_fields" not in run["notes"].get("cloudwatch", {})


def test_describe_endpoint_counts_the_instances_running_now_not_the_initial_ones():
    """Autoscaled from InitialInstanceCount 2 to 3: CurrentInstanceCount is the count (botocore's Stubber:
    moto keeps CurrentInstanceCount at the initial count)."""
    from planner.collect.sagemaker import describe_endpoint, parse_target

    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    now = datetime(2024, 6, 3, 14, 0, tzinfo=UTC)
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", {
            "EndpointName": "ep", "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep",
            "EndpointConfigName": "ep-config", "EndpointStatus": "InService", "CreationTime": now,
            "LastModifiedTime": now, "ProductionVariants": [
                {"VariantName": "AllTraffic", "CurrentInstanceCount": 3, "DesiredInstanceCount": 3}]},
            {"EndpointName": "ep"})
        stub.add_response("describe_endpoint_config", {
            "EndpointConfigName": "ep-config", "CreationTime": now,
            "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/ep-config",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.c5.xlarge",
                                    "InitialInstanceCount": 2}]},
            {"EndpointConfigName": "ep-config"})
        described = describe_endpoint(parse_target("sagemaker://ep"), client)
    assert (described.instance_type, described.instance_count) == ("ml.c5.xlarge", 3)
