"""The bundled price catalog, price files, discounts, and the Pricing API refresh (botocore Stubber).

The files in tests/fixtures/pricing/ are get_products answers in the real shape (PriceList items are
JSON strings with product.attributes and terms.OnDemand...pricePerUnit.USD; attribute names and
usage types as the AmazonSageMaker price list uses them: productFamily "ML Instance"/"ML Serverless",
component "Hosting", usagetype "USE1-Host:ml.m5.large", "USE1-ServerlessInf:Mem-2GB",
"USE1-ProvisionedConcurrency:Usage-2GB"/"Mem-2GB"). The SKUs in them are made up.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.catalog import (
    HOURS_PER_MONTH,
    SERVERLESS_MEMORY_SIZES_MB,
    available_regions,
    load_catalog,
    pricing_filters,
    refresh_catalog,
    write_snapshot,
)
from planner.errors import InputError, PriceError

FIXTURES = Path(__file__).parent / "fixtures" / "pricing"

ANCHORS_USD_PER_HOUR = {"ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.c5.xlarge": 0.204,
                        "ml.g4dn.2xlarge": 0.94, "ml.g5.2xlarge": 1.515, "ml.p3.2xlarge": 3.825}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


# ---------------------------------------------------------------- the bundled snapshot


def test_hours_per_month_is_the_average_month():
    assert HOURS_PER_MONTH == 730 == 8760 / 12


@pytest.mark.parametrize(("instance_type", "usd_per_hour"), sorted(ANCHORS_USD_PER_HOUR.items()))
def test_hosting_anchors_are_exact(catalog, instance_type, usd_per_hour):
    assert catalog.price(instance_type) == usd_per_hour


def test_serverless_and_data_prices(catalog):
    assert catalog.region == "us-east-1" and catalog.currency == "USD"
    assert sorted(catalog.serverless_usd_per_second_by_memory_mb) == list(SERVERLESS_MEMORY_SIZES_MB)
    for memory_mb in SERVERLESS_MEMORY_SIZES_MB:
        assert catalog.serverless_usd_per_second(memory_mb) == pytest.approx(0.00002 * memory_mb / 1024, rel=1e-12)
    assert catalog.serverless_usd_per_second(1024) == 0.00002
    assert catalog.serverless_usd_per_second(6144) == 0.00012
    assert catalog.data_processing_usd_per_gb == 0.016


def test_provisioned_concurrency_prices_follow_design_ratios(catalog):
    """DESIGN §8: standby ~0.25x and inference ~0.58x the on-demand per-second price, per memory size."""
    for memory_mb in SERVERLESS_MEMORY_SIZES_MB:
        on_demand = catalog.serverless_usd_per_second(memory_mb)
        assert catalog.provisioned_standby_usd_per_second(memory_mb) / on_demand == pytest.approx(0.24)
        assert catalog.provisioned_inference_usd_per_second(memory_mb) / on_demand == pytest.approx(0.58)


def test_every_fmbench_hosting_price_is_in_the_snapshot(catalog, datasets):
    recorded = yaml.safe_load((datasets / "prices" / "fmbench_pricing.yml").read_text())["pricing"]["instance_based"]
    hosting = {k: v for k, v in recorded.items() if k.startswith("ml.")}
    assert len(hosting) == 31
    for instance_type, usd_per_hour in hosting.items():
        assert catalog.price(instance_type) == usd_per_hour, instance_type
        assert "fmbench-39ce6b9" in catalog.spec(instance_type).price_sources
    assert not [k for k in catalog.instances if not k.startswith("ml.")]  # bedrock / EC2 entries skipped


def test_toolkit_constants_agree_with_the_snapshot(catalog, datasets):
    rows = (datasets / "serverless-toolkit" / "smsb_cost_constants.csv").read_text().splitlines()[1:]
    for kind, key, value, _unit in (row.split(",", 3) for row in rows):
        if kind == "instance_hourly_price":
            assert catalog.price(key) == float(value)
        elif kind == "serverless_compute_price":
            assert catalog.serverless_usd_per_second(int(key)) == pytest.approx(float(value), rel=1e-12)
        elif kind == "data_processing_price":
            assert catalog.data_processing_usd_per_gb == float(value)


def test_recommender_samples_cost_per_hour_is_price_times_count(catalog, datasets):
    doc = json.loads((datasets / "recommender" / "ir_doc_samples_normalized.DERIVED.json").read_text())
    rows = [r for job in ("default_job", "advanced_job") for r in doc[job]["InferenceRecommendations"]]
    assert {r["EndpointConfiguration"]["InstanceType"] for r in rows} == {
        "ml.c5.xlarge", "ml.c5d.large", "ml.m5.large", "ml.c5d.xlarge"}
    for row in rows:
        config = row["EndpointConfiguration"]
        usd_per_hour = catalog.price(config["InstanceType"]) * config["InitialInstanceCount"]
        assert usd_per_hour == pytest.approx(row["Metrics"]["CostPerHour"], rel=1e-7)  # float32 in the sample


def test_specs_are_consistent(catalog):
    for name, spec in catalog.instances.items():
        assert spec.instance_type == name and spec.vcpu > 0 and spec.memory_gib > 0
        gpu_family = name.split(".")[1][:1] in ("g", "p") or name.split(".")[1].startswith(("inf", "trn"))
        assert (spec.accelerator_count > 0) == gpu_family, name
        assert (spec.accelerator_memory_gib > 0) == gpu_family, name
    g4dn = catalog.spec("ml.g4dn.12xlarge")
    assert (g4dn.accelerator_type, g4dn.accelerator_count, g4dn.total_accelerator_memory_gib) == ("NVIDIA T4", 4, 64)
    assert catalog.spec("ml.p3.2xlarge").memory_gib == 61


def test_every_price_names_sources_that_the_snapshot_describes(catalog):
    described = {s["id"] for s in catalog.sources}
    assert "aws-instance-docs-transcribed" in described
    for spec in catalog.instances.values():
        assert spec.price_sources and set(spec.price_sources) <= described
        assert spec.spec_source in described
    for component in ("serverless", "provisioned_concurrency", "data_processing"):
        assert catalog.component_sources[component] and set(catalog.component_sources[component]) <= described


def test_snapshot_is_dated_and_says_where_it_comes_from(catalog):
    assert dt.date.fromisoformat(catalog.date) == dt.date(2026, 11, 23)
    assert "assembly date" in catalog.source
    assert catalog.overrides == ()
    assert catalog.provenance().startswith("USD prices for us-east-1 as of 2026-11-23")


def test_bundled_snapshot_is_package_data():
    assert available_regions() == ["eu-west-1", "us-east-1"]
    import planner

    assert (Path(planner.__file__).parent / "data" / "prices" / "us-east-1.json").is_file()


def test_snapshot_round_trips_through_write_snapshot(catalog, tmp_path):
    path = write_snapshot(catalog, tmp_path / "sub" / "snap.json")
    assert load_catalog(price_file=path) == catalog
    assert json.loads(path.read_text()) == catalog.to_dict()


# ---------------------------------------------------------------- errors


def test_unknown_instance_suggests_close_matches(catalog):
    with pytest.raises(PriceError, match=r"'ml\.m5\.larg'.*did you mean ml\.m5\.large"):
        catalog.price("ml.m5.larg")
    with pytest.raises(PriceError, match="49 types are known"):
        catalog.price("zzz")


def test_unknown_region_names_the_available_ones():
    with pytest.raises(PriceError, match=r"'ap-south-2'.*available: eu-west-1, us-east-1"):
        load_catalog("ap-south-2")


def test_unknown_serverless_memory_lists_sizes(catalog):
    with pytest.raises(PriceError, match="1024, 2048, 3072, 4096, 5120, 6144"):
        catalog.serverless_usd_per_second(1536)


# ---------------------------------------------------------------- price files, overrides, discounts


def test_csv_price_file_overrides_and_adds(tmp_path):
    path = tmp_path / "negotiated.csv"
    path.write_text("instance_type,usd_per_hour\nml.m5.large,0.1\nml.c6i.large,0.102\n")
    catalog = load_catalog(price_file=path)
    assert catalog.price("ml.m5.large") == 0.1 and catalog.price("ml.c6i.large") == 0.102
    assert catalog.spec("ml.m5.large").vcpu == 2  # specs kept
    assert catalog.spec("ml.c6i.large").vcpu is None  # unknown, not invented
    assert catalog.price("ml.m5.xlarge") == 0.23  # untouched
    assert any("ml.m5.large 0.115 -> 0.1" in o and str(path) in o for o in catalog.overrides)
    assert str(path) in catalog.provenance()


def test_json_price_file_and_overrides_then_discount(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"ml.g5.2xlarge": 1.2}))
    catalog = load_catalog(price_file=path, overrides={"ml.m5.large": 0.1}, discount=0.5)
    assert catalog.price("ml.g5.2xlarge") == pytest.approx(0.6)
    assert catalog.price("ml.m5.large") == pytest.approx(0.05)
    assert len(catalog.overrides) == 3 and catalog.overrides[-1].startswith("discount 0.5 (50.00%)")


@pytest.mark.parametrize(("name", "text", "where", "found"), [
    ("p.csv", "instance_type,usd_per_hour\nml.m5.large,abc\n", "row 2, usd_per_hour", "'abc'"),
    ("p.csv", "instance_type,usd_per_hour\nml.m5.large,-1\n", "row 2, usd_per_hour", "'-1'"),
    ("p.csv", "type,price\nml.m5.large,1\n", "header", "type,price"),
    ("p.json", "[1, 2]", "top level", "list"),
    ("p.json", '{"ml.m5.large": "free"}', "key 'ml.m5.large'", "'free'"),
    ("p.yaml", "ml.m5.large: 1", "file name", "'.yaml'"),
])
def test_bad_price_files_name_file_place_and_found(tmp_path, name, text, where, found):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_catalog(price_file=path)
    assert str(info.value).startswith(f"{path}: {where}: expected ") and str(info.value).endswith(f"found {found}")


def test_snapshot_price_file_for_another_region_is_refused(catalog, tmp_path):
    data = catalog.to_dict() | {"region": "eu-west-1"}
    path = tmp_path / "eu.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PriceError, match="'eu-west-1', not 'us-east-1'"):
        load_catalog(price_file=path)
    assert load_catalog("eu-west-1", price_file=path).region == "eu-west-1"


@pytest.mark.parametrize("discount", [-0.1, 1.0, 1.5])
def test_discount_outside_0_1_is_refused(discount):
    with pytest.raises(PriceError, match="discount fraction"):
        load_catalog(discount=discount)


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0.0, max_value=0.95))
def test_discount_lowers_every_compute_price_by_that_fraction(discount):
    base, cut = load_catalog(), load_catalog(discount=discount)
    for name, spec in base.instances.items():
        assert cut.price(name) == pytest.approx(spec.usd_per_hour * (1 - discount), rel=1e-12)
    for memory_mb in SERVERLESS_MEMORY_SIZES_MB:
        for method in ("serverless_usd_per_second", "provisioned_standby_usd_per_second",
                       "provisioned_inference_usd_per_second"):
            assert getattr(cut, method)(memory_mb) == pytest.approx(
                getattr(base, method)(memory_mb) * (1 - discount), rel=1e-12)
    assert cut.data_processing_usd_per_gb == base.data_processing_usd_per_gb
    assert len(cut.overrides) == (1 if discount else 0)


# ---------------------------------------------------------------- refresh from the Pricing API


def _answer(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _client():
    return boto3.client("pricing", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


def _params(family: str, next_token: str | None = None, **attrs: str) -> dict:
    params = {"ServiceCode": "AmazonSageMaker", "FormatVersion": "aws_v1", "MaxResults": 100,
              "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
                          {"Type": "TERM_MATCH", "Field": "productFamily", "Value": family}]
              + [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in attrs.items()]}
    return params | ({"NextToken": next_token} if next_token else {})


def _stubbed_refresh(page1: dict | None = None):
    client = _client()
    page1 = page1 or _answer("hosting_us-east-1_page1.json")
    with Stubber(client) as stub:
        stub.add_response("get_products", page1, _params("ML Instance", component="Hosting"))
        stub.add_response("get_products", _answer("hosting_us-east-1_page2.json"),
                          _params("ML Instance", page1["NextToken"], component="Hosting"))
        stub.add_response("get_products", _answer("serverless_us-east-1.json"), _params("ML Serverless"))
        catalog = refresh_catalog("us-east-1", pricing_client=client)
        stub.assert_no_pending_responses()
    return catalog


def test_pricing_filters_are_term_matches():
    assert pricing_filters("eu-west-1", "ML Instance", component="Hosting") == [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
        {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
        {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"}]


def test_refresh_parses_hosting_and_serverless_across_pages():
    catalog = _stubbed_refresh()
    assert sorted(catalog.instances) == ["ml.c6i.large", "ml.g5.2xlarge", "ml.m5.large"]  # page 2 was read
    assert catalog.price("ml.m5.large") == 0.115 and catalog.price("ml.g5.2xlarge") == 1.515
    m5 = catalog.spec("ml.m5.large")
    assert (m5.vcpu, m5.memory_gib, m5.price_sources, m5.spec_source) == (
        2, 8.0, ("aws-price-list-api",), "aws-instance-docs-transcribed")
    c6i = catalog.spec("ml.c6i.large")  # not bundled: specs from the product attributes
    assert (c6i.vcpu, c6i.memory_gib, c6i.accelerator_count, c6i.spec_source) == (2, 4.0, 0, "aws-price-list-api")
    assert catalog.serverless_usd_per_second_by_memory_mb == {1024: 0.00002, 2048: 0.00004}
    assert catalog.provisioned_standby_usd_per_second_by_memory_mb == {2048: 0.0000096}
    assert catalog.provisioned_inference_usd_per_second_by_memory_mb == {2048: 0.0000232}
    assert catalog.date == "2024-11-05"  # the price list's publicationDate
    assert catalog.source.startswith("AWS Price List API (AmazonSageMaker, us-east-1)")
    assert catalog.data_processing_usd_per_gb == 0.016 and catalog.component_sources["data_processing"]


def test_refresh_skips_training_notebook_and_processing_prices():
    page1 = _answer("hosting_us-east-1_page1.json")
    training = json.loads(page1["PriceList"][0])
    assert training["product"]["attributes"]["component"] == "Training"
    tampered = copy.deepcopy(training)
    term = next(iter(tampered["terms"]["OnDemand"].values()))
    next(iter(term["priceDimensions"].values()))["pricePerUnit"]["USD"] = "0.2000000000"
    page1["PriceList"][0] = json.dumps(tampered)  # a training price that differs from hosting
    catalog = _stubbed_refresh(page1)
    assert catalog.price("ml.m5.large") == 0.115
    assert "ml.t3.medium" not in catalog.instances and "ml.m5.xlarge" not in catalog.instances


def test_refreshed_catalog_round_trips_as_a_price_file(tmp_path):
    catalog = _stubbed_refresh()
    path = write_snapshot(catalog, tmp_path / "us-east-1.json")
    assert load_catalog(price_file=path) == catalog


def test_refresh_with_no_hosting_prices_fails():
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []},
                          _params("ML Instance", component="Hosting"))
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []}, _params("ML Serverless"))
        with pytest.raises(PriceError, match="no SageMaker hosting prices for region 'us-east-1'"):
            refresh_catalog("us-east-1", pricing_client=client)


def test_refresh_api_error_becomes_price_error():
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error("get_products", "AccessDeniedException", "not authorized to perform pricing:GetProducts")
        with pytest.raises(PriceError, match="pricing:GetProducts"):
            refresh_catalog("us-east-1", pricing_client=client)
