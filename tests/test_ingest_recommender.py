"""Inference Recommender output -> recommender table: AWS doc samples, boto3 shapes, units, safety."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber
from botocore.utils import parse_timestamp
from dateutil.tz import tzutc
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InputError, PlannerError
from planner.ingest import recommender
from planner.schema import TABLES

FIXTURES = Path(__file__).parent / "fixtures" / "recommender"
JOB, STEPS = recommender.FORMATS
SERVERLESS = FIXTURES / "serverless_job_describe.boto3.json"
STEPS_FILE = FIXTURES / "list_job_steps.cli.json"
CANONICAL = list(TABLES["recommender"].required)


@pytest.fixture(scope="module")
def samples(datasets) -> dict[str, Path]:
    d = datasets / "recommender"
    return {"default": d / "ir_doc_default_job_describe_sample.pyrepr.txt",
            "advanced": d / "ir_doc_advanced_job_describe_sample.pyrepr.txt",
            "derived": d / "ir_doc_samples_normalized.DERIVED.json"}


def _one(path: Path, fmt: str = JOB, **kw):
    runs = recommender.parse([path], fmt, **kw)
    assert len(runs) == 1
    return runs[0]


def _botocore_timestamps(obj: dict) -> dict:
    """Timestamps as botocore's parser returns them, in UTC so the repr does not depend on this machine's zone."""
    return {k: parse_timestamp(v).astimezone(tzutc()) if k.endswith("Time") and isinstance(v, str) else v
            for k, v in obj.items()}


def _sagemaker():
    return boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


# ---------------------------------------------------------------------------- sniff


def test_sniff(samples, datasets):
    for path in samples.values():
        assert recommender.sniff(path, path.read_bytes()[:65536]) == JOB
    assert recommender.sniff(SERVERLESS, SERVERLESS.read_bytes()) == JOB
    assert recommender.sniff(STEPS_FILE, STEPS_FILE.read_bytes()) == STEPS
    for other in ("locust/CDLUC3_mrt-locust__sample.md__locust_json_output.json",
                  "perf_analyzer/perf_analyzer_inception_example.csv"):
        path = datasets / other
        assert recommender.sniff(path, path.read_bytes()[:65536]) is None
    cw = Path(__file__).parent / "fixtures" / "cloudwatch" / "get_metric_data_page1.json"
    assert recommender.sniff(cw, cw.read_bytes()) is None


# ---------------------------------------------------------------------------- the AWS doc samples


def test_three_sample_files_give_the_same_numbers(samples):
    derived = {r.key: r for r in recommender.parse([samples["derived"]], JOB)}
    assert sorted(derived) == ["advanced_job", "default_job"]
    for name, key in (("default", "default_job"), ("advanced", "advanced_job")):
        pyrepr = _one(samples[name])
        pd.testing.assert_frame_equal(pyrepr.tables["recommender"], derived[key].tables["recommender"])
        assert pyrepr.meta == derived[key].meta
        assert pyrepr.key == ""


def test_default_job_numbers(samples):
    run = _one(samples["default"])
    frame = run.tables["recommender"]
    assert list(frame.columns[: len(CANONICAL)]) == CANONICAL
    assert frame["instance_type"].tolist() == ["ml.c5.xlarge", "ml.c5d.large", "ml.m5.large"]
    c5 = frame.iloc[0]
    assert c5["max_invocations_per_min"] == 648
    assert c5["throughput_rps"] == pytest.approx(10.8)
    assert c5["usd_per_hour"] == pytest.approx(0.204)
    assert c5["model_latency_ms"] == pytest.approx(263.596)  # 263596 us
    assert frame["throughput_rps"].tolist() == pytest.approx([648 / 60, 655 / 60, 570 / 60])
    assert frame["cost_identity_ok"].tolist() == [True, True, True]
    assert (frame["job_type"] == "Default").all() and (frame["instance_count"] == 1).all()
    assert "instance_type" not in run.meta and "instance_count" not in run.meta  # three configurations
    assert run.meta["started_at"] == "2021-10-26T20:04:57.627000+00:00"
    assert run.meta["ended_at"] == "2021-10-26T20:25:01.997000+00:00"


def test_advanced_job_numbers_and_single_configuration_meta(samples):
    run = _one(samples["advanced"])
    row = run.tables["recommender"].iloc[0]
    assert (row["instance_type"], row["instance_count"]) == ("ml.c5d.xlarge", 3)
    assert row["usd_per_hour"] == pytest.approx(0.23 * 3)
    assert row["max_invocations_per_min"] == 1113 and row["throughput_rps"] == pytest.approx(18.55)
    assert row["model_latency_ms"] == pytest.approx(100.0)  # 100000 us vs the job's 100 ms P95 threshold
    assert bool(row["cost_identity_ok"])
    assert run.meta["instance_type"] == "ml.c5d.xlarge" and run.meta["instance_count"] == 3


def test_notes_say_what_was_assumed_and_repaired(samples):
    default = _one(samples["default"])
    assert default.notes["model_latency_unit_assumed"] == "us"
    assert default.notes["renamed_keys"] == {"MaximumInvocations": "MaxInvocations"}
    assert "tzlocal" in default.notes["timezone_assumed_utc"]
    assert default.notes["input_syntax"] == "python-repr"
    # the verbatim doc excerpt stops before its last two closing braces
    assert default.notes["repaired"].startswith("appended '}}'")
    assert "repaired" not in _one(samples["advanced"]).notes
    derived = recommender.parse([samples["derived"]], JOB)[0]
    assert derived.notes["naive_timestamps_assumed_utc"] is True and "renamed_keys" not in derived.notes


def test_model_latency_unit_is_overridable(samples):
    run = _one(samples["default"], model_latency_unit="ms")
    assert run.tables["recommender"]["model_latency_ms"].iloc[0] == pytest.approx(263596.0)
    assert run.notes["model_latency_unit_assumed"] == "ms"
    with pytest.raises(PlannerError, match="model_latency_unit: expected one of us, ms, found 's'"):
        recommender.parse([samples["default"]], JOB, model_latency_unit="s")


def test_cost_identity_violation_is_a_note_not_an_error(tmp_path, samples):
    doc = json.loads(samples["derived"].read_text())["default_job"]
    doc["InferenceRecommendations"][1]["Metrics"]["CostPerInference"] *= 1.05
    path = tmp_path / "job.json"
    path.write_text(json.dumps(doc))
    run = _one(path)
    assert run.tables["recommender"]["cost_identity_ok"].tolist() == [True, False, True]
    [violation] = run.notes["cost_identity_violations"]
    assert violation["instance_type"] == "ml.c5d.large"
    assert violation["expected_usd_per_inference"] == pytest.approx(0.115 / (60 * 655))


@settings(max_examples=40, deadline=None)
@given(per_min=st.integers(1, 10**6), usd_per_hour=st.floats(0.01, 100), error=st.floats(-0.5, 0.5))
def test_cost_identity_flag_matches_the_formula(per_min, usd_per_hour, error):
    usd_per_inference = usd_per_hour / (60 * per_min) * (1 + error)
    doc = {"JobName": "j", "JobType": "Default", "InferenceRecommendations": [{
        "Metrics": {"CostPerHour": usd_per_hour, "CostPerInference": usd_per_inference,
                    "MaxInvocations": per_min, "ModelLatency": 1000},
        "EndpointConfiguration": {"EndpointName": "e", "VariantName": "v", "InstanceType": "ml.m5.large",
                                  "InitialInstanceCount": 1}}]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.json"
        path.write_text(json.dumps(doc))
        row = _one(path).tables["recommender"].iloc[0]
    assert row["throughput_rps"] == pytest.approx(per_min / 60)
    if abs(error) < 0.009 or abs(error) > 0.011:  # stay clear of float noise at the 1% boundary
        assert bool(row["cost_identity_ok"]) == (abs(error) <= 0.01)


# ---------------------------------------------------------------------------- serverless, steps, boto3


def test_serverless_recommendations():
    run = _one(SERVERLESS)
    frame = run.tables["recommender"]
    assert frame["instance_type"].isna().all() and frame["instance_count"].isna().all()
    assert frame["memory_mb"].tolist() == [2048, 4096, 6144]
    assert frame["max_concurrency"].tolist() == [1, 1, 1]
    assert frame["throughput_rps"].tolist() == pytest.approx([9.0, 10.0, 610 / 60])
    assert frame["model_latency_ms"].tolist() == pytest.approx([98.0, 86.0, 84.5])
    assert frame["model_setup_time_ms"].tolist() == pytest.approx([3512.0, 3380.0, 3295.0])
    assert frame["cost_identity_ok"].all()
    assert frame["environment"].tolist() == ["OMP_NUM_THREADS=2"] * 3
    assert frame["invocation_started_at"].iloc[0] == pd.Timestamp("2024-05-02T09:20:11.104Z")
    assert run.meta["framework"] == "PYTORCH" and "memory_mb" not in run.meta


def test_job_steps_keep_failed_benchmarks():
    run = _one(STEPS_FILE, STEPS)
    frame = run.tables["recommender"]
    assert frame["status"].tolist() == ["COMPLETED", "COMPLETED", "FAILED"]
    assert frame["failure_reason"].iloc[2].startswith("ResourceLimitExceeded")
    assert frame["failure_reason"].iloc[:2].isna().all()
    assert frame["max_invocations_per_min"].iloc[2] is pd.NA and frame["cost_identity_ok"].iloc[2] is pd.NA
    assert frame["throughput_rps"].iloc[:2].tolist() == pytest.approx([10.8, 40.0])
    assert frame["model_latency_ms"].iloc[:2].tolist() == pytest.approx([263.596, 41.25])
    assert frame["endpoint_model_latency_ms"].iloc[0] == pytest.approx(259.87)
    assert frame["endpoint_max_invocations_per_min"].iloc[0] == 652
    assert frame["cpu_utilization_pct"].iloc[0] == pytest.approx(87.5)
    assert frame["cost_identity_ok"].iloc[:2].tolist() == [True, True]
    assert run.meta == {"started_at": "2024-05-03T14:02:10.250000+00:00",
                        "ended_at": "2024-05-03T14:16:33.410000+00:00"}


def test_boto3_response_as_json_and_as_notebook_repr_parse_the_same(tmp_path):
    """Through a real botocore client (Stubber validates the fixture against the service model)."""
    doc = json.loads(SERVERLESS.read_text(), object_hook=_botocore_timestamps)
    doc.pop("ResponseMetadata")
    client = _sagemaker()
    with Stubber(client) as stub:
        stub.add_response("describe_inference_recommendations_job", doc)
        response = client.describe_inference_recommendations_job(JobName="resnet50-serverless-ir")
    as_json, as_repr = tmp_path / "job.json", tmp_path / "job.txt"
    as_json.write_text(json.dumps(response, default=str))
    as_repr.write_text(f"# printed in a notebook\n```\n{response!r}\n```\n")
    assert "datetime.datetime(2024, 5, 2, 9, 15, 4, 512000, tzinfo=tzutc())" in as_repr.read_text()
    assert recommender.sniff(as_repr, as_repr.read_bytes()) == JOB
    a, b, c = _one(as_json), _one(as_repr), _one(SERVERLESS)
    pd.testing.assert_frame_equal(a.tables["recommender"], b.tables["recommender"])
    pd.testing.assert_frame_equal(a.tables["recommender"], c.tables["recommender"])
    assert a.meta == b.meta == c.meta
    assert "timezone_assumed_utc" not in b.notes  # tzutc() is UTC: nothing assumed


# ---------------------------------------------------------------------------- bad input


def test_pyrepr_with_a_function_call_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.txt"
    path.write_text("{'JobName': 'j', 'JobType': 'Default', 'InferenceRecommendations': [\n"
                    f"  __import__('os').system('touch {marker}')]}}\n")
    with pytest.raises(InputError, match=r"evil\.txt: line 2: expected literals, datetime\.datetime.*"
                                         r"nothing is executed.*found __import__\('os'\)"):
        recommender.parse([path], JOB)
    assert not marker.exists()


BAD = {
    "missing_recommendations": (
        {"JobName": "j", "JobType": "Default", "Status": "FAILED", "FailureReason": "no capacity"}, JOB,
        r"InferenceRecommendations: expected a non-empty list of recommendations, found nothing "
        r"\(job Status 'FAILED', no capacity\)"),
    "negative_max_invocations": ({"MaxInvocations": -5}, JOB,
                                 r"InferenceRecommendations\[0\]\.Metrics\.MaxInvocations: expected a non-negative "
                                 r"number, found -5"),
    "non_numeric_max_invocations": ({"MaxInvocations": "lots"}, JOB,
                                    r"Metrics\.MaxInvocations: expected a non-negative number, found 'lots'"),
    "missing_max_invocations": ({"MaxInvocations": None}, JOB,
                                r"Metrics\.MaxInvocations: expected the invocations per minute, found nothing"),
    "negative_latency": ({"ModelLatency": -1}, JOB, r"Metrics\.ModelLatency: expected a non-negative number"),
    "not_a_job": ({"foo": 1}, JOB, r"top level: expected a DescribeInferenceRecommendationsJob response"),
    "empty_steps": ({"Steps": []}, STEPS, r"Steps: expected a non-empty list"),
    "no_configuration": ({"EndpointConfiguration": {"EndpointName": "e", "VariantName": "v"}}, JOB,
                         r"EndpointConfiguration: expected InstanceType or ServerlessConfig"),
}


def _bad_job(change: dict) -> dict:
    if "MaxInvocations" in change or "ModelLatency" in change:
        metrics = {"CostPerHour": 0.2, "MaxInvocations": 600, "ModelLatency": 1000, **change}
        return {"JobName": "j", "JobType": "Default", "InferenceRecommendations": [{
            "Metrics": {k: v for k, v in metrics.items() if v is not None},
            "EndpointConfiguration": {"EndpointName": "e", "VariantName": "v", "InstanceType": "ml.m5.large"}}]}
    if "EndpointConfiguration" in change:
        return {"JobName": "j", "JobType": "Default", "InferenceRecommendations": [{
            "Metrics": {"MaxInvocations": 600}, **change}]}
    return change


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_naming_file_and_field(tmp_path, case):
    change, fmt, pattern = BAD[case]
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(_bad_job(change)))
    with pytest.raises(InputError, match=pattern) as info:
        recommender.parse([path], fmt)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "pattern"), [
    ("{'CreationTime': datetime.datetime(2021, 10, 26, tzinfo=tzoffset(None, 3600)), 'JobType': 'Default'}",
     r"line 1: expected tzinfo=tzlocal\(\) or tzinfo=tzutc\(\), found tzinfo=tzoffset\(None, 3600\)"),
    ("{'JobType': 'Default', 'InferenceRecommendations': [open('/etc/passwd').read()]}",
     r"line 1: expected literals.*found open\('/etc/passwd'\)\.read\(\)"),
    ("this is neither", r"line 1: expected a JSON or Python-repr object, found invalid JSON .*; Python this is"),
    ("{'JobType': }", r"line 1: expected JSON or a Python-repr response, found invalid JSON .* and invalid Python"),
    ("{'CreationTime': datetime.datetime(2021, 13, 40), 'JobType': 'Default'}", r"expected a valid date"),
])
def test_bad_python_repr(tmp_path, text, pattern):
    path = tmp_path / "job.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=pattern):
        recommender.parse([path], JOB)


@pytest.mark.parametrize("stamp", [1635278697.627, "2021-10-26T20:04:57.627Z", "2021-10-26 21:04:57.627+01:00"])
def test_job_times_in_any_cli_or_boto3_form_are_utc(tmp_path, samples, stamp):
    doc = json.loads(samples["derived"].read_text())["default_job"]
    doc["CreationTime"] = stamp
    path = tmp_path / "job.json"
    path.write_text(json.dumps(doc))
    assert _one(path).meta["started_at"] == "2021-10-26T20:04:57.627000+00:00"


def test_ingest_dispatch_finds_every_recommender_input(samples):
    from planner.ingest import parse_paths

    runs = parse_paths([*samples.values(), SERVERLESS, STEPS_FILE])
    assert sorted((r.format, r.key) for r in runs) == sorted(
        [(JOB, ""), (JOB, ""), (JOB, "default_job"), (JOB, "advanced_job"), (JOB, ""), (STEPS, "")])
