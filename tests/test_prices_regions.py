"""Regional snapshots, the "no price" headline, `prices show`'s serverless prices and `--region` everywhere."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from planner.catalog import available_regions, load_catalog
from planner.cli import app

POINTS = ("concurrency,throughput_rps,latency_mean_ms,latency_p99_ms\n1,48,21,30\n2,95,21,32\n4,180,22,40\n"
          "8,300,27,70\n12,340,35,120\n16,350,46,190\n")
HEADLINE = "no price for ml.m6i.xlarge in {} (add it with --price-file or `planner prices refresh`)."


@pytest.fixture(scope="module")
def m6i_store(tmp_path_factory) -> str:
    """A real ingested run on ml.m6i.xlarge, a type no bundled snapshot prices."""
    root = tmp_path_factory.mktemp("m6i")
    (root / "points.csv").write_text(POINTS)
    store = str(root / "store")
    done = CliRunner().invoke(app, ["ingest", str(root / "points.csv"), "--store", store, "--format", "points",
                                    "--instance-type", "ml.m6i.xlarge"])
    assert done.exit_code == 0, done.output
    return store


def _recommend(store: str, *args: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLANNER_CACHE_DIR", "off")
        return CliRunner().invoke(app, ["recommend", "--store", store, "--target-tps", "100", "--p99", "500ms", *args],
                                  terminal_width=250)


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_an_unpriced_type_headlines_the_missing_price(m6i_store, region):
    done = _recommend(m6i_store, "--region", region)
    assert done.exit_code == 1
    assert HEADLINE.format(region) in done.stdout and HEADLINE.format(region) in done.stderr
    assert "No measured configuration meets" not in done.output


def test_a_price_file_makes_the_unpriced_type_an_option(m6i_store, tmp_path):
    (tmp_path / "negotiated.csv").write_text("instance_type,usd_per_hour\nml.m6i.xlarge,0.2\n")
    done = _recommend(m6i_store, "--price-file", str(tmp_path / "negotiated.csv"), "--json")
    assert done.exit_code == 0, done.output
    option = json.loads(done.stdout)["options"][0]
    assert option["instance_type"] == "ml.m6i.xlarge" and option["usd_per_hour"] == pytest.approx(0.2)


# ---------------------------------------------------------------- snapshots


def test_every_bundled_region_dates_and_sources_every_price():
    assert {"us-east-1", "eu-west-1"} <= set(available_regions())
    for region in available_regions():
        catalog = load_catalog(region)
        assert catalog.region == region and dt.date.fromisoformat(catalog.date)
        described = {s["id"]: s for s in catalog.sources}
        assert all(s["reference"] for s in described.values())
        for spec in catalog.instances.values():
            assert spec.price_sources and set(spec.price_sources) <= set(described), (region, spec.instance_type)
        for component, ids in catalog.component_sources.items():
            assert ids and set(ids) <= set(described), (region, component)


def test_eu_west_1_holds_the_billed_hosting_rates():
    catalog = load_catalog("eu-west-1")
    assert {k: s.usd_per_hour for k, s in catalog.instances.items()} == {
        "ml.m5.xlarge": 0.257, "ml.g4dn.xlarge": 0.821, "ml.g4dn.4xlarge": 1.678, "ml.g4dn.12xlarge": 5.453,
        "ml.g5.12xlarge": 7.91}
    assert catalog.date == "2023-12-31" and catalog.data_processing_usd_per_gb == 0.016
    assert catalog.serverless_usd_per_second_by_memory_mb == {}  # not found: left out, not copied from us-east-1
    assert catalog.spec("ml.g4dn.12xlarge").total_accelerator_memory_gib == 64


def test_us_east_1_has_g6e_from_the_price_list():
    catalog = load_catalog()
    spec = catalog.spec("ml.g6e.2xlarge")
    assert (spec.usd_per_hour, spec.accelerator_type, spec.accelerator_memory_gib) == (2.8026, "NVIDIA L40S", 48)
    source = next(s for s in catalog.sources if s["id"] == spec.price_sources[0])
    assert source["as_of"] == "2026-09-20" and "AmazonSageMaker" in source["reference"]


# ---------------------------------------------------------------- prices show


def test_prices_show_lists_serverless_and_provisioned_prices_with_region_and_date():
    table = CliRunner().invoke(app, ["prices", "show", "--instance", "ml.m5.large"], terminal_width=200).stdout
    assert "Serverless and provisioned concurrency, us-east-1, prices as of 2026-11-23" in table
    row = next(line for line in table.splitlines() if line.startswith("│ 2048"))
    assert [c.strip() for c in row.split("│")[1:5]] == ["2048", "4e-05", "9.6e-06", "2.32e-05"]
    data = json.loads(CliRunner().invoke(app, ["prices", "show", "--json"]).stdout)
    assert (data["region"], data["date"]) == ("us-east-1", "2026-11-23")
    assert data["serverless_usd_per_second_by_memory_mb"]["2048"] == 0.00004
    assert data["provisioned_standby_usd_per_second_by_memory_mb"]["2048"] == 0.0000096
    assert data["provisioned_inference_usd_per_second_by_memory_mb"]["2048"] == 0.0000232


def test_prices_show_says_when_a_region_has_no_serverless_prices():
    table = CliRunner().invoke(app, ["prices", "show", "--region", "eu-west-1"], terminal_width=200).stdout
    assert "no serverless or provisioned-concurrency prices in the eu-west-1 catalog" in table


# ---------------------------------------------------------------- --region on every command that prices

PRICING_COMMANDS = {
    "recommend": ["recommend", "--target-tps", "100", "--p99", "200ms"],
    "serverless": ["serverless", "--monthly-invocations", "1M", "--peak-tps", "10", "--p99", "300ms"],
    "mme": ["mme", "--models", "20"],
    "export": ["export", "costs", "--target-tps", "100", "--p99", "200ms", "--out", "costs.csv"],
    "autoscale": ["autoscale", "--traffic", "diurnal:peak=100,trough=10,period=24h"],
    "prices show": ["prices", "show"],
}


@pytest.mark.parametrize("command", PRICING_COMMANDS.values(), ids=PRICING_COMMANDS.keys())
def test_an_unknown_region_is_one_line_listing_the_known_ones(command, tmp_path):
    done = subprocess.run([sys.executable, "-m", "planner.cli", *command, "--region", "mars-north-1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("no ./planner-store")]
    assert lines == [f"planner: error: no bundled price snapshot for region 'mars-north-1'; available: "
                     f"{', '.join(available_regions())} (or pass a snapshot from `planner prices refresh`)"]
    assert not list(tmp_path.iterdir()), "nothing written"
