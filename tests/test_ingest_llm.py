"""Ingest of LLM benchmark results (SageMaker suite, FMBench, vLLM, SGLang, LLMPerf, GuideLLM, GenAI-Perf,
AIPerf) into ``llm_steps``: every copied file, published figures from the files and the suite's reports,
exact percentiles from per-request samples, unit conversions, bad input, and a store holding LLM runs
next to request/response runs."""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import InputError
from planner.ingest import formats, parse_paths, sniff
from planner.ingest.llm_base import number, sample_stats_ms
from tests.conftest import REPO

LLM = REPO / "tests" / "datasets" / "llm"
SUITE = LLM / "sagemaker-benchmark-suite"
SHARED_VLLM = REPO.parent / "shared" / "datasets" / "llm" / "vllm-benchmark-serving" / "01_tp8_pp1"
PUBLISHED_VLLM = LLM / "vllm-benchmark-serving" / "01_tp8_pp1" / "benchmark_results.json"
runner = CliRunner()

# Every data file copied under tests/datasets/llm -> (format, load levels it yields).
EXPECTED = {
    "sagemaker-benchmark-suite/bench-v2-gptoss20b-vanilla_g512xl_g512xlarge_multiturn_chat_useast1_20260309_220249.csv":
        ("sagemaker-suite-csv", 6),
    "sagemaker-benchmark-suite/bench-v2-qwen3-vanilla_g6e12xl_g6e12xlarge_multiturn_chat_useast1_20260309_215329.csv":
        ("sagemaker-suite-csv", 6),
    "sagemaker-benchmark-suite/bench-v2-qwen3-vanilla_g7e2xl_g7e2xlarge_multiturn_chat_uswest2_20260310_001220.csv":
        ("sagemaker-suite-csv", 6),
    "sagemaker-benchmark-suite/gpt-oss-20b_g6e_g6e12xlarge_multiturn_chat_useast1_20260310_155933.csv":
        ("sagemaker-suite-csv", 4),
    "sagemaker-benchmark-suite/gpt-oss-20b_g6e_g6e12xlarge_multiturn_chat_useast1_20260310_182735.csv":
        ("sagemaker-suite-csv", 6),
    "sagemaker-benchmark-suite/gpt-oss-20b_g6e_g6e12xlarge_tool_calling_useast1_20260310_183333.csv":
        ("sagemaker-suite-csv", 6),
    "sagemaker-benchmark-suite/gpt-oss-20b_g7e_g7e2xlarge_multiturn_chat_uswest2_20260310_175533.csv":
        ("sagemaker-suite-csv", 6),
    "sagemaker-benchmark-suite/kimi-k2.5_p5e_p5e48xlarge_multiturn_chat_uswest2_20260310_185604.csv":
        ("sagemaker-suite-csv", 6),
    "sagemaker-benchmark-suite/overnight-qwen3-vanilla_g512xl_g512xlarge_multiturn_chat_uswest2_20260310_002230.csv":
        ("sagemaker-suite-csv", 6),
    "sagemaker-benchmark-suite/qwen3-14b_vanilla_g7e2xl_multiturn_chat_uswest2_20260331_130747.csv":
        ("sagemaker-suite-csv", 6),
    "sagemaker-benchmark-suite/qwen3-prefix-cache_g512xl_g512xlarge_tool_calling_uswest2_20260309_211615.csv":
        ("sagemaker-suite-csv-headerless", 1),
    "fmbench/llama3-1-8b-g5.4xl-ec2-ec2adminrole__20241129T1605__summary_metrics_for_dataset_w_scores.csv":
        ("fmbench-summary-csv", 2),
    "fmbench/llama3-8b-g5.2xl-djl-ec2-fmbench-orchestrator__20250126T1654__summary_metrics_for_dataset_w_scores.csv":
        ("fmbench-summary-csv", 2),
    "fmbench/llama3-8b-trn1.32xl-ec2-triton-ec2_fmbench__20240927T2237__summary_metrics_for_dataset_w_scores.csv":
        ("fmbench-summary-csv", 10),
    "fmbench/llama3-8b-trn1.32xl-ec2-triton-madhureks__20240930T2048__summary_metrics_for_dataset_w_scores.csv":
        ("fmbench-summary-csv", 11),
    "sglang-bench-serving/llama_3_3_70b_online_output.jsonl": ("sglang-bench-serving-jsonl", 7),
    "llmperf/summary/anyscale_70b.json": ("llmperf-summary-json", 1),
    "llmperf/summary/bedrock_70b.json": ("llmperf-summary-json", 1),
    "llmperf/individual/anyscale_70b.json": ("llmperf-individual-json", 1),
    "guidellm/llama-3-2-3b_20250721_003902_benchmark-results.yaml": ("guidellm-yaml", 1),
    "guidellm/openai_gpt-oss-20b_tp4_quant-none_benchmarks.json": ("guidellm-json", 1),
    "guidellm/sanity_Qwen_Qwen3-4B-Thinking-2507_tp4_quant-fp8_benchmarks.json": ("guidellm-json", 1),
    "genai-perf/profile_export_genai_perf.json": ("genai-perf-json", 1),
    "aiperf/profile_export_aiperf.json": ("aiperf-json", 1),
    "derived/serving_meta-llama-Llama-3.3-70B-Instruct_tp8_pp1_sharegpt_qps_01.json": ("vllm-bench-serving-json", 1),
    "derived/serving_meta-llama-Llama-3.3-70B-Instruct_tp8_pp1_sharegpt_qps_inf.json": ("vllm-bench-serving-json", 1),
}
REFERENCE_FILES = {"BENCHMARK_MATRIX_REPORT.md", "FINAL_REPORT_20260311.md", "benchmark_results.json", "README.md"}


