"""Real-time sizing: the seeds' scenario, properties of the answer, cost identities, and the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.capacity import fit_collection_steps, fit_configuration
from planner.catalog import load_catalog
from planner.queueing import mmc_mean_response_s, mmc_response_quantile_s
from planner.recommend.realtime import predicted_latency_ms, rationale, recommend_realtime
from planner.steps import for_collection
from planner.store import RunStore

PLANNER = [sys.executable, "-m", "planner.cli"]
SERVERS, SERVICE_S = 8, 8 / 210  # saturates at 210 TPS: "broke at ~200 TPS"
JSON_KEYS = {"instance_type", "instance_count", "predicted_latency_ms", "predicted_latency_ci_lower_ms",
             "predicted_latency_ci_upper_ms", "capacity_tps_per_instance", "utilization", "usd_per_hour",
             "usd_per_month", "usd_per_million_requests", "heldout_error", "origin", "extrapolated"}


def _mmc_steps(instance_type: str, loads_rps) -> pd.DataFrame:
    """Steps of one instance measured exactly as an M/M/c queue would behave."""
    loads = np.asarray(loads_rps, dtype=float)
    frame = pd.DataFrame({"run_id": "0" * 16, "instance_type": instance_type, "origin": "emulated",
                          "source": "points", "throughput_rps": loads,
                          "latency_mean_ms": [1000 * mmc_mean_response_s(x, SERVICE_S, SERVERS) for x in loads]})
    for p in (50, 90, 95, 99):
        frame[f"latency_p{p}_ms"] = [1000 * mmc_response_quantile_s(p / 100, x, SERVICE_S, SERVERS) for x in loads]
    frame["concurrency"] = frame["throughput_rps"] * frame["latency_mean_ms"] / 1000
    return frame


@cache
def seeds_fit():
    """The seeds' instance: measured from 20 to 200 TPS, where it is at 95% of saturation."""
    return fit_configuration(_mmc_steps("ml.m5.12xlarge", np.linspace(20, 200, 10)))


def _recommend(target_tps=1000.0, **kwargs):
    return recommend_realtime([seeds_fit()], load_catalog(), target_tps=target_tps,
                              latency_target_ms=kwargs.pop("latency_target_ms", 200.0), **kwargs)


def test_seeds_scenario_five_instances_is_not_enough():
    rec = _recommend(routing="random")
    (best,) = rec.options
    assert best.naive_instance_count == 5, "1000 TPS ÷ 200 TPS measured peak"
    assert best.naive_predicted_latency_ms > 200, "five instances each at 200 TPS miss the p99 target"
    exact_at_5 = 1000 * mmc_response_quantile_s(0.99, 200, SERVICE_S, SERVERS)
    assert best.naive_predicted_latency_ms == pytest.approx(exact_at_5, rel=0.05)
    assert best.instance_count == 7
    assert best.predicted_latency_ms <= 200 and best.utilization <= 0.7
    exact = 1000 * mmc_response_quantile_s(0.99, 1000 / 7, SERVICE_S, SERVERS)
    assert best.predicted_latency_ms == pytest.approx(exact, rel=0.05)
    # exact data: the bootstrap band is (nearly) a point
    assert best.predicted_latency_ci_lower_ms <= best.predicted_latency_ms * (1 + 1e-4)
    assert best.predicted_latency_ci_upper_ms >= best.predicted_latency_ms * (1 - 1e-4)
    assert best.usd_per_hour == pytest.approx(7 * load_catalog().price("ml.m5.12xlarge"))
    assert best.usd_per_month == pytest.approx(best.usd_per_hour * 730)
    assert best.usd_per_million_requests == pytest.approx(best.usd_per_hour / (1000 * 3600) * 1e6)
    text = rationale(rec)
    assert "× 7" in text and "5 instances" in text and "p99" in text


def test_pooled_routing_needs_no_more_instances_than_random():
    pooled, independent = _recommend(routing="least-outstanding"), _recommend(routing="random")
    assert pooled.options[0].instance_count <= independent.options[0].instance_count
    assert pooled.options[0].predicted_latency_ms <= independent.options[0].predicted_latency_ms


def test_ha_survives_losing_an_instance():
    rec = _recommend(ha=True, routing="random")
    best = rec.options[0]
    assert best.instance_count >= 2
    assert best.one_lost_predicted_latency_ms <= 200
    assert predicted_latency_ms(seeds_fit(), 1000, best.instance_count - 1, routing="random") <= 200
    small = _recommend(target_tps=10, ha=True)
    assert small.options[0].instance_count == 2


def test_infeasible_target_is_explained():
    rec = _recommend(latency_target_ms=20)
    assert not rec.feasible
    (why,) = rec.rejected
    assert why.best_latency_ms > 20 and "no instance count" in why.reason
    assert "No measured configuration" in rationale(rec)


