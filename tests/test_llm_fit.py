"""LLM latency fits on the SageMaker benchmark suite's real CSVs (tests/datasets/llm/...)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.llm_fit import LlmConfiguration, LlmLatencyFit, fit_llm_configurations

SUITE = Path(__file__).parent / "datasets" / "llm" / "sagemaker-benchmark-suite"
QWEN32_G7E = SUITE / "bench-v2-qwen3-vanilla_g7e2xl_g7e2xlarge_multiturn_chat_uswest2_20260310_001220.csv"
QWEN14_G7E = SUITE / "qwen3-14b_vanilla_g7e2xl_multiturn_chat_uswest2_20260331_130747.csv"
KIMI_P5E = SUITE / "kimi-k2.5_p5e_p5e48xlarge_multiturn_chat_uswest2_20260310_185604.csv"
QWEN32_G6E = SUITE / "bench-v2-qwen3-vanilla_g6e12xl_g6e12xlarge_multiturn_chat_useast1_20260309_215329.csv"
GPTOSS_PARTIAL = SUITE / "gpt-oss-20b_g6e_g6e12xlarge_multiturn_chat_useast1_20260310_155933.csv"

_RENAME = {"latency_avg": "e2e_mean_ms", "latency_p50": "e2e_p50_ms", "latency_p90": "e2e_p90_ms",
           "latency_p99": "e2e_p99_ms", "ttft_avg": "ttft_mean_ms", "ttft_p50": "ttft_p50_ms",
           "ttft_p90": "ttft_p90_ms", "avg_input_tokens": "input_tokens_mean",
           "avg_output_tokens": "output_tokens_mean", "rps": "throughput_rps",
           "aggregate_output_tok_sec": "output_tokens_per_s", "successful": "request_count",
           "failed": "failure_count"}


def suite_frames(path: Path, run_id: str = "r1", labels: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs row, llm_steps rows) of one suite CSV, read by header name (stand-in for the ingest)."""
    raw = pd.read_csv(path)
    steps = raw.rename(columns=_RENAME)[[c for c in _RENAME.values() if c in raw.rename(columns=_RENAME)]]
    steps = steps.assign(run_id=run_id, load_kind="concurrency", concurrency=raw["concurrency"].astype(float),
                         request_rate_rps=np.nan, duration_s=np.nan)
    runs = pd.DataFrame([{"run_id": run_id, "instance_type": raw["instance_type"].iloc[0], "instance_count": 1,
                          "model": raw["model"].iloc[0], "framework": None, "origin": "published",
                          "labels": json.dumps({"use_case": raw["use_case"].iloc[0], **(labels or {})})}])
    return runs, steps


def fitted(path: Path, **kw) -> LlmLatencyFit:
    runs, steps = suite_frames(path, **kw)
    (fit,) = fit_llm_configurations(runs, steps)
    return fit


def test_qwen32_g7e_fit_predicts_measured_levels():
    fit = fitted(QWEN32_G7E)
    assert fit.fitted_ and fit.output_tokens_mean_ == 600 and fit.input_tokens_mean_ == pytest.approx(521.7)
    assert list(fit.concurrency_) == [1, 2, 4, 8, 16, 32]
    # flat then rising: e2e mean 30.8 s at c=1 … 36.8 s at c=32, within 3 % at both ends
    assert fit.predict_ms("e2e", "mean", 32) == pytest.approx(36766.2, rel=0.03)
    assert fit.predict_ms("e2e", "mean", 1) == pytest.approx(30821.1, rel=0.03)
    # closed loop: rps = c / e2e; the CSV's derived rps at C=32 is 0.87
    assert fit.requests_per_s(32) == pytest.approx(0.87, rel=0.03)
    assert fit.has("e2e", "p99") and not fit.has("ttft", "p99") and not fit.has("itl", "mean")


def test_heldout_beats_line_and_max_throughput_rule():
    fit = fitted(KIMI_P5E)
    assert fit.heldout_error_ < fit.heldout_error_line_ < fit.heldout_error_max_throughput_
    assert fit.heldout_error_ < 0.05
    # the rule e2e = c / max rps is far off at low load: c=1 predicted 1/2.61 s against 5.48 s measured
    assert fit.heldout_error_max_throughput_ > 0.5