def _one(path: Path):
    runs = parse_paths([path])
    assert len(runs) == 1
    return runs[0], runs[0].tables["llm_steps"]


def test_every_copied_llm_file_is_listed():
    found = {str(p.relative_to(LLM)) for p in LLM.rglob("*") if p.is_file() and p.name not in REFERENCE_FILES}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_file_ingests(name):
    fmt, levels = EXPECTED[name]
    path = LLM / name
    mod, found = sniff(path)
    assert found == fmt and formats()[fmt] == mod.__name__.rsplit(".", 1)[-1]
    runs = parse_paths([path])
    assert sum(len(r.tables["llm_steps"]) for r in runs) == levels
    for run in runs:
        steps = run.tables["llm_steps"]
        assert set(steps["load_kind"]) <= {"concurrency", "request_rate"}
        assert (steps["output_tokens_mean"].dropna() > 0).all()
        assert not any(c.endswith("_s") and c.startswith(("ttft", "itl", "e2e", "tpot")) for c in steps.columns)
        if "derived" not in name:
            assert run.meta["origin"] == "published" and " @ " in run.meta["source_ref"]


def test_other_datasets_are_not_taken_for_llm_results():
    for path in sorted((REPO / "tests" / "datasets").rglob("*")):
        if path.is_file() and LLM not in path.parents:
            try:
                mod, _ = sniff(path)
            except InputError:
                continue
            assert not mod.__name__.rsplit(".", 1)[-1].startswith("llm_"), path


# ----------------------------------------------------------------------------- SageMaker suite

def _report_row(report: str, start: str) -> list[str]:
    line = next(ln for ln in (SUITE / report).read_text().splitlines() if ln.startswith(start))
    return [c.strip() for c in line.strip("|").split("|")]