@given(st.integers(1, 2000), st.sampled_from(["random", "least-outstanding"]))
@settings(max_examples=25, deadline=None)
def test_more_instances_never_raise_predicted_latency(n, routing):
    fit = seeds_fit()
    assert predicted_latency_ms(fit, 1000, n + 1, routing=routing) <= predicted_latency_ms(fit, 1000, n,
                                                                                            routing=routing) + 1e-9


@given(st.floats(1, 20_000), st.floats(1, 20_000), st.sampled_from(["random", "least-outstanding"]),
       st.booleans())
@settings(max_examples=25, deadline=None)
def test_options_meet_their_target_and_raising_the_target_never_lowers_the_count(t1, t2, routing, ha):
    low, high = sorted((t1, t2))
    counts = []
    for target in (low, high):
        (best,) = _recommend(target_tps=target, routing=routing, ha=ha).options
        assert best.predicted_latency_ms <= 200 + 1e-6 and best.utilization <= 0.7 + 1e-9
        assert best.extrapolated == (target / best.instance_count > 200 * 1.0001)
        counts.append(best.instance_count)
    assert counts[0] <= counts[1]


def test_inference_recommender_cost_identity(datasets, tmp_path):
    from planner.collection import ingest

    store = RunStore(tmp_path / "store")
    ingest(store, [datasets / "recommender" / "ir_doc_advanced_job_describe_sample.pyrepr.txt"])
    fits = fit_collection_steps(for_collection(store))
    job = json.loads((datasets / "recommender" / "ir_doc_samples_normalized.DERIVED.json").read_text())
    metrics = job["advanced_job"]["InferenceRecommendations"][0]["Metrics"]
    target = metrics["MaxInvocations"] / 60  # what the 3-instance endpoint served
    rec = recommend_realtime(fits, load_catalog(), target_tps=target, latency_target_ms=100, max_utilization=1.0)
    (best,) = rec.options
    assert (best.instance_type, best.instance_count) == ("ml.c5d.xlarge", 3)
    assert best.usd_per_hour == pytest.approx(metrics["CostPerHour"], rel=1e-6)
    # CostPerInference = CostPerHour / (60 × MaxInvocations)
    assert best.usd_per_million_requests / 1e6 == pytest.approx(metrics["CostPerInference"], rel=1e-6)


