"""planner.fit: USL parity with published fits (usl/published_fits.md), bootstrap behaviour, and the
latency model on exact M/M/c curves, simulated queues and real files."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from planner import queueing as q
from planner.errors import FitError, InputError
from planner.fit import LatencyModel
from planner.usl import USLFit
from planner.variability import MEAN_ONLY_SERVICE_SCV
from tests.test_queueing import simulate_fcfs_response_s


def sig(x: float, digits: int = 4) -> float:
    """``x`` rounded to ``digits`` significant figures."""
    return float(f"{x:.{digits - 1}e}")


@pytest.fixture(scope="module")
def usl_data(datasets):
    usl = datasets / "usl"
    spec = pd.read_csv(usl / "usl_specsdm91.csv")
    ray = pd.read_csv(usl / "usl_raytracer.csv")
    syn = pd.read_csv(usl / "usl_synthetic_coef_test.csv")
    return {
        "specsdm91": (spec["load"], spec["throughput"]),
        "raytracer6": (ray["processors"][:6], ray["throughput"][:6]),
        "raytracer": (ray["processors"], ray["throughput"]),
        "synthetic": (syn["load"], syn["tput"]),
    }


# --------------------------------------------------------------------------- USL parity


def test_usl_specsdm91_matches_r_usl_summary(usl_data):
    fit = USLFit().fit(*usl_data["specsdm91"])
    assert (sig(fit.sigma_), sig(fit.kappa_), sig(fit.lambda_)) == (2.773e-02, 1.044e-04, 9.000e01)
    assert (sig(fit.sigma_se_), sig(fit.kappa_se_), sig(fit.lambda_se_)) == (9.122e-03, 1.988e-05, 1.421e01)
    assert sig(fit.residual_std_error_) == 82.85 and fit.df_residual_ == 4
    assert round(fit.peak_concurrency_, 5) == 96.51956
    assert round(fit.peak_throughput_rps_) == 1884
    assert round(fit.optimal_concurrency_, 5) == 36.06401
    assert round(fit.amdahl_ceiling_rps_, 3) == 3245.589
    np.testing.assert_array_equal(np.round(fit.predict(usl_data["specsdm91"][0])), [90, 1078, 1541, 1850, 1879, 1822, 1646])
    residuals = usl_data["specsdm91"][1] - fit.predict(usl_data["specsdm91"][0])
    np.testing.assert_allclose(residuals, [-25.10, -81.66, 111.09, 3.05, -49.99, -46.60, 56.00], atol=0.006)
    # mookerji/sca_tools (lmfit) prints more digits; its SEs come from lmfit's own Jacobian (agree to 1e-4)
    assert fit.lambda_ == pytest.approx(89.995, abs=5e-4) and fit.lambda_se_ == pytest.approx(14.2129, rel=1e-4)
    assert fit.sigma_ == pytest.approx(0.0277286, abs=5e-7) and fit.sigma_se_ == pytest.approx(0.00912139, rel=1e-4)
    assert fit.kappa_ == pytest.approx(0.000104365, abs=5e-10) and fit.kappa_se_ == pytest.approx(1.9875e-05, rel=1e-4)


def test_usl_raytracer_first_six_and_r_confint_quirk(usl_data):
    fit = USLFit(interval="usl-r").fit(*usl_data["raytracer6"])
    assert (sig(fit.sigma_), sig(fit.kappa_, 3), sig(fit.lambda_, 7)) == (0.02444, 0.00163, 20.85605)
    assert (sig(fit.sigma_se_, 5), sig(fit.kappa_se_, 5), sig(fit.lambda_se_, 5)) == (8.3907e-3, 2.6140e-4, 0.78851)
    # R usl confint: coef +/- SE * qt(0.95, n - 1)
    assert (round(fit.sigma_ci_lower_, 5), round(fit.sigma_ci_upper_, 5)) == (0.00754, 0.04135)
    assert (round(fit.kappa_ci_lower_, 5), round(fit.kappa_ci_upper_, 5)) == (0.00110, 0.00215)
    assert (round(fit.lambda_ci_lower_, 5), round(fit.lambda_ci_upper_, 5)) == (19.26717, 22.44492)
    # the textbook Wald interval, t(0.975, n - 3), is what we report by default
    wald = USLFit().fit(*usl_data["raytracer6"]).confint()
    assert (round(wald["sigma"][0], 5), round(wald["sigma"][1], 5)) == (-0.00226, 0.05115)
    assert (round(wald["kappa"][0], 5), round(wald["kappa"][1], 5)) == (0.00079, 0.00246)
    assert (round(wald["lambda"][0], 3), round(wald["lambda"][1], 3)) == (18.347, 23.365)
    assert fit.summary().interval == "usl-r"


def test_usl_raytracer_full_has_coherency_at_its_bound(usl_data):
    fit = USLFit().fit(*usl_data["raytracer"])
    assert (sig(fit.sigma_, 5), sig(fit.lambda_, 6)) == (0.057771, 21.8488)
    assert 0.0 <= fit.kappa_ < 1e-12
    assert round(fit.amdahl_ceiling_rps_, 1) == 378.2 and round(fit.optimal_concurrency_, 2) == 17.31
    np.testing.assert_allclose(fit.predict([96, 128]), [323.28, 335.46], atol=0.005)


def test_usl_synthetic_coefficients(usl_data):
    fit = USLFit().fit(*usl_data["synthetic"])
    assert (sig(fit.sigma_), sig(fit.kappa_), sig(fit.lambda_)) == (0.02001, 0.02000, 1.000)


def test_usl_sagemaker_mme_pytorch_peak(datasets):
    table = pd.read_csv(next((datasets / "sagemaker-mme-gpu").glob("*load_test_summary_table.csv")))
    pt = table[table["platform"] == "pt"]
    steps = pd.DataFrame({"concurrency": pt["User Count"], "throughput_rps": pt["Requests/s"],
                          "latency_mean_ms": pt["Total Average Response Time"]})
    fit = USLFit().fit_steps(steps)
    assert 115 <= fit.peak_throughput_rps_ <= 120
    assert fit.summary().rows_used == 10


def test_usl_flagged_steps_are_dropped_only_when_asked(usl_data):
    n, x = usl_data["specsdm91"]
    steps = pd.DataFrame({"concurrency": n, "throughput_rps": x,
                          "errors": [False] * 6 + [True], "too_short": [True] + [False] * 6})
    kept = USLFit().fit_steps(steps).summary()
    assert kept.rows_used == 7 and kept.rows_excluded == 0
    dropped = USLFit().fit_steps(steps, exclude=("errors", "too_short")).summary()
    assert dropped.rows_used == 5 and dropped.rows_excluded == 2
    assert dropped.excluded_by_flag == {"errors": 1, "too_short": 1}
    assert dropped.sigma != kept.sigma


def test_usl_rejects_bad_input():
    with pytest.raises(FitError, match="3 distinct"):
        USLFit().fit([1, 1, 2], [10, 11, 19])
    with pytest.raises(InputError, match="row 1"):
        USLFit().fit([1, -2, 3], [1, 2, 3])
    with pytest.raises(InputError, match="throughput_rps"):
        USLFit().fit_steps(pd.DataFrame({"concurrency": [1, 2, 3]}))


# --------------------------------------------------------------------------- USL held-out error

# Distinct concurrency levels each dataset has, and how many of the lowest the held-out fit uses
# (the top round(0.3 * levels) are held out, as the latency model does).
HELDOUT_SPLIT = {"specsdm91": (7, 5), "raytracer": (11, 8), "synthetic": (6, 4), "raytracer6": (6, 4)}


@pytest.mark.parametrize("name", sorted(HELDOUT_SPLIT))
def test_usl_heldout_error_equals_an_independent_fit_on_the_lower_levels(usl_data, name):
    from scipy.optimize import curve_fit

    n, x = (np.asarray(v, dtype=float) for v in usl_data[name])
    levels, n_train = HELDOUT_SPLIT[name]
    assert np.unique(n).size == levels
    train = n <= np.sort(np.unique(n))[n_train - 1]
    params, _ = curve_fit(q.usl_throughput, n[train], x[train], p0=[np.max(x[train] / n[train]), 0.01, 1e-4],
                          bounds=([0, 0, 0], [np.inf, 1, 1]), method="trf", xtol=1e-15, ftol=1e-15, gtol=1e-15)
    expected = np.median(np.abs(q.usl_throughput(n[~train], *params) - x[~train]) / x[~train])
    fit = USLFit().fit(n, x)
    assert fit.heldout_error_ == pytest.approx(expected, rel=1e-4)
    summary = fit.summary()
    assert summary.heldout_error == fit.heldout_error_ and summary.heldout_points == levels - n_train
    np.testing.assert_array_equal(fit.heldout_points_["concurrency"], n[~train])


def test_usl_heldout_error_published_values(usl_data):
    # specsdm91 fitted on N <= 108 underpredicts 144 and 216 (1620 and 1291 vs 1775 and 1702 rps)
    assert USLFit().fit(*usl_data["specsdm91"]).heldout_error_ == pytest.approx(0.16441, abs=5e-5)
    # the synthetic series is exact USL: the lower four levels predict the top two to within 1e-5
    assert USLFit().fit(*usl_data["synthetic"]).heldout_error_ < 1e-4
    # the full fit's residuals are far smaller than the extrapolation error: in-sample is no substitute
    ray = USLFit().fit(*usl_data["raytracer"])
    in_sample = np.median(np.abs(ray.predict(ray.concurrency_) - ray.throughput_rps_) / ray.throughput_rps_)
    assert ray.heldout_error_ == pytest.approx(0.15639, abs=5e-5) and ray.heldout_error_ > 3 * in_sample


def test_usl_heldout_error_needs_four_levels(usl_data):
    n, x = usl_data["raytracer"]
    three = USLFit().fit(n[:3], x[:3])
    assert three.heldout_error_ is None and three.summary().heldout_error is None
    assert three.summary().heldout_points == 0
    four = USLFit().fit(n[:4], x[:4])  # fit on 1, 4, 8; 12 held out
    expected = abs(q.usl_throughput(12.0, *USLFit().fit(n[:3], x[:3]).params_) - x[3]) / x[3]
    assert four.heldout_error_ == pytest.approx(expected, rel=1e-9) and four.summary().heldout_points == 1
    with pytest.raises(ValueError, match="holdout_fraction"):
        USLFit(holdout_fraction=1.0)


# --------------------------------------------------------------------------- USL bootstrap


def test_usl_bootstrap_is_deterministic_and_brackets_the_fit(usl_data):
    a = USLFit().fit(*usl_data["raytracer"]).bootstrap(n_resamples=100, seed=11)
    b = USLFit().fit(*usl_data["raytracer"]).bootstrap(n_resamples=100, seed=11)
    pd.testing.assert_frame_equal(a.bootstrap_samples_, b.bootstrap_samples_)
    c = USLFit().fit(*usl_data["raytracer"]).bootstrap(n_resamples=100, seed=12)
    assert not a.bootstrap_samples_.equals(c.bootstrap_samples_)
    summary = a.summary()
    assert summary.interval == "bootstrap-percentile" and summary.bootstrap_resamples == 100
    for name in ("lambda", "sigma"):
        assert getattr(a, f"{name}_ci_lower_") <= getattr(a, f"{name}_") <= getattr(a, f"{name}_ci_upper_")
    assert summary.peak_throughput_rps_ci_lower <= summary.peak_throughput_rps <= summary.peak_throughput_rps_ci_upper
    assert summary.peak_concurrency_ci_lower <= summary.peak_concurrency_ci_upper
    # the Amdahl ceiling λ/σ and the optimal concurrency 1/σ, from the same resamples
    samples = a.bootstrap_samples_
    assert samples["amdahl_ceiling_rps"].to_numpy() == pytest.approx((samples["lambda"] / samples["sigma"]).to_numpy())
    assert summary.amdahl_ceiling_rps_ci_lower == pytest.approx(np.quantile(samples["amdahl_ceiling_rps"], 0.025,
                                                                            method="inverted_cdf"))
    assert summary.amdahl_ceiling_rps_ci_lower <= summary.amdahl_ceiling_rps <= summary.amdahl_ceiling_rps_ci_upper
    assert summary.optimal_concurrency_ci_lower <= summary.optimal_concurrency <= summary.optimal_concurrency_ci_upper


def test_usl_bootstrap_interval_covers_the_true_peak():
    true = (90.0, 0.0277, 1.044e-4)
    n = np.array([1, 18, 36, 54, 72, 90, 108, 144, 180, 216.0])
    peak = q.usl_peak_throughput(*true)
    rng = np.random.default_rng(3)
    hits = 0
    for k in range(12):
        y = q.usl_throughput(n, *true) * (1 + rng.normal(0, 0.03, n.size))
        fit = USLFit().fit(n, y).bootstrap(n_resamples=60, seed=k)
        hits += fit.peak_throughput_rps_ci_lower_ <= peak <= fit.peak_throughput_rps_ci_upper_
    assert hits >= 9  # nominal 95%; small-sample percentile intervals undercover a little


# --------------------------------------------------------------------------- latency model: exact M/M/c

C_TRUE, S_TRUE = 4, 0.050
PCTS = (50, 90, 95, 99)


def mmc_steps(utilizations) -> pd.DataFrame:
    lam = np.asarray(utilizations) * C_TRUE / S_TRUE
    frame = pd.DataFrame({"throughput_rps": lam,
                          "latency_mean_ms": q.mmc_mean_response_s(lam, S_TRUE, C_TRUE) * 1e3})
    for p in PCTS:
        frame[f"latency_p{p}_ms"] = q.mmc_response_quantile_s(p / 100, lam, S_TRUE, C_TRUE) * 1e3
    frame["concurrency"] = lam * frame["latency_mean_ms"] / 1e3
    return frame


@pytest.fixture(scope="module")
def exact_model():
    return LatencyModel().fit(mmc_steps(np.linspace(0.1, 0.9, 10))).bootstrap(n_resamples=200, seed=0)


def test_exact_mmc_steps_recover_servers_and_service_time(exact_model):
    summary = exact_model.summary()
    assert summary.servers == C_TRUE
    assert summary.service_time_ms == pytest.approx(50.0, rel=1e-3)
    assert summary.service_scv == pytest.approx(1.0, rel=1e-3)
    assert summary.saturation_rps == pytest.approx(80.0, rel=1e-3)
    held = exact_model.heldout_points_
    p99 = held[(held["model"] == exact_model.model_) & (held["statistic"] == "p99")]
    assert len(p99) == 3 and p99["abs_pct_error"].max() < 0.05
    assert summary.heldout_error < 0.05 and summary.heldout_points == 15


def test_capacity_inverts_the_exact_p99_curve(exact_model):
    target_ms = 400.0
    cap = exact_model.capacity_at_sla(target_ms, 99, max_utilization=0.95)
    truth = brentq(lambda lam: q.mmc_response_quantile_s(0.99, lam, S_TRUE, C_TRUE) * 1e3 - target_ms, 1.0, 79.9)
    assert cap.capacity_rps == pytest.approx(truth, rel=2e-3)
    assert cap.binding == "latency" and cap.feasible and not cap.extrapolated
    assert cap.predicted_latency_ms == pytest.approx(target_ms, rel=2e-3)
    # exact data: every resample agrees; the resample tables are coarser (64-point grid)
    assert cap.capacity_rps_ci_lower == pytest.approx(cap.capacity_rps, rel=1e-3)
    assert cap.capacity_rps_ci_upper == pytest.approx(cap.capacity_rps, rel=1e-3)
    capped = exact_model.capacity_at_sla(target_ms, 99, max_utilization=0.5)
    assert capped.binding == "utilization" and capped.capacity_rps == pytest.approx(40.0, rel=1e-3)
    impossible = exact_model.capacity_at_sla(200.0, 99, max_utilization=1.0)  # below the service p99 (230 ms)
    assert not impossible.feasible and impossible.capacity_rps == 0.0
    assert impossible.min_latency_ms == pytest.approx(S_TRUE * math.log(100) * 1e3, rel=2e-3)


def test_predict_interval_brackets_prediction(exact_model):
    lam = np.array([20.0, 60.0, 70.0])
    lower, upper = exact_model.predict_interval(lam, 99)
    predicted = exact_model.predict(lam, 99)
    assert np.all(lower <= predicted * (1 + 1e-3)) and np.all(predicted <= upper * (1 + 1e-3))
    with pytest.raises(FitError, match="bootstrap"):
        LatencyModel().fit(mmc_steps(np.linspace(0.1, 0.9, 6))).predict_interval(50.0)


# --------------------------------------------------------------------------- latency model: simulated queues


def simulated_steps(scv: float, seed: int) -> pd.DataFrame:
    """Steps measured on a simulated 4-worker server with gamma service times (mean 50 ms)."""
    rng = np.random.default_rng(seed)
    rows = []
    for rho in np.linspace(0.1, 0.85, 10):
        lam = rho * C_TRUE / S_TRUE
        services = rng.gamma(1 / scv, S_TRUE * scv, 30_000)
        r_ms = simulate_fcfs_response_s(lam, services, C_TRUE, rng) * 1e3
        rows.append({"throughput_rps": lam, "latency_mean_ms": r_ms.mean(),
                     **{f"latency_p{p}_ms": np.percentile(r_ms, p) for p in PCTS}})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def simulated():
    return {scv: LatencyModel().fit(simulated_steps(scv, seed=5)) for scv in (1.0, 0.3)}


def test_simulated_mmc_is_recovered_with_small_heldout_error(simulated):
    summary = simulated[1.0].summary()
    assert summary.servers == C_TRUE
    assert summary.service_time_ms == pytest.approx(50.0, rel=0.03)
    assert summary.heldout_error < 0.06  # measured: ~3-4%


def test_simulated_low_variability_service_is_predicted_within_fifteen_percent(simulated):
    model = simulated[0.3]
    summary = model.summary()
    assert summary.servers == C_TRUE and summary.service_scv == pytest.approx(0.3, abs=0.1)
    assert summary.heldout_error < 0.15  # measured: ~9% (isotonic) vs ~10% (queueing)
    assert summary.heldout_error == min(summary.heldout_error_queueing, summary.heldout_error_isotonic)
    assert set(model.heldout_points_["model"]) == {"queueing", "isotonic"}


# --------------------------------------------------------------------------- latency model: input handling


def test_cumulative_percentiles_are_never_used_as_step_values():
    steps = mmc_steps(np.linspace(0.1, 0.9, 8))
    poisoned = steps.copy()
    for p in PCTS:  # what a cumulative history would show: flat, lagging values
        poisoned[f"latency_p{p}_ms"] = 5.0
    poisoned["cumulative_percentiles"] = True
    model = LatencyModel().fit(poisoned)
    summary = model.summary()
    assert summary.percentile_source == "mean-only" and summary.statistics == ("mean",)
    assert any("cumulative" in note for note in summary.notes)
    mean_only = LatencyModel().fit(steps.drop(columns=[f"latency_p{p}_ms" for p in PCTS]))
    assert summary.service_time_ms == pytest.approx(mean_only.summary().service_time_ms, rel=1e-9)
    # the tail then comes from the queueing model calibrated on the mean, with the one mean-only
    # service variability assumption (planner.variability) and its bracket, never the poisoned values
    assert summary.service_scv == MEAN_ONLY_SERVICE_SCV and summary.service_scv_source == "default"
    assert (summary.service_scv_lower, summary.service_scv_upper) == (0.025, 0.4)
    lam = steps["throughput_rps"].to_numpy()
    assert model.predict(lam, "mean") == pytest.approx(steps["latency_mean_ms"].to_numpy(), rel=0.1)
    low, high = model.variability_bracket_ms(60.0, 99)
    assert low < model.predict(60.0, 99) < high and model.predict(60.0, 99) > 5.0


def test_mean_latency_from_littles_law_when_absent():
    steps = mmc_steps(np.linspace(0.1, 0.9, 8))[["concurrency", "throughput_rps"]]
    model = LatencyModel().fit(steps)
    assert any("Little" in note for note in model.summary().notes)
    expected_ms = (mmc_steps(np.linspace(0.1, 0.9, 8))["latency_mean_ms"]).to_numpy()
    assert model.predict(steps["throughput_rps"].to_numpy(), "mean") == pytest.approx(expected_ms, rel=0.1)
    assert model.summary().service_time_ms == pytest.approx(50.0, rel=0.06)  # Cs^2 assumed 0.1, not 1


def test_flagged_steps_are_excluded_only_when_asked():
    steps = mmc_steps(np.linspace(0.1, 0.9, 9))
    steps["errors"] = [False] * 8 + [True]
    steps.loc[8, "latency_p99_ms"] = 10_000.0
    kept = LatencyModel().fit(steps).summary()
    assert kept.rows_used == 9 and kept.rows_excluded == 0
    dropped = LatencyModel().fit(steps, exclude=("errors",)).summary()
    assert dropped.rows_used == 8 and dropped.rows_excluded == 1 and dropped.excluded_by_flag == {"errors": 1}
    assert dropped.service_time_ms == pytest.approx(50.0, rel=1e-3)


def test_latency_model_rejects_bad_input():
    with pytest.raises(InputError, match="throughput_rps"):
        LatencyModel().fit(pd.DataFrame({"latency_mean_ms": [1.0, 2.0]}))
    with pytest.raises(InputError, match="row 1"):
        LatencyModel.from_arrays([10.0, 0.0, 30.0], {"mean": [50, 60, 70]})
    with pytest.raises(FitError, match="2 distinct"):
        LatencyModel.from_arrays([10.0, 10.0], {99: [50, 60]})


def test_few_levels_skip_the_heldout_check_and_say_so():
    model = LatencyModel.from_arrays([10.0, 30.0, 50.0], {99: [240.0, 260.0, 330.0], 50: [40.0, 45.0, 60.0]})
    summary = model.summary()
    assert math.isnan(summary.heldout_error) and summary.model == "queueing"
    assert any("held-out" in note for note in summary.notes)


# --------------------------------------------------------------------------- properties


@pytest.fixture(scope="module")
def models(exact_model, simulated):
    return [exact_model, simulated[0.3]]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 1), st.floats(100.0, 2000.0), st.floats(1.0, 500.0), st.floats(0.05, 0.95), st.floats(0.0, 0.2))
def test_capacity_is_monotone_in_target_and_utilization_cap(models, which, target, step, cap, more_cap):
    model = models[which]
    base = model.capacity_at_sla(target, 99, max_utilization=cap)
    assert model.capacity_at_sla(target + step, 99, max_utilization=cap).capacity_rps >= base.capacity_rps
    assert model.capacity_at_sla(target, 99, max_utilization=min(cap + more_cap, 1.0)).capacity_rps >= base.capacity_rps
    assert base.utilization <= cap + 1e-12


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 1), st.sampled_from([50, 90, 95, 99, "mean"]),
       st.lists(st.floats(0.0, 79.0), min_size=2, max_size=20))
def test_predict_is_monotone_in_throughput(models, which, percentile, loads):
    model = models[which]
    lam = np.sort(np.asarray(loads))
    predicted = model.predict(lam, percentile)
    assert np.all(predicted[1:] >= predicted[:-1] * (1 - 1e-9))  # inf beyond saturation compares fine


def test_usl_parameters_at_their_bound_are_reported_as_the_bound_with_intervals_around_them():
    """Linear scaling (no contention, no coherency): sigma and kappa sit at 0, not at solver dust."""
    n = np.arange(1, 11, dtype=float)
    rng = np.random.default_rng(3)
    fit = USLFit().fit(n, 50 * n * (1 + rng.normal(0, 0.01, n.size))).bootstrap(100, seed=1)
    s = fit.summary()
    assert s.sigma == 0.0 or s.kappa == 0.0
    for name in ("sigma", "kappa", "lambda_rps"):
        lower = getattr(s, f"{name.removesuffix('_rps')}_ci_lower")
        upper = getattr(s, f"{name.removesuffix('_rps')}_ci_upper")
        assert lower <= getattr(s, name) <= upper, name


def test_a_fixed_delay_outside_the_queue_is_told_apart_from_service_time():
    """Network and client time add to every latency but occupy no worker: an M/M/4 queue (S = 20 ms)
    measured through 3 ms of delay is still an M/M/4 queue saturating at 200 rps, not a bigger,
    slower one."""
    loads = np.linspace(20, 180, 9)
    latency = {"mean": [3 + 1000 * q.mmc_mean_response_s(x, 0.02, 4) for x in loads]}
    for p in (50, 90, 95, 99):
        latency[p] = [3 + 1000 * q.mmc_response_quantile_s(p / 100, x, 0.02, 4) for x in loads]
    model = LatencyModel.from_arrays(loads, latency).bootstrap(50)
    s = model.summary()
    assert s.servers == 4
    assert s.service_time_ms == pytest.approx(20, rel=0.02) and s.delay_ms == pytest.approx(3, abs=0.3)
    assert s.saturation_rps == pytest.approx(200, rel=0.02)
    assert model.predict(190, 99) == pytest.approx(3 + 1000 * q.mmc_response_quantile_s(0.99, 190, 0.02, 4), rel=0.03)
    low, high = model.predict_interval([100.0, 170.0], 99)
    point = model.predict(np.array([100.0, 170.0]), 99)
    assert np.all(low <= point * (1 + 2e-3)) and np.all(point <= high * (1 + 2e-3))  # grid interpolation


# --------------------------------------------------------------------------- configurations of a store


def test_fit_store_fits_only_the_chosen_configurations_with_their_counts_and_labels(tmp_path):
    from planner.capacity import fit_store
    from planner.fit_cache import FitCache
    from planner.store import RunStore
    from tests.samples import SAMPLE_STORE

    store, cache = RunStore(SAMPLE_STORE), FitCache(tmp_path / "cache")
    # IR points (no bootstrap): ml.c5d.xlarge by instance type, ml.m5.large by part of its label, any case
    fits = fit_store(store, configs=["ml.c5d.xlarge", "M5.LARGE"], cache=cache)
    assert [f.config.label for f in fits] == ["ml.c5d.xlarge", "ml.m5.large"]
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == 2  # the others were never fitted
    assert fits[0].instance_counts == (3,) and fits[0].to_dict()["config"]["instance_counts"] == [3]
    (raytracer,) = fit_store(store, configs=["run 2676c1d8"], cache=cache)
    assert raytracer.labels == {"benchmark": "raytracer"}
    assert raytracer.to_dict()["config"]["labels"] == {"benchmark": "raytracer"}
    with pytest.raises(InputError, match=r"--config: expected .*ml\.m5\.large.*, found 'ml\.p5'") as caught:
        fit_store(store, configs=["ml.c5d.xlarge", "ml.p5"], cache=cache)
    assert caught.value.path == str(store.root) and "\n" not in str(caught.value)
