"""Multi-model endpoint density: the published 46-model series, plateaus, CloudWatch series, Che, CLI."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.catalog import HOURS_PER_MONTH, load_catalog
from planner.cli import app, main
from planner.collection import ingest
from planner.errors import FitError, InfeasibleError, InputError
from planner.gpu_memory_fit import GpuMemoryFit, usable_points
from planner.ingest import parse_paths
from planner.ingest.traffic import parse_popularity, read_traffic_file
from planner.queueing import zipf_popularity
from planner.recommend.mme import (
    MemorySeries,
    cache_hit_ratio,
    instances_for_miss_ratio,
    memory_series,
    size_variant,
)
from planner.store import RunStore
from planner.traffic import Popularity

REPO = Path(__file__).resolve().parents[1]
SAMPLE_STORE = REPO / "data" / "sample-store"
MEMORY_LOG = "sagemaker-mme-gpu/aws-samples_sagemaker-mme-gpu-benchmarking__cv-benchmark__gpu_memory_model_loading_stdout.txt"
IDLE_PCT = 1.0920643325170427  # the notebook's GPU memory before any model was loaded (165 of 15109 MiB)


@pytest.fixture(scope="module")
def published(datasets):
    """framework -> (models_loaded, utilisation %, total MiB, max_models_reported) from the real log."""
    out = {}
    for run in parse_paths([datasets / MEMORY_LOG]):
        table = run.tables["gpu_memory"]
        out[run.meta["framework"]] = (table["models_loaded"].to_numpy(float),
                                      table["gpu_memory_utilization_pct"].to_numpy(float),
                                      float(table["gpu_total_memory_mb"].iloc[0]), run.notes["max_models_reported"])
    return out


# ---------------------------------------------------------------------------- the published series


def test_published_pytorch_series_gives_the_46_models_the_run_reported(published):
    models, pct, total_mb, reported = published["pytorch"]
    fit = GpuMemoryFit().fit(models, pct, total_mb)
    assert reported == 46
    assert fit.max_models(0.9) == 46
    assert fit.max_models_interval(0.9) == (46, 46)
    # ~1.80 % of the T4's 15109 MiB per model; the slope's interval brackets it
    assert fit.slope_pct_per_model_ci_lower_ < fit.slope_pct_per_model_ < fit.slope_pct_per_model_ci_upper_
    assert 265 < fit.gpu_memory_per_model_mb_ < 280
    assert fit.gpu_memory_per_model_mb_ == pytest.approx(fit.slope_pct_per_model_ / 100 * 15109)
    # the intercept is the runtime loaded with the first model: above the idle GPU, below the first point
    assert IDLE_PCT + 4 < fit.baseline_pct_ < pct[0]
    assert float(fit.predict(46)) <= 90 < float(fit.predict(47))


def test_published_tensorrt_series_gives_23_models_with_twice_the_memory_each(published):
    models, pct, total_mb, reported = published["tensorrt"]
    trt = GpuMemoryFit().fit(models, pct, total_mb)
    pt = GpuMemoryFit().fit(*published["pytorch"][:3])
    assert trt.max_models(0.9) == reported == 23
    assert 2.0 < trt.gpu_memory_per_model_mb_ / pt.gpu_memory_per_model_mb_ < 2.1
    summary = trt.summary().to_dict()
    assert summary["n_points"] == 23 and summary["gpu_memory_per_model_mb"] == trt.gpu_memory_per_model_mb_


def test_idle_point_and_plateau_at_the_cap_do_not_bend_the_slope(published):
    models, pct, total_mb, _ = published["pytorch"]
    clean = GpuMemoryFit().fit(models, pct, total_mb)
    # memory full: the count keeps rising while utilisation creeps (the server evicting), then the cap
    plateau_models = np.r_[0, models, np.arange(47, 59), 59, 60]
    plateau_pct = np.r_[IDLE_PCT, pct, np.linspace(89.1, 89.4, 12), 97.0, 99.5]
    fit = GpuMemoryFit().fit(plateau_models, plateau_pct, total_mb)
    assert fit.slope_pct_per_model_ == pytest.approx(clean.slope_pct_per_model_, rel=1e-12)
    assert fit.max_models(0.9) == 46 and fit.n_points_excluded_ == 15
    slope, baseline = np.polyfit(plateau_models, plateau_pct, 1)  # what an untrimmed fit would say
    assert math.floor((90 - baseline) / slope) >= 50


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 0.45), st.booleans()), min_size=1, max_size=6))
def test_any_trailing_plateau_leaves_the_fit_unchanged(tail):
    """Points rising by < half a model's step, or at/above the 95 % cap, are trimmed whatever their mix."""
    models = np.arange(1.0, 31.0)
    pct = 5.0 + 2.5 * models + 0.05 * np.sin(models)
    level = pct[-1]
    extra = []
    for rise, at_cap in tail:
        level += rise * 2.5
        extra.append(96.0 + rise if at_cap else level)
    x = np.r_[models, 31.0 + np.arange(len(extra))]
    y = np.r_[pct, extra]
    assert usable_points(x, y)[0].size == 30
    assert GpuMemoryFit().fit(x, y).slope_pct_per_model_ == pytest.approx(GpuMemoryFit().fit(models, pct)
                                                                           .slope_pct_per_model_, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.5, 20.0), st.floats(0.1, 5.0), st.floats(0.05, 1.0), st.floats(0.05, 1.0),
       st.integers(0, 2**31 - 1))
