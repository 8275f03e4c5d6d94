"""CloudWatch exports -> metrics table: shapes from botocore's model, units, pages, sidecars, bad input."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
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
