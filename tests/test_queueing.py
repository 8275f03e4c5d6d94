"""planner.queueing against the published/recomputed oracles of datasets/queueing/queueing_oracles.md
and usl/published_fits.md, plus properties and a discrete-event simulation."""

from __future__ import annotations

import heapq
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from planner import queueing as q

# --------------------------------------------------------------------------- Erlang B / C oracles


@pytest.mark.parametrize(("load", "servers", "expected"), [
    (25, 30, 0.052603), (2, 5, 0.036697), (10, 14, 0.056819), (5, 10, 0.018385), (1, 1, 0.5),
])
def test_erlang_b_table(load, servers, expected):
    assert q.erlang_b(load, servers) == pytest.approx(expected, abs=5e-7)
    assert q.erlang_b(load, servers) == pytest.approx(_erlang_b_exact(load, servers), rel=1e-12)


def _erlang_b_exact(load: int, servers: int) -> float:
    """(A^c/c!) / sum_k A^k/k! in exact rational arithmetic."""
    terms = [Fraction(load**k, math.factorial(k)) for k in range(servers + 1)]
    return float(terms[-1] / sum(terms))


def test_erlang_b_hand_recursion_example():
    # The oracle prints B(10, 12) = 0.119741 from a hand recursion; the exact value is 0.1197392
    # (the 2e-6 gap is the hand rounding: C = 0.44939 from the same page matches to 5e-6).
    assert q.erlang_b(10, 12) == pytest.approx(_erlang_b_exact(10, 12), rel=1e-12)
    assert q.erlang_b(10, 12) == pytest.approx(0.119741, abs=2e-6)


def test_erlang_b_vectorises_and_handles_thousands_of_servers():
    values = q.erlang_b([25, 2, 10], [30, 5, 14])
    np.testing.assert_allclose(values, [0.052603, 0.036697, 0.056819], atol=5e-7)
    # thousands of servers: B = Poisson pmf(c; A) / cdf(c; A), an independent closed form
    for load, c in ((3000.0, 3100), (3000.0, 2900), (2.5, 4000)):
        assert q.erlang_b(load, c) == pytest.approx(stats.poisson.pmf(c, load) / stats.poisson.cdf(c, load), rel=1e-9)


def test_erlang_b_rejects_fractional_servers():
    with pytest.raises(ValueError, match="integers"):
        q.erlang_b(3.0, 2.5)


def test_erlang_c_pyworkforce_example():
    # 100 transactions per 30 min, AHT 3 min -> A = 10 erlang, 14 positions, ASA target 20 s.
    wait_prob = q.erlang_c(10, 14)
    assert wait_prob == pytest.approx(0.1741, abs=5e-5)
    aht_s = 180.0
    service_level = 1 - q.mmc_wait_exceedance(20.0, 10 / aht_s, aht_s, 14)
    assert service_level == pytest.approx(0.8884, abs=5e-5)
    assert q.mmc_utilization(10 / aht_s, aht_s, 14) == pytest.approx(0.7143, abs=5e-5)


def test_erlang_c_48_erlang_55_agents_example():
    arrival_rps, aht_s = 360 / 1800, 240.0
    assert q.mmc_utilization(arrival_rps, aht_s, 55) == pytest.approx(0.8727, abs=5e-5)
    assert q.erlang_c(48, 55) == pytest.approx(0.23870, abs=5e-6)
    assert q.mmc_mean_wait_s(arrival_rps, aht_s, 55) == pytest.approx(8.184, abs=5e-4)  # ASA
    assert 1 - q.mmc_wait_exceedance(15.0, arrival_rps, aht_s, 55) == pytest.approx(0.84588, abs=5e-6)
    assert 1 - q.mmc_wait_exceedance(20.0, arrival_rps, aht_s, 55) == pytest.approx(0.86680, abs=5e-6)


def test_erlang_c_hand_recursion_example():
    assert q.erlang_c(10, 12) == pytest.approx(0.44939, abs=5e-6)
    assert 1 - q.mmc_wait_exceedance(30.0, 10 / 300, 300.0, 12) == pytest.approx(0.63207, abs=5e-6)


# --------------------------------------------------------------------------- M/M/c oracle (ML flavoured)

LAM, S, C = 80.0, 0.05, 5


def test_mmc_means():
    assert q.erlang_c(LAM * S, C) == pytest.approx(0.554113, abs=5e-7)
    assert q.mmc_mean_wait_s(LAM, S, C) == pytest.approx(0.027706, abs=5e-7)
    assert q.mmc_mean_response_s(LAM, S, C) == pytest.approx(0.077706, abs=5e-7)
    assert q.mmc_mean_queue_length(LAM, S, C) == pytest.approx(2.21645, abs=5e-6)
    assert q.mmc_mean_in_system(LAM, S, C) == pytest.approx(6.21645, abs=5e-6)


