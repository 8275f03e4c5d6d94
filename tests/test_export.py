"""Finance export: numbers equal the recommender's, infracost's published line items, formula injection."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys
from functools import cache

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from planner.capacity import fit_configuration
from planner.catalog import load_catalog
from planner.costs import GIB_BYTES
from planner.errors import InputError
from planner.export import (
    Assumption,
    Traffic,
    cost_comparison,
    escape_cell,
    price_assumptions,
    realtime_line,
    write_comparison,
)
from planner.recommend.realtime import recommend_realtime
from tests.test_recommend import _mmc_steps

PLANNER = [sys.executable, "-m", "planner.cli"]


@cache
def _fits():
    return (fit_configuration(_mmc_steps("ml.m5.12xlarge", np.linspace(20, 200, 10))),
            fit_configuration(_mmc_steps("ml.c5.2xlarge", np.linspace(10, 100, 10))))


def _recs(target_tps=1000.0):
    catalog = load_catalog()
    return [recommend_realtime(_fits(), catalog, target_tps=target_tps, latency_target_ms=200.0, ha=ha)
            for ha in (False, True)], catalog


def test_xlsx_has_options_and_assumptions_with_the_recommenders_numbers(tmp_path):
    recs, catalog = _recs()
    traffic = Traffic(1000, 2.6e9, 10 * 1024, 1024)
    comparison = cost_comparison(recs, traffic, catalog,
                                 extra_assumptions=price_assumptions(catalog, ["ml.m5.12xlarge", "ml.c5.2xlarge"]))
    path = write_comparison(comparison, tmp_path / "costs.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["Options", "Assumptions"]
    options = book["Options"]
    assert options.freeze_panes == "A2"
    header = [c.value for c in options[1]]
    assert "total (USD/month)" in header and "data processing (USD/month)" in header
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in options.iter_rows(min_row=2)]
    expected = {(o.instance_type, o.instance_count): o.usd_per_month for rec in recs for o in rec.options}
    assert {(r["instance type"], r["instances"]) for r in rows} == set(expected)
    data_usd = (10 * 1024 + 1024) * 2.6e9 / GIB_BYTES * catalog.data_processing_usd_per_gb
    for r in rows:
        assert r["compute (USD/month)"] == pytest.approx(expected[(r["instance type"], r["instances"])], abs=0.005)
        assert r["data processing (USD/month)"] == pytest.approx(data_usd)
        assert r["total (USD/year)"] == pytest.approx(12 * r["total (USD/month)"])
        assert r["USD per 1M requests"] == pytest.approx(r["total (USD/month)"] / 2600)
    assert options.cell(2, header.index("total (USD/month)") + 1).number_format == "#,##0.00"
    items = {row[0].value: row for row in book["Assumptions"].iter_rows(min_row=2)}
    assert items["hours per month"][1].value == 730
    assert items["ml.m5.12xlarge hosting"][1].value == catalog.price("ml.m5.12xlarge")
    assert items["ml.m5.12xlarge hosting"][4].value == catalog.date
    assert items["monthly invocations"][1].value == 2.6e9


def test_ha_fleet_already_in_the_plain_answer_is_listed_once():
    recs, catalog = _recs()
    comparison = cost_comparison(recs, Traffic.at_peak_all_month(1000), catalog)
    keys = [(line.instance_type, line.instance_count) for line in comparison.lines]
    assert len(keys) == len(set(keys))
    ha_counts = {(o.instance_type, o.instance_count) for o in recs[1].options}
    plain = {(o.instance_type, o.instance_count) for o in recs[0].options}
    for line in comparison.lines:
        key = (line.instance_type, line.instance_count)
        if key in ha_counts and key in plain:
            assert line.deployment == "real-time (also HA)"
    totals = [line.usd_per_month for line in comparison.lines if line.sla_met]
    assert totals == sorted(totals)


def test_infracost_line_items(tmp_path):
    """infracost's SageMaker figures: ml.m5.large 730 h -> 83.95 USD; 20 GB processed -> 0.32 USD."""
    catalog = load_catalog()
    fit = fit_configuration(_mmc_steps("ml.m5.large", np.linspace(20, 200, 10)))
    rec = recommend_realtime([fit], catalog, target_tps=50, latency_target_ms=200.0)
    invocations = 20 * GIB_BYTES / 1000  # 1000 bytes per request: 20 GB a month
    line = realtime_line(rec.options[0], rec, Traffic(50, invocations, 1000, 0), catalog)
    assert line.instance_count == 1
    assert line.compute_usd_per_month == pytest.approx(83.95, abs=0.005)
    assert line.data_processing_usd_per_month == pytest.approx(0.32, abs=0.005)
    serverless_2048 = {a.item: a.value for a in price_assumptions(catalog, [], [2048])}
    assert serverless_2048["serverless 2048 MB on demand"] * 500_000 == pytest.approx(20.00, abs=0.005)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_user_text_never_becomes_a_formula(tmp_path, fmt):
    recs, catalog = _recs()
    evil = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
    comparison = cost_comparison(recs, Traffic.at_peak_all_month(1000), catalog,
                                 extra_assumptions=[Assumption(text, text, "", text) for text in evil])
    path = write_comparison(comparison, tmp_path / f"costs.{fmt}")
    if fmt == "xlsx":
        cells = [c for sheet in load_workbook(path) for row in sheet.iter_rows() for c in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"]
        written = {c.value.replace("\n", "\r") if isinstance(c.value, str) else c.value for c in cells}
    elif fmt == "csv":
        with open(path, newline="", encoding="utf-8") as handle:
            written = {cell for row in csv.reader(handle) for cell in row}
    else:
        written = {a["item"] for a in json.loads(pq.read_schema(path).metadata[b"planner.assumptions"])}
        assert written >= set(evil), "parquet is typed data, not a spreadsheet: stored as given"
        return
    for text in evil:
        assert "'" + text in written and text not in written


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_user_text_in_option_cells_is_escaped_too(tmp_path, fmt):
    recs, catalog = _recs()
    line = realtime_line(recs[0].options[0], recs[0], Traffic.at_peak_all_month(1000), catalog)
    evil = dataclasses.replace(line, option='=HYPERLINK("http://x","y")', notes="@SUM(A1)")
    comparison = cost_comparison(recs, Traffic.at_peak_all_month(1000), catalog, extra_lines=[evil])
    path = write_comparison(comparison, tmp_path / f"costs.{fmt}")
    if fmt == "xlsx":
        cells = [c for row in load_workbook(path)["Options"].iter_rows() for c in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"]
        written = {c.value for c in cells}
    else:
        with open(path, newline="", encoding="utf-8") as handle:
            written = {cell for row in csv.reader(handle) for cell in row}
    assert {"'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(A1)"} <= written and "@SUM(A1)" not in written


def test_every_price_names_its_own_source_and_date(tmp_path):
    price_file = tmp_path / "prices.csv"
    price_file.write_text("instance_type,usd_per_hour\nml.c5.2xlarge,0.2\n")
    catalog = load_catalog(price_file=price_file, discount=0.2)
    rows = {a.item: a for a in price_assumptions(catalog, ["ml.c5.2xlarge", "ml.m5.xlarge"], [2048])}
    given_price, snapshot_price = rows["ml.c5.2xlarge hosting"], rows["ml.m5.xlarge hosting"]
    assert given_price.value == pytest.approx(0.16)  # the price file's 0.2, then 20 % off
    assert given_price.source.startswith(f"price file {price_file}") and given_price.date == ""
    assert snapshot_price.source.startswith("planner bundled snapshot") and snapshot_price.date == catalog.date
    assert all("discount 0.2" in a.source for a in rows.values())
    recs, _ = _recs()
    changes = [a for a in cost_comparison(recs, Traffic.at_peak_all_month(1000), catalog).assumptions
               if a.item in ("discount", "price change")]
    assert [a.item for a in changes] == ["price change", "discount"]
    assert "0.408 -> 0.2" in changes[0].value and changes[1].value.startswith("discount 0.2")


@given(st.text(max_size=20))
def test_escape_cell_only_touches_formula_starts(text):
    escaped = escape_cell(text)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert escaped == "'" + text
    else:
        assert escaped == text
    assert escape_cell(-5.0) == -5.0, "numbers stay numbers"


def test_parquet_and_csv_carry_the_same_lines(tmp_path):
    recs, catalog = _recs()
    comparison = cost_comparison(recs, Traffic(1000, 1e9), catalog)
    table = pq.read_table(write_comparison(comparison, tmp_path / "c.parquet")).to_pylist()
    with open(write_comparison(comparison, tmp_path / "c.csv"), newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [t["usd_per_month"] for t in table] == pytest.approx([line.usd_per_month for line in comparison.lines])
    assert [float(r["usd_per_month"]) for r in rows[:len(table)]] == pytest.approx([t["usd_per_month"] for t in table])


def test_unknown_format_is_one_clear_error(tmp_path):
    recs, catalog = _recs()
    with pytest.raises(InputError, match="expected one of xlsx, csv, parquet, found ods"):
        write_comparison(cost_comparison(recs, Traffic(1000, 1e9), catalog), tmp_path / "costs.ods")
    assert list(tmp_path.iterdir()) == []


def test_cli_export_equals_recommend_json(tmp_path):
    env_store = ["--store", "data/sample-store"]
    rec = json.loads(subprocess.run([*PLANNER, "recommend", "--target-tps", "1000", "--p99", "200ms", "--json",
                                     "--top", "1000", *env_store], capture_output=True, text=True, check=True).stdout)
    out = tmp_path / "costs.xlsx"
    result = subprocess.run([*PLANNER, "export", "costs", "--target-tps", "1000", "--p99", "200ms", "--out", str(out),
                             "--scenario", "=cmd|' /C calc'!A0", "--plot", str(tmp_path / "costs.png"), "--json",
                             *env_store],
                            capture_output=True, text=True, check=True)
    exported = json.loads(result.stdout)
    by_fleet = {(o["instance_type"], o["instance_count"]): o["usd_per_month"] for o in rec["options"]}
    plain = [o for o in exported["options"] if o["deployment"] in ("real-time", "real-time (also HA)")]
    assert plain and all(o["compute_usd_per_month"] == pytest.approx(by_fleet[(o["instance_type"],
                                                                               o["instance_count"])]) for o in plain)
    assert (tmp_path / "costs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    book = load_workbook(out)
    scenario = next(r for r in book["Assumptions"].iter_rows(min_row=2) if r[0].value == "scenario")
    assert scenario[1].value == "'=cmd|' /C calc'!A0" and scenario[1].data_type == "s"


def test_cli_serverless_lines_equal_planner_serverless(tmp_path):
    common = ["--p99", "300ms", "--monthly-invocations", "3M", "--store", "data/sample-store", "--json"]
    serverless = json.loads(subprocess.run([*PLANNER, "serverless", "--peak-tps", "40", *common],
                                           capture_output=True, text=True, check=True).stdout)
    exported = json.loads(subprocess.run([*PLANNER, "export", "costs", "--target-tps", "40", "--out",
                                          str(tmp_path / "c.csv"), *common], capture_output=True, text=True,
                                         check=True).stdout)
    lines = {o["deployment"]: o for o in exported["options"] if o["deployment"].startswith("serverless")}
    assert lines["serverless"]["usd_per_month"] == pytest.approx(serverless["usd_per_month"]["on_demand"])
    provisioned = lines["serverless, provisioned concurrency"]
    assert provisioned["usd_per_month"] == pytest.approx(serverless["usd_per_month"]["with_provisioned"])
    assert provisioned["provisioned_concurrency"] == serverless["provisioned_concurrency"]
    assert provisioned["memory_mb"] == serverless["recommended_memory_mb"]
    chosen = next(o for o in serverless["memory_options"] if o["memory_mb"] == serverless["recommended_memory_mb"])
    bracket = f"{chosen['latency_p99_ci_lower_ms']:.0f}–{chosen['latency_p99_ci_upper_ms']:.0f} ms as p99 for an assumed"
    assert bracket in lines["serverless"]["notes"]  # the toolkit's published means: p99 estimated, bracketed
    parts = ("compute_usd_per_month", "provisioned_concurrency_usd_per_month", "data_processing_usd_per_month")
    for line in exported["options"]:
        assert sum(line[k] for k in parts) == pytest.approx(line["usd_per_month"])


def test_multi_model_lines_carry_the_mme_sizing():
    from pathlib import Path

    from planner.export import mme_lines
    from planner.ingest.traffic import parse_popularity
    from planner.scenarios.multi_model import MultiModelScenario, size_multi_model
    from planner.scenarios.source import runs_at

    catalog = load_catalog()
    runs = runs_at(str(Path(__file__).resolve().parents[1] / "data" / "sample-store"))
    rec = size_multi_model(runs, catalog, MultiModelScenario(500, parse_popularity("zipf:1.1", 200),
                                                             tps_per_instance=80, latency_target_ms=800))
    traffic = Traffic(500, 1e9, 2048, 512)
    lines = mme_lines(rec, traffic, catalog)
    assert [(line.instance_type, line.instance_count) for line in lines] == [(v.instance_type, v.instances)
                                                                              for v in rec.variants]
    for line, v in zip(lines, rec.variants, strict=True):
        assert line.compute_usd_per_month == pytest.approx(v.instances * catalog.price(v.instance_type) * 730)
        assert line.usd_per_month == pytest.approx(line.compute_usd_per_month + line.data_processing_usd_per_month)
        assert line.sla_met == (v.latency_p99_ms is not None and v.latency_p99_ms <= 800)
    assert not any(line.sla_met for line in lines if line.predicted_latency_ms is None), "unknown is not met"


def test_an_infeasible_multi_model_sizing_is_an_assumption_row_not_a_failure():
    from planner.errors import InfeasibleError
    from planner.scenarios.costs import compare_options

    recs, catalog = _recs()

    def multi_model():
        raise InfeasibleError("no multi-model endpoint variant can be sized: p99 at light load is 668 ms")

    comparison = compare_options(recs, Traffic(1000, 1e9), catalog, latency_target_ms=200.0, multi_model=multi_model,
                                 scenario="q3 plan")
    rows = {a.item: a for a in comparison.assumptions}
    assert rows["multi-model"].value == "not an option" and "668 ms" in rows["multi-model"].source
    assert rows["scenario"].value == "q3 plan"
    assert comparison.lines and all(line.deployment.startswith("real-time") for line in comparison.lines)
