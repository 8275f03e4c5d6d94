"""Another token mix: per-token transfer of the fitted curves, checked held-out on a second measured mix
(the suite's GPT-OSS-20B chat and tool-calling runs on one ml.g6e.12xlarge; SGLang's random and ShareGPT
runs on one 4× H200 server)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.catalog import load_catalog
from planner.cli import app
from planner.llm_fit import fit_llm_configurations
from planner.recommend.llm import LlmSlo, recommend_llm
from planner.store import RunStore
from tests.test_llm_fit import KIMI_P5E, SUITE, fitted

DATA = Path(__file__).parent / "datasets" / "llm"
CHAT = SUITE / "gpt-oss-20b_g6e_g6e12xlarge_multiturn_chat_useast1_20260310_182735.csv"
TOOLS = SUITE / "gpt-oss-20b_g6e_g6e12xlarge_tool_calling_useast1_20260310_183333.csv"
SGLANG = DATA / "sglang-bench-serving" / "llama_3_3_70b_online_output.jsonl"
runner = CliRunner()


@cache
def store(root: str) -> RunStore:
    result = runner.invoke(app, ["ingest", str(CHAT), str(TOOLS), str(SGLANG), "--store", root])
    assert result.exit_code == 0, result.output
    return RunStore(root)


def fits(tmp_path_factory) -> dict[str, object]:
    found = store(str(tmp_path_factory.getbasetemp() / "mix-store"))
    return {f.config.label_value("use_case") or f.config.label_value("dataset"): f
            for f in fit_llm_configurations(found.runs(), found.table("llm_steps"))}


def test_chat_and_tool_calling_predict_each_other_within_a_few_percent(tmp_path_factory):
    by_mix = fits(tmp_path_factory)
    (chat_to_tools,) = by_mix["multiturn_chat"].mix_validations_
    (tools_to_chat,) = by_mix["tool_calling"].mix_validations_
    assert chat_to_tools.heldout.endswith("use_case=tool_calling") and chat_to_tools.statistic == "mean"
    assert (chat_to_tools.heldout_input_tokens, chat_to_tools.heldout_output_tokens) == pytest.approx((664.7, 513.9),
                                                                                                       abs=0.1)
    # C=1: chat's 4602.7 ms × 513.9 / 600 output tokens (no TTFT, no ITL measured) against 3640.5 measured
    assert chat_to_tools.e2e_errors[0] == pytest.approx(
        fitted(CHAT).predict_ms("e2e", "mean", 1) * 513.93 / 600 / 3640.5 - 1, abs=0.002)
    assert chat_to_tools.levels == 6 and chat_to_tools.e2e_heldout_error == pytest.approx(0.051, abs=0.002)
    assert tools_to_chat.levels == 6 and tools_to_chat.e2e_heldout_error == pytest.approx(0.047, abs=0.002)
    # moving per token beats using the other mix's curves unchanged (23 % and 18 %)
    assert chat_to_tools.e2e_heldout_error_unmoved == pytest.approx(0.227, abs=0.002)
    assert tools_to_chat.e2e_heldout_error_unmoved == pytest.approx(0.183, abs=0.002)


def test_random_mix_predicts_sharegpt_at_its_arrival_rates(tmp_path_factory):
    """Rate-driven: the ShareGPT levels (4 and 8 req/s, 225→191 tokens; 2 levels, not fitted on their own)
    are predicted at the concurrency the moved random-mix (511→515) curves keep in flight at the measured rate."""
    by_mix = fits(tmp_path_factory)
    assert not by_mix["sharegpt"].fitted_
    (check,) = by_mix["random"].mix_validations_
    assert check.levels == 2 and check.levels_beyond_range == 0
    assert list(check.e2e_errors) == pytest.approx([-0.056, -0.251], abs=0.002)
    assert check.e2e_heldout_error_unmoved > 8  # the random mix is saturated at 8 req/s; ShareGPT is not
    # TTFT ∝ input tokens misses a fixed part of the prefill: p50 off by 46 %
    assert check.ttft_statistic == "p50" and check.ttft_heldout_error == pytest.approx(0.462, abs=0.002)


def test_ttft_scales_with_input_tokens_and_e2e_adds_the_change(tmp_path_factory):
    fit = fits(tmp_path_factory)["random"]
    base, c = fit.input_tokens_mean_, 20.0
    assert fit.predict_ms("ttft", "p50", c, input_tokens=2 * base) == pytest.approx(2 * fit.predict_ms("ttft", "p50", c))
    assert fit.predict_ms("e2e", "p50", c, input_tokens=2 * base) - fit.predict_ms("e2e", "p50", c) == \
        pytest.approx(fit.predict_ms("ttft", "p50", c))


def test_recommendation_for_another_mix_cites_the_cross_mix_error_or_the_assumption(tmp_path_factory):
    catalog = load_catalog("us-east-1")
    chat = fits(tmp_path_factory)["multiturn_chat"]
    rec = recommend_llm([chat], catalog, target_rps=1, input_tokens=200, output_tokens=100,
                        slos=[LlmSlo("e2e", "p99", 20_000)])
    (option,) = rec.options
    assert option.extrapolated
    assert any("checked on the measured 665→514-token mix" in n and "error 5%" in n for n in option.notes)
    single = recommend_llm([fitted(KIMI_P5E)], catalog, target_rps=1, input_tokens=200, output_tokens=100).options[0]
    assert any(n.startswith("one token mix measured") and "not validated" in n for n in single.notes)
    same = recommend_llm([chat], catalog, target_rps=1, input_tokens=567, output_tokens=600).options[0]
    assert not any("token mix" in n for n in same.notes)


def test_fit_json_carries_the_cross_mix_checks(tmp_path_factory):
    found = store(str(tmp_path_factory.getbasetemp() / "mix-store"))
    result = runner.invoke(app, ["llm", "fit", "--store", str(found.root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    chat = next(c for c in data["configs"] if c["labels"].get("use_case") == "multiturn_chat")
    (check,) = chat["mix_validations"]
    assert check["levels"] == 6 and check["e2e_heldout_error"] == pytest.approx(0.051, abs=0.002)
    assert "TTFT ∝ input tokens" in check["assumption"]
    table = runner.invoke(app, ["llm", "fit", "--store", str(found.root)])
    assert table.exit_code == 0, table.output
    assert "use_case=tool_calling (6 level(s)): held-out e2e mean error 5.1% (unmoved 22.7%)" in table.stdout
