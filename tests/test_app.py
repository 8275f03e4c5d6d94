"""The Streamlit explorer through streamlit.testing.v1.AppTest (every page), its charts, and `planner app`.

The planner page's numbers must equal `planner recommend --json` for the same inputs; widget changes
must change them; the scenario must survive a round trip through the URL; uploads must behave as
`planner ingest` and never touch the bundled sample collection.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import altair as alt
import numpy as np
import openpyxl
import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from app_pages import shared
from planner import charts, export
from planner.catalog import load_catalog
from planner.cli import app as cli_app
from planner.cli.explore import streamlit_command
from planner.costs import serverless_usd_per_month
from planner.ingest.traffic import parse_popularity
from planner.queueing import erlang_b
from planner.recommend.mme import memory_series, recommend_mme
from planner.recommend.realtime import predicted_latency_interval_ms, recommend_realtime
from planner.recommend.serverless import (
    RealtimeBaseline,
    comparable_realtime,
    memory_latencies,
    recommend_serverless,
)
from planner.steps import for_collection
from planner.store import RunStore
from tests.apptest import APP, SAMPLE, as_json, metric, open_page, open_planner, widget
from tests.samples import profile_run

C5 = profile_run("c5.2xlarge-small-model")  # the sample's emulated ml.c5.2xlarge Locust run
WINE = ("results_stats.csv", "results_stats_history.csv", "results_failures.csv", "results_exceptions.csv")


@pytest.fixture
def sample_env(monkeypatch):
    monkeypatch.setenv("PLANNER_STORE", str(SAMPLE))


@pytest.fixture(scope="module")
def sizing():
    """The app's own cached sizing fits of the sample (shared with the AppTest runs in this process)."""
    root = str(SAMPLE)
    return shared.sizing_fits(root, shared.store_version(root))


def _recommended(at: AppTest) -> tuple[int, str]:
    count, _, instance = at.metric[0].help.partition(" (")[0].partition(" × ")  # the full value is the tooltip
    return int(count), instance


# ------------------------------------------------------------------ planner page


def test_planner_numbers_equal_planner_recommend_json(sample_env):
    at = open_planner()
    widget(at, "plan_tps").set_value(1500.0)
    widget(at, "plan_sla_ms").set_value(150.0)
    widget(at, "plan_util").set_value(0.6)
    widget(at, "plan_ha").check()
    widget(at, "plan_discount_pct").set_value(20)
    widget(at, "plan_conf").set_value(0.5)
    at.run()
    assert not at.exception
    cli = CliRunner().invoke(cli_app, ["recommend", "--target-tps", "1500", "--p99", "150ms", "--max-utilization",
                                       "0.6", "--ha", "--discount", "0.2", "--confidence", "0.5", "--store", str(SAMPLE),
                                       "--json"])
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.stdout)
    assert as_json(at) == expected
    best = expected["options"][0]
    assert at.metric[0].value == f"{best['instance_count']} × {charts.short_instance_type(best['instance_type'])}"
    assert at.metric[0].help.startswith(f"{best['instance_count']} × {best['instance_type']} (")
    assert at.metric[2].value == charts.short_usd(best["usd_per_month"])
    assert at.metric[2].help.startswith(f"${best['usd_per_month']:,.2f}/month")
    table = at.dataframe[0].value
    assert table["instance_count"].tolist() == [o["instance_count"] for o in expected["options"]]
    assert len(at.get("vega_lite_chart")) == 2  # the chosen option's latency curve, cost vs count


def test_widget_changes_change_the_numbers(sample_env):
    at = open_planner()
    base = as_json(at)
    count, instance = _recommended(at)
    widget(at, "plan_tps").set_value(4000.0)
    at.run()
    assert _recommended(at)[0] > count
    widget(at, "plan_tps").set_value(1000.0)
    widget(at, "plan_util").set_value(0.4)
    at.run()
    lower_cap = as_json(at)["options"][0]
    assert lower_cap["instance_count"] > base["options"][0]["instance_count"]
    assert lower_cap["utilization"] <= 0.4
    widget(at, "plan_util").set_value(0.7)
    widget(at, "plan_discount_pct").set_value(25)
    at.run()
    discounted = as_json(at)["options"][0]
    assert discounted["usd_per_month"] == pytest.approx(0.75 * base["options"][0]["usd_per_month"])
    widget(at, "plan_discount_pct").set_value(0)
    widget(at, "plan_prices").input(f"{instance}=100")
    at.run()
    assert all(o["instance_type"] != instance for o in as_json(at)["options"][:1])
    widget(at, "plan_prices").input("not a price")
    at.run()
    assert "expected instance_type=USD/hour" in at.error[0].value


def test_scenario_round_trips_through_the_url(sample_env):
    at = open_planner(tps="2.5k", sla_ms="120", util="0.5", conf="0.6", ha="true", routing="random", top="3",
              option="nonsense")
    assert widget(at, "plan_tps").value == 2500.0
    assert widget(at, "plan_ha").value is True
    rec = as_json(at)
    assert (rec["target_tps"], rec["latency_target_ms"], rec["max_utilization"], rec["confidence"], rec["ha"],
            rec["routing"]) == (2500.0, 120.0, 0.5, 0.6, True, "random")
    assert len(rec["options"]) <= 3
    assert at.query_params["tps"] == "2500" and at.query_params["util"] == "0.5"
    assert at.query_params["option"] == rec["options"][0]["label"]  # an unknown option falls back to the best
    shared_link = open_planner(**at.query_params)
    assert as_json(shared_link) == rec
    bad = open_planner(tps="lots", pct="p42", conf="0.3")
    assert len(bad.warning) == 3 and "tps='lots'" in "".join(w.value for w in bad.warning)
    assert "conf='0.3': expected a fraction between 0.5 and 0.95" in "".join(w.value for w in bad.warning)
    assert as_json(bad)["target_tps"] == 1000.0


