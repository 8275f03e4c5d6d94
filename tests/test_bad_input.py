"""Bad input through the real CLI: one line naming the file and what was expected, exit 1, nothing written."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from planner.cli import main

STATS_HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
                "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
                "99.9%,99.99%,100%")
STATS_ROW = "GET,/x,10,0,50,51.5,40,80,100,2.5,0,50,51,52,53,60,70,75,80,80,80,80"
AGG_ROW = ",Aggregated,10,0,50,51.5,40,80,100,2.5,0,50,51,52,53,60,70,75,80,80,80,80"
HISTORY_HEADER = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
                  "99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
                  "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
                  "Total Average Content Size")
HISTORY_ROW = "1700000000,10,,Aggregated,5,0,50,51,52,53,60,70,75,80,80,80,80,10,0,50,51.5,40,80,100"
PERF_HEADER = ("Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,"
               "Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,"
               "p95 latency,p99 latency")
TOOLKIT_HEADER = ("MemoryUtilization,ModelLatency,ModelSetupTime,OverheadLatency,average_latency,cost_per_invocation,"
                  "cost_per_1M_invocations")


SWAPPED_HEADER = STATS_HEADER.replace("66%", "@").replace("90%", "66%").replace("@", "90%")
BIG_FIELD_FILES = {  # each parser reading CSV text with Python's csv module, a field over its 128 KiB limit
    "points_big.csv": "concurrency,throughput_rps,note\n1,10,BIG\n",
    "cw_big.csv": "timestamp,ModelLatency\n2024-01-01T00:00:00Z,BIG\n",
    "pa_big.csv": PERF_HEADER + "\n1,69.2,225,2148,64,206,11781,19,0,13891,18795,19753,BIG\n",
    "metrics_with_cost.csv": TOOLKIT_HEADER + "\n10,30,BIG,60,90,3e-06,3.0\n",
    "mme_summary_big.csv": "model_name,instance_type,platform,max_models_loaded,User Count,Requests/s,"
                           "Total Median Response Time,Total Average Response Time,Total Min Response Time,"
                           "Total Max Response Time,Successful Requests,Failed Requests\nm,BIG,pt,4,20,10,50,51,40,80,100,0\n",
    "bigrow_stats.csv": f"{STATS_HEADER}\nGET,/BIG,ten,{STATS_ROW.split(',', 3)[3]}\n{AGG_ROW}\n",  # a bad cell found
}


def _gmd(results: list[dict]) -> str:
    return json.dumps({"MetricDataResults": results, "Messages": []})


CASES: dict[str, tuple[str, str | bytes, list[str]]] = {
    "empty file": ("empty_stats.csv", "", []),
    "binary garbage": ("blob_stats.csv", bytes(range(256)) * 4, []),
    "stats header only": ("h_stats.csv", STATS_HEADER + "\n", []),
    "stats truncated row": ("t_stats.csv", f"{STATS_HEADER}\n{STATS_ROW}\nGET,/y,10,0,50\n{AGG_ROW}\n", []),
    "stats with semicolons": ("semi_stats.csv", (STATS_HEADER + "\n" + STATS_ROW).replace(",", ";") + "\n", []),
    "history forced as stats": ("fh_stats_history.csv", f"{HISTORY_HEADER}\n{HISTORY_ROW}\n",
                                ["--format", "locust-stats"]),
    "stats forced as history": ("fs_stats.csv", f"{STATS_HEADER}\n{STATS_ROW}\n{AGG_ROW}\n",
                                ["--format", "locust-history"]),
    "stats non-numeric count": ("nn_stats.csv", f"{STATS_HEADER}\n{STATS_ROW.replace(',10,', ',ten,', 1)}\n{AGG_ROW}\n",
                                []),
    "stats negative latency": ("neg_stats.csv", f"{STATS_HEADER}\n{STATS_ROW.replace(',51.5,', ',-51.5,')}\n{AGG_ROW}\n",
                               []),
    "stats NaN latency": ("nan_stats.csv", f"{STATS_HEADER}\n{STATS_ROW.replace(',51.5,', ',nan,')}\n{AGG_ROW}\n", []),
    "history bad timestamp": ("ts_stats_history.csv",
                              f"{HISTORY_HEADER}\n{HISTORY_ROW.replace('1700000000', 'yesterday')}\n", []),
    "locust json syntax error": ("run.json", '[{"name": "/", "num_requests": 3, "response_times": {', []),
    "locust json entry without histogram": ("run2.json", json.dumps([{"name": "/", "method": "GET", "num_requests": 3,
                                                                     "num_failures": 0}]), ["--format", "locust-json"]),
    "json that is no known export": ("other.json", json.dumps({"foo": 1, "bar": [1, 2]}), []),
    "cloudwatch lengths differ": ("cw.json", _gmd([{"Id": "m1", "Label": "ModelLatency", "StatusCode": "Complete",
                                                     "Timestamps": ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"],
                                                     "Values": [1000.0]}]), []),
    "cloudwatch non-numeric value": ("cw2.json", _gmd([{"Id": "m1", "Label": "Invocations", "StatusCode": "Complete",
                                                         "Timestamps": ["2024-01-01T00:00:00Z"], "Values": ["many"]}]),
                                     []),
    "cloudwatch bad timestamp": ("cw3.json", _gmd([{"Id": "m1", "Label": "Invocations", "StatusCode": "Complete",
                                                     "Timestamps": ["the first of January"], "Values": [3.0]}]), []),
    "cloudwatch negative latency": ("cw4.json", _gmd([{"Id": "m1", "Label": "ModelLatency", "StatusCode": "Complete",
                                                        "Timestamps": ["2024-01-01T00:00:00Z"], "Values": [-5.0]}]),
                                    []),
    "recommender code in repr": ("job.pyrepr.txt", "{'JobName': 'x', 'JobType': 'Default', "
                                 "'InferenceRecommendations': [__import__('os').system('true')]}", []),
    "recommender negative invocations": ("job.json", json.dumps({
        "JobName": "j", "JobType": "Default", "Status": "COMPLETED", "InferenceRecommendations": [{
            "Metrics": {"CostPerHour": 0.2, "CostPerInference": 1e-6, "MaxInvocations": -5, "ModelLatency": 1000},
            "EndpointConfiguration": {"EndpointName": "e", "VariantName": "v", "InstanceType": "ml.c5.xlarge",
                                      "InitialInstanceCount": 1}}]}), []),
    "perf_analyzer without p99": ("pa.csv", PERF_HEADER.rsplit(",", 1)[0] + "\n1,69.2,225,2148,64,206,11781,19,0,"
                                  "13891,18795,19753\n", ["--format", "perf-analyzer-csv"]),
    "perf_analyzer text latency": ("pa2.csv", PERF_HEADER + "\n1,69.2,225,2148,64,206,11781,19,0,13891,18795,fast,"
                                   "21018\n", []),
    "points negative throughput": ("points.csv", "concurrency,throughput_rps\n1,10\n2,-20\n", []),
    "points unitless latency": ("points2.csv", "concurrency,throughput_rps,latency_p99\n1,10,20\n", []),
    "toolkit five rows, no memory": ("metrics_with_cost.csv", TOOLKIT_HEADER + "\n" + "\n".join(
        ["10,30,,60,90,3e-06,3.0"] * 5) + "\n", []),
    "gpu log over 100 percent": ("gpu_memory_model_loading_stdout.txt",
                                 "# cell 26 (engine=pt) stdout\nloaded 1 models with memory utilzation of 8.02%\n"
                                 "loaded 2 models with memory utilzation of 180.5%\n", []),
    "source mismatch": ("m_stats.csv", f"{STATS_HEADER}\n{STATS_ROW}\n{AGG_ROW}\n", ["--format", "cloudwatch"]),
    "stats percentile headers swapped": ("sw_stats.csv", f"{SWAPPED_HEADER}\n{STATS_ROW}\n{AGG_ROW}\n", []),
    "stats implausible min response time": ("big_stats.csv",
                                            f"{STATS_HEADER}\n{STATS_ROW.replace(',40,', ',1e308,')}\n{AGG_ROW}\n", []),
    "history negative timestamp": ("nt_stats_history.csv",
                                   f"{HISTORY_HEADER}\n{HISTORY_ROW.replace('1700000000', '-1700000000')}\n", []),
    "history without load": ("idle_stats_history.csv", HISTORY_HEADER + "\n" + "".join(
        f"{1700000000 + i},0,,Aggregated,0,0{',N/A' * 11},0,0,0,0,0,0,0\n" for i in range(2031)), []),
    "gpu log count no number": ("gpu_memory_model_loading_stdout.txt", "# cell 26 (engine=pt) stdout\n"
                                "loaded 1 models with memory utilzation of 8.02%\n"
                                "loaded -1e400 models with memory utilzation of 9.79%\n"
                                "loaded 3 models with memory utilzation of 11.56%\n", []),
    **{f"field over the csv limit: {name}": (name, content.replace("BIG", "x" * (129 * 1024)), [])
       for name, content in BIG_FIELD_FILES.items()},
}


def _run_cli(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["planner", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clear_line(case, tmp_path, monkeypatch, capsys):
    name, content, extra = CASES[case]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    store = tmp_path / "store"
    code, out, err = _run_cli(["ingest", str(path), "--store", str(store), *extra], monkeypatch, capsys)
    lines = err.strip().splitlines()
    assert code == 1, (out, err)
    assert len(lines) == 1, err
    assert name in lines[0] and "expected" in lines[0], lines[0]
    assert "Traceback" not in err
    assert not store.exists(), "nothing may be written"


def test_bad_file_among_good_ones_writes_nothing(datasets, tmp_path, monkeypatch, capsys):
    for f in (datasets / "locust").glob("louskac_deep-vision__results_*.csv"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "zz_points.csv").write_text("concurrency,throughput_rps\n1,10\n2,-20\n")
    store = tmp_path / "store"
    code, _, err = _run_cli(["ingest", str(tmp_path), "--store", str(store)], monkeypatch, capsys)
    assert code == 1 and "zz_points.csv" in err
    assert not store.exists()


def test_missing_path_and_bad_label(tmp_path, monkeypatch, capsys):
    code, _, err = _run_cli(["ingest", str(tmp_path / "nope"), "--store", str(tmp_path / "s")], monkeypatch, capsys)
    assert code == 1 and "nope" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "p.csv").write_text("concurrency,throughput_rps\n1,10\n")
    code, _, err = _run_cli(["ingest", str(tmp_path / "p.csv"), "--label", "novalue", "--store", str(tmp_path / "s")],
                            monkeypatch, capsys)
    assert code == 2 and "key=value" in err
    assert not (tmp_path / "s").exists()


NAMED = {  # what the one line must say beyond "FILE: ... expected ...", for the cases that need a place and a reason
    "stats percentile headers swapped": "row 1, columns '66%' and '75%': expected percentiles that do not decrease",
    "stats implausible min response time": "row 1, column 'Min Response Time': expected a response time of at most",
    "history negative timestamp": "row 1, column 'Timestamp': expected epoch seconds >= 0, found '-1700000000'",
    "history without load": "found no load: User Count is 0 in every row (2,031 rows, no request)",
    "gpu log count no number": "line 3: expected 'loaded N models",
    **{case: "line 2: expected CSV fields of at most 128 KiB, found a field over 128 KiB"
       for case in CASES if case.startswith("field over the csv limit")},
}


@pytest.mark.parametrize("case", sorted(NAMED))
def test_bad_input_names_the_place_and_the_reason(case, tmp_path, monkeypatch, capsys):
    name, content, extra = CASES[case]
    (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    code, _, err = _run_cli(["ingest", str(tmp_path / name), "--store", str(tmp_path / "store"), *extra], monkeypatch,
                            capsys)
    assert code == 1 and NAMED[case] in err, err


def test_gpu_log_line_that_is_no_row_is_an_error_not_one_row_fewer(tmp_path, monkeypatch, capsys):
    """46 rows as the aws-samples log prints them (8.02% + 1.77% per model), one with a count that is no
    whole number: before, it was dropped silently (45 rows)."""
    lines = ["# cell 26 (engine=pt) stdout"] + [f"loaded {n} models with memory utilzation of {6.25 + 1.77 * n:.2f}%"
                                                 for n in range(1, 47)]
    lines[21] = "loaded -1e400 models with memory utilzation of 43.42%"
    path = tmp_path / "gpu_memory_model_loading_stdout.txt"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = _run_cli(["ingest", str(path), "--store", str(tmp_path / "store")], monkeypatch, capsys)
    assert code == 1 and "gpu_memory_model_loading_stdout.txt: line 22: expected 'loaded N models" in err, err
    assert not (tmp_path / "store").exists()


BIG = "x" * (129 * 1024)


@pytest.mark.parametrize(("name", "content", "args"), [
    ("traffic.csv", f"minute,tps\n0,{BIG}\n", ["autoscale", "--traffic", "{path}", "--store", "data/sample-store"]),
    ("popularity.csv", f"model,requests\n{BIG},3\n", ["mme", "--models", "5", "--target-tps", "100", "--popularity", "{path}",
                                                      "--store", "data/sample-store"]),
    ("prices.csv", f"instance_type,usd_per_hour\nml.m5.large,{BIG}\n",
     ["recommend", "--target-tps", "100", "--p99", "200ms", "--price-file", "{path}", "--store", "data/sample-store"]),
])
def test_csv_options_with_a_field_over_the_limit_are_one_line(name, content, args, tmp_path, monkeypatch, capsys):
    path = tmp_path / name
    path.write_text(content)
    code, _, err = _run_cli([a.format(path=path) for a in args], monkeypatch, capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert f"{name}: line 2: expected CSV fields of at most 128 KiB, found a field over 128 KiB" in err, err
