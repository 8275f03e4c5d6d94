"""The explorer's LLM page (streamlit.testing AppTest) on a collection of the SageMaker benchmark suite's CSVs
(tests/datasets/llm): its numbers are `planner llm recommend --json`'s, widgets and links change them, and its
latency chart is the library's curve with the SLO."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from planner.cli import app as cli_app
from tests.apptest import as_json, metric, open_page
from tests.test_llm_fit import KIMI_P5E, QWEN14_G7E, QWEN32_G7E

APP = str(Path(__file__).resolve().parents[1] / "app_streamlit.py")
GPTOSS_G7E = QWEN32_G7E.parent / "gpt-oss-20b_g7e_g7e2xlarge_multiturn_chat_uswest2_20260310_175533.csv"


@pytest.fixture(scope="module")
def llm_store(tmp_path_factory) -> str:
    store = str(tmp_path_factory.mktemp("llm-app") / "store")
    done = CliRunner().invoke(cli_app, ["ingest", *(str(p) for p in (QWEN32_G7E, QWEN14_G7E, KIMI_P5E, GPTOSS_G7E)),
                                        "--store", store])
    assert done.exit_code == 0, done.output
    return store


@pytest.fixture
def llm_env(llm_store, monkeypatch) -> str:
    monkeypatch.setenv("PLANNER_STORE", llm_store)
    return llm_store


def _cli(store: str, *args: str) -> dict:
    done = CliRunner().invoke(cli_app, ["llm", "recommend", "--store", store, *args, "--json"])
    return json.loads(done.stdout)


def test_page_equals_planner_llm_recommend_json(llm_env):
    at = open_page("llm", load="2", input_tokens="520", output_tokens="600", e2e_ms="40000")
    shown = as_json(at)
    assert shown == _cli(llm_env, "--target-rps", "2", "--input-tokens", "520", "--output-tokens", "600",
                         "--e2e-p99", "40s")
    # the cheapest: gpt-oss-20b on one ml.g7e.2xlarge (4.20 USD/h) at 32 in flight
    best = shown["options"][0]
    assert (best["instance_type"], best["instance_count"], best["concurrency_per_instance"]) == ("ml.g7e.2xlarge", 1, 32)
    assert metric(at, "Recommended").value == "1 × g7e.2xl"
    assert metric(at, "Cost per month").help.startswith("$3,066.00/month, $4.20/hour")
    assert metric(at, "Per 1M output tokens").help.startswith(
        f"${4.20 / (2 * 600 * 3600) * 1e6:,.4f} per million output tokens")
    table = at.dataframe[0].value
    assert list(table.columns[:4]) == ["usd_per_hour", "usd_per_month", "usd_per_million_output_tokens",
                                       "usd_per_million_tokens"], "money first"
    assert table["usd_per_hour"].tolist() == [o["usd_per_hour"] for o in shown["options"]]
    assert table["usd_per_hour"].is_monotonic_increasing
    # Kimi on ml.p5e.48xlarge: 2.6 req/s at 32 in flight (the CSV's 2.61), so one instance, 80 USD/h
    kimi = next(o for o in shown["options"] if o["instance_type"] == "ml.p5e.48xlarge")
    assert kimi["instance_count"] == 1 and kimi["usd_per_hour"] == 80.0


def test_widgets_and_the_link_change_the_answer(llm_env):
    at = open_page("llm", load="2", input_tokens="520", output_tokens="600", e2e_ms="40000")
    at.sidebar.number_input(key="llm_e2e_ms").set_value(10_000.0).run()
    assert not at.exception
    tight = as_json(at)
    assert tight == _cli(llm_env, "--target-rps", "2", "--input-tokens", "520", "--output-tokens", "600",
                         "--e2e-p99", "10s")
    assert {o["instance_type"] for o in tight["options"]} == {"ml.g7e.2xlarge", "ml.p5e.48xlarge"}
    assert all(o["predicted_e2e_ms"] <= 10_000 for o in tight["options"])
    assert at.query_params["e2e_ms"] == "10000", "the scenario is in the address bar"
    # the same load as output tokens/s, from a link
    by_tokens = open_page("llm", load_kind="output_tps", load="1200", input_tokens="520", output_tokens="600", e2e_ms="10000")
    assert by_tokens.sidebar.radio(key="llm_load_kind").value == "output_tps"
    assert as_json(by_tokens)["options"] == tight["options"]
    assert any(n.startswith("load given as 1200 output tokens/s = 2 requests/s") for n in as_json(by_tokens)["notes"])


def test_latency_chart_is_the_fitted_curve_with_its_band_and_the_slo(llm_env):
    from planner.catalog import load_catalog
    from planner.scenarios.llm import LlmScenario, latency_curves, size_llm
    from planner.scenarios.source import open_runs

    at = open_page("llm", load="2", input_tokens="520", output_tokens="600", e2e_ms="40000")
    (chart,) = at.get("vega_lite_chart")  # one SLO metric: one chart
    spec = json.loads(chart.proto.spec)
    data = {d.name: pa.ipc.open_stream(d.data.data).read_pandas() for d in chart.proto.datasets}
    layer = {(layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]): data[layer["data"]["name"]]
             for layer in spec["layer"]}
    assert layer["rule"]["slo_ms"].tolist() == [40_000.0], "the SLO line"
    runs = open_runs(llm_env, cached=False)
    scenario = LlmScenario(input_tokens=520, output_tokens=600, target_rps=2, e2e_ms=40_000)
    rec = size_llm(runs, load_catalog("us-east-1"), scenario)
    frame = latency_curves(runs, scenario, [o.label for o in rec.options])
    kimi = frame[frame["label"].str.startswith("ml.p5e.48xlarge")].set_index("concurrency")
    assert list(kimi.index) == [float(c) for c in range(1, 33)] and kimi["measured"].all()
    assert kimi.loc[32.0, "predicted_ms"] == pytest.approx(12_366, rel=0.01)  # the CSV: 12,299 ms p99 at C=32
    assert kimi.loc[32.0, "lower_ms"] <= 12_299.0 <= kimi.loc[32.0, "upper_ms"]
    assert (frame["slo_ms"] == 40_000).all()
    drawn = layer["line"].reset_index(drop=True)
    assert drawn.pop("concurrency_range").tolist() == ["measured" if m else "extrapolated" for m in frame["measured"]]
    pd.testing.assert_frame_equal(drawn, frame.reset_index(drop=True), check_dtype=False)
    chosen = layer["point"].set_index("label")
    assert chosen.loc[kimi["label"].iloc[0], "concurrency"] == 32.0
    assert chosen["predicted_ms"].tolist() == pytest.approx([o.predicted_e2e_ms for o in rec.options])


def test_a_bad_link_is_named_and_an_empty_collection_says_so(llm_env, tmp_path, monkeypatch):
    at = open_page("llm", load="lots", e2e_ms="40000")
    assert any("load='lots'" in w.value for w in at.warning)
    assert at.sidebar.number_input(key="llm_load").value == 2.0, "the default"
    empty = tmp_path / "empty"
    done = CliRunner().invoke(cli_app, ["ingest", str(Path(__file__).parent / "datasets" / "locust"
                                                      / "louskac_deep-vision__results_stats.csv"),
                                        "--store", str(empty)])
    assert done.exit_code == 0, done.output
    monkeypatch.setenv("PLANNER_STORE", str(empty))
    at = open_page("llm", e2e_ms="40000")
    assert any(i.value.startswith("no LLM load levels in ") for i in at.info)
    assert at.error and "No configuration meets this scenario" in at.error[0].value


def test_an_unreachable_slo_says_how_close_the_collection_gets(llm_env):
    at = open_page("llm", load="2", input_tokens="520", output_tokens="600", e2e_ms="100")
    shown = _cli(llm_env, "--target-rps", "2", "--input-tokens", "520", "--output-tokens", "600", "--e2e-p99", "100ms")
    assert not shown["options"] and len(shown["rejected"]) == 4
    closest = min(shown["rejected"], key=lambda r: r["closest_ms"]["e2e p99"])
    assert closest["label"].startswith("ml.g7e.2xlarge gpt-oss-20b")
    assert closest["closest_ms"]["e2e p99"] == pytest.approx(2955, abs=1)  # the fit at one request in flight
    (error,) = at.error
    assert f"lowest reachable e2e p99 is {closest['closest_ms']['e2e p99']:,.0f} ms ({closest['label']}" in error.value