def test_utilisation_slider_changes_the_answer(sample_env):
    """Each slider change reruns the page with the new cap (re-render times: bench/app_render.py)."""
    at = open_planner()
    counts = {}
    for cap in (0.5, 0.85):
        widget(at, "plan_util").set_value(cap)
        at.run()
        assert not at.exception and as_json(at)["max_utilization"] == cap
        counts[cap] = as_json(at)["options"][0]["instance_count"]
    assert counts[0.5] > counts[0.85]  # a lower cap needs more instances for the same 1000 TPS


# ------------------------------------------------------------------ charts behind the planner page


def test_cost_chart_marks_the_recommended_count_as_the_first_feasible(sizing):
    rec = recommend_realtime(sizing, load_catalog(), target_tps=1000, latency_target_ms=200, top=5)
    frame = charts.cost_frame(sizing, rec)
    for option in rec.options:
        part = frame[frame["label"] == option.label].set_index("instance_count")
        feasible = part.index[part["status"] == charts.MEETS]
        assert feasible.min() == option.instance_count
        assert part.loc[option.instance_count, "usd_per_month"] == pytest.approx(option.usd_per_month)
        below = part.loc[: option.instance_count - 1]
        has_curve = next(f for f in sizing if f.config.label == option.label).latency is not None
        # NaN: saturated (infinite latency) on a fitted curve; unknown for an Inference Recommender point
        over_sla = below["predicted_latency_ms"].fillna(np.inf if has_curve else 0) > rec.latency_target_ms
        assert ((below["status"] == charts.OVER_LATENCY) == over_sla).all()
        assert (below.loc[~over_sla, "utilization"] > rec.max_utilization).all()
    spec = charts.cost_chart(sizing, rec)
    alt.FacetChart.from_dict(spec)  # a valid Vega-Lite spec
    rows = spec["datasets"]["cost"]
    assert {r["band_start"] for r in rows if r["recommended"]} == {o.instance_count - 0.5 for o in rec.options}


def test_option_latency_curve_passes_through_the_recommended_point(sizing):
    rec = recommend_realtime(sizing, load_catalog(), target_tps=1000, latency_target_ms=200, top=5)
    option = rec.options[0]
    fit = next(f for f in sizing if f.config.label == option.label)
    frame = charts.option_latency_frame(fit, option, rec)
    at_target = np.interp(rec.target_tps, frame["total_tps"], frame["latency_ms"])
    assert at_target == pytest.approx(option.predicted_latency_ms, rel=0.02)
    finite = frame.dropna()
    assert (finite["lower_ms"] <= finite["latency_ms"] + 1e-9).all()
    assert (finite["latency_ms"] <= finite["upper_ms"] + 1e-9).all()
    spec = charts.option_latency_chart(fit, option, rec)
    alt.LayerChart.from_dict(spec)
    references = {r["kind"]: r["value"] for r in spec["datasets"]["references"]}
    assert references["SLA"] == 200 and references["target"] == 1000
    assert references["utilisation cap"] == pytest.approx(
        rec.max_utilization * option.saturation_tps_per_instance * option.instance_count)
    assert "(ms)" in json.dumps(spec["layer"][0]["encoding"]["y"]["title"])


# ------------------------------------------------------------------ runs page


def test_runs_page_filters_and_shows_one_runs_fits(sample_env):
    at = open_page("runs", run=C5)
    assert len(at.dataframe[0].value) == len(RunStore(SAMPLE).run_ids())
    steps = at.dataframe[1].value
    assert len(steps) > 3 and steps["throughput_rps"].max() > 300
    assert len(at.get("vega_lite_chart")) == 5  # the timeline (users, requests/s, latency), USL and latency
    assert "held-out error" in at.markdown[0].value
    origin = next(m for m in at.multiselect if m.label == "Origin")
    origin.set_value(["emulated"]).run()
    assert set(at.dataframe[0].value["origin"]) == {"emulated"}
    run = next(s for s in at.selectbox if s.label == "Run")
    other = next(r for r in run.options if not r.startswith(C5[:8]))
    run.set_value(other.split(" · ")[0]).run()
    assert not at.exception
    assert at.query_params["run"] == other.split(" · ")[0]
    assert not at.dataframe[1].value.equals(steps)


def test_usl_band_reproduces_the_fit_and_held_out_steps_are_the_top_levels():
    fit = shared.run_fits(str(SAMPLE), shared.store_version(str(SAMPLE)), C5)[0]
    curve = charts.usl_frame(fit)
    u = fit.usl
    n = curve["concurrency"].to_numpy()
    expected = u.lambda_rps * n / (1 + u.sigma * (n - 1) + u.kappa * n * (n - 1))
    assert np.allclose(curve["throughput_rps"], expected)
    assert (curve["lower_rps"] <= curve["throughput_rps"] + 1e-9).all()
    assert (curve["throughput_rps"] <= curve["upper_rps"] + 1e-9).all()
    measured = charts.measured_frame([fit], 99)
    held = measured[measured["role"] == charts.HELD_OUT]
    fitted = measured[measured["role"] == charts.FITTED]
    assert len(held) >= 1 and held["throughput_rps"].min() > fitted["throughput_rps"].max()
    assert (measured["role"] == charts.PAST_KNEE).sum() == int(fit.steps["saturated"].sum())