def test_schema_b_ttft_and_derived_itl():
    fit = fitted(QWEN14_G7E)
    assert fit.input_tokens_mean_ is None  # the file records 0 input tokens: usage not returned
    assert any("input tokens per request not recorded" in n for n in fit.notes_)
    assert fit.has("ttft", "p50") and fit.has("ttft", "mean") and fit.ttft_heldout_error_ is not None
    # ITL mean = (e2e_mean - ttft_mean) / (n - 1): c=1 (12335.0 - 80.8) / 601 = 20.4 ms, rising with batch
    itl = fit.curves_[("itl", "mean")]
    assert itl.exponent == 1.0 and itl.slope_ms > 0
    assert fit.predict_ms("itl", "mean", 1) == pytest.approx((12335.0 - 80.8) / (602.5 - 1), rel=0.05)
    assert fit.predict_ms("itl", "mean", 32) == pytest.approx((14926.2 - 220.1) / (605.0 - 1), rel=0.05)
    assert any("ITL mean derived" in n for n in fit.notes_)


def test_longer_output_uses_itl_and_is_flagged():
    fit = fitted(QWEN14_G7E)
    base = fit.predict_ms("e2e", "mean", 8)
    longer = fit.predict_ms("e2e", "mean", 8, output_tokens=fit.output_tokens_mean_ + 100)
    assert longer - base == pytest.approx(100 * fit.predict_ms("itl", "mean", 8))
    assert fit.token_mix_notes(None, 1000) and not fit.token_mix_notes(None, 650)


def test_rate_driven_levels_use_littles_law():
    # open loop: 2 req/s at 1.5 s mean e2e keeps 3 requests in flight
    steps = pd.DataFrame({"run_id": "x", "load_kind": "request_rate", "request_rate_rps": [1.0, 2.0, 4.0],
                          "throughput_rps": [1.0, 2.0, 4.0], "e2e_mean_ms": [1000.0, 1500.0, 2500.0],
                          "output_tokens_mean": 100.0, "concurrency": np.nan})
    fit = LlmLatencyFit(LlmConfiguration("ml.g5.2xlarge", 1, "m", "vllm")).fit(steps)
    assert list(fit.concurrency_) == [1.0, 3.0, 10.0]
    assert any("Little's law" in n for n in fit.notes_)
    # without a measured e2e, its mean is rebuilt from TTFT and ITL: 2 req/s × (200 + 99 × 13 ms) = 2.974
    parts = steps.drop(columns="e2e_mean_ms").assign(ttft_mean_ms=200.0, itl_mean_ms=13.0)
    fit = LlmLatencyFit(LlmConfiguration("ml.g5.2xlarge", 1, "m", "vllm")).fit(parts)
    assert fit.concurrency_ == pytest.approx([1.487, 2.974, 5.948])


def test_fewer_than_three_levels_is_unfitted_with_reason():
    runs, steps = suite_frames(QWEN32_G7E)
    (fit,) = fit_llm_configurations(runs, steps.head(2))
    assert not fit.fitted_ and "2 load level(s)" in fit.reason_ and "at least 3" in fit.reason_


def test_partial_run_with_failures_is_noted():
    fit = fitted(GPTOSS_PARTIAL)
    assert fit.fitted_ and list(fit.concurrency_) == [4, 8, 16, 32]
    assert any("failed requests" in n for n in fit.notes_)


def test_runs_differing_in_bookkeeping_are_pooled_and_others_not():
    r1, s1 = suite_frames(QWEN32_G7E, "a", labels={"timestamp": "1"})
    r2, s2 = suite_frames(QWEN32_G7E, "b", labels={"timestamp": "2"})
    r3, s3 = suite_frames(QWEN32_G7E, "c", labels={"optimization": "eagle3"})
    fits = fit_llm_configurations(pd.concat([r1, r2, r3]), pd.concat([s1, s2, s3]))
    assert sorted(f.run_ids for f in fits) == [("a", "b"), ("c",)]


@settings(max_examples=40, deadline=None)
@given(a=st.floats(5, 50), b=st.floats(0.01, 2), noise=st.lists(st.floats(-0.01, 0.01), min_size=6, max_size=6))
def test_itl_slope_recovered(a, b, noise):
    """ITL = a + b·c is recovered from noisy levels: the slope keeps its sign and size."""
    c = np.array([1, 2, 4, 8, 16, 32.0])
    itl = (a + b * c) * (1 + np.array(noise))
    steps = pd.DataFrame({"run_id": "x", "load_kind": "concurrency", "concurrency": c, "itl_mean_ms": itl,
                          "ttft_mean_ms": 100.0, "output_tokens_mean": 200.0, "throughput_rps": np.nan})
    fit = LlmLatencyFit(LlmConfiguration("ml.g5.2xlarge", 1, "m", "vllm")).fit(steps)
    curve = fit.curves_[("itl", "mean")]
    assert curve.slope_ms == pytest.approx(b, abs=0.02 * (a + 32 * b) / 10)
    assert fit.curves_[("e2e", "mean")].composed
