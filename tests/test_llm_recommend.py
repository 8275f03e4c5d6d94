"""LLM sizing and cost on the suite's real CSVs and its FINAL_REPORT prices."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.catalog import HOURS_PER_MONTH, load_catalog
from planner.llm_fit import fit_llm_configurations
from planner.recommend.llm import LlmSlo, recommend_llm, usd_per_million_tokens
from tests.test_llm_fit import KIMI_P5E, QWEN14_G7E, QWEN32_G6E, QWEN32_G7E, SUITE, fitted, suite_frames

CATALOG = load_catalog("us-east-1")


def test_published_cost_per_million_tokens_recomputed():
    rows = [(i, float(p), float(a.replace(",", "")), float(c)) for i, a, p, c in re.findall(
        r"^\| \d+ \| [^|]+\| (\w+) \| [^|]+\| [\d.]+ \| ([\d,]+) \| [\d.]+ \| \$([\d.]+) \| \**\$([\d.]+)",
        (SUITE / "FINAL_REPORT_20260311.md").read_text(encoding="utf-8"), re.M)]
    assert len(rows) == 14  # ranks 1-10 and 17-20 (11-13 and 14-16 are ranges)
    for _, usd_per_hour, agg_tok_s, published in rows:
        assert usd_per_million_tokens(usd_per_hour, agg_tok_s) == pytest.approx(published, abs=0.006)
    # and the catalog carries the report's hourly prices
    prices = {i: p for i, p, _, _ in rows}
    assert CATALOG.price("ml.g7e.2xlarge") == prices["g7e"] == 4.20
    assert CATALOG.price("ml.g6e.12xlarge") == prices["g6e"] == 13.12
    assert CATALOG.price("ml.g5.12xlarge") == prices["g5"] == 7.09
    assert CATALOG.price("ml.p5e.48xlarge") == prices["p5e"] == 80.0


def test_one_instance_at_measured_c32_costs_what_the_csv_implies():
    """Target = the rps the fit gives at C=32 on one ml.p5e.48xlarge: $/M output tokens = 80 / (agg × 3600) × 1e6."""
    fit = fitted(KIMI_P5E)
    rps = fit.requests_per_s(32)
    assert rps == pytest.approx(2.61, rel=0.03)  # the CSV's rps at C=32
    rec = recommend_llm([fit], CATALOG, target_rps=rps, input_tokens=511, output_tokens=600,
                        slos=[LlmSlo("e2e", "p99", 12_500)])
    (o,) = rec.options
    assert (o.instance_count, o.copies_per_instance, o.concurrency_per_instance) == (1, 1, 32)
    assert o.usd_per_million_output_tokens == pytest.approx(80 / (rps * 600 * 3600) * 1e6)
    assert o.usd_per_million_output_tokens == pytest.approx(80 / (1565.4 * 3600) * 1e6, rel=0.03)
    assert o.usd_per_month == pytest.approx(80 * HOURS_PER_MONTH)
    assert o.usd_per_million_tokens == pytest.approx(o.usd_per_million_output_tokens * 600 / 1111)
    assert o.predicted_ttft_ms is None and any("ttft p99 not measured" in n for n in o.notes)
    assert not o.extrapolated


def test_target_sizing_counts_and_ha():
    fit = fitted(QWEN32_G7E)
    plain = recommend_llm([fit], CATALOG, target_rps=2, input_tokens=520, output_tokens=600,
                          slos=[LlmSlo("e2e", "p99", 40_000)]).options[0]
    assert plain.instance_count == math.ceil(2 / plain.requests_per_s_per_instance)
    assert plain.predicted_e2e_ms <= 40_000
    ha = recommend_llm([fit], CATALOG, target_rps=2, input_tokens=520, output_tokens=600,
                       slos=[LlmSlo("e2e", "p99", 40_000)], ha=True).options[0]
    assert ha.instance_count == plain.instance_count + 1


def test_rejections_say_why():
    fits = [fitted(QWEN32_G7E), fitted(QWEN14_G7E)]
    rec = recommend_llm(fits, CATALOG, target_rps=1, input_tokens=500, output_tokens=600,
                        slos=[LlmSlo("ttft", "p90", 500), LlmSlo("e2e", "p99", 60_000)], statistic="p90")
    reasons = {r.label: r.reason for r in rec.rejected}
    assert any("no ttft p90 measurement" in r for r in reasons.values())  # schema A has no TTFT
    assert [o.model for o in rec.options] == ["qwen3-14b"]
    tight = recommend_llm(fits[:1], CATALOG, target_rps=1, input_tokens=500, output_tokens=600,
                          slos=[LlmSlo("e2e", "p99", 10_000)])
    assert "unreachable even at concurrency 1" in tight.rejected[0].reason and not tight.feasible


def test_unpriced_and_ec2_instances():
    runs, steps = suite_frames(QWEN32_G6E)
    unpriced = fit_llm_configurations(runs.assign(instance_type="ml.g6e.48xlarge"), steps)
    rec = recommend_llm(unpriced, CATALOG, target_rps=1, input_tokens=500, output_tokens=600)
    assert rec.rejected[0].reason.startswith("unpriced")
    ec2 = fit_llm_configurations(runs.assign(instance_type="g5.12xlarge"), steps)
    (o,) = recommend_llm(ec2, CATALOG, target_rps=1, input_tokens=500, output_tokens=600).options
    assert o.instance_type == "ml.g5.12xlarge" and o.usd_per_hour == 7.09 * o.instance_count
    assert any("priced as SageMaker ml.g5.12xlarge" in n for n in o.notes)


def test_inference_component_copies():
    """One copy on 1 GPU of a 4× L40S ml.g6e.12xlarge: 4 copies per instance, 4× the requests/s."""
    one = fitted(QWEN32_G6E, labels={"gpu_count": "1"})
    whole = fitted(QWEN32_G6E)
    kw = dict(target_rps=3, input_tokens=500, output_tokens=600, slos=[LlmSlo("e2e", "p99", 60_000)])
    (a,), (b,) = recommend_llm([one], CATALOG, **kw).options, recommend_llm([whole], CATALOG, **kw).options
    assert (a.copies_per_instance, b.copies_per_instance) == (4, 1)
    assert a.requests_per_s_per_instance == pytest.approx(4 * b.requests_per_s_per_instance)
    assert a.concurrency_per_instance == 4 * b.concurrency_per_instance
    assert any("NumberOfAcceleratorDevicesRequired=1" in n for n in a.notes)


def test_extrapolation_flagged():
    fit = fitted(KIMI_P5E)
    (o,) = recommend_llm([fit], CATALOG, target_rps=5, input_tokens=2000, output_tokens=600,
                         slos=[LlmSlo("e2e", "p99", 30_000)], extrapolate=True).options
    assert o.extrapolated and o.concurrency_per_instance > 32
    assert any("beyond the measured concurrency" in n for n in o.notes)
    assert any("2000 input tokens" in n for n in o.notes)
    (kept,) = recommend_llm([fit], CATALOG, target_rps=5, input_tokens=511, output_tokens=600,
                            slos=[LlmSlo("e2e", "p99", 30_000)]).options
    assert kept.concurrency_per_instance == 32 and not kept.extrapolated
    assert not any("extrapolated" in n for n in kept.notes)


_FITS = [fitted(QWEN32_G7E), fitted(KIMI_P5E), fitted(QWEN14_G7E)]


def _counts(target_rps, e2e_ms):
    rec = recommend_llm(_FITS, CATALOG, target_rps=target_rps, input_tokens=520, output_tokens=600,
                        slos=[LlmSlo("e2e", "p99", e2e_ms)])
    return {o.label: o.instance_count for o in rec.options}


@settings(max_examples=40, deadline=None)
@given(rps=st.floats(0.1, 50), e2e_s=st.floats(5, 80), tighter=st.floats(0.5, 1.0), more=st.floats(1.0, 3.0))
def test_tighter_slo_or_higher_target_never_fewer_instances(rps, e2e_s, tighter, more):
    base = _counts(rps, e2e_s * 1000)
    tight = _counts(rps, e2e_s * 1000 * tighter)
    assert set(tight) <= set(base)
    assert all(tight[k] >= base[k] for k in tight)
    higher = _counts(rps * more, e2e_s * 1000)
    assert set(higher) == set(base) and all(higher[k] >= base[k] for k in base)


def test_to_dict_keys():
    rec = recommend_llm([fitted(QWEN32_G7E)], CATALOG, target_rps=2, input_tokens=1600, output_tokens=600,
                        slos=[LlmSlo("e2e", "p99", 60_000)])
    d = rec.to_dict()
    assert {"target_rps", "input_tokens", "output_tokens", "slos", "price_catalog", "options", "rejected"} <= set(d)
    assert d["slos"] == {"ttft_ms": None, "itl_ms": None, "e2e_ms": 60_000, "percentile": "p99"}
    assert list(d["options"][0]) == [
        "instance_type", "instance_count", "copies_per_instance", "concurrency_per_instance",
        "requests_per_s_per_instance", "output_tokens_per_s_per_instance", "predicted_ttft_ms", "predicted_itl_ms",
        "predicted_e2e_ms", "predicted_ttft_lower_ms", "predicted_ttft_upper_ms", "predicted_itl_lower_ms",
        "predicted_itl_upper_ms", "predicted_e2e_lower_ms", "predicted_e2e_upper_ms", "usd_per_hour", "usd_per_month",
        "usd_per_million_output_tokens",
        "usd_per_million_tokens", "model", "label", "origin", "extrapolated", "heldout_error", "run_ids", "notes"]
    assert any("1600 input tokens" in n for n in d["options"][0]["notes"])
    pd.testing.assert_index_equal(pd.Index(d["options"][0]["run_ids"]), pd.Index(["r1"]))


# ------------------------------------------------------------------ bands on the predictions


def _loo_ratios(c, y):
    """measured ÷ predicted by a least-squares line through the other levels (what a 3-level fit is)."""
    out = []
    for i in range(len(c)):
        keep = [j for j in range(len(c)) if j != i]
        slope, intercept = np.polyfit(np.asarray(c)[keep], np.asarray(y)[keep], 1)
        out.append(y[i] / (intercept + slope * c[i]))
    return out


def test_band_is_the_held_out_ratio_spread_of_the_fitted_curve():
    """Kimi's first three levels (C = 1, 2, 4; e2e p99 5,650.5 / 5,948.3 / 6,752.6 ms): with 3 levels the
    curve is a line, so the band at C = 4 is the prediction × the extreme measured ÷ leave-one-out ratios."""
    runs, steps = suite_frames(KIMI_P5E)
    (fit,) = fit_llm_configurations(runs, steps.head(3))
    ratios = _loo_ratios([1, 2, 4], [5650.5, 5948.3, 6752.6])
    curve = fit.curves_[("e2e", "p99")]
    assert (curve.heldout_ratio_min, curve.heldout_ratio_max) == pytest.approx((min(ratios), max(ratios)))
    value = fit.predict_ms("e2e", "p99", 4)
    low, high = fit.predict_band_ms("e2e", "p99", 4)
    assert (low, high) == pytest.approx((value * min(min(ratios), 1), value * max(max(ratios), 1)))
    assert low < value < high


def test_option_carries_the_band_and_unmeasured_metrics_have_none():
    fit = fitted(KIMI_P5E)
    rec = recommend_llm([fit], CATALOG, target_rps=2, input_tokens=511, output_tokens=600,
                        slos=[LlmSlo("e2e", "p99", 12_500)])
    (o,) = rec.options
    assert (o.predicted_e2e_lower_ms, o.predicted_e2e_upper_ms) == pytest.approx(
        fit.predict_band_ms("e2e", "p99", o.concurrency_per_instance, 600))
    assert o.predicted_e2e_lower_ms <= o.predicted_e2e_ms <= o.predicted_e2e_upper_ms
    # C = 32 is measured at 12,299 ms p99: inside the band
    assert o.concurrency_per_instance == 32 and o.predicted_e2e_lower_ms <= 12_299.0 <= o.predicted_e2e_upper_ms
    assert o.predicted_ttft_lower_ms is None and o.predicted_ttft_upper_ms is None
    assert rec.to_dict()["prediction_band"].startswith("predicted_*_lower_ms")


@settings(max_examples=25, deadline=None)
@given(c=st.floats(1, 64), tokens=st.floats(50, 2000))
def test_band_always_holds_the_prediction(c, tokens):
    fit = _QWEN14
    for metric in ("ttft", "itl", "e2e"):
        low, high = fit.predict_band_ms(metric, "mean", c, tokens)
        assert low <= fit.predict_ms(metric, "mean", c, tokens) <= high


_QWEN14 = fitted(QWEN14_G7E)