# ------------------------------------------------------------------ upload page


def _wine(datasets: Path) -> list[tuple[str, bytes, str]]:
    prefix = "louskac_deep-vision__"  # a real set with load (nogibjj's, at User Count 0 throughout, is refused)
    return [(prefix + name, (datasets / "locust" / (prefix + name)).read_bytes(), "text/csv") for name in WINE]


def test_upload_adds_a_run_that_the_runs_page_shows(datasets, tmp_path, monkeypatch):
    store = tmp_path / "store"
    monkeypatch.setenv("PLANNER_STORE", str(store))
    at = open_page("upload")
    at.file_uploader[0].set_value(_wine(datasets)).run()
    at.text_input[0].input("ml.m5.large")
    next(t for t in at.text_input if t.label == "Labels").input("team=ml, scenario=nightly")
    at.button[0].click().run()
    assert not at.error, at.error[0].value
    assert "1 run(s) added" in at.success[0].value
    (record,) = RunStore(store).records()
    (outcome,) = at.dataframe[0].value.to_dict("records")
    assert sorted(outcome["tables"].split(", ")) == sorted(f"{name} {meta['rows']:,} rows"
                                                           for name, meta in record.tables.items())
    assert at.dataframe[0].proto.placeholder == shared.EMPTY
    assert record.run["instance_type"] == "ml.m5.large" and record.run["labels"] == {"team": "ml",
                                                                                     "scenario": "nightly"}
    at.button[0].click().run()  # the same bytes again: present, not duplicated
    assert "0 run(s) added" in at.success[0].value and len(RunStore(store).run_ids()) == 1
    runs = open_page("runs")
    label = next(m for m in runs.multiselect if m.label == "Label")
    assert set(label.options) == {"team=ml", "scenario=nightly"}
    label.set_value(["team=ml"]).run()
    assert runs.dataframe[0].value["run_id"].tolist() == [record.run_id]


def test_upload_errors_are_planner_ingests(datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_STORE", str(tmp_path / "store"))
    bad = tmp_path / "cli" / "notes.csv"
    bad.parent.mkdir()
    bad.write_bytes(b"hello\nworld\n")
    cli = CliRunner().invoke(cli_app, ["ingest", str(bad), "--store", str(tmp_path / "cli-store")])
    assert cli.exit_code == 1
    cli_message = str(cli.exception).replace(f"{bad.parent}/", "")
    at = open_page("upload")
    at.file_uploader[0].set_value(("notes.csv", bad.read_bytes(), "text/csv")).run()
    at.button[0].click().run()
    assert at.error[0].value == cli_message
    assert cli_message.startswith("notes.csv: content: expected")
    assert not (tmp_path / "store").exists() or not RunStore(tmp_path / "store").run_ids()
    limit = st_config.get_option("server.maxUploadSize")
    st_config.set_option("server.maxUploadSize", 1)
    try:
        big = open_page("upload")
        big.file_uploader[0].set_value(("big_stats.csv", b"x" * (2 * 2**20), "text/csv")).run()
        big.button[0].click().run()
        assert big.error[0].value == "big_stats.csv: size: expected at most 1 MB, found 2.0 MB"
    finally:
        st_config.set_option("server.maxUploadSize", limit)


def test_an_upload_named_with_300_characters_is_stored_under_a_short_name(datasets, tmp_path, monkeypatch):
    """Issue #13 item 16: such a name raised an uncaught OSError (File name too long) showing the server's temp
    path. The stored names are short, keep Locust's endings and still group the set into one run."""
    store = tmp_path / "store"
    monkeypatch.setenv("PLANNER_STORE", str(store))
    prefix = "ü" + "r" * 299 + "?"  # multi-byte, and a character no file name should carry
    at = open_page("upload")
    at.file_uploader[0].set_value([(prefix + name.removeprefix("louskac_deep-vision__results"), data, kind)
                                   for name, data, kind in _wine(datasets)]).run()
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception or at.error]
    assert "1 run(s) added" in at.success[0].value
    (record,) = RunStore(store).records()
    (outcome,) = at.dataframe[0].value.to_dict("records")
    assert sorted(outcome["tables"].split(", ")) == sorted(f"{name} {meta['rows']:,} rows"
                                                           for name, meta in record.tables.items())
    assert at.dataframe[0].proto.placeholder == shared.EMPTY
    names = sorted(i["name"] for i in record.run["inputs"])
    assert all(len(n.encode()) <= 120 and "?" not in n for n in names)
    endings = ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv")
    stems = {n.removesuffix(next(e for e in endings if n.endswith(e))) for n in names}
    assert len(stems) == 1 and next(iter(stems)).startswith("ür")


