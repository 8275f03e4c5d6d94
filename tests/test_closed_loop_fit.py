"""The fit uses every step of a closed-loop staircase, past the knee too (issue: one instance too few)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.capacity import fit_configuration
from planner.catalog import load_catalog
from planner.recommend.realtime import recommend_realtime
from tests.queue_sim import closed_step, open_step

SERVERS, SERVICE_S, CV = 4, 0.025, 0.3  # saturates at 160 rps


@pytest.fixture(scope="module")
def staircase_fit():
    rows = [closed_step(n, SERVERS, SERVICE_S, CV, requests=5000, seed=n) for n in range(1, 17)]
    steps = pd.DataFrame(rows).assign(run_id="r1", origin="emulated", source="locust", arrivals="closed",
                                      instance_type="ml.m5.xlarge", instance_count=1)
    steps.insert(0, "step", np.arange(len(steps)))
    return fit_configuration(steps, with_usl=False)


def test_the_plateau_pins_servers_and_service_time(staircase_fit):
    summary = staircase_fit.latency_summary
    assert summary.arrivals == "closed" and "MVA" in summary.method
    assert summary.servers == SERVERS
    assert summary.service_time_ms == pytest.approx(SERVICE_S * 1e3, rel=0.08)
    assert staircase_fit.saturation_rps == pytest.approx(SERVERS / SERVICE_S, rel=0.03)
    assert summary.rows_used == 16  # the 12 steps past the knee are fitted, not dropped


def test_recommends_the_count_that_meets_the_sla_and_not_one_fewer(staircase_fit):
    rec = recommend_realtime([staircase_fit], load_catalog(), target_tps=300, latency_target_ms=110,
                             max_utilization=1.0, routing="random")
    best = rec.options[0]
    assert best.instance_count == 3  # the old fit (light-load steps only) said 2
    measured = {n: open_step(300 / n, SERVERS, SERVICE_S, CV, seed=n)["latency_p99_ms"] for n in (2, 3)}
    assert measured[3] <= 110 < measured[2]
    assert best.predicted_latency_ms == pytest.approx(measured[3], rel=0.15)