def test_suite_qwen3_g6e_matches_both_reports():
    run, steps = _one(SUITE / "bench-v2-qwen3-vanilla_g6e12xl_g6e12xlarge_multiturn_chat_useast1_20260309_215329.csv")
    assert list(steps["concurrency"]) == [1, 2, 4, 8, 16, 32]
    c32, c1 = steps.iloc[-1], steps.iloc[0]
    # FINAL_REPORT §3 "Instance Generation Comparison": g6e.12xl agg tok/s 666 at C=32; §1 RPS 1.10-1.12.
    final = _report_row("FINAL_REPORT_20260311.md", "| g6e.12xl | 4x L40S | 4 |")
    assert c32["output_tokens_per_s"] == float(final[4]) == 666.0
    assert c32["throughput_rps"] == 1.11
    # BENCHMARK_MATRIX_REPORT: g6e.12xl C=1 37.3 tok/s (per request) and 666 aggregate at C=32.
    matrix = _report_row("BENCHMARK_MATRIX_REPORT.md", "| Qwen3-32B | Dense | 32B | g6e.12xl |")
    assert c1["request_output_tokens_per_s_mean"] == float(matrix[4]) == 37.3
    assert c32["output_tokens_per_s"] == float(matrix[5])
    assert run.meta["instance_type"] == "ml.g6e.12xlarge" and run.meta["model"] == "bench-v2-qwen3-vanilla"
    assert run.meta["labels"] == {"use_case": "multiturn_chat", "optimization": "g6e12xl", "region": "us-east-1",
                                  "timestamp": "20260309_215329"}
    assert c32["e2e_mean_ms"] == 28714.6 and c32["e2e_p99_ms"] == 28747.7 and c32["failure_count"] == 0


def test_suite_g5_overnight_within_final_report_range():
    _, steps = _one(SUITE / "overnight-qwen3-vanilla_g512xl_g512xlarge_multiturn_chat_uswest2_20260310_002230.csv")
    row = _report_row("FINAL_REPORT_20260311.md", "| 11-13 | Qwen3-32B | g5 |")
    agg_low, agg_high = map(float, row[5].split("-"))
    rps_low, rps_high = map(float, row[6].split("-"))
    c32 = steps.iloc[-1]
    assert agg_low <= c32["output_tokens_per_s"] <= agg_high and c32["output_tokens_per_s"] == 420.0
    assert rps_low <= c32["throughput_rps"] <= rps_high and c32["throughput_rps"] == 0.70


@pytest.mark.parametrize("path", sorted(SUITE.glob("*.csv")), ids=lambda p: p.name[:40])
def test_suite_rps_is_concurrency_over_mean_latency(path):
    _, steps = _one(path)
    assert steps["throughput_derived"].all()
    derived = (steps["concurrency"] / (steps["e2e_mean_ms"] / 1000)).round(2)
    assert (derived == steps["throughput_rps"]).all()


def test_suite_headerless_file_reads_in_schema_a_order():
    run, steps = _one(SUITE / "qwen3-prefix-cache_g512xl_g512xlarge_tool_calling_uswest2_20260309_211615.csv")
    assert run.format == "sagemaker-suite-csv-headerless" and "header_assumed" in run.notes
    row = steps.iloc[0]
    assert (row["concurrency"], row["request_count"], row["failure_count"]) == (2, 26, 4)
    assert (row["e2e_p50_ms"], row["e2e_p99_ms"], row["e2e_mean_ms"]) == (27028.0, 27336.6, 26696.0)
    assert (row["input_tokens_mean"], row["output_tokens_mean"], row["output_tokens_per_s"]) == (351.3, 591.9, 41.4)
    assert run.meta["instance_type"] == "ml.g5.12xlarge" and run.meta["labels"]["use_case"] == "tool_calling"


def test_suite_schema_b_ttft_and_missing_input_tokens():
    run, steps = _one(SUITE / "qwen3-14b_vanilla_g7e2xl_multiturn_chat_uswest2_20260331_130747.csv")
    assert (steps.iloc[0]["ttft_p50_ms"], steps.iloc[0]["ttft_p90_ms"], steps.iloc[0]["ttft_mean_ms"]) == (72.1, 84.2, 80.8)
    assert steps["input_tokens_mean"].isna().all() and "input_tokens" in run.notes


def test_suite_schema_c_reads_columns_by_name():
    _, steps = _one(SUITE / "kimi-k2.5_p5e_p5e48xlarge_multiturn_chat_uswest2_20260310_185604.csv")
    c1 = steps.iloc[0]
    assert (c1["e2e_p50_ms"], c1["e2e_mean_ms"], c1["e2e_p99_ms"]) == (5456.9, 5481.7, 5650.5)
    assert "e2e_p90_ms" not in steps.columns and steps.iloc[-1]["output_tokens_per_s"] == 1565.4