def test_an_upload_the_collection_cannot_take_is_one_line_without_server_paths(datasets, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a directory")
    monkeypatch.setenv("PLANNER_STORE", str(tmp_path / "file" / "store"))
    at = open_page("upload")
    at.file_uploader[0].set_value(_wine(datasets)).run()
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error[0].value == "cannot add the upload to the collection (Not a directory)"


def test_the_bundled_sample_is_never_written(datasets, tmp_path, monkeypatch, sample_env):
    before = shared.store_version(str(SAMPLE))
    at = open_page("upload")
    assert "never modified" in at.error[0].value and not at.file_uploader
    monkeypatch.delenv("PLANNER_STORE")
    monkeypatch.chdir(tmp_path)  # no ./planner-store: the app shows the sample, uploads create one
    at = open_page("upload")
    assert "uploads go to" in at.info[0].value
    at.file_uploader[0].set_value(_wine(datasets)).run()
    at.button[0].click().run()
    assert "1 run(s) added" in at.success[0].value
    assert len(RunStore(tmp_path / "planner-store").run_ids()) == 1
    assert shared.store_version(str(SAMPLE)) == before
    assert shared.default_store().root == str((tmp_path / "planner-store").resolve())


# ------------------------------------------------------------------ `planner app`


def test_planner_app_runs_streamlit_on_the_store():
    cmd, env = streamlit_command("s3://bucket/runs", 8765, "127.0.0.1", headless=True)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == APP
    options = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert options == {"--browser.gatherUsageStats": "false", "--server.showEmailPrompt": "false",
                       "--client.toolbarMode": "minimal", "--server.maxUploadSize": "200",
                       "--server.headless": "true", "--server.port": "8765", "--server.address": "127.0.0.1"}
    assert env["PLANNER_STORE"] == "s3://bucket/runs"
    result = CliRunner().invoke(cli_app, ["app", "--help"])
    assert result.exit_code == 0 and "--store" in result.output


# ------------------------------------------------------------------ serverless, multi-model, compare pages


def test_serverless_page_equals_the_library_and_its_sliders_follow_erlang_b(sample_env, sizing):
    at = open_page("serverless")
    widget(at, "sls_peak_tps").set_value(60.0)
    widget(at, "sls_p99_ms").set_value(250.0)
    widget(at, "sls_strategy").set_value("balanced")
    widget(at, "sls_request_bytes").set_value(40_000.0)
    at.run()
    assert not at.exception
    catalog = load_catalog()
    steps = for_collection(RunStore(SAMPLE))
    latencies, skipped = memory_latencies(steps)
    baseline, extra = comparable_realtime(sizing, steps, latencies, catalog, 60.0, 250.0, 0.7)
    rec = recommend_serverless(latencies, catalog, monthly_invocations=3e6, peak_tps=60, latency_target_ms=250,
                               strategy="balanced", request_bytes=40_000, realtime=baseline)
    expected = {**rec.to_dict(), "notes": [*skipped, *extra, *rec.notes]}
    assert as_json(at) == json.loads(json.dumps(expected))
    assert metric(at, "Memory").value == f"{rec.recommended_memory_mb} MB"
    assert metric(at, "On demand").value == charts.short_usd(rec.on_demand_cost.usd_per_month)
    # Power Tuning view and Pareto front, throttle/spill-over and cost vs slots, break-even: one chart per view
    assert len(at.get("vega_lite_chart")) == 5
    assert (at.query_params["max_conc"], at.query_params["prov"]) == (str(rec.max_concurrency),
                                                                      str(rec.provisioned_concurrency))
    at.slider(key="sls_max_conc").set_value(rec.max_concurrency - 3)
    at.slider(key="sls_prov").set_value(rec.provisioned_concurrency - 4)
    at.run()
    fewer, spill_slots = rec.max_concurrency - 3, rec.provisioned_concurrency - 4
    throttle = erlang_b(rec.offered_load_erlang, fewer)
    assert throttle > rec.throttle_target
    assert metric(at, f"Throttled at MaxConcurrency {fewer}").value == f"{throttle:.3g}"
    spill = erlang_b(rec.offered_load_erlang, spill_slots)
    assert metric(at, f"Spill-over with {spill_slots} provisioned").value == f"{spill:.3g}"
    best = rec.recommended
    cost = serverless_usd_per_month(best.memory_mb, best.latency_mean_ms, 40_000, 0, catalog, 3e6,
                                    provisioned_concurrency=spill_slots, provisioned_served_fraction=1 - spill)
    assert metric(at, f"Cost with {spill_slots} provisioned").value == charts.short_usd(cost.usd_per_month)
    assert at.query_params["max_conc"] == str(fewer)
    widget(at, "sls_peak_tps").set_value(120.0)  # a new recommendation resets the sliders to it
    at.run()
    assert at.slider(key="sls_max_conc").value == as_json(at)["max_concurrency"] > rec.max_concurrency


def test_serverless_link_restores_the_scenario_and_the_sliders(sample_env):
    at = open_page("serverless", invocations="10M", peak_tps="80", p99_ms="0.5s", strategy="speed", max_conc="40",
               prov="25", throttle="lots")
    rec = as_json(at)
    assert (rec["monthly_invocations"], rec["peak_tps"], rec["latency_target_ms"], rec["strategy"]) == \
        (1e7, 80.0, 500.0, "speed")
    assert at.slider(key="sls_max_conc").value == 40 and at.slider(key="sls_prov").value == 25
    assert "throttle='lots'" in at.warning[0].value and rec["throttle_target"] == 0.001
    assert at.query_params["invocations"] == "10000000" and at.query_params["prov"] == "25"
    again = open_page("serverless", **at.query_params)
    assert as_json(again) == rec and again.slider(key="sls_max_conc").value == 40


def test_multi_model_page_equals_planner_mme_json(sample_env):
    at = open_page("multi_model")
    widget(at, "mme_tps").set_value(500.0)
    widget(at, "mme_models").set_value(100)
    widget(at, "mme_zipf_s").set_value(0.8)
    widget(at, "mme_p99_ms").set_value(900.0)
    at.run()
    assert not at.exception
    cli = CliRunner().invoke(cli_app, ["mme", "--target-tps", "500", "--models", "100", "--popularity", "zipf:0.8",
                                       "--p99", "900ms", "--store", str(SAMPLE), "--json"])
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.stdout)
    assert as_json(at) == expected
    assert metric(at, "Recommended").value == f"{expected['instances']} × {charts.short_instance_type(expected['instance_type'])}"
    assert len(at.get("vega_lite_chart")) == 3  # density; hit ratio; cost vs instances
    widget(at, "mme_models").set_value(2000)  # more models than fit: misses, more instances for memory
    at.run()
    many = as_json(at)
    assert many["instances_for_memory"] > expected["instances_for_memory"]
    widget(at, "mme_popularity").set_value("uniform")
    at.run()
    uniform = as_json(at)
    assert uniform["popularity"] == "uniform" and uniform["instances_for_memory"] > many["instances_for_memory"]
    widget(at, "mme_models").set_value(100)
    widget(at, "mme_threshold").set_value(0.5)
    at.run()
    density = {v["label"]: v["max_models_per_instance"] for v in expected["variants"]}
    half = {v["label"]: v["max_models_per_instance"] for v in as_json(at)["variants"]}
    assert half.keys() == density.keys() and all(half[k] < density[k] for k in density)
    assert at.query_params["threshold"] == "0.5" and at.query_params["popularity"] == "uniform"