def test_higher_memory_threshold_never_lowers_density(baseline, slope, t1, t2, seed):
    low, high = sorted((t1, t2))
    models = np.arange(1.0, 12.0)
    noise = np.random.default_rng(seed).normal(0.0, 0.02 * slope, models.size)
    fit = GpuMemoryFit().fit(models, baseline + slope * models + noise)
    assert fit.max_models(low) <= fit.max_models(high)
    lo_ci, hi_ci = fit.max_models_interval(high)
    assert lo_ci <= fit.max_models(high) <= hi_ci


def test_too_few_points_and_a_flat_series_are_fit_errors():
    with pytest.raises(FitError, match=">= 3"):
        GpuMemoryFit().fit([1, 2, 3], [10.0, 96.0, 97.0])
    with pytest.raises(FitError, match="does not grow"):
        GpuMemoryFit().fit([1, 2, 3, 4], [10.0, 9.0, 8.0, 7.0])


# ---------------------------------------------------------------------------- Che's approximation


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 300), st.floats(0.0, 2.0), st.integers(1, 60), st.integers(1, 12), st.integers(1, 12))
def test_che_hit_ratio_is_a_probability_that_grows_with_instances(models, exponent, per_instance, n1, n2):
    shares = zipf_popularity(models, exponent)
    few, many = sorted((n1, n2))
    hit_few, hit_many = cache_hit_ratio(shares, few, per_instance), cache_hit_ratio(shares, many, per_instance)
    assert 0.0 <= hit_few <= hit_many + 1e-9 <= 1.0 + 1e-9
    if few * per_instance >= models:
        assert hit_few == 1.0
    else:
        assert hit_few < 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 300), st.floats(0.3, 1.8), st.integers(1, 50), st.sampled_from([0.0, 0.01, 0.05, 0.3]))
def test_instances_for_miss_ratio_is_the_fewest_that_meet_it(models, exponent, per_instance, max_miss):
    shares = zipf_popularity(models, exponent)
    n = instances_for_miss_ratio(shares, per_instance, max_miss)
    assert 1 - cache_hit_ratio(shares, n, per_instance) <= max_miss + 1e-9
    assert n == 1 or 1 - cache_hit_ratio(shares, n - 1, per_instance) > max_miss
    assert n <= math.ceil(models / per_instance)


# ---------------------------------------------------------------------------- popularity input


def test_measured_traffic_file_gives_shares_and_bad_rows_name_file_and_line(tmp_path):
    good = tmp_path / "traffic.csv"
    good.write_text("Model,Requests\nresnet-a,600\nresnet-b,300\nresnet-c,100\n")
    assert read_traffic_file(good).shares == pytest.approx((0.6, 0.3, 0.1))
    with pytest.raises(InputError, match="2 models"):
        parse_popularity(str(good), 2)
    bad = tmp_path / "bad.csv"
    bad.write_text("model,requests\na,5\nb,lots\n")
    with pytest.raises(InputError) as exc:
        read_traffic_file(bad)
    assert str(exc.value) == f"{bad}: line 3: expected a number >= 0 in 'requests', found 'lots'"
    with pytest.raises(InputError, match="expected zipf:S, uniform or a CSV"):
        parse_popularity("pareto:2", 10)
    assert parse_popularity("zipf:1.1", 200).shares == pytest.approx(tuple(zipf_popularity(200, 1.1)))


# ---------------------------------------------------------------------------- CloudWatch as a second source


