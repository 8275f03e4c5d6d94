"""Cost arithmetic against published figures: infracost, Inference Recommender samples, the serverless toolkit."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from planner.catalog import SERVERLESS_MEMORY_SIZES_MB, load_catalog
from planner.costs import (
    GB_BYTES,
    GIB_BYTES,
    billed_duration_ms,
    break_even_monthly_invocations,
    data_processing_usd,
    realtime_cost,
    recommender_cost_per_inference,
    serverless_usd_per_invocation,
    serverless_usd_per_month,
    usd_per_million_requests,
    usd_per_month,
)
from planner.errors import PriceError

CATALOG = load_catalog()
prices = st.floats(min_value=0.001, max_value=200.0)


# ---------------------------------------------------------------- infracost's published SageMaker figures


def test_infracost_instance_month():
    assert usd_per_month(CATALOG.price("ml.m5.large")) == pytest.approx(83.95, abs=1e-9)


def test_infracost_serverless_2048_mb_for_500000_seconds():
    bill = serverless_usd_per_month(2048, 1000, 0, 0, CATALOG, 500_000)
    assert bill.usd_per_month == pytest.approx(20.00, abs=1e-9)
    assert bill.on_demand_compute_usd_per_month == bill.usd_per_month and bill.data_processing_usd_per_month == 0


def test_infracost_data_processed_20_gb():
    assert data_processing_usd(10 * GB_BYTES, 10 * GB_BYTES, CATALOG, GB_BYTES) == pytest.approx(0.32)
    assert data_processing_usd(20 * GIB_BYTES, 0, CATALOG) == pytest.approx(0.32)  # default GB = 1024**3


# ---------------------------------------------------------------- SageMaker Inference Recommender


def _recommendations(datasets):
    doc = json.loads((datasets / "recommender" / "ir_doc_samples_normalized.DERIVED.json").read_text())
    return [r for job in ("default_job", "advanced_job") for r in doc[job]["InferenceRecommendations"]]


def test_recommender_cost_per_inference_identity(datasets):
    rows = _recommendations(datasets)
    assert len(rows) == 4
    for row in rows:
        metrics = row["Metrics"]
        assert recommender_cost_per_inference(metrics["CostPerHour"], metrics["MaxInvocations"]) == pytest.approx(
            metrics["CostPerInference"], rel=1e-6)


def test_recommender_cost_from_catalog_prices(datasets):
    """ml.c5d.xlarge × 3 = 0.69 USD/h (advanced sample); per 1M requests equals CostPerInference × 1e6."""
    for row in _recommendations(datasets):
        config, metrics = row["EndpointConfiguration"], row["Metrics"]
        cost = realtime_cost(CATALOG, config["InstanceType"], config["InitialInstanceCount"],
                             throughput_rps=metrics["MaxInvocations"] / 60)
        assert cost.usd_per_hour == pytest.approx(metrics["CostPerHour"], rel=1e-7)
        assert cost.usd_per_million_requests == pytest.approx(metrics["CostPerInference"] * 1e6, rel=1e-6)
    advanced = realtime_cost(CATALOG, "ml.c5d.xlarge", 3, 1113 / 60)
    assert advanced.usd_per_hour == pytest.approx(0.69) and advanced.usd_per_month == pytest.approx(0.69 * 730)
    assert "us-east-1 as of 2026-11-23" in advanced.to_dict()["prices"]


# ---------------------------------------------------------------- sagemaker-serverless-inference-benchmarking


@pytest.fixture(scope="module")
def mobilenet(datasets):
    table = pd.read_csv(datasets / "serverless-toolkit" / "smsb_mobilenet_metrics_with_cost.csv")
    return table.assign(memory_mb=list(SERVERLESS_MEMORY_SIZES_MB))  # the toolkit dropped this column


def _payload_bytes(row) -> float:
    """Bytes in+out per invocation implied by a row: (cost - compute) / data price per byte."""
    compute = CATALOG.serverless_usd_per_second(row.memory_mb) * row.average_latency / 1000
    return (row.cost_per_invocation - compute) / (CATALOG.data_processing_usd_per_gb / GIB_BYTES)


def test_toolkit_table_reproduced_for_all_memory_sizes(mobilenet):
    """The toolkit bills average_latency (ModelLatency + its mean OverheadLatency; the OverheadLatency
    column itself is off by up to 1.3 ms) unrounded, plus one payload size for every row."""
    payload = _payload_bytes(mobilenet.iloc[1])  # derived from the 2048 MB row
    assert payload == pytest.approx(39_817.667, abs=1e-3)
    for row in mobilenet.itertuples():
        assert _payload_bytes(row) == pytest.approx(payload, rel=1e-9)
        usd = serverless_usd_per_invocation(row.memory_mb, row.average_latency, payload, 0, CATALOG,
                                            billing_granularity_ms=None)
        assert usd * 1e6 == pytest.approx(row.cost_per_1M_invocations, rel=1e-9)
    assert mobilenet.cost_per_1M_invocations.iloc[1] == pytest.approx(4.44, abs=0.005)


def test_toolkit_break_even_against_t2_medium(mobilenet, datasets):
    summary = pd.read_csv(datasets / "serverless-toolkit" / "smsb_mobilenet_cost_savings_summary.csv")
    instance = usd_per_month(CATALOG.price("ml.t2.medium"), hours=720)  # the toolkit's 24 × 30 h month
    assert instance == pytest.approx(40.32) and (summary.instance_monthly_cost == 40.32).all()
    row = mobilenet.iloc[1]
    per_invocation = serverless_usd_per_invocation(2048, row.average_latency, _payload_bytes(row), 0, CATALOG, None)
    for invocations, serverless_usd in zip(summary.monthly_invocations, summary.serverless_monthly_cost, strict=True):
        bill = serverless_usd_per_month(2048, row.average_latency, _payload_bytes(row), 0, CATALOG, invocations,
                                        billing_granularity_ms=None)
        assert bill.usd_per_month == pytest.approx(serverless_usd, rel=1e-9)
    assert break_even_monthly_invocations(instance, per_invocation) / 1e6 == pytest.approx(9.08, abs=0.005)


# ---------------------------------------------------------------- serverless details


def test_billing_granularity_rounds_duration_up():
    assert billed_duration_ms(96.19) == 97
    assert billed_duration_ms(100.0) == 100
    assert billed_duration_ms(96.19, None) == 96.19
    assert billed_duration_ms(101, 100) == 200
    one_ms = serverless_usd_per_invocation(2048, 96.19, 0, 0, CATALOG)
    assert one_ms == pytest.approx(0.00004 * 0.097)


def test_provisioned_concurrency_month():
    bill = serverless_usd_per_month(2048, 200, 0, 0, CATALOG, 1_000_000, provisioned_concurrency=2,
                                    provisioned_served_fraction=0.75)
    assert bill.provisioned_standby_usd_per_month == pytest.approx(2 * 730 * 3600 * 0.0000096)
    assert bill.provisioned_inference_usd_per_month == pytest.approx(750_000 * 0.2 * 0.0000232)
    assert bill.on_demand_compute_usd_per_month == pytest.approx(250_000 * 0.2 * 0.00004)
    assert bill.usd_per_month == pytest.approx(
        bill.provisioned_standby_usd_per_month + bill.provisioned_inference_usd_per_month + bill.on_demand_compute_usd_per_month)
    assert bill.usd_per_million_invocations == pytest.approx(bill.usd_per_month)
    assert bill.to_dict()["provisioned_concurrency"] == 2


def test_provisioned_fraction_needs_provisioned_slots():
    with pytest.raises(PriceError, match="provisioned_concurrency > 0"):
        serverless_usd_per_month(2048, 200, 0, 0, CATALOG, 10, provisioned_served_fraction=0.5)


def test_degenerate_inputs():
    assert usd_per_million_requests(1.0, 0) == math.inf
    assert break_even_monthly_invocations(40.32, 0) == math.inf
    assert recommender_cost_per_inference(0.2, 0) == math.inf
    assert serverless_usd_per_month(2048, 100, 0, 0, CATALOG, 0).usd_per_million_invocations == math.inf
    with pytest.raises(PriceError, match="instance_count: expected a finite number >= 0, found -1"):
        usd_per_month(0.1, -1)
    with pytest.raises(PriceError, match="1536"):
        serverless_usd_per_invocation(1536, 100, 0, 0, CATALOG)


def test_usd_per_million_requests_value():
    assert usd_per_million_requests(0.23, 10) == pytest.approx(0.23 / 36_000 * 1e6)


# ---------------------------------------------------------------- properties


@given(prices, st.integers(min_value=1, max_value=500), st.floats(min_value=1, max_value=744))
def test_monthly_cost_is_linear_in_count(usd_per_hour, count, hours):
    assert usd_per_month(usd_per_hour, count, hours) == pytest.approx(count * usd_per_month(usd_per_hour, 1, hours))


@given(prices, st.floats(min_value=0.01, max_value=1e5), st.floats(min_value=0.01, max_value=1e5))
def test_cost_per_million_decreases_with_throughput(usd_per_hour, rps_a, rps_b):
    assume(rps_a < rps_b * (1 - 1e-9))
    assert usd_per_million_requests(usd_per_hour, rps_a) > usd_per_million_requests(usd_per_hour, rps_b)


@given(st.sampled_from(SERVERLESS_MEMORY_SIZES_MB), st.floats(min_value=1, max_value=60_000),
       st.floats(min_value=0, max_value=6e6), st.floats(min_value=1, max_value=1e4))
def test_break_even_is_where_the_costs_meet(memory_mb, duration_ms, payload_bytes, instance_usd_per_month):
    per_invocation = serverless_usd_per_invocation(memory_mb, duration_ms, payload_bytes, 0, CATALOG)
    n = break_even_monthly_invocations(instance_usd_per_month, per_invocation)
    bill = serverless_usd_per_month(memory_mb, duration_ms, payload_bytes, 0, CATALOG, n)
    assert bill.usd_per_month == pytest.approx(instance_usd_per_month, rel=1e-9)