def test_compare_page_lines_equal_planner_export_costs(sample_env, tmp_path):
    at = open_page("compare", tps="1000", p99_ms="800", invocations="30M", models="100", popularity="zipf",
               scenario="=HYPERLINK(1)")
    cli = CliRunner().invoke(cli_app, ["export", "costs", "--target-tps", "1000", "--p99", "800ms",
                                       "--monthly-invocations", "30M", "--models", "100", "--popularity", "zipf:1.1",
                                       "--scenario", "=HYPERLINK(1)", "--out", str(tmp_path / "costs.csv"),
                                       "--store", str(SAMPLE), "--json"])
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.stdout)
    expected.pop("path")
    assert as_json(at) == expected
    deployments = {line["deployment"] for line in expected["options"]}
    assert {"serverless", "serverless, provisioned concurrency", "multi-model (100 models)"} <= deployments
    assert any(d.startswith("real-time") and "HA" in d for d in deployments)
    assert at.dataframe[0].value["option"].tolist() == [line["option"] for line in expected["options"]]
    assert len(at.get("download_button")) == 2 and len(at.get("vega_lite_chart")) == 1
    result = shared.comparison(str(SAMPLE), shared.store_version(str(SAMPLE)), target_tps=1000.0,
                               latency_target_ms=800.0, monthly_invocations=3e7, request_bytes=0.0,
                               response_bytes=0.0, models=100, popularity="zipf:1.1", scenario="=HYPERLINK(1)",
                               max_utilization=0.7, region="us-east-1", discount=0.0, overrides=())
    assert export.comparison_bytes(result, "csv") == (tmp_path / "costs.csv").read_bytes()
    book = openpyxl.load_workbook(io.BytesIO(export.comparison_bytes(result, "xlsx")))
    assert book.sheetnames == ["Options", "Assumptions"]
    assert [row[0].value for row in book["Options"].iter_rows(min_row=2)] == [
        line["option"] for line in expected["options"]]
    assert "'=HYPERLINK(1)" in [row[1].value for row in book["Assumptions"].iter_rows()]
    widget(at, "cmp_models").set_value(0)
    widget(at, "cmp_tps").set_value(3000.0)
    at.run()
    fewer = as_json(at)["options"]
    assert not any(line["deployment"].startswith("multi-model") for line in fewer)
    assert min(line["usd_per_month"] for line in fewer if line["deployment"].startswith("real-time")) > min(
        line["usd_per_month"] for line in expected["options"] if line["deployment"].startswith("real-time"))


# ------------------------------------------------------------------ charts behind the new pages


@pytest.fixture(scope="module")
def serverless_rec():
    latencies, _ = memory_latencies(for_collection(RunStore(SAMPLE)))
    return recommend_serverless(latencies, load_catalog(), monthly_invocations=3e6, peak_tps=40, latency_target_ms=300,
                                realtime=RealtimeBaseline("ml.m5.xlarge", 1, 168.0))


def test_serverless_charts_carry_the_recommendation(serverless_rec):
    rec = serverless_rec
    frame = charts.serverless_concurrency_frame(rec, load_catalog(), 60)
    assert (np.diff(frame["blocking_probability"]) < 0).all()
    chosen = frame.set_index("slots")
    assert chosen.loc[rec.max_concurrency, "blocking_probability"] == pytest.approx(rec.throttle_probability)
    assert chosen.loc[rec.max_concurrency - 1, "blocking_probability"] > rec.throttle_target
    assert chosen.loc[rec.provisioned_concurrency, "blocking_probability"] == pytest.approx(rec.spillover_probability)
    assert chosen.loc[rec.provisioned_concurrency, "provisioned_usd_per_month"] == pytest.approx(
        rec.provisioned_cost.usd_per_month)
    alt.HConcatChart.from_dict(charts.serverless_concurrency_chart(rec, frame, 20, 5))
    memory = charts.serverless_memory_frame(rec)
    p99 = memory[memory["statistic"] == "p99"].set_index("memory_mb")
    for o in rec.memory_options:
        assert p99.loc[o.memory_mb, "latency_ms"] == o.latency_p99_ms and p99.loc[o.memory_mb, "pareto"] == o.pareto
    spec = charts.serverless_memory_chart(rec)
    alt.HConcatChart.from_dict(spec)
    front = [r["memory_mb"] for r in spec["datasets"]["cost"] if r["pareto"]]
    assert rec.recommended_memory_mb in front and len(front) < len(rec.memory_options)