def test_suite_partial_run_keeps_failures():
    _, steps = _one(SUITE / "gpt-oss-20b_g6e_g6e12xlarge_multiturn_chat_useast1_20260310_155933.csv")
    assert list(steps["concurrency"]) == [4, 8, 16, 32]
    assert list(steps["request_count"] + steps["failure_count"]) == [30] * 4
    assert list(steps["failure_count"])[:2] == [4, 9]


def test_suite_bad_counts_name_line_and_column(tmp_path):
    src = SUITE / "kimi-k2.5_p5e_p5e48xlarge_multiturn_chat_uswest2_20260310_185604.csv"
    lines = src.read_text().splitlines()
    lines[3] = lines[3].replace(",30,30,0,", ",30,29,0,", 1)
    bad = tmp_path / "kimi.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line 4, column 'total_requests': expected successful \+ failed = 29"):
        parse_paths([bad])
    lines = src.read_text().splitlines()
    lines[2] = lines[2].replace("5791.2", "fast", 1)
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line 3, column 'latency_p50': expected a number >= 0, found 'fast'"):
        parse_paths([bad])


# ----------------------------------------------------------------------------- FMBench

def test_fmbench_rows_sorted_by_concurrency_seconds_to_ms():
    name = "llama3-8b-trn1.32xl-ec2-triton-madhureks__20240930T2048__summary_metrics_for_dataset_w_scores.csv"
    path = LLM / "fmbench" / name
    raw_order = [int(line.split(",")[4]) for line in path.read_text().splitlines()[1:]]
    assert raw_order != sorted(raw_order)  # the file is in score order
    run, steps = _one(path)
    assert list(steps["concurrency"]) == [1, 2, 4, 8, 10, 12, 14, 15, 18, 20, 25]
    c1 = steps.iloc[0]
    assert c1["e2e_p50_ms"] == 730.0  # 0.73 s
    c14 = steps[steps["concurrency"] == 14].iloc[0]
    assert c14["throughput_rps"] == pytest.approx(410 / 60) and c14["e2e_p99_ms"] == pytest.approx(2040.0)
    assert (c14["input_tokens_mean"], c14["output_tokens_per_s"], c14["input_tokens_per_s"]) == (3433, 278, 23507)
    assert run.meta["instance_type"] == "trn1.32xlarge" and run.meta["labels"]["platform"] == "ec2"
    assert run.key == "payload_en_3000-3840.jsonl" and run.meta["model"] == "Meta-Llama-3-8B-Instruct-triton"
    assert steps["request_count"].isna().all()


# ----------------------------------------------------------------------------- vLLM

def _vllm_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("serving_*.json"))


@pytest.mark.skipif(not SHARED_VLLM.is_dir(), reason="shared vLLM result files absent (1.1 MB each, not copied)")
def test_vllm_sweep_exact_percentiles_match_published_figures():
    runs = parse_paths(_vllm_files(SHARED_VLLM))
    assert len(runs) == 1
    run, steps = runs[0], runs[0].tables["llm_steps"]
    assert list(steps["request_rate_rps"]) == [1.0, 4.0, 16.0, math.inf] and steps["concurrency"].isna().all()
    assert run.meta["model"] == "meta-llama/Llama-3.3-70B-Instruct" and run.meta["framework"] == "vllm"
    assert run.meta["labels"]["tensor_parallel"] == "8"
    published = json.loads(PUBLISHED_VLLM.read_text())
    assert [p["Test name"] for p in published] == ["tp8_pp1_qps_01", "tp8_pp1_qps_04", "tp8_pp1_qps_16",
                                                   "tp8_pp1_qps_inf"]
    for (_, row), pub in zip(steps.iterrows(), published, strict=True):
        assert row["throughput_rps"] == pytest.approx(pub["Tput (req/s)"], rel=1e-12)
        assert row["output_tokens_per_s"] == pytest.approx(pub["Output Tput (tok/s)"], rel=1e-12)
        for metric, col in (("TTFT", "ttft"), ("ITL", "itl")):
            for stat, suffix in (("Mean", "mean"), ("Median", "p50"), ("P99", "p99")):
                assert row[f"{col}_{suffix}_ms"] == pytest.approx(pub[f"{stat} {metric} (ms)"], rel=1e-12)
        for stat, suffix in (("Mean", "mean"), ("Median", "p50"), ("P99", "p99")):  # e2e = ttft + sum(itls)
            assert row[f"tpot_{suffix}_ms"] == pytest.approx(pub[f"{stat} TPOT (ms)"], rel=1e-5)
    own = json.loads((SHARED_VLLM / "serving_meta-llama-Llama-3.3-70B-Instruct_tp8_pp1_sharegpt_qps_inf.json")
                     .read_text())
    assert steps.iloc[-1]["ttft_p99_ms"] == pytest.approx(own["p99_ttft_ms"], rel=1e-12)
    e2e = sorted(t + sum(i) for t, i in zip(own["ttfts"], own["itls"], strict=True))
    assert steps.iloc[-1]["e2e_p50_ms"] == pytest.approx(statistics.median(e2e) * 1000, rel=1e-12)


