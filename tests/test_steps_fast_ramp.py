"""A ramp too fast for the step rules (one worker saturated from the second user; every level one or two
1 s history rows) is cut into finer bins rather than left unfitted, and its fit finds the one server."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.capacity import curve_fits, fit_store
from planner.collection import ingest
from planner.steps import MIN_LOAD_LEVELS, StepRules, finest_rules, for_run
from planner.store import RunStore

RAMPS = Path(__file__).parent / "fixtures" / "locust_ramp_c1"


@pytest.mark.parametrize("cv", ["0.3", "1", "2"])
def test_a_one_worker_ramp_is_binned_finer_and_fits_one_server(cv, tmp_path):
    store = RunStore(tmp_path / "store")
    (run,) = ingest(store, [RAMPS / f"cv{cv}_stats_history.csv"], meta={"instance_type": "ml.m5.xlarge"})
    steps = for_run(store, run.run_id)
    assert len(steps) >= MIN_LOAD_LEVELS and not steps["too_short"].any()
    assert steps["small_bin"].tolist() == [True] * (len(steps) - 1) + [False]  # the hold is a level of its own
    assert steps["concurrency"].is_monotonic_increasing and steps["concurrency"].iloc[-1] == 4
    (fit,) = curve_fits(fit_store(store, [run.run_id]))
    assert fit.latency is not None, fit.notes
    summary = fit.latency.summary()
    assert summary.servers == 1
    assert summary.service_time_ms == pytest.approx(21, rel=0.12)
    assert summary.saturation_rps == pytest.approx(1000 / 21, rel=0.12)


def test_finer_bins_halve_the_rules_down_to_the_floor():
    assert finest_rules(StepRules()) == StepRules(min_requests=25, min_duration_s=0.625)
    assert finest_rules(StepRules(min_requests=40, min_duration_s=8)) == StepRules(min_requests=40, min_duration_s=8)


def test_a_staircase_that_gives_enough_levels_is_not_cut_finer(tmp_path):
    store = RunStore(tmp_path / "store")
    (run,) = ingest(store, [RAMPS / "cv1_stats_history.csv"], meta={"instance_type": "ml.m5.xlarge"})
    # rules loose enough for the first levels to be bins of their own: nothing to cut finer
    steps = for_run(store, run.run_id, StepRules(min_requests=30, min_duration_s=0.5))
    assert not steps["small_bin"].any() and len(steps) >= MIN_LOAD_LEVELS