def test_mmc_wait_and_response_quantiles():
    np.testing.assert_allclose(q.mmc_wait_quantile_s([0.9, 0.99], LAM, S, C), [0.085610, 0.200739], atol=5e-7)
    expected = [0.060220, 0.167631, 0.209873, 0.303983]
    np.testing.assert_allclose(q.mmc_response_quantile_s([0.5, 0.9, 0.95, 0.99], LAM, S, C), expected, atol=5e-7)
    # the M/G/c machinery (other code path, scipy elementwise root finder) agrees at Cs^2 = 1
    np.testing.assert_allclose(q.mgc_response_quantile_s([0.5, 0.9, 0.95, 0.99], LAM, S, C), expected, atol=5e-7)


def test_mmc_wait_quantile_is_zero_below_the_no_wait_mass():
    assert q.mmc_wait_quantile_s(0.3, LAM, S, C) == 0.0  # P(no wait) = 0.446 > 0.3


def test_unstable_queue_is_infinite():
    assert q.mmc_mean_wait_s(100.0, S, C) == math.inf
    assert q.mmc_response_quantile_s(0.99, 100.0, S, C) == math.inf
    assert q.mgc_response_quantile_s(0.99, 100.0, S, C, 0.5) == math.inf
    assert q.kingman_wait_s(200.0, 0.005, 1.0, 1.0) == math.inf


