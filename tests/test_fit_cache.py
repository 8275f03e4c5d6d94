"""The disk cache of fits: a hit gives back the same fit, and any change in steps or options misses."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner import capacity
from planner.capacity import CurveFit, RecommenderFit, configurations, fit_collection_steps
from planner.errors import StoreError
from planner.fit_cache import FitCache
from planner.steps import StepRules, for_collection
from planner.store import RunStore
from tests.samples import SAMPLE_STORE, profile_run

OPTIONS = {"with_usl": False}


@cache
def _steps():
    """Two emulated configurations of the sample collection."""
    store = RunStore(SAMPLE_STORE)
    return for_collection(store, [profile_run("c5.2xlarge-small-model"), profile_run("m5.xlarge-small-model")])


def _refit_forbidden(monkeypatch):
    def refit(*args, **kwargs):
        raise AssertionError("fitted again although the cache holds this configuration")

    monkeypatch.setattr(capacity, "fit_configuration", refit)


def test_a_hit_returns_the_same_fit_without_fitting(tmp_path, monkeypatch):
    fit_cache = FitCache(tmp_path / "fits")
    first = fit_collection_steps(_steps(), cache=fit_cache, **OPTIONS)
    assert len(first) == 2 and len(list((tmp_path / "fits").glob("*.pickle"))) == 2
    _refit_forbidden(monkeypatch)
    again = fit_collection_steps(_steps(), cache=fit_cache, **OPTIONS)
    assert [f.to_dict() for f in again] == [f.to_dict() for f in first]
    loads = np.linspace(10, 200, 7)
    for a, b in zip(first, again, strict=True):
        assert a.capacity_at_sla(200.0, 99.0, 0.7) == b.capacity_at_sla(200.0, 99.0, 0.7)
        np.testing.assert_array_equal(a.latency.predict(loads, 99.0), b.latency.predict(loads, 99.0))


def test_changed_steps_or_options_miss(tmp_path):
    fit_cache = FitCache(tmp_path / "fits")
    groups = [g for _, g in configurations(_steps())]
    base = fit_cache.keys(groups, OPTIONS)
    assert len(set(base)) == 2
    assert fit_cache.keys(groups, OPTIONS) == base  # deterministic
    nudged = [groups[0].assign(throughput_rps=groups[0]["throughput_rps"] * (1 + 1e-9)), groups[1]]
    changed = fit_cache.keys(nudged, OPTIONS)
    assert changed[0] != base[0] and changed[1] == base[1]  # only the changed configuration misses
    for option, value in [("with_usl", True), ("bootstrap_resamples", 50), ("seed", 1)]:
        assert set(fit_cache.keys(groups, {**OPTIONS, option: value})).isdisjoint(base), option
    fewer = [groups[0].iloc[:-1], groups[1]]
    assert fit_cache.keys(fewer, OPTIONS)[0] != base[0]


def test_one_entry_serves_every_sla(tmp_path, monkeypatch):
    """A fit is a model of the instance, at no SLA: the cached one answers any target as a fresh one does."""
    assert not any("capacity" in f.name for kind in (CurveFit, RecommenderFit) for f in dataclasses.fields(kind))
    fit_cache = FitCache(tmp_path / "fits")
    fit_collection_steps(_steps(), cache=fit_cache, **OPTIONS)
    expected = fit_collection_steps(_steps(), **OPTIONS)  # no cache
    _refit_forbidden(monkeypatch)
    again = fit_collection_steps(_steps(), cache=fit_cache, **OPTIONS)
    assert len(list((tmp_path / "fits").glob("*.pickle"))) == 2
    for sla in [(60.0, 95.0, 0.5), (200.0, 99.0, 0.7)]:
        caps = [f.capacity_at_sla(*sla) for f in again]
        assert caps == [f.capacity_at_sla(*sla) for f in expected]
        assert all(c.latency_target_ms == sla[0] and c.max_utilization == sla[2] for c in caps)


def test_an_unreadable_entry_is_a_miss_and_is_rewritten(tmp_path):
    fit_cache = FitCache(tmp_path / "fits")
    groups = [g for _, g in configurations(_steps())]
    (first,) = fit_collection_steps(groups[0], cache=fit_cache, **OPTIONS)
    (entry,) = (tmp_path / "fits").glob("*.pickle")
    entry.write_bytes(b"\x80\x05truncated")
    assert fit_cache.load(entry.stem) is None
    (again,) = fit_collection_steps(groups[0], cache=fit_cache, **OPTIONS)
    assert again.to_dict() == first.to_dict()
    assert fit_cache.load(entry.stem).to_dict() == first.to_dict()


def test_an_unwritable_cache_is_skipped(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    fits = fit_collection_steps(_steps(), cache=FitCache(blocker / "fits"), **OPTIONS)
    assert len(fits) == 2 and all(f.latency is not None for f in fits)


def test_where_the_cache_lives(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_CACHE_DIR", "off")
    assert FitCache.default() is None
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(tmp_path / "mine"))
    assert FitCache.default() == FitCache(tmp_path / "mine")
    monkeypatch.delenv("PLANNER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert FitCache.default() == FitCache(tmp_path / "xdg" / "planner" / "fits")


def test_cli_answers_the_same_from_the_cache_and_without_it(tmp_path):
    run_id = profile_run("c5.2xlarge-small-model")
    command = [sys.executable, "-m", "planner.cli", "fit", "--store", str(SAMPLE_STORE), "--run", run_id,
               "--sla", "150ms", "--json"]

    def fit_json(cache_dir: str) -> dict:
        done = subprocess.run(command, capture_output=True, text=True, check=True,
                              env={**os.environ, "PLANNER_CACHE_DIR": cache_dir})
        return json.loads(done.stdout)

    cold = fit_json(str(tmp_path / "c"))
    assert len(list((tmp_path / "c").glob("*.pickle"))) == 1
    assert fit_json(str(tmp_path / "c")) == cold
    assert fit_json("off") == cold and cold["configs"][0]["capacity_at_sla_rps"] > 0


def test_a_runs_steps_are_kept_and_any_change_to_its_manifest_or_the_rules_misses(tmp_path):
    store_dir = tmp_path / "store"
    shutil.copytree(SAMPLE_STORE, store_dir)
    store, fit_cache = RunStore(store_dir), FitCache(tmp_path / "cache")
    computed = for_collection(store, cache=fit_cache)
    assert len(list((tmp_path / "cache" / "steps").glob("*.pickle"))) == len(store.run_ids())
    for table in store_dir.glob("runs/*/g*/*.parquet"):
        table.unlink()  # every step now has to come from the cache
    pd.testing.assert_frame_equal(for_collection(store, cache=fit_cache), computed)
    with pytest.raises(StoreError, match="cannot read"):  # without the cache the tables are read
        for_collection(store)

    record = store.get(profile_run("c5.2xlarge-small-model"))
    key = fit_cache.steps_key(record, StepRules())
    assert fit_cache.steps_key(record, StepRules()) == key
    assert fit_cache.steps_key(record, StepRules(trim_s=5)) != key
    relabelled = dataclasses.replace(record, run={**record.run, "labels": {**record.run["labels"], "arrivals": "closed"}})
    assert fit_cache.steps_key(relabelled, StepRules()) != key  # labels change steps (open vs closed loop)
    assert fit_cache.steps_key(dataclasses.replace(record, generation="g-reparsed"), StepRules()) != key


def test_both_kinds_of_fit_come_back_as_they_were_cached(tmp_path, monkeypatch):
    """Inference Recommender jobs (two points, one FAILED benchmark without metrics): the points come back
    as RecommenderFits with their plateau, the failed one as a CurveFit that fitted nothing."""
    from planner.collection import ingest

    store = RunStore(tmp_path / "store")
    ingest(store, [Path(__file__).parent / "fixtures" / "recommender" / "list_job_steps.cli.json"])
    steps, fit_cache = for_collection(store), FitCache(tmp_path / "fits")
    first = fit_collection_steps(steps, cache=fit_cache)
    _refit_forbidden(monkeypatch)
    again = {f.config.instance_type: f for f in fit_collection_steps(steps, cache=fit_cache)}
    assert [f.to_dict() for f in again.values()] == [f.to_dict() for f in first]
    assert {t: type(f) for t, f in again.items()} == {"ml.c5.xlarge": RecommenderFit, "ml.g4dn.xlarge": RecommenderFit,
                                                     "ml.m5.large": CurveFit}
    point = again["ml.g4dn.xlarge"]
    assert isinstance(point, RecommenderFit) and point.fitted
    assert point.recommender.throughput_rps_per_instance == pytest.approx(2400 / 60)
    failed = again["ml.m5.large"]
    assert isinstance(failed, CurveFit) and not failed.fitted and failed.latency is None
    assert "ResourceLimitExceeded" in failed.notes[0]
