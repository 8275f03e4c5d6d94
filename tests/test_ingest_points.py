"""Ready-made points parsers: perf_analyzer CSV, plain/USL points CSV, serverless toolkit, MME GPU benchmark."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from planner.ingest import mme_gpu, perf_analyzer, points, serverless_toolkit

MODULES = (perf_analyzer, points, serverless_toolkit, mme_gpu)

PA_HEADER = ("Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,"
             "Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency")
PA_ROW = "1,69.2,225,2148,64,206,11781,19,0,13891,18795,19753,21018"
TOOLKIT_HEADER = ("MemoryUtilization,ModelLatency,ModelSetupTime,OverheadLatency,average_latency,"
                  "cost_per_invocation,cost_per_1M_invocations")


def sniffed(path: Path) -> dict[str, str]:
    """{module name: format} for every module that claims ``path``."""
    head = path.read_bytes()[:65536]
    return {m.__name__.rsplit(".", 1)[1]: fmt for m in MODULES if (fmt := m.sniff(path, head))}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_input_error(excinfo: pytest.ExceptionInfo[InputError], path: Path, where: str, found: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    assert str(path) in message and where in excinfo.value.where and found in excinfo.value.found, message


# ---- perf_analyzer ------------------------------------------------------------------------------


@pytest.fixture
def perf_example(datasets: Path) -> Path:
    return datasets / "perf_analyzer" / "perf_analyzer_inception_example.csv"


def test_perf_analyzer_example_converts_microseconds_and_sorts_by_concurrency(perf_example: Path):
    assert sniffed(perf_example) == {"perf_analyzer": "perf-analyzer-csv"}
    [run] = perf_analyzer.parse([perf_example], "perf-analyzer-csv")
    pts = run.tables["points"]
    assert pts["concurrency"].tolist() == [1, 2, 3, 4]  # the file is in throughput order: 1, 3, 4, 2
    first = pts.iloc[0]
    assert first["throughput_rps"] == pytest.approx(69.2)
    assert first["latency_p99_ms"] == pytest.approx(21.018)
    assert first["latency_p50_ms"] == pytest.approx(13.891)
    assert first["server_compute_infer_ms"] == pytest.approx(11.781)
    assert first["client_send_ms"] == pytest.approx(0.225)
    assert pts.loc[pts["concurrency"] == 4, "server_queue_ms"].item() == pytest.approx(33.669)
    assert str(pts["concurrency"].dtype) == "Float64"
    assert run.source == "perf_analyzer" and run.notes["latency_unit_source"] == "us"


def test_perf_analyzer_request_rate_mode_keeps_newer_columns(tmp_path: Path):
    text = ("Request Rate,Inferences/Second,Client Send,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency,"
            "Avg latency,request/response,response wait,Avg GPU Utilization\n"
            "200,199.5,30,10,4000,5000,6000,9000,4200,40,4100,0.61\n"
            "100,99.8,30,10,3000,3500,3900,5000,3100,40,3000,0.33\n")
    path = write(tmp_path, "rate.csv", text)
    assert sniffed(path) == {"perf_analyzer": "perf-analyzer-csv"}
    [run] = perf_analyzer.parse([path], "perf-analyzer-csv")
    pts = run.tables["points"]
    assert pts["request_rate_rps"].tolist() == [100, 200]
    assert pts["concurrency"].isna().all()
    assert pts["latency_mean_ms"].tolist() == pytest.approx([3.1, 4.2])
    assert pts["client_response_wait_ms"].tolist() == pytest.approx([3.0, 4.1])
    assert pts["avg_gpu_utilization"].tolist() == pytest.approx([0.33, 0.61])  # unknown unit: kept as is
    assert run.notes["columns_kept_unconverted"] == ["avg_gpu_utilization"]
    assert run.notes["load_mode"] == "request_rate"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 512), st.integers(0, 10**7)), min_size=1, max_size=12))
def test_perf_analyzer_every_time_column_is_microseconds(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("pa") / "pa.csv"
    lines = [PA_HEADER] + [f"{c},{c * 1.5},{us},{us},{us},{us},{us},{us},{us},{us},{us},{us},{us}" for c, us in rows]
    path.write_text("\n".join(lines) + "\n")
    pts = perf_analyzer.parse([path], "perf-analyzer-csv")[0].tables["points"]
    expected = sorted(rows, key=lambda r: r[0])
    assert pts["concurrency"].tolist() == [c for c, _ in expected]
    for column in ("client_send_ms", "server_queue_ms", "latency_p99_ms", "client_recv_ms"):
        assert pts[column].tolist() == pytest.approx([us / 1000 for _, us in expected])


def test_perf_analyzer_without_p99_column(tmp_path: Path):
    path = write(tmp_path, "nop99.csv", PA_HEADER.rsplit(",", 1)[0] + "\n" + PA_ROW.rsplit(",", 1)[0] + "\n")
    with pytest.raises(InputError) as excinfo:
        perf_analyzer.parse([path], "perf-analyzer-csv")
    assert_input_error(excinfo, path, "header", "Client Recv")
    assert "p99 latency" in excinfo.value.expected


def test_perf_analyzer_text_latency(tmp_path: Path):
    path = write(tmp_path, "text.csv", f"{PA_HEADER}\n{PA_ROW}\n{PA_ROW.replace('19753', 'fast').replace('1,', '2,', 1)}\n")
    with pytest.raises(InputError) as excinfo:
        perf_analyzer.parse([path], "perf-analyzer-csv")
    assert_input_error(excinfo, path, "line 3, column 'p95 latency'", "'fast'")


def test_perf_analyzer_zero_concurrency(tmp_path: Path):
    path = write(tmp_path, "zero.csv", f"{PA_HEADER}\n0{PA_ROW[1:]}\n")
    with pytest.raises(InputError) as excinfo:
        perf_analyzer.parse([path], "perf-analyzer-csv")
    assert_input_error(excinfo, path, "line 2, column 'Concurrency'", "'0'")


# ---- points CSV (plain and USL) -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "rows", "load", "throughput"), [
    ("usl_specsdm91.csv", 7, 18, 995.9),
    ("usl_raytracer.csv", 11, 64, 310),
    ("usl_synthetic_coef_test.csv", 6, 10, 3.3557),
])
def test_usl_datasets(datasets: Path, name: str, rows: int, load: float, throughput: float):
    path = datasets / "usl" / name
    assert sniffed(path) == {"points": "points-csv"}
    [run] = points.parse([path], "points-csv")
    pts = run.tables["points"]
    assert len(pts) == rows and list(pts.columns) == ["concurrency", "throughput_rps"]
    assert pts["concurrency"].is_monotonic_increasing
    assert pts.loc[pts["concurrency"] == load, "throughput_rps"].item() == pytest.approx(throughput)
    assert run.source == "points"


def test_points_latency_units_are_converted_and_extras_kept(tmp_path: Path):
    text = ("users,rps,p50 (ms),p99_us,p99.9_s,mean_latency_ms,error_rate,region\n"
            "4,80,12.5,40000,0.1,15,0.01,eu\n"
            "2,45,10,25000,0.05,12,,eu\n"
            "2,44,10.5,26000,0.06,12.5,0,eu\n")
    path = write(tmp_path, "p.csv", text)
    [run] = points.parse([path], "points-csv")
    pts = run.tables["points"]
    assert pts["concurrency"].tolist() == [2, 2, 4]  # duplicates allowed, stable order
    assert pts["throughput_rps"].tolist() == [45, 44, 80]
    assert pts["latency_p50_ms"].tolist() == pytest.approx([10, 10.5, 12.5])
    assert pts["latency_p99_ms"].tolist() == pytest.approx([25, 26, 40])
    assert pts["latency_p99_9_ms"].tolist() == pytest.approx([50, 60, 100])
    assert pts["latency_mean_ms"].tolist() == pytest.approx([12, 12.5, 15])
    assert pts["error_rate"].isna().tolist() == [True, False, False]
    assert pts["region"].tolist() == ["eu"] * 3


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 1000), st.floats(0, 1e5, allow_nan=False), st.floats(0, 1e4)),
                min_size=1, max_size=15),
       st.sampled_from([("p99_ms", 1.0), ("p99 (us)", 1e-3), ("latency_p99_s", 1e3), ("P99 (MS)", 1.0)]))
def test_points_roundtrip_any_unit(tmp_path_factory, rows, unit):
    header, factor = unit
    path = tmp_path_factory.mktemp("pts") / "p.csv"
    path.write_text("concurrency,throughput\n".replace("throughput", f"throughput,{header}")
                    + "".join(f"{c},{x!r},{lat!r}\n" for c, x, lat in rows))
    pts = points.parse([path], "points-csv")[0].tables["points"]
    expected = sorted(rows, key=lambda r: r[0])
    assert pts["concurrency"].tolist() == [c for c, _, _ in expected]
    assert pts["throughput_rps"].tolist() == [x for _, x, _ in expected]
    assert pts["latency_p99_ms"].tolist() == pytest.approx([lat * factor for _, _, lat in expected])


@pytest.mark.parametrize(("text", "where", "found"), [
    ("concurrency,throughput_rps\n1,10\n2,-20\n", "line 3, column 'throughput_rps'", "'-20'"),
    ("load,throughput\n0,10\n", "line 2, column 'load'", "'0'"),
    ("load,throughput\n-3,10\n", "line 2, column 'load'", "'-3'"),
    ("N,X\n1,nan\n", "line 2, column 'X'", "'nan'"),
    ("concurrency,throughput_rps,latency_p99\n1,10,20\n", "header column 'latency_p99'", "no unit"),
    ("concurrency,throughput_rps,latency\n1,10,20\n", "header column 'latency'", "'latency'"),
    ("concurrency,throughput_rps,p99_ms,latency_p99_ms\n1,10,20,20\n", "header", "both meaning latency_p99_ms"),
    ("concurrency,throughput_rps,error_rate\n1,10,5\n", "line 2, column 'error_rate'", "'5'"),
    ("concurrency,throughput_rps\n1,10\n2,20,7\n", "line 3", "3"),
    ("throughput,concurrency\n10,1\n", "header", "['throughput', 'concurrency']"),
])
def test_points_bad_input(tmp_path: Path, text: str, where: str, found: str):
    path = write(tmp_path, "bad_points.csv", text)
    with pytest.raises(InputError) as excinfo:
        points.parse([path], "points-csv")
    assert_input_error(excinfo, path, where, found)


# ---- serverless toolkit -------------------------------------------------------------------------


@pytest.fixture
def toolkit_metrics(datasets: Path) -> Path:
    return datasets / "serverless-toolkit" / "smsb_mobilenet_metrics_with_cost.csv"


def test_toolkit_metrics_rows_are_the_default_memory_sweep(toolkit_metrics: Path):
    assert sniffed(toolkit_metrics) == {"serverless_toolkit": "serverless-toolkit-metrics"}
    [run] = serverless_toolkit.parse([toolkit_metrics], "serverless-toolkit-metrics")
    pts = run.tables["points"].set_index("memory_mb")
    assert pts.index.tolist() == [1024, 2048, 3072, 4096, 5120, 6144]
    assert pts.loc[2048, "usd_per_million_invocations"] == pytest.approx(4.4408, abs=1e-4)
    assert pts.loc[2048, "model_latency_ms"] == pytest.approx(33.910969)
    assert pts.loc[1024, "latency_mean_ms"] == pytest.approx(73.28666885 + 63.54677377)
    assert pts.loc[1024, "toolkit_average_latency_ms"] == pytest.approx(135.563618)
    assert pts.loc[1024, "memory_utilization_pct"] == pytest.approx(23.638)
    assert pts["model_setup_time_ms"].isna().all()
    assert (pts["concurrency"] == 1).all() and pts["throughput_rps"].isna().all()
    assert run.notes["memory_mb_assigned_by_row_order"] is True
    assert run.notes["average_latency_definition"] == "ModelLatency + mean(OverheadLatency)"
    assert run.notes["memory_mb_consistent_with_cost"] is True
    assert run.notes["data_usd_per_invocation"] == pytest.approx(5.933e-7, rel=1e-3)
    assert run.notes["source_tool"] == "sagemaker-serverless-inference-benchmarking"
    assert run.meta == {"max_concurrency": 1}


def test_toolkit_metrics_memory_column_wins_and_is_cross_checked(toolkit_metrics: Path, tmp_path: Path):
    lines = toolkit_metrics.read_text().splitlines()
    memory = [1024, 2048, 3072, 4096, 5120, 6144]
    shuffled = [5, 0, 3, 1, 4, 2]  # with a memory column, rows may come in any order
    right = write(tmp_path, "right_metrics_with_cost.csv", "\n".join(
        [f"memory_size,{lines[0]}"] + [f"{memory[i]},{lines[i + 1]}" for i in shuffled]) + "\n")
    [run] = serverless_toolkit.parse([right], "serverless-toolkit-metrics")
    pts = run.tables["points"]
    assert pts["memory_mb"].tolist() == memory  # sorted by memory
    assert pts["model_latency_ms"].iloc[1] == pytest.approx(33.910969)
    assert run.notes["memory_mb_assigned_by_row_order"] is False
    assert run.notes["memory_mb_consistent_with_cost"] is True
    wrong = write(tmp_path, "wrong_metrics_with_cost.csv", "\n".join(
        [f"memory_size,{lines[0]}"] + [f"{memory[5 - i]},{lines[i + 1]}" for i in range(6)]) + "\n")
    [run] = serverless_toolkit.parse([wrong], "serverless-toolkit-metrics")
    assert run.notes["memory_mb_consistent_with_cost"] is False
    assert "data_usd_per_invocation" not in run.notes


def test_toolkit_metrics_older_per_row_average(tmp_path: Path):
    rows = [(20.0 + i, 60.0 + 2 * i) for i in range(6)]
    path = write(tmp_path, "old_metrics_with_cost.csv", TOOLKIT_HEADER + "\n" + "".join(
        f"10,{m},,{o},{m + o},1e-6,1\n" for m, o in rows))
    [run] = serverless_toolkit.parse([path], "serverless-toolkit-metrics")
    assert run.notes["average_latency_definition"] == "ModelLatency + OverheadLatency"
    assert run.tables["points"]["latency_mean_ms"].tolist() == pytest.approx([m + o for m, o in rows])


def test_toolkit_savings_break_even_matches_metrics(datasets: Path, toolkit_metrics: Path):
    path = datasets / "serverless-toolkit" / "smsb_mobilenet_cost_savings_summary.csv"
    assert sniffed(path) == {"serverless_toolkit": "serverless-toolkit-savings"}
    [run] = serverless_toolkit.parse([path], "serverless-toolkit-savings")
    savings = run.tables["cost_savings"]
    assert list(savings.columns) == ["monthly_invocations", "serverless_usd_per_month", "instance_usd_per_month",
                                     "savings_pct"]
    assert str(savings["monthly_invocations"].dtype) == "Int64" and len(savings) == 18
    assert savings["monthly_invocations"].iloc[-1] == 9_000_000
    assert savings["savings_pct"].iloc[0] == pytest.approx(94.49)
    assert run.notes["break_even_invocations_per_month"] == pytest.approx(9.08e6, rel=1e-3)
    metrics = serverless_toolkit.parse([toolkit_metrics], "serverless-toolkit-metrics")[0].tables["points"]
    chosen = metrics.loc[metrics["memory_mb"] == 2048, "usd_per_invocation"].item()  # the toolkit chose 2048 MB
    assert run.notes["usd_per_invocation"] == pytest.approx(chosen, rel=1e-9)


def test_toolkit_five_rows_without_memory_column(toolkit_metrics: Path, tmp_path: Path):
    lines = toolkit_metrics.read_text().splitlines()
    path = write(tmp_path, "five_metrics_with_cost.csv", "\n".join(lines[:6]) + "\n")
    with pytest.raises(InputError) as excinfo:
        serverless_toolkit.parse([path], "serverless-toolkit-metrics")
    assert_input_error(excinfo, path, "header", "no memory column and 5 rows")


def test_toolkit_average_latency_contradicts_its_parts(toolkit_metrics: Path, tmp_path: Path):
    text = toolkit_metrics.read_text().replace("98.32795268196836", "108.32795268196836")
    path = write(tmp_path, "edited_metrics_with_cost.csv", text)
    with pytest.raises(InputError) as excinfo:
        serverless_toolkit.parse([path], "serverless-toolkit-metrics")
    assert_input_error(excinfo, path, "line 4, column 'average_latency'", "108.3280")


def test_toolkit_savings_fractional_invocations(datasets: Path, tmp_path: Path):
    source = datasets / "serverless-toolkit" / "smsb_mobilenet_cost_savings_summary.csv"
    path = write(tmp_path, "cost_savings_summary.csv", source.read_text().replace("1500000,", "1500000.5,"))
    with pytest.raises(InputError) as excinfo:
        serverless_toolkit.parse([path], "serverless-toolkit-savings")
    assert_input_error(excinfo, path, "line 4, column 'monthly_invocations'", "'1500000.5'")


# ---- SageMaker MME GPU benchmark ----------------------------------------------------------------


@pytest.fixture
def mme(datasets: Path) -> dict[str, Path]:
    folder = datasets / "sagemaker-mme-gpu"
    return {kind: next(folder.glob(f"*{kind}*")) for kind in ("gpu_memory", "summary", "polled")}


def test_mme_gpu_memory_log_one_run_per_engine(mme: dict[str, Path]):
    assert sniffed(mme["gpu_memory"]) == {"mme_gpu": "mme-gpu-memory-log"}
    pt, trt = mme_gpu.parse([mme["gpu_memory"]], "mme-gpu-memory-log")
    assert (pt.key, trt.key) == ("pt", "trt")
    assert (pt.meta["framework"], trt.meta["framework"]) == ("pytorch", "tensorrt")
    density = pt.tables["gpu_memory"]
    assert density["models_loaded"].tolist() == list(range(1, 47))
    assert density["gpu_memory_utilization_pct"].iloc[0] == pytest.approx(8.02)
    assert density["gpu_memory_utilization_pct"].iloc[-1] == pytest.approx(88.77)  # the closing line is a row
    assert (density["gpu_total_memory_mb"] == 15109.0).all()
    assert trt.tables["gpu_memory"]["models_loaded"].tolist() == list(range(1, 24))
    assert trt.tables["gpu_memory"]["gpu_memory_utilization_pct"].iloc[-1] == pytest.approx(88.72)
    assert (pt.notes["max_models_reported"], trt.notes["max_models_reported"]) == (46, 23)
    assert pt.notes["baseline_gpu_memory_utilization_pct"] == pytest.approx(100 * 165 / 15109)


def test_mme_gpu_memory_log_without_headers_and_with_correct_spelling(tmp_path: Path):
    path = write(tmp_path, "raw_stdout.txt", "{'gpu_total_memory': 16000.0, 'gpu_used_memory': 800.0,\n"
                 " 'gpu_memory_utilization': 5.0}\ncopy: s3://x/y\nloaded 1 models with memory utilization of 10%\n"
                 "loaded 2 models with memory utilisation of 15.5%\n")
    assert sniffed(path) == {"mme_gpu": "mme-gpu-memory-log"}
    [run] = mme_gpu.parse([path], "mme-gpu-memory-log")
    assert run.key == "" and run.meta == {} and "max_models_reported" not in run.notes
    assert run.tables["gpu_memory"]["gpu_memory_utilization_pct"].tolist() == [10.0, 15.5]
    assert run.notes["baseline_gpu_memory_utilization_pct"] == pytest.approx(5.0)  # already percent: 800/16000


def test_mme_summary_two_runs_of_ten_points(mme: dict[str, Path]):
    assert sniffed(mme["summary"]) == {"mme_gpu": "mme-locust-summary"}
    runs = mme_gpu.parse([mme["summary"]], "mme-locust-summary")
    assert [r.key for r in runs] == ["pt", "trt"]
    pt = runs[0]
    assert pt.meta == {"instance_type": "ml.g4dn.2xlarge", "framework": "pytorch", "model": "resnet50"}
    assert pt.notes["latency_is_cumulative_average"] is True and pt.notes["max_models_loaded"] == 46
    pts = pt.tables["points"]
    assert len(pts) == 10 and len(runs[1].tables["points"]) == 10
    assert pts["concurrency"].tolist() == list(range(20, 201, 20))
    at180 = pts.set_index("concurrency").loc[180]
    assert (at180["request_count"], at180["failure_count"]) == (2442, 1)
    assert at180["error_rate"] == pytest.approx(1 / 2442)
    assert at180["latency_mean_ms"] == pytest.approx(608.166289)
    assert runs[1].tables["points"]["throughput_rps"].max() == pytest.approx(140.008333)


def test_mme_polled_rows_are_cumulative_histories(mme: dict[str, Path]):
    assert sniffed(mme["polled"]) == {"mme_gpu": "mme-locust-polled"}
    pt, trt = mme_gpu.parse([mme["polled"]], "mme-locust-polled")
    assert (pt.key, trt.key) == ("pt", "trt")
    for run in (pt, trt):
        history = run.tables["history"]
        assert len(history) == 11
        assert history["total_request_count"].is_monotonic_increasing
        assert (history["timestamp"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().tolist() == list(range(0, 330, 30))
        assert history["user_count"].isna().all() and history["throughput_rps"].isna().all()
        assert run.notes["history_percentiles"] == "cumulative" and run.notes["timestamps_synthetic"] is True
        assert run.notes["poll_period_s"] == 30
    last = pt.tables["history"].iloc[-1]
    assert (last["total_request_count"], last["total_failure_count"]) == (30461, 2)
    assert last["latency_p99_ms"] == 3900 and last["latency_p99_9_ms"] == 5000
    assert last["total_latency_mean_ms"] == pytest.approx(684.1666698)
    assert pt.tables["history"]["elapsed_s"].iloc[0] == pytest.approx(418 / 24.526537454218712)
    assert (pt.notes["locust_exit_code"], trt.notes["locust_exit_code"]) == (1, 0)


def test_mme_polled_plain_dict_rows_and_na(tmp_path: Path):
    row = ("{'Type': 'POST', 'Name': 'Aggregated', 'Request Count': '0', 'Failure Count': '0', "
           "'Median Response Time': '0', 'Average Response Time': '0', 'Min Response Time': '0', "
           "'Max Response Time': '0', 'Average Content Size': '0', 'Requests/s': '0', 'Failures/s': '0', "
           "'50%': 'N/A', '99%': 'N/A'}")
    path = write(tmp_path, "polled.txt", f"# cell 3 (engine=trt)\n{row}\n")
    [run] = mme_gpu.parse([path], "mme-locust-polled")
    history = run.tables["history"]
    assert run.key == "trt" and bool(history["is_aggregate"].iloc[0])
    assert history["latency_p99_ms"].isna().all() and history["elapsed_s"].isna().all()


def _copy_with(src: Path, tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / src.name
    shutil.copyfile(src, path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def test_mme_gpu_log_percentage_above_100(mme: dict[str, Path], tmp_path: Path):
    path = _copy_with(mme["gpu_memory"], tmp_path, "of 87.00%", "of 187.00%")
    with pytest.raises(InputError) as excinfo:
        mme_gpu.parse([path], "mme-gpu-memory-log")
    assert_input_error(excinfo, path, "line 55", "187.00%")


def test_mme_gpu_log_models_must_increase(mme: dict[str, Path], tmp_path: Path):
    path = _copy_with(mme["gpu_memory"], tmp_path, "loaded 12 models", "loaded 10 models")
    with pytest.raises(InputError) as excinfo:
        mme_gpu.parse([path], "mme-gpu-memory-log")
    assert_input_error(excinfo, path, "line 22", "10")


def test_mme_summary_without_user_count(mme: dict[str, Path], tmp_path: Path):
    path = _copy_with(mme["summary"], tmp_path, "User Count,", "Users,")
    with pytest.raises(InputError) as excinfo:
        mme_gpu.parse([path], "mme-locust-summary")
    assert_input_error(excinfo, path, "header", "Users")
    assert "'User Count'" in excinfo.value.expected


def test_mme_summary_inconsistent_max_models(mme: dict[str, Path], tmp_path: Path):
    path = _copy_with(mme["summary"], tmp_path, "pt,46,60.0", "pt,45,60.0")
    with pytest.raises(InputError) as excinfo:
        mme_gpu.parse([path], "mme-locust-summary")
    assert_input_error(excinfo, path, "line 4, column 'max_models_loaded'", "45")


def test_mme_polled_count_going_backwards(mme: dict[str, Path], tmp_path: Path):
    path = _copy_with(mme["polled"], tmp_path, "'Request Count', '3142'", "'Request Count', '1000'")
    with pytest.raises(InputError) as excinfo:
        mme_gpu.parse([path], "mme-locust-polled")
    assert_input_error(excinfo, path, "line 9, field 'Request Count'", "1000")


def test_mme_polled_rows_are_never_evaluated(tmp_path: Path):
    marker = tmp_path / "pwned"
    path = write(tmp_path, "evil.txt", "# (engine=pt)\nOrderedDict([('Type', __import__('pathlib').Path("
                 f"{str(marker)!r}).touch()), ('Request Count', '1')])\n")
    with pytest.raises(InputError) as excinfo:
        mme_gpu.parse([path], "mme-locust-polled")
    assert_input_error(excinfo, path, "line 2", "[('Type'")
    assert not marker.exists()


def test_sniffers_leave_other_sources_alone(datasets: Path):
    folders = ("locust", "recommender", "queueing", "prices")
    foreign = [p for folder in folders for p in sorted((datasets / folder).glob("*"))]
    foreign.append(datasets / "serverless-toolkit" / "smsb_cost_constants.csv")
    assert len(foreign) > 20
    assert {p.name: sniffed(p) for p in foreign if sniffed(p)} == {}