def simulate_fcfs_response_s(arrival_rps: float, services_s: np.ndarray, servers: int,
                             rng: np.random.Generator) -> np.ndarray:
    """FCFS G/c queue with Poisson arrivals by event simulation: each arrival takes the earliest-free
    server. Returns response times (s) after a 5% warm-up. Also used by test_fit."""
    n = services_s.size
    arrivals = np.cumsum(rng.exponential(1 / arrival_rps, n)).tolist()
    free = [0.0] * servers
    response = np.empty(n)
    for i, (t, s) in enumerate(zip(arrivals, services_s.tolist(), strict=True)):
        start = max(t, free[0])
        heapq.heapreplace(free, start + s)
        response[i] = start + s - t
    return response[n // 20:]


def test_simulated_mmc_response_p99_matches_closed_form():
    rng = np.random.default_rng(7)
    response = simulate_fcfs_response_s(LAM, rng.exponential(S, 300_000), C, rng)
    for p in (0.5, 0.99):
        assert np.quantile(response, p) == pytest.approx(q.mmc_response_quantile_s(p, LAM, S, C), rel=0.04)
    assert response.mean() == pytest.approx(q.mmc_mean_response_s(LAM, S, C), rel=0.04)


# --------------------------------------------------------------------------- sizing


def test_servers_for_blocking_is_the_smallest_meeting_the_target():
    c = q.servers_for_blocking(10.0, 0.01)
    assert q.erlang_b(10.0, c) <= 0.01 < q.erlang_b(10.0, c - 1)
    assert q.servers_for_blocking(25.0, 0.0527) == 30  # the Wolfram example (B = 0.052603), inverted


def test_servers_for_quantile():
    c = q.servers_for_quantile(0.99, 0.25, LAM, S)
    assert q.mmc_response_quantile_s(0.99, LAM, S, c) <= 0.25 < q.mmc_response_quantile_s(0.99, LAM, S, c - 1)
    w = q.servers_for_quantile(0.9, 0.01, LAM, S, kind="wait")
    assert q.mmc_wait_quantile_s(0.9, LAM, S, w) <= 0.01 < q.mmc_wait_quantile_s(0.9, LAM, S, w - 1)
    with pytest.raises(ValueError, match="service-time quantile"):
        q.servers_for_quantile(0.99, 0.2, LAM, S)  # service p99 alone is 0.230 s


# --------------------------------------------------------------------------- M/G/c, Kingman


def test_kingman_and_pollaczek_khinchine_example():
    # Menasce et al., Performance by Design, Example 11.8: Ca = 2, Cs = 1/3, E[S] = 9 ms, rho = 0.72.
    assert q.kingman_wait_s(80.0, 0.009, 4.0, 1 / 9) == pytest.approx(0.04757, abs=5e-6)
    assert q.kingman_wait_s(80.0, 0.009, 1.0, 1 / 9) == pytest.approx(0.01286, abs=5e-6)  # book: 0.0129 s
    # Allen-Cunneen with one server is Kingman
    assert q.mgc_mean_wait_s(80.0, 0.009, 1, 1 / 9, 4.0) == pytest.approx(q.kingman_wait_s(80.0, 0.009, 4.0, 1 / 9))


def test_service_model_has_the_requested_mean_and_scv():
    t = np.linspace(0, 12.0, 1_200_001)
    for scv in (0.09, 0.5, 1.0, 4.0):
        survival = np.asarray(q.service_exceedance(t, 0.1, scv))
        mean = np.trapezoid(survival, t)
        second = np.trapezoid(2 * t * survival, t)
        assert mean == pytest.approx(0.1, rel=1e-4)
        assert (second - mean**2) / mean**2 == pytest.approx(scv, rel=1e-3)


def test_mgc_quantile_inverts_its_exceedance():
    p = np.array([0.5, 0.9, 0.99, 0.999])
    t = q.mgc_response_quantile_s(p, 60.0, 0.05, 4, 0.3, 1.5)
    np.testing.assert_allclose(q.mgc_response_exceedance(t, 60.0, 0.05, 4, 0.3, 1.5), 1 - p, rtol=1e-7)


# --------------------------------------------------------------------------- USL and Little


def test_usl_derived_values_of_specsdm91():
    lam, sigma, kappa = 89.9952, 0.0277284, 1.04366e-4
    assert q.usl_peak_concurrency(sigma, kappa) == pytest.approx(96.51956, rel=1e-5)
    assert q.usl_optimal_concurrency(sigma) == pytest.approx(36.06401, rel=1e-5)
    assert q.usl_amdahl_ceiling(lam, sigma) == pytest.approx(3245.589, rel=1e-5)
    assert q.usl_peak_throughput(lam, sigma, kappa) == pytest.approx(1884, abs=0.5)
    assert q.usl_throughput(36.06401, lam, sigma, kappa) == pytest.approx(1542, abs=0.5)
    # what-if values printed by R usl
    assert q.usl_peak_concurrency(0.001, 0.00001) == pytest.approx(316.0696, rel=1e-6)
    assert q.usl_amdahl_ceiling(lam, 0.001) == pytest.approx(89995.23, rel=1e-6)
    assert q.usl_peak_concurrency(0.05, 0.0) == math.inf
    assert q.usl_peak_throughput(20.0, 0.05, 0.0) == pytest.approx(400.0)


def test_littles_law_closed_loop():
    assert q.littles_latency_s(20, 43.695238, 0.0) == pytest.approx(0.457716, rel=1e-5)
    np.testing.assert_allclose(q.littles_latency_s([10, 20], [100.0, 160.0], 0.05), [0.05, 0.075])


# --------------------------------------------------------------------------- Che / Zipf


def test_che_hit_ratio_of_uniform_popularity_is_the_cache_fraction():
    assert q.che_hit_ratio(np.ones(100), 25) == pytest.approx(0.25, abs=1e-9)


def test_che_characteristic_time_solves_its_equation():
    p = q.zipf_popularity(200, 0.9)
    t = q.che_characteristic_time(p, 40)
    assert np.sum(1 - np.exp(-p * t)) == pytest.approx(40, rel=1e-9)
    assert q.che_hit_ratio(p, 40) > 40 / 200  # skew helps an LRU


def test_zipf_popularity():
    p = q.zipf_popularity(4, 1.0)
    np.testing.assert_allclose(p, np.array([1, 1 / 2, 1 / 3, 1 / 4]) / (25 / 12))


# --------------------------------------------------------------------------- properties

loads = st.floats(0.0, 200.0, allow_nan=False)
servers = st.integers(1, 250)


@settings(max_examples=60, deadline=None)
@given(loads, servers)
def test_erlang_b_bounds_and_monotonicity(load, c):
    b = q.erlang_b(load, c)
    assert 0.0 <= b <= 1.0
    assert q.erlang_b(load, c + 1) <= b
    assert q.erlang_b(load + 1.0, c) >= b
    if load < c:
        assert b <= q.erlang_c(load, c) <= 1.0


@settings(max_examples=40, deadline=None)
@given(st.floats(0.05, 0.98), st.integers(1, 64), st.sampled_from([0.5, 0.9, 0.95, 0.99]),
       st.floats(0.05, 4.0))
def test_response_quantile_is_at_least_the_service_quantile(rho, c, p, scv):
    service_s = 0.04
    lam = rho * c / service_s
    assert q.mmc_response_quantile_s(p, lam, service_s, c) >= service_s * -math.log1p(-p) * (1 - 1e-9)
    mgc = q.mgc_response_quantile_s(p, lam, service_s, c, scv)
    assert mgc >= q.service_quantile_s(p, service_s, scv) * (1 - 1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 300), st.floats(0.0, 1.5), st.floats(0.0, 1.0))
def test_che_hit_ratio_properties(m, skew, fraction):
    p = q.zipf_popularity(m, skew)
    size = fraction * m
    h = q.che_hit_ratio(p, size)
    assert 0.0 <= h <= 1.0
    assert q.che_hit_ratio(p, min(size + 1.0, m)) >= h - 1e-12
    assert q.che_hit_ratio(p, m) == 1.0