def test_mme_charts_reproduce_the_density_and_the_sizing():
    store = RunStore(SAMPLE)
    series = memory_series(store.runs(), store.table("gpu_memory"), store.table("metrics"))
    popularity = parse_popularity("zipf:1.1", 300)
    rec = recommend_mme(series, load_catalog(), popularity, 500, tps_per_instance=80.0)
    fitted, measured = charts.mme_memory_frames(rec, series, load_catalog())
    for v in rec.variants:
        line = fitted[fitted["variant"] == v.label].set_index("models_loaded")["gpu_memory_pct"]
        assert line[1] - line[0] == pytest.approx(v.memory.slope_pct_per_model)
        assert line[v.max_models_per_instance] <= 100 * rec.memory_threshold < line[v.max_models_per_instance + 1]
    assert set(measured["role"]) <= {"fitted", "left out"} and (measured["role"] == "fitted").sum() >= 60
    frame = charts.mme_instances_frame(rec, popularity.shares)
    for v in rec.variants:
        part = frame[frame["variant"] == v.label].set_index("instances")
        assert (np.diff(part["hit_ratio"]) >= -1e-12).all()
        assert part.loc[v.instances, "hit_ratio"] == pytest.approx(v.hit_ratio)
        assert part.loc[v.instances, "usd_per_month"] == pytest.approx(v.usd_per_month)
        assert part.index[part["meets_miss_ratio"]].min() == v.instances_for_memory
    alt.LayerChart.from_dict(charts.mme_memory_chart(rec, series, load_catalog()))
    alt.HConcatChart.from_dict(charts.mme_instances_chart(rec, popularity.shares))


def test_latency_interval_is_public_and_is_the_recommenders(sizing):
    rec = recommend_realtime(sizing, load_catalog(), target_tps=1000, latency_target_ms=200, top=5)
    for option in rec.options:
        fit = next(f for f in sizing if f.config.label == option.label)
        if fit.latency is None:
            continue
        with np.errstate(divide="ignore"):  # the second load is beyond saturation
            low, high = predicted_latency_interval_ms(fit, [rec.target_tps, 10 * rec.target_tps],
                                                      option.instance_count)
        assert (low[0], high[0]) == (option.predicted_latency_ci_lower_ms, option.predicted_latency_ci_upper_ms)
        assert low[0] <= option.predicted_latency_ms <= high[0] and np.isinf(high[1])


# ------------------------------------------------------------------ price overrides on every page

OVERRIDES = "ml.c5.2xlarge=0.2, ml.g4dn.2xlarge=0.5"


@pytest.mark.parametrize(("url_path", "cli_args", "numbers"), [
    ("serverless", ["serverless", "--monthly-invocations", "3M", "--peak-tps", "40", "--p99", "300ms"],
     lambda d: (d["realtime_option"], d["break_even_monthly_invocations"], d["usd_per_month"])),
    ("multi_model", ["mme", "--target-tps", "500", "--models", "200", "--popularity", "zipf:1.1"],
     lambda d: (d["instance_type"], d["instances"], d["usd_per_hour"], d["usd_per_month"])),
    ("compare", ["export", "costs", "--target-tps", "1000", "--p99", "200ms", "--format", "csv"],
     lambda d: [(line["option"], line["usd_per_month"]) for line in d["options"]]),
])
def test_price_overrides_on_each_page_equal_the_cli_with_a_price_file(sample_env, tmp_path, url_path, cli_args,
                                                                     numbers):
    prefix = {"serverless": "sls", "multi_model": "mme", "compare": "cmp"}[url_path]
    at = open_page(url_path)
    default = numbers(as_json(at))
    widget(at, f"{prefix}_prices").set_value(OVERRIDES)
    at.run()
    assert not at.exception and not at.error
    overridden = as_json(at)
    price_file = tmp_path / "prices.csv"
    price_file.write_text("instance_type,usd_per_hour\nml.c5.2xlarge,0.2\nml.g4dn.2xlarge,0.5\n")
    extra = ["--out", str(tmp_path / "costs.csv")] if url_path == "compare" else []
    cli = CliRunner().invoke(cli_app, [*cli_args, *extra, "--price-file", str(price_file), "--store", str(SAMPLE),
                                       "--json"])
    assert cli.exit_code == 0, cli.output
    assert numbers(overridden) == numbers(json.loads(cli.stdout)) != default
    assert at.query_params["prices"] == OVERRIDES  # the what-if link carries the prices
    widget(at, f"{prefix}_prices").set_value("ml.c5.2xlarge=cheap")
    at.run()
    assert not at.exception and len(at.error) == 1 and "'ml.c5.2xlarge=cheap'" in at.error[0].value