def test_vllm_derived_fixture_two_levels_one_run():
    folder = LLM / "derived"
    runs = parse_paths(_vllm_files(folder))
    assert len(runs) == 1
    steps = runs[0].tables["llm_steps"]
    assert list(steps["request_rate_rps"]) == [1.0, math.inf] and list(steps["request_count"]) == [12, 12]
    for path, (_, row) in zip(_vllm_files(folder), steps.iterrows(), strict=True):
        doc = json.loads(path.read_text())
        ttfts_ms = [t * 1000 for t in doc["ttfts"]]
        assert row["ttft_p50_ms"] == pytest.approx(statistics.median(ttfts_ms), rel=1e-12)
        assert row["ttft_mean_ms"] == pytest.approx(statistics.fmean(ttfts_ms), rel=1e-12)
        assert row["ttft_p99_ms"] == pytest.approx(doc["p99_ttft_ms"], rel=1e-12)
        assert row["itl_mean_ms"] == pytest.approx(doc["mean_itl_ms"], rel=1e-12)
        assert row["input_tokens_mean"] == pytest.approx(sum(doc["input_lens"]) / 12)
        assert row["duration_s"] == doc["duration"] and row["failure_count"] == 0


def test_vllm_completed_must_agree_with_errors(tmp_path):
    src = _vllm_files(LLM / "derived")[0]
    doc = json.loads(src.read_text())
    doc["errors"][3] = "timeout"
    bad = tmp_path / src.name
    bad.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"completed: expected 11 .*found 12"):
        parse_paths([bad])
    doc["completed"] = 11
    bad.write_text(json.dumps(doc))
    row = parse_paths([bad])[0].tables["llm_steps"].iloc[0]
    assert (row["request_count"], row["failure_count"]) == (11, 1)


# ----------------------------------------------------------------------------- SGLang

def test_sglang_one_run_per_dataset_rps_from_completed_over_duration():
    runs = {r.key: r for r in parse_paths([LLM / "sglang-bench-serving" / "llama_3_3_70b_online_output.jsonl"])}
    assert sorted(runs) == ["random", "sharegpt"]
    rand = runs["random"].tables["llm_steps"]
    assert list(rand["request_rate_rps"]) == [1, 2, 4, 8, 16] and list(runs["sharegpt"].tables["llm_steps"]
                                                                       ["request_rate_rps"]) == [4, 8]
    sat = rand.iloc[-1]
    assert sat["throughput_rps"] == pytest.approx(3200 / 383.073250005953, rel=1e-12)
    assert sat["e2e_p50_ms"] == pytest.approx(159469.04, abs=0.01) and round(sat["output_tokens_per_s"]) == 4288
    assert runs["random"].meta["framework"] == "sglang" and runs["random"].meta["labels"]["random_input_len"] == "1024"


# ----------------------------------------------------------------------------- LLMPerf

