"""The lognormal service family: its convolution with a wait is exact, and a fit picks it when the
measured percentiles say so (issue #12: a CV-2 lognormal instance had no feasible option because the
hyperexponential's tail overstated the light-load p99)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from planner.capacity import fit_configuration
from planner.queueing import (
    MGcResponse,
    lognormal_plus_wait_exceedance,
    service_exceedance,
    service_quantile_s,
)
from tests.queue_sim import closed_step, open_step


@settings(max_examples=60, deadline=None)
@given(service_s=st.floats(1e-3, 1.0), scv=st.floats(0.01, 20.0), wait_prob=st.floats(0.0, 1.0),
       wait_rate_per_s=st.floats(0.1, 1000.0), t_over_s=st.floats(0.05, 30.0))
def test_convolution_with_an_exponential_wait_matches_quadrature(service_s, scv, wait_prob, wait_rate_per_s, t_over_s):
    theta = wait_rate_per_s / service_s
    t = t_over_s * service_s
    sigma2 = math.log1p(scv)
    dist = stats.lognorm(s=math.sqrt(sigma2), scale=service_s * math.exp(-sigma2 / 2))
    reference = dist.sf(t) + wait_prob * integrate.quad(lambda b: math.exp(-theta * (t - b)) * dist.pdf(b), 0, t,
                                                        limit=400, points=[0.999 * t])[0]
    got = float(lognormal_plus_wait_exceedance(t, service_s, scv, wait_prob, lambda x: np.exp(-theta * x)))
    assert got == pytest.approx(reference, rel=2e-3, abs=1e-6)


def test_lognormal_quantile_and_exceedance_agree_with_scipy():
    sigma2 = math.log1p(4.0)
    dist = stats.lognorm(s=math.sqrt(sigma2), scale=0.08 * math.exp(-sigma2 / 2))
    assert float(service_quantile_s(0.99, 0.08, 4.0, "lognormal")) == pytest.approx(dist.ppf(0.99), rel=1e-9)
    assert float(service_exceedance(0.3, 0.08, 4.0, "lognormal")) == pytest.approx(dist.sf(0.3), rel=1e-9)
    with pytest.raises(ValueError, match="service family"):
        service_exceedance(0.3, 0.08, 4.0, "weibull")


def test_lognormal_family_predicts_the_tail_of_a_lognormal_queue():
    """16 workers, lognormal service of mean 80 ms and CV 2, Poisson arrivals at 62% utilisation: an
    independent simulation's p99 against both families with the true parameters."""
    rate = 0.62 * 16 / 0.08
    measured = open_step(rate, 16, 0.08, 2.0, delay_s=0.0, requests=150_000, seed=3)["latency_p99_ms"]
    lognormal = float(MGcResponse(rate, 0.08, 16, 4.0, family="lognormal").quantile(0.99)) * 1e3
    phase = float(MGcResponse(rate, 0.08, 16, 4.0).quantile(0.99)) * 1e3
    assert lognormal == pytest.approx(measured, rel=0.06)
    assert phase > 1.15 * measured  # the hyperexponential's tail is what made the SLA look unreachable


def _staircase(cv: float, users: tuple[int, ...]) -> pd.DataFrame:
    rows = [closed_step(n, 16, 0.08, cv, requests=4000, seed=n) for n in users]
    steps = pd.DataFrame(rows).assign(run_id="r1", origin="emulated", source="locust", arrivals="closed",
                                      instance_type="ml.m5.xlarge", instance_count=1)
    steps.insert(0, "step", np.arange(len(steps)))
    return steps


def test_a_fit_picks_the_family_the_percentiles_show():
    fit = fit_configuration(_staircase(2.0, (2, 4, 8, 12, 16, 20, 24, 32, 40)), with_usl=False)
    summary = fit.latency_summary
    assert summary.service_family == "lognormal"
    # light load is the service distribution itself: its p99 ~ the lognormal's (684 ms), where the
    # hyperexponential of the same Cs^2 says 860+
    light = float(fit.latency.queue_.latency_ms(1.0, 99.0))
    assert light == pytest.approx(float(service_quantile_s(0.99, 0.08, 4.0, "lognormal")) * 1e3, rel=0.12)


def _open_steps(durations_s: list[float]) -> pd.DataFrame:
    utils = (0.2, 0.4, 0.6, 0.8, 0.95)
    rows = [open_step(u * 4 / 0.025, 4, 0.025, 1.0, requests=4000, seed=i) for i, u in enumerate(utils)]
    steps = pd.DataFrame(rows).assign(run_id="r1", origin="emulated", source="locust", arrivals="open",
                                      instance_type="ml.m5.xlarge", instance_count=1, duration_s=durations_s)
    steps.insert(0, "step", np.arange(len(steps)))
    return steps


def test_percentiles_of_an_open_step_shorter_than_its_relaxation_time_are_not_fitted():
    """4 workers at 95%: the queue relaxes in ~10 s, so a 5 s step's p99 is not a steady state."""
    short = fit_configuration(_open_steps([60.0, 60.0, 60.0, 60.0, 5.0]), with_usl=False).latency
    top = short.observations_.throughput_rps.max()
    at_top = short.observations_.throughput_rps == top
    assert np.isnan(short.observations_.percentile[at_top]).all()  # only its mean is left
    assert any("relaxation times" in note for note in short.notes_)
    held = fit_configuration(_open_steps([60.0] * 5), with_usl=False).latency
    assert (~np.isnan(held.observations_.percentile[held.observations_.throughput_rps == top])).any()
    assert not any("relaxation times" in note for note in held.notes_)