def test_cli_recommend_json_on_the_bundled_collection(tmp_path):
    done = subprocess.run([*PLANNER, "recommend", "--target-tps", "1000", "--p99", "200ms", "--json", "--top", "10"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "bundled sample collection" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    data = json.loads(done.stdout)
    assert data["target_tps"] == 1000 and data["percentile"] == "p99" and data["latency_target_ms"] == 200
    assert {"source", "date", "region"} <= set(data["price_catalog"])
    assert data["options"] and set(data["options"][0]) >= JSON_KEYS
    assert all(o["predicted_latency_ms"] <= 200 for o in data["options"])
    assert data["rejected"] and all(r["reason"] for r in data["rejected"])
    costs = [o["usd_per_month"] for o in data["options"]]
    assert costs == sorted(costs)
    # emulated profiles: the sizing stays close to the capacity the emulator really has
    from planner.collect.endpoint import PROFILES

    emulated = [o for o in data["options"] if o["origin"] == "emulated"]
    assert len(emulated) == 4
    for option in emulated:
        # the sample's open-loop runs stop near 90% of the emulated capacity: saturation is the fitted
        # queue's extrapolation, and must stay close to the truth (never far on the optimistic side)
        (profile,) = [p for name, p in PROFILES.items() if name in option["label"]]
        assert 0.85 * profile.capacity_rps <= option["saturation_tps_per_instance"] <= 1.10 * profile.capacity_rps
        assert option["load_tps_per_instance"] <= 0.7 * 1.10 * profile.capacity_rps


def test_cli_recommend_infeasible_exits_1_and_human_output(tmp_path):
    done = subprocess.run([*PLANNER, "recommend", "--target-tps", "1k", "--p99", "5ms"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 1 and "No measured configuration" in done.stderr
    usage = subprocess.run([*PLANNER, "recommend", "--target-tps", "fast", "--p99", "200ms"], capture_output=True,
                           text=True, cwd=tmp_path)
    assert usage.returncode == 2 and "--target-tps" in usage.stderr


def test_cli_fit_json_keys(tmp_path):
    done = subprocess.run([*PLANNER, "fit", "--sla", "200ms", "--json", "--plot", str(tmp_path / "fit.html")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    configs = json.loads(done.stdout)["configs"]
    fitted = [c for c in configs if c["usl"]]
    assert fitted and {"sigma", "kappa", "lambda", "sigma_ci_lower", "sigma_ci_upper"} <= set(fitted[0]["usl"])
    assert all({"config", "peak_concurrency", "peak_throughput_rps", "heldout_error", "capacity_at_sla_rps",
                "n_steps"} <= set(c) for c in configs)
    specsdm = [c for c in fitted if c["usl"]["lambda"] == pytest.approx(90.0, rel=1e-3)]
    assert specsdm and specsdm[0]["usl"]["sigma"] == pytest.approx(0.02773, rel=1e-3)
    html = (tmp_path / "fit.html").read_text()
    assert "vega" in html and "throughput per instance (requests/s)" in html


def test_extrapolation_is_flagged_beyond_the_measured_range():
    narrow = fit_configuration(_mmc_steps("ml.m5.12xlarge", np.linspace(10, 100, 8)))
    rec = recommend_realtime([narrow], load_catalog(), target_tps=140, latency_target_ms=200, routing="random")
    best = rec.options[0]
    assert best.load_tps_per_instance > 100
    assert best.extrapolated and math.isfinite(best.predicted_latency_ms)


@cache
def noisy_fit():
    """The seeds' instance measured with ±8 % step-to-step noise (seeded): a bootstrap band with width."""
    steps = _mmc_steps("ml.m5.12xlarge", np.linspace(20, 200, 10))
    noise = np.random.default_rng(7).lognormal(0.0, 0.08, size=(len(steps), 5))
    for j, column in enumerate(["latency_mean_ms", "latency_p50_ms", "latency_p90_ms", "latency_p95_ms",
                                "latency_p99_ms"]):
        steps[column] = steps[column] * noise[:, j]
    return fit_configuration(steps, with_usl=False)


def _edge_target_tps(fit, count: int, target_ms: float) -> float:
    """The total load (TPS) at which ``count`` instances' predicted p99 equals 0.99 × ``target_ms``."""
    low, high = 1.0, count * fit.saturation_rps
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if predicted_latency_ms(fit, mid, count, routing="random") < 0.99 * target_ms else (low, mid)
    return low


def test_confidence_sizes_on_the_upper_band_and_says_what_the_estimate_would_do():
    fit = noisy_fit()
    target = _edge_target_tps(fit, 3, 200.0)
    on_estimate, sure = (recommend_realtime([fit], load_catalog(), target_tps=target, latency_target_ms=200,
                                            max_utilization=1.0, routing="random", confidence=c).options[0]
                         for c in (0.5, 0.95))
    assert on_estimate.instance_count == 3 and on_estimate.estimate_instance_count == 3
    _, upper = fit.latency.predict_interval(target / 3, 99.0, level=0.9)
    assert upper > 200, "the band is wider than the 1 % margin the estimate keeps"
    assert sure.instance_count == 4 and sure.estimate_instance_count == 3
    assert any("sized at 95% confidence: the estimate alone says 3" in n for n in sure.notes)
    _, upper_at_4 = fit.latency.predict_interval(target / 4, 99.0, level=0.9)
    assert upper_at_4 <= 200


@given(st.floats(10, 5_000), st.sampled_from([0.6, 0.8, 0.95]), st.sampled_from(["random", "least-outstanding"]))
@settings(max_examples=20, deadline=None)
def test_more_confidence_never_fewer_instances(target, confidence, routing):
    fit = noisy_fit()
    counts = [recommend_realtime([fit], load_catalog(), target_tps=target, latency_target_ms=200, routing=routing,
                                 confidence=c).options[0].instance_count for c in (0.5, confidence)]
    assert counts[0] <= counts[1]


def test_confidence_out_of_range_is_refused():
    with pytest.raises(ValueError, match="confidence"):
        recommend_realtime([noisy_fit()], load_catalog(), target_tps=100, latency_target_ms=200, confidence=1.0)


def test_cli_recommend_confidence_reaches_the_answer(tmp_path):
    done = subprocess.run([*PLANNER, "recommend", "--target-tps", "1000", "--p99", "200ms", "--json",
                           "--confidence", "0.975", "--top", "10"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["confidence"] == 0.975  # one-sided 97.5 %: the reported 95 % band's upper end
    assert all(o["estimate_instance_count"] <= o["instance_count"] for o in data["options"]
               if o["estimate_instance_count"] is not None)
    assert all(o["predicted_latency_ci_upper_ms"] <= 200 for o in data["options"]
               if o["predicted_latency_ci_upper_ms"] is not None and o["model"] != "inference-recommender-point")
    refused = subprocess.run([*PLANNER, "recommend", "--target-tps", "1000", "--p99", "200ms", "--confidence", "1"],
                             capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode != 0 and "--confidence" in refused.stderr
