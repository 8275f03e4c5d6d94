"""One price-provenance type: every recommendation's ``price_catalog`` JSON is the catalog's
:class:`~planner.catalog.PriceProvenance`, with the keys README documents."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.catalog import PriceProvenance, load_catalog
from planner.ingest.traffic import parse_popularity
from planner.jsonable import dumps
from planner.recommend.llm import LlmSlo, recommend_llm
from planner.scenarios.autoscaling import AutoscaleScenario, plan_autoscale
from planner.scenarios.llm import LlmAutoscaleScenario, plan_llm_autoscale
from planner.scenarios.multi_model import MultiModelScenario, size_multi_model
from planner.scenarios.realtime import RealtimeScenario, size_realtime
from planner.scenarios.serverless import ServerlessScenario, size_serverless
from planner.scenarios.source import SAMPLE_STORE, runs_at
from planner.traffic import diurnal_traffic
from tests.test_llm_fit import KIMI_P5E, fitted

# a price override and a discount on the bundled snapshot: two recorded changes
CATALOG = load_catalog("us-east-1", discount=0.25, overrides={"ml.m5.xlarge": 0.2})
DISCOUNT = ("discount 0.25 (25.00%) on hosting, serverless and provisioned-concurrency prices; "
            "data processing unchanged")


def test_provenance_json_of_the_bundled_snapshot_with_changes():
    data = CATALOG.price_provenance().to_dict()
    assert list(data) == ["source", "date", "region", "overrides", "provenance"]
    assert (data["date"], data["region"]) == ("2026-11-23", "us-east-1")
    assert data["source"].startswith("planner bundled snapshot, us-east-1 on-demand: assembled 2026-11-23")
    assert data["overrides"] == ["ml.m5.xlarge 0.23 -> 0.2 USD/h from overrides", DISCOUNT]
    assert data["provenance"] == ("USD prices for us-east-1 as of 2026-11-23 (planner bundled snapshot, us-east-1 "
                                  "on-demand); 2 change(s): ml.m5.xlarge 0.23 -> 0.2 USD/h from overrides; "
                                  + DISCOUNT)
    assert data["provenance"] == CATALOG.provenance()
    assert load_catalog("eu-west-1").price_provenance().to_dict()["overrides"] == []


@given(st.text(min_size=1), st.text(), st.lists(st.text(), max_size=3))
def test_the_line_names_the_source_before_its_details_and_every_change(name, details, changes):
    provenance = PriceProvenance(region="r", source=f"{name.replace(':', '')}: {details}", date="d",
                                 overrides=tuple(changes))
    head = f"USD prices for r as of d ({name.replace(':', '')})"
    assert provenance.text == (head + f"; {len(changes)} change(s): " + "; ".join(changes) if changes else head)


def _realtime():
    return size_realtime(runs_at(str(SAMPLE_STORE)), CATALOG, RealtimeScenario(target_tps=1000,
                                                                              latency_target_ms=800))


def _serverless():
    return size_serverless(runs_at(str(SAMPLE_STORE)), CATALOG, ServerlessScenario(
        monthly_invocations=3e6, peak_tps=40, latency_target_ms=300))


def _multi_model():
    return size_multi_model(runs_at(str(SAMPLE_STORE)), CATALOG, MultiModelScenario(
        500, parse_popularity("zipf:1.1", 200), tps_per_instance=80))


def _autoscale():
    return plan_autoscale(runs_at(str(SAMPLE_STORE)), CATALOG, diurnal_traffic(400, 40, 120),
                          AutoscaleScenario(latency_target_ms=800, instance_type="ml.m5.xlarge"))


def _llm():
    return recommend_llm([fitted(KIMI_P5E)], CATALOG, target_rps=2, input_tokens=511, output_tokens=600,
                         slos=[LlmSlo("e2e", "p99", 12_500)])


def _llm_autoscale():
    return plan_llm_autoscale([fitted(KIMI_P5E)], CATALOG, diurnal_traffic(10, 1, 120),
                              LlmAutoscaleScenario(input_tokens=511, output_tokens=600, e2e_ms=12_500))


@pytest.mark.parametrize("recommend", [_realtime, _serverless, _multi_model, _autoscale, _llm, _llm_autoscale],
                         ids=lambda f: f.__name__.strip("_"))
def test_every_recommendation_records_the_catalogs_provenance(recommend):
    rec = recommend()
    assert rec.price_catalog == CATALOG.price_provenance()
    assert json.loads(dumps(rec.to_dict()))["price_catalog"] == CATALOG.price_provenance().to_dict()