def test_llmperf_bedrock_49_of_150_failed_seconds_to_ms():
    run, steps = _one(LLM / "llmperf" / "summary" / "bedrock_70b.json")
    row = steps.iloc[0]
    assert (row["concurrency"], row["request_count"], row["failure_count"]) == (5, 101, 49)
    assert row["error_rate"] == pytest.approx(49 / 150)
    assert row["e2e_p99_ms"] == pytest.approx(8093.41601000051, rel=1e-12)
    assert row["ttft_p50_ms"] == pytest.approx(387.71994699891366, rel=1e-12)
    assert row["throughput_rps"] == pytest.approx(25.18838751305755 / 60)
    assert row["duration_s"] == pytest.approx(101 / (25.18838751305755 / 60))
    assert run.meta["framework"] == "bedrock" and run.meta["model"] == "meta.llama2-70b-chat-v1"


def test_llmperf_individual_exact_statistics_equal_the_summary():
    _, summary = _one(LLM / "llmperf" / "summary" / "anyscale_70b.json")
    run, individual = _one(LLM / "llmperf" / "individual" / "anyscale_70b.json")
    assert individual["concurrency"].isna().all() and individual["throughput_rps"].isna().all()
    assert (individual.iloc[0]["request_count"], individual.iloc[0]["failure_count"]) == (150, 0)
    for metric in ("ttft", "itl", "e2e"):
        for stat in ("mean", "p50", "p90", "p95", "p99"):
            col = f"{metric}_{stat}_ms"
            assert individual.iloc[0][col] == pytest.approx(summary.iloc[0][col], rel=1e-9), col
    assert "load" in run.notes


def test_numbers_written_as_strings_are_read():
    assert number(Path("x.json"), "results_number_input_tokens_min", "550") == 550.0
    with pytest.raises(InputError, match="x.json: k: expected a number >= 0, found 'n/a'"):
        number(Path("x.json"), "k", "n/a")


# ----------------------------------------------------------------------------- GuideLLM

def test_guidellm_json_and_yaml():
    _, sync = _one(LLM / "guidellm" / "openai_gpt-oss-20b_tp4_quant-none_benchmarks.json")
    row = sync.iloc[0]
    assert (row["load_kind"], row["concurrency"], row["request_count"], row["duration_s"]) == ("concurrency", 1, 25, 720)
    assert row["ttft_p50_ms"] == pytest.approx(47.66058921813965) and row["e2e_mean_ms"] == pytest.approx(30644.148, abs=1e-3)
    _, conc = _one(LLM / "guidellm" / "sanity_Qwen_Qwen3-4B-Thinking-2507_tp4_quant-fp8_benchmarks.json")
    assert (conc.iloc[0]["concurrency"], conc.iloc[0]["request_count"]) == (4, 4)
    run, old = _one(LLM / "guidellm" / "llama-3-2-3b_20250721_003902_benchmark-results.yaml")
    row = old.iloc[0]
    assert (row["request_count"], row["incomplete_count"], row["failure_count"]) == (14, 1, 0)
    assert row["ttft_mean_ms"] == pytest.approx(409.563541, abs=1e-6) and run.meta["model"] == "llama-3-2-3b"
    assert row["measured_concurrency"] == pytest.approx(0.9997183069052338)


# ----------------------------------------------------------------------------- GenAI-Perf / AIPerf

def test_genai_perf():
    run, steps = _one(LLM / "genai-perf" / "profile_export_genai_perf.json")
    row = steps.iloc[0]
    assert (row["concurrency"], row["request_count"]) == (1, 35) and steps["failure_count"].isna().all()
    assert row["ttft_mean_ms"] == pytest.approx(1524.6265132) and row["e2e_p99_ms"] == pytest.approx(2645.88375618)
    assert run.meta["framework"] is None  # backend tensorrtllm is an unused default for service_kind openai


