"""Closed-loop formulas (planner.closed_loop) against an independent MVA recursion and a simulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.closed_loop import ClosedLoop, station_distribution
from tests.queue_sim import closed_step


def mva(users: int, service_s: float, servers: int, delay_s: float) -> tuple[float, float]:
    """Textbook exact MVA (Reiser & Lavenberg) with a load-dependent station of rate min(j, c)/S:
    throughput (rps) and mean station time (s) at ``users``."""
    p = np.zeros(users + 1)
    p[0] = 1.0
    throughput = station = 0.0
    for n in range(1, users + 1):
        rate = np.minimum(np.arange(1, n + 1), servers) / service_s
        station = float(np.sum(np.arange(1, n + 1) / rate * p[:n]))
        throughput = n / (delay_s + station)
        new = np.zeros(users + 1)
        new[1:n + 1] = throughput / rate * p[:n]
        new[0] = 1.0 - new[1:].sum()
        p = new
    return throughput, station


@settings(max_examples=60, deadline=None)
@given(users=st.integers(1, 40), servers=st.integers(1, 16), service_s=st.floats(1e-3, 1.0),
       delay_s=st.floats(0.0, 2.0))
def test_product_form_equals_exact_mva(users, servers, service_s, delay_s):
    loop = ClosedLoop.solve(users, service_s, servers, delay_s)
    throughput, station = mva(users, service_s, servers, delay_s)
    assert float(loop.throughput_rps) == pytest.approx(throughput, rel=1e-7)
    assert float(loop.station_mean_s) == pytest.approx(station, rel=1e-7)
    # arrival theorem: the mean station time is service plus the expected wait of what an arrival meets
    assert service_s + float(loop.wait_probability * loop.wait_mean_s) == pytest.approx(station, rel=1e-7)
    assert float(loop.throughput_rps) <= servers / service_s * (1 + 1e-12)


def test_the_distribution_is_a_probability_and_the_limits_hold():
    probs = station_distribution(np.array([3, 10]), 0.02, 4, 0.005)
    assert probs.sum(axis=-1) == pytest.approx([1.0, 1.0]) and probs[0, 4:].sum() == 0.0
    few = ClosedLoop.solve(3, 0.02, 4, 0.0)  # fewer users than workers, no think time: nobody waits
    assert float(few.wait_probability) == 0.0 and float(few.throughput_rps) == pytest.approx(150.0)
    many = ClosedLoop.solve(200, 0.02, 4, 0.0)  # saturated: c/S, and R = N·S/c
    assert float(many.throughput_rps) == pytest.approx(200.0) and float(many.station_mean_s) == pytest.approx(1.0)


@pytest.mark.parametrize("users", [6, 12])
def test_station_time_distribution_matches_a_simulation(users):
    sim = closed_step(users, 4, 0.025, 1.0, delay_s=0.0, think_s=0.01, requests=40000, seed=users,
                      station_only=True)
    loop = ClosedLoop.solve(users, 0.025, 4, 0.01)
    assert float(loop.throughput_rps) == pytest.approx(sim["throughput_rps"], rel=0.03)
    assert float(loop.station_mean_s) * 1e3 == pytest.approx(sim["latency_mean_ms"], rel=0.03)
    for p in (50, 90, 99):  # exact wait moments, gamma-shaped: a few percent
        predicted_ms = float(loop.quantile_s(p / 100, 0.025, 1.0)) * 1e3
        assert predicted_ms == pytest.approx(sim[f"latency_p{p}_ms"], rel=0.06), p