def _cloudwatch_export(path: Path, models, pct, wait_us: float) -> Path:
    """get-metric-data JSON: GPUMemoryUtilization and LoadedModelCount per minute (idle minute first,
    memory-full minutes last), ModelLoadingWaitTime in microseconds."""
    models = [0.0, *models, models[-1], models[-1]]
    pct = [IDLE_PCT, *pct, pct[-1], pct[-1]]
    stamps = [1714557600 + 60 * i for i in range(len(models))]
    dims = [{"Name": "EndpointName", "Value": "mme-ep"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    specs = {"mem": ("/aws/sagemaker/Endpoints", "GPUMemoryUtilization", pct),
             "loaded": ("/aws/sagemaker/Endpoints", "LoadedModelCount", models),
             "wait": ("AWS/SageMaker", "ModelLoadingWaitTime", [wait_us] * len(models))}
    doc = {"MetricDataQueries": [{"Id": i, "MetricStat": {"Metric": {"Namespace": ns, "MetricName": name,
                                                                     "Dimensions": dims},
                                                          "Period": 60, "Stat": "Average"}}
                                 for i, (ns, name, _) in specs.items()],
           "MetricDataResults": [{"Id": i, "Label": name, "Timestamps": stamps, "Values": [float(v) for v in values],
                                  "StatusCode": "Complete"} for i, (_, name, values) in specs.items()]}
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(("instance_type", "gpus"), [("ml.g4dn.2xlarge", 1), ("ml.g4dn.12xlarge", 4)])
def test_cloudwatch_series_gives_the_same_density_and_the_measured_cold_load(published, tmp_path, instance_type,
                                                                             gpus):
    models, pct, _, _ = published["pytorch"]
    export = _cloudwatch_export(tmp_path / "cw.json", models, pct * gpus, wait_us=2_400_000.0)
    store = RunStore(tmp_path / "store")
    ingest(store, [export], meta={"instance_type": instance_type, "framework": "pytorch", "model": "resnet50"})
    [series] = memory_series(store.runs(), store.table("gpu_memory"), store.table("metrics"))
    assert series.source == "cloudwatch" and series.cold_load_ms == pytest.approx(2400.0)
    catalog = load_catalog()
    v = size_variant(series, catalog, Popularity("uniform", tuple(np.full(400, 1 / 400))), 500.0,
                     tps_per_instance=100.0, max_miss_ratio=0.5)
    assert v.max_models_per_instance == 46  # idle minute and memory-full minutes left out
    assert v.memory.n_points_excluded == 1
    assert v.memory.gpu_memory_per_model_mb == pytest.approx(v.memory.slope_pct_per_model / 100 * 16384 * gpus)
    assert v.cold_load_ms == pytest.approx(2400.0) and v.cold_load_source.startswith("measured")
    assert v.cold_load_in_p99 and v.miss_ratio > 0.01
    assert v.instances == max(v.instances_for_memory, v.instances_for_throughput) == 5
    assert v.usd_per_month == pytest.approx(catalog.price(instance_type) * 5 * HOURS_PER_MONTH)
    assert any("divided by the 4 GPUs" in n for n in v.notes) == (gpus == 4)


def test_cold_load_option_overrides_and_warm_misses_stay_out_of_the_p99(published):
    models, pct, total_mb, _ = published["pytorch"]
    series = MemorySeries("0" * 16, "gpu_memory", "published", "ml.g4dn.2xlarge", "pytorch", "resnet50", None,
                          tuple(models), tuple(pct), total_mb, 46, cold_load_ms=2400.0)
    shares = Popularity("zipf:1.1", tuple(zipf_popularity(200, 1.1)))
    warm = size_variant(series, load_catalog(), shares, 100.0, tps_per_instance=100.0)
    assert warm.instances == warm.instances_for_memory >= 4 and warm.miss_ratio <= 0.01
    assert not warm.cold_load_in_p99
    cold = size_variant(series, load_catalog(), shares, 100.0, tps_per_instance=100.0, max_miss_ratio=1.0,
                        cold_load_ms=900.0)
    assert cold.instances == 1 and cold.hit_ratio == pytest.approx(0.716, abs=0.001)
    assert cold.cold_load_in_p99 and cold.cold_load_ms == 900.0 and cold.cold_load_source == "--cold-load-ms"


def test_sizing_past_the_measured_models_or_load_is_flagged(published):
    models, pct, total_mb, _ = published["pytorch"]  # loaded up to its 90 % cap: 46 models at 0.9
    series = MemorySeries("0" * 16, "gpu_memory", "published", "ml.g4dn.2xlarge", "pytorch", "resnet50", None,
                          tuple(models), tuple(pct), total_mb, 46)
    shares = Popularity("uniform", tuple(zipf_popularity(100, 0.0)))
    inside = size_variant(series, load_catalog(), shares, 100.0, tps_per_instance=100.0, memory_threshold=0.5)
    assert inside.max_models_per_instance <= max(models) and not inside.extrapolated
    beyond = size_variant(series, load_catalog(), shares, 100.0, tps_per_instance=100.0, memory_threshold=1.0)
    assert beyond.max_models_per_instance > max(models) and beyond.extrapolated
    assert any(n.startswith("extrapolated beyond the measurements: ") for n in beyond.notes)
    assert beyond.to_dict()["extrapolated"] is True


# ---------------------------------------------------------------------------- CLI


def test_cli_answers_on_the_sample_store():
    result = CliRunner().invoke(app, ["mme", "--models", "200", "--popularity", "zipf:1.1", "--target-tps", "500",
                                      "--json", "--store", str(SAMPLE_STORE)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("usd_per_month", "gpu_memory_per_model_mb", "gpu_memory_per_model_mb_ci_lower",
                "gpu_memory_per_model_mb_ci_upper", "max_models_per_instance", "instances", "instances_for_memory",
                "instances_for_throughput", "hit_ratio", "variants", "price_catalog", "origin", "notes"):
        assert key in data
    assert data["price_catalog"]["date"] and data["price_catalog"]["provenance"]
    by = {v["framework"]: v for v in data["variants"]}
    pt, trt = by["pytorch"], by["tensorrt"]
    assert pt["max_models_per_instance"] == 46 and trt["max_models_per_instance"] == 23
    assert trt["tps_per_instance"] > pt["tps_per_instance"]  # fewer models per instance but more throughput
    for v in (pt, trt):
        assert v["origin"] == v["throughput_origin"] == "published"
        assert v["instances"] == max(v["instances_for_memory"], v["instances_for_throughput"])
        assert v["instances_for_throughput"] == math.ceil(500 / v["tps_per_instance"])
        assert v["usd_per_month"] == pytest.approx(0.94 * v["instances"] * 730)
    assert data["usd_per_month"] == min(pt["usd_per_month"], trt["usd_per_month"])


def test_cli_density_alone_needs_no_traffic():
    result = CliRunner().invoke(app, ["mme", "--memory-threshold", "0.9", "--json", "--store", str(SAMPLE_STORE)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by = {d["framework"]: d for d in data["densities"]}
    assert (by["pytorch"]["max_models_per_instance"], by["tensorrt"]["max_models_per_instance"]) == (46, 23)
    assert not any(d["extrapolated"] for d in data["densities"]) and data["memory_threshold"] == 0.9
    sized = json.loads(CliRunner().invoke(app, ["mme", "--models", "200", "--target-tps", "500", "--json", "--store",
                                                str(SAMPLE_STORE)]).stdout)
    for v in sized["variants"]:  # the same memory fit as the sizing's
        assert by[v["framework"]]["gpu_memory_per_model_mb"] == v["gpu_memory_per_model_mb"]
    loose = json.loads(CliRunner().invoke(app, ["mme", "--memory-threshold", "1.0", "--json", "--store",
                                                str(SAMPLE_STORE)]).stdout)
    assert all(d["extrapolated"] and d["max_models_per_instance"] > d["max_models_loaded"]
               for d in loose["densities"])


def test_cli_bad_input_is_one_clear_line(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "traffic.csv"
    bad.write_text("model,requests\na,-3\n")
    monkeypatch.setattr(sys, "argv", ["planner", "mme", "--popularity", str(bad), "--target-tps", "500",
                                      "--store", str(SAMPLE_STORE)])
    with pytest.raises(SystemExit) as exited:
        main()  # the console entry point: PlannerError -> one line on stderr, exit 1
    assert exited.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"planner: error: {bad}: line 2: expected a number >= 0 in 'requests', found '-3'"]
    usage = CliRunner().invoke(app, ["mme", "--models", "200", "--target-tps", "lots"])
    assert usage.exit_code == 2
    strict = CliRunner().invoke(app, ["mme", "--models", "200", "--target-tps", "500", "--p99", "100ms",
                                      "--store", str(SAMPLE_STORE)])
    assert isinstance(strict.exception, InfeasibleError)  # main() prints it as one line, exit 1
    assert "p99 at light load is" in str(strict.exception) and "\n" not in str(strict.exception)