def test_aiperf_output_tokens_include_reasoning_and_no_secret_is_stored(tmp_path):
    run, steps = _one(LLM / "aiperf" / "profile_export_aiperf.json")
    row = steps.iloc[0]
    assert (row["concurrency"], row["request_count"], row["failure_count"]) == (1, 100, 0)
    assert row["duration_s"] == pytest.approx(519.597973721)
    assert (row["output_tokens_mean"], row["visible_output_tokens_mean"], row["reasoning_tokens_mean"]) == \
        (283.48, 69.525, 255.67)
    assert row["output_tokens_per_s"] == pytest.approx(28348 / 519.597973721, rel=1e-6)
    assert run.meta["labels"]["gpu_type"] == "NVIDIA A100-SXM4-80GB" and run.meta["labels"]["gpu_count"] == "8"
    store = tmp_path / "store"
    result = runner.invoke(app, ["ingest", str(LLM / "aiperf" / "profile_export_aiperf.json"), "--store", str(store)])
    assert result.exit_code == 0, result.output
    derived = [p for p in store.rglob("*") if p.is_file() and "raw" not in p.relative_to(store).parts]
    assert derived and not any(b"test_key" in p.read_bytes() for p in derived)


# ----------------------------------------------------------------------------- units

@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(min_value=1e-4, max_value=600.0), min_size=1, max_size=6))
def test_llmperf_seconds_round_trip_to_ms(tmp_path_factory, seconds):
    doc = json.loads((LLM / "llmperf" / "summary" / "bedrock_70b.json").read_text())
    keys = [k for k in doc if k.startswith("results_end_to_end_latency_s_quantiles_p")][:len(seconds)]
    doc.update(dict(zip(keys, seconds, strict=False)))
    path = tmp_path_factory.mktemp("llmperf") / "summary.json"
    path.write_text(json.dumps(doc))
    row = parse_paths([path])[0].tables["llm_steps"].iloc[0]
    for key, value in zip(keys, seconds, strict=False):
        column = "e2e_p" + key.rsplit("_p", 1)[1] + "_ms"
        assert row[column] / 1000 == pytest.approx(value, rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1e5), min_size=1, max_size=50))
def test_sample_statistics_are_ordered_and_bounded(samples):
    stats = sample_stats_ms("ttft", samples)
    pcts = [stats[f"ttft_p{p}_ms"] for p in (50, 90, 95, 99)]
    assert min(samples) <= pcts[0] and pcts == sorted(pcts) and pcts[-1] <= max(samples)
    assert stats["ttft_mean_ms"] == pytest.approx(statistics.fmean(samples), rel=1e-9, abs=1e-9)


# ----------------------------------------------------------------------------- store and existing commands

def _public_copy_changed(tmp_path: Path) -> Path:
    src = SUITE / "kimi-k2.5_p5e_p5e48xlarge_multiturn_chat_uswest2_20260310_185604.csv"
    path = tmp_path / src.name
    path.write_bytes(src.read_bytes().replace(b"5456.9", b"5456.8"))
    return path


def test_known_public_files_are_published_others_measured(tmp_path):
    run, _ = _one(SUITE / "kimi-k2.5_p5e_p5e48xlarge_multiturn_chat_uswest2_20260310_185604.csv")
    assert run.meta["source_ref"].startswith("aws-samples/sagemaker-genai-hosting-examples @ 80ee5ebf")
    changed, _ = _one(_public_copy_changed(tmp_path))
    assert "origin" not in changed.meta and "source_ref" not in changed.meta