def test_multi_model_page_takes_a_measured_traffic_file_as_the_cli_does(sample_env, tmp_path):
    rows = [f"model-{i:03d},{int(1000 / (i + 1) ** 1.2)}" for i in range(120)]  # 120 models, skewed traffic
    traffic = tmp_path / "traffic.csv"
    traffic.write_text("model,requests\n" + "\n".join(rows) + "\n")
    at = open_page("multi_model")
    at.sidebar.file_uploader[0].set_value([("traffic.csv", traffic.read_bytes(), "text/csv")]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    cli = CliRunner().invoke(cli_app, ["mme", "--target-tps", "500", "--popularity", str(traffic), "--store",
                                       str(SAMPLE), "--json"])
    assert cli.exit_code == 0, cli.output
    expected, page = json.loads(cli.stdout), as_json(at)
    assert page["models"] == expected["models"] == 120 and page["popularity"].startswith("measured traffic")
    assert (page["hit_ratio"], page["instances"], page["usd_per_month"]) == (
        expected["hit_ratio"], expected["instances"], expected["usd_per_month"])
    assert widget(at, "mme_models").disabled
    bad = tmp_path / "bad.csv"
    bad.write_text("model,requests\na,5\nb,lots\n")
    at.sidebar.file_uploader[0].set_value([("bad.csv", bad.read_bytes(), "text/csv")]).run()
    assert not at.exception and len(at.error) == 1
    assert at.error[0].value == "bad.csv: line 3: expected a number >= 0 in 'requests', found 'lots'"


def test_concatenated_charts_are_split_into_views_that_fit_their_column(sizing):
    """Issue #14: Vega-Lite fits only single (or layered) views to a container, so an hconcat is drawn as
    one chart per view, each keeping the shared named datasets; a facet keeps its panel width."""
    rec = recommend_realtime(sizing, load_catalog(), target_tps=1000, latency_target_ms=200, top=5)
    store = RunStore(SAMPLE)
    series = memory_series(store.runs(), store.table("gpu_memory"), store.table("metrics"))
    popularity = parse_popularity("zipf:1.1", 300)
    mme = recommend_mme(series, load_catalog(), popularity, 500, tps_per_instance=80.0)
    concat = charts.mme_instances_chart(mme, popularity.shares)
    views = charts.container_views(concat)
    assert [v["title"] for v in views] == ["Hit ratio vs instances", "Cost vs instances (diamond: recommended)"]
    assert all(v["width"] == "container" and v["datasets"] == concat["datasets"] for v in views)
    assert all("hconcat" not in v for v in views)
    facet = charts.cost_chart(sizing, rec)
    assert charts.container_views(facet) == [facet]


def test_headline_short_forms_fit_a_metric_tile():
    assert [charts.short_usd(v) for v in (1191.4, 8.219, 156.16, 4117.0, 0.0042, float("nan"))] == [
        "$1.19k", "$8.22", "$156", "$4.12k", "$0.0042", "—"]
    assert charts.short_number(61_277_372) == "61.3M"
    assert [charts.short_instance_type(t) for t in ("ml.c5.2xlarge", "ml.g4dn.xlarge", "m5.large")] == [
        "c5.2xl", "g4dn.xl", "m5.l"]


def test_compare_headline_is_the_cheapest_option_meeting_the_sla():
    options = [{"option": "a", "usd_per_month": 900.0, "sla_met": False},
               {"option": "b", "usd_per_month": 1500.0, "sla_met": True},
               {"option": "c", "usd_per_month": 1191.0, "sla_met": True}]
    best, runner_up, saving = charts.saving_against_next(options)
    assert (best["option"], runner_up["option"], saving) == ("c", "b", 309.0)
    assert charts.saving_against_next(options[:1]) is None
    assert charts.saving_against_next(options[1:2]) == (options[1], None, None)


def test_an_unreachable_sla_says_how_close_the_collection_gets(sample_env):
    at = open_planner(tps="1000", sla_ms="5")
    assert not at.exception
    assert not at.metric
    (error,) = at.error
    assert error.value.startswith("No measured configuration meets p99 ≤ 5 ms at 1000 TPS.")
    assert "41 ms at light load" in error.value and "Relax the p99 target" in error.value


def test_every_chart_colours_a_deployment_type_the_same(sample_env):
    """Issue #14: serverless is the same colour on Compare & export and on the Serverless break-even chart."""
    from planner.charts.palette import DEPLOYMENT_COLORS, deployment_kind

    assert [deployment_kind(n) for n in ("real-time (also HA)", "real-time, HA", "serverless",
                                         "serverless, provisioned concurrency", "serverless + 12 provisioned",
                                         "multi-model (100 models)")] == [
        "real-time", "real-time", "serverless", "serverless, provisioned", "serverless, provisioned", "multi-model"]
    at = open_planner()
    at.switch_page("app_pages/compare.py").run()
    compare = at.get("vega_lite_chart")[0].proto.spec
    at.switch_page("app_pages/serverless.py").run()
    assert not at.exception
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    for spec in (json.loads(compare), specs[-1]):
        colors = [layer["encoding"]["color"]["scale"] for layer in spec["layer"] if "color" in layer["encoding"]]
        assert colors[0] == {"domain": list(DEPLOYMENT_COLORS), "range": list(DEPLOYMENT_COLORS.values())}


def test_serverless_memory_chart_rings_every_size_that_misses_the_sla(tmp_path):
    """Issue #14: pass/fail of the SLA visible in every latency chart; p99 of 1024-4096 MB is 203-293 ms."""
    latencies, _ = memory_latencies(for_collection(RunStore(SAMPLE)))
    rec = recommend_serverless(latencies, load_catalog(), monthly_invocations=3e6, peak_tps=40, latency_target_ms=200,
                               realtime=RealtimeBaseline("ml.m5.xlarge", 1, 168.0))
    missed = [o.memory_mb for o in rec.memory_options if not o.meets_sla]
    assert missed == [1024, 2048, 3072, 4096]
    svg = charts.save_chart(charts.serverless_memory_chart(rec), tmp_path / "memory.svg").read_text()
    rings = re.findall(r'aria-label="[^"]*memory \(MB\): (\d+)[^"]*misses the SLA[^"]*"[^>]*stroke="red"', svg)
    assert sorted(map(int, rings)) == sorted(missed * 2)  # on the latency panel and on the Pareto scatter


def test_instance_families_keep_one_colour_on_every_chart(sizing):
    from planner.charts.palette import (
        FALLBACK_COLORS,
        FAMILY_COLORS,
        family_color,
        family_scale,
        instance_family,
    )

    assert [instance_family(t) for t in ("ml.g4dn.2xlarge", "c5.xlarge", "ml.inf2.xlarge", None)] == [
        "g4dn", "c5", "inf2", "unknown"]
    assert family_color("x9zn") == family_color("x9zn") in FALLBACK_COLORS  # deterministic for unknown families
    scale = family_scale({"a g5": "ml.g5.xlarge", "b g5": "ml.g5.2xlarge", "c c5": "ml.c5.xlarge"}).to_dict()
    assert scale["range"][0] == FAMILY_COLORS["g5"] == "#d62728" and scale["range"][2] == FAMILY_COLORS["c5"]
    assert scale["range"][1] == "#e26868"  # the second g5 label: 30 % of the way to white (214+0.3·41 = 226 = e2)
    c5 = next(f for f in sizing if f.latency is not None and f.config.instance_type == "ml.c5.2xlarge")
    fit_spec = charts.fit_chart([c5], 99).to_dict()
    assert fit_spec["layer"][0]["encoding"]["color"]["scale"]["range"] == [FAMILY_COLORS["c5"]]
    usl_fit = shared.run_fits(str(SAMPLE), shared.store_version(str(SAMPLE)), C5)[0]
    assert charts.usl_chart(usl_fit).to_dict()["layer"][1]["mark"]["color"] == FAMILY_COLORS["c5"]
    rec = recommend_realtime(sizing, load_catalog(), target_tps=1000, latency_target_ms=200, top=5)
    option = rec.options[0]
    fit = next(f for f in sizing if f.config.label == option.label)
    spec = charts.option_latency_chart(fit, option, rec)
    assert spec["layer"][1]["mark"]["color"] == family_color(instance_family(option.instance_type))
    store = RunStore(SAMPLE)
    series = memory_series(store.runs(), store.table("gpu_memory"), store.table("metrics"))
    mme = recommend_mme(series, load_catalog(), parse_popularity("zipf:1.1", 300), 500, tps_per_instance=80.0)
    for spec in (charts.mme_memory_chart(mme, series, load_catalog()),
                 charts.mme_instances_chart(mme, parse_popularity("zipf:1.1", 300).shares)):
        scales = [e["color"]["scale"] for e in _encodings(spec) if e.get("color", {}).get("field") == "variant"]
        assert scales and all(s == scales[0] for s in scales)
        first = {instance_family(v.instance_type): v.label for v in reversed(mme.variants)}
        for family, label in first.items():
            assert scales[0]["range"][scales[0]["domain"].index(label)] == family_color(family)


def _encodings(spec) -> list[dict]:
    """Every ``encoding`` of a (nested) Vega-Lite spec."""
    if isinstance(spec, list):
        return [e for item in spec for e in _encodings(item)]
    if not isinstance(spec, dict):
        return []
    own = [spec["encoding"]] if isinstance(spec.get("encoding"), dict) else []
    return own + [e for k, v in spec.items() if k != "datasets" for e in _encodings(v)]


# ------------------------------------------------------------------ tables


@pytest.mark.parametrize("url_path, params", [
    ("planner", {}), ("serverless", {}), ("multi_model", {}), ("runs", {}),
    ("compare", {"tps": "1000", "p99_ms": "800", "invocations": "30M", "models": "100"})])
def test_every_table_shows_a_dash_for_a_missing_value_and_no_raw_text(sample_env, url_path, params):
    at = open_page(url_path, **params)
    assert at.dataframe, "the page shows a table"
    for frame in at.dataframe:
        assert frame.proto.placeholder == shared.EMPTY
        raw = frame.value.map(lambda v: isinstance(v, str) and (v in ("None", "nan", "NaN") or v.startswith("{")))
        assert not raw.any().any(), frame.value  # a missing value is missing (shown as the placeholder), not text
        config = json.loads(frame.proto.columns or "{}")
        unexplained = [c for c in frame.value.columns if frame.value[c].isna().any()
                       and shared.EMPTY not in str(config.get(c, {}).get("help", ""))]
        assert not unexplained, f"columns with — and no tooltip saying why: {unexplained}"
    if url_path == "runs":
        runs = at.dataframe[0].value
        assert "variant=optimized" in runs["labels"].dropna().tolist() and str(runs["started_at"].dt.tz) == "UTC"
    if url_path == "compare":
        assumptions = at.dataframe[-1].value
        assert not assumptions["value"].str.fullmatch(r"-?[\d,]+\.0").any(), "whole numbers without a trailing .0"
        assert (assumptions["date"] == shared.EMPTY).any() and "30,000,000" in assumptions["value"].tolist()


@pytest.mark.parametrize("value, shown", [(None, "—"), ("", "—"), (float("nan"), "—"), (2_000_000.0, "2,000,000"),
                                          (0.7, "0.7"), (0.123456, "0.1235"), (3, "3"), (True, "True"),
                                          ("zipf:1.1", "zipf:1.1")])
def test_a_table_cell_is_shown_with_separators_and_a_dash_for_nothing(value, shown):
    assert shared.shown_value(value) == shown
