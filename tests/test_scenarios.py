"""The use-case layer (planner.scenarios): which collection a question reads, the bundled sample read
beside a user's runs (marked, never hiding them), the in-memory caches, and answers equal to the
decisions called by hand."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from planner.capacity import fit_store
from planner.catalog import load_catalog
from planner.collection import ingest
from planner.errors import StoreError
from planner.export import Traffic
from planner.fit_cache import FitCache
from planner.ingest.traffic import parse_popularity
from planner.jsonable import dumps, finite
from planner.recommend import DEFAULT_MAX_UTILIZATION
from planner.recommend.realtime import recommend_realtime
from planner.scenarios.costs import CostScenario, compare_costs
from planner.scenarios.multi_model import MultiModelScenario, size_multi_model
from planner.scenarios.realtime import RealtimeScenario, size_realtime
from planner.scenarios.source import SAMPLE_NOTE, SAMPLE_STORE, open_runs, runs_at, with_notes
from planner.store import RunStore

APP = str(Path(__file__).resolve().parents[1] / "app_streamlit.py")
IR_JOB = "recommender/ir_doc_advanced_job_describe_sample.pyrepr.txt"  # one IR point: ml.c5d.xlarge × 3


@pytest.fixture(scope="module")
def user_store(datasets, tmp_path_factory):
    """A user's collection holding one Inference Recommender job, and the job's served TPS."""
    store = RunStore(tmp_path_factory.mktemp("user") / "store")
    ingest(store, [datasets / IR_JOB])
    job = json.loads((datasets / "recommender" / "ir_doc_samples_normalized.DERIVED.json").read_text())
    return store, job["advanced_job"]["InferenceRecommendations"][0]["Metrics"]["MaxInvocations"] / 60


def test_open_runs_falls_back_to_the_sample_and_refuses_a_missing_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./planner-store
    source = open_runs()
    assert source.fell_back and source.store.root == str(SAMPLE_STORE) and source.sample is None
    assert not open_runs(str(SAMPLE_STORE)).fell_back  # named: the sample is the user's choice
    with pytest.raises(StoreError, match="no run collection here"):
        open_runs(str(tmp_path / "nothing"))
    assert open_runs(str(SAMPLE_STORE), include_sample=True).sample is None  # never read twice


def test_the_sample_beside_a_users_runs_is_marked_and_hides_nothing(user_store):
    store, served_tps = user_store
    scenario = RealtimeScenario(target_tps=served_tps, latency_target_ms=100, max_utilization=1.0, top=None)
    catalog = load_catalog()
    alone = size_realtime(runs_at(store.root), catalog, scenario)
    beside = size_realtime(runs_at(store.root, include_sample=True), catalog, scenario)
    sample = size_realtime(runs_at(str(SAMPLE_STORE)), catalog, scenario)
    assert [(o.instance_type, o.instance_count) for o in alone.options] == [("ml.c5d.xlarge", 3)]
    mine = [o for o in beside.options if SAMPLE_NOTE not in o.notes]
    marked = [o for o in beside.options if SAMPLE_NOTE in o.notes]
    assert [o.to_dict() for o in mine] == [o.to_dict() for o in alone.options]  # the upload is never hidden
    assert sorted((o.label, o.instance_count) for o in marked) == sorted(
        (o.label, o.instance_count) for o in sample.options)
    assert marked and all(o.origin.endswith(", bundled sample") for o in marked)
    assert len(beside.options) + len(beside.rejected) == (len(alone.options) + len(alone.rejected)
                                                          + len(sample.options) + len(sample.rejected))


def test_the_app_shows_an_upload_beside_the_sample_and_can_hide_the_sample(user_store, tmp_path, monkeypatch):
    store, served_tps = user_store
    shutil.copytree(store.root, tmp_path / "planner-store")  # what an upload creates
    monkeypatch.delenv("PLANNER_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(tps=repr(served_tps), sla_ms="100", util="1", top="50")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    switch = next(t for t in at.sidebar.toggle if t.key == "include_sample")
    options = json.loads(at.code[0].value)["options"]
    assert switch.value and ("ml.c5d.xlarge", 3) in [(o["instance_type"], o["instance_count"]) for o in options]
    assert any(o["origin"].endswith(", bundled sample") and SAMPLE_NOTE in o["notes"] for o in options)
    switch.set_value(False).run()
    options = json.loads(at.code[0].value)["options"]
    assert [(o["instance_type"], o["instance_count"], o["origin"]) for o in options] == [
        ("ml.c5d.xlarge", 3, "measured")]


def test_sizing_fits_are_fitted_once_for_every_sla():
    source = runs_at(str(SAMPLE_STORE))
    catalog = load_catalog()
    answers = [size_realtime(source, catalog, RealtimeScenario(target_tps=1000, latency_target_ms=ms))
               for ms in (200, 800)]
    assert [key[0] for key in source.memo] == ["fits"]  # one fit, two SLAs
    fits = fit_store(RunStore(SAMPLE_STORE), for_sizing=True, cache=FitCache.default())
    by_hand = recommend_realtime(fits, catalog, target_tps=1000, latency_target_ms=800)
    assert answers[1].to_dict() == by_hand.to_dict()
    assert answers[0].max_utilization == DEFAULT_MAX_UTILIZATION == 0.7


def test_multi_model_series_from_the_sample_beside_are_marked(user_store):
    store, _ = user_store
    scenario = MultiModelScenario(500, parse_popularity("zipf:1.1", 200), tps_per_instance=80)
    rec = size_multi_model(runs_at(store.root, include_sample=True), load_catalog(), scenario)
    sample = size_multi_model(runs_at(str(SAMPLE_STORE)), load_catalog(), scenario)
    assert [v.instances for v in rec.variants] == [v.instances for v in sample.variants]
    assert all(v.origin == f"{s.origin}, bundled sample" for v, s in zip(rec.variants, sample.variants, strict=True))


def test_compare_costs_prices_every_deployment_of_the_sample():
    scenario = CostScenario(traffic=Traffic(1000, 3e7), latency_target_ms=800,
                            popularity=parse_popularity("zipf:1.1", 100))
    comparison = compare_costs(runs_at(str(SAMPLE_STORE)), load_catalog(), scenario)
    deployments = {line.deployment for line in comparison.lines}
    assert {"serverless", "serverless, provisioned concurrency", "multi-model (100 models)"} <= deployments
    assert any(d.startswith("real-time") for d in deployments)
    costs = [line.usd_per_month for line in comparison.lines if line.sla_met]
    assert costs == sorted(costs)


def test_scenarios_are_frozen_and_notes_merge_in_front():
    scenario = RealtimeScenario(target_tps=10, latency_target_ms=50)
    with pytest.raises(FrozenInstanceError):
        scenario.target_tps = 20  # type: ignore[misc]
    rec = replace(recommend_realtime([], load_catalog(), target_tps=10, latency_target_ms=50), notes=("own",))
    assert with_notes(rec, "skipped", "extra").notes == ("skipped", "extra", "own")


@given(st.recursive(st.floats() | st.integers() | st.text(max_size=3) | st.none(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
                    | st.tuples(inner, inner), max_leaves=12))
def test_every_answer_serialises_as_strict_json(value):
    """planner.jsonable: what goes in comes out, but inf and NaN as null, tuples as lists."""
    back = json.loads(dumps(value))
    assert back == json.loads(json.dumps(finite(value)))
    flat = json.dumps(back)
    assert "Infinity" not in flat and "NaN" not in flat
    if isinstance(value, float):
        assert back == (value if math.isfinite(value) else None)