def _cli_json(args: list[str]) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_llm_runs_leave_runs_fit_and_recommend_unchanged(tmp_path):
    perf = REPO / "tests" / "datasets" / "perf_analyzer" / "perf_analyzer_inception_example.csv"
    plain, mixed = str(tmp_path / "plain"), str(tmp_path / "mixed")
    for store in (plain, mixed):
        result = runner.invoke(app, ["ingest", str(perf), "--store", store, "--instance-type", "ml.g4dn.xlarge"])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["ingest", str(SUITE), str(LLM / "sglang-bench-serving"), "--store", mixed])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["runs", "list", "--store", mixed])
    assert listed.exit_code == 0 and "sagemaker-suite-csv" in listed.output and "14 runs" in listed.output
    published = runner.invoke(app, ["runs", "list", "--store", mixed, "--json"])
    origins = {r["format"]: r["origin"] for r in json.loads(published.stdout)["runs"]}
    assert origins["sagemaker-suite-csv"] == "published" and origins["perf-analyzer-csv"] == "measured"
    fit_plain, fit_mixed = _cli_json(["fit", "--store", plain]), _cli_json(["fit", "--store", mixed])
    assert [c["label"] for c in fit_mixed["configs"]] == [c["label"] for c in fit_plain["configs"]] == ["ml.g4dn.xlarge"]
    assert fit_mixed["configs"][0]["usl"] == fit_plain["configs"][0]["usl"]
    args = ["recommend", "--target-tps", "2000", "--p99", "200ms"]
    rec_plain, rec_mixed = _cli_json([*args, "--store", plain]), _cli_json([*args, "--store", mixed])
    assert [(o["instance_type"], o["instance_count"]) for o in rec_mixed["options"]] == \
        [(o["instance_type"], o["instance_count"]) for o in rec_plain["options"]] == [("ml.g4dn.xlarge", 33)]


def test_llm_source_names_are_documented():
    from planner.schema import RUN_FIELDS

    llm_sources = {m for m in formats().values() if m.startswith("llm_")}
    assert llm_sources == {"llm_suite", "llm_fmbench", "llm_serving", "llm_llmperf", "llm_guidellm", "llm_nvidia"}
    assert all(re.search(rf"\b{s}\b", RUN_FIELDS["source"]) for s in llm_sources)


@pytest.mark.parametrize("name", [n for n in sorted(EXPECTED) if not n.startswith("sagemaker")], ids=lambda n: n[:40])
def test_a_truncated_file_is_one_input_error(tmp_path, name):
    src = LLM / name
    cut = tmp_path / src.name
    data = src.read_bytes()
    # YAML has no end marker: cut after its metrics it still parses, and holds every figure used
    cut.write_bytes(data[: len(data) // (10 if name.endswith(".yaml") else 3)])
    with pytest.raises(InputError) as err:
        parse_paths([cut])
    message = str(err.value)
    assert message.startswith(f"{cut}: ") and "\n" not in message and ": expected " in message


def test_a_multi_file_vllm_run_reparses_from_its_raw_inputs(tmp_path):
    store = str(tmp_path / "store")
    assert runner.invoke(app, ["ingest", str(LLM / "derived"), "--store", store]).exit_code == 0
    result = runner.invoke(app, ["runs", "reparse", "--store", store])
    assert result.exit_code == 0 and "reparsed  vllm-bench-serving-json  [llm_steps 2]" in result.output


def test_csv_headers_are_sniffed_by_the_shared_first_record(tmp_path):
    """The suite and FMBench sniffers read the header as planner.ingest.points does: a BOM, CRLF line ends,
    blank leading lines and quoted header cells do not hide the format."""
    from planner.ingest import llm_fmbench, llm_suite
    from planner.ingest.points import first_record

    suite = (SUITE / "kimi-k2.5_p5e_p5e48xlarge_multiturn_chat_uswest2_20260310_185604.csv").read_bytes()
    header, _, body = suite.partition(b"\n")
    quoted = b'"' + header.replace(b",", b'","') + b'"'
    head = b"\xef\xbb\xbf\r\n" + quoted + b"\r\n" + body.replace(b"\n", b"\r\n")
    assert first_record(head)[:4] == ["endpoint", "use_case", "concurrency", "total_requests"]
    assert llm_suite.sniff(tmp_path / "x.csv", head) == "sagemaker-suite-csv"
    fmbench = next((LLM / "fmbench").glob("llama3-8b-trn1.32xl-ec2-triton-madhureks*.csv")).read_bytes()
    assert llm_fmbench.sniff(tmp_path / "x.csv", b"\xef\xbb\xbf\n" + fmbench.replace(b"\n", b"\r\n")) == \
        "fmbench-summary-csv"
    assert llm_suite.sniff(tmp_path / "x.csv", b"\n\n") is None and first_record(b"") == []
