"""`planner llm fit` and `planner llm recommend` end to end on a run collection of suite CSVs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.store import RunStore, TableWrite
from tests.test_llm_fit import KIMI_P5E, QWEN14_G7E, QWEN32_G6E, QWEN32_G7E, suite_frames

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("llm-store")
    st = RunStore(root).create()
    for i, path in enumerate((QWEN32_G7E, QWEN14_G7E, KIMI_P5E)):
        runs, steps = suite_frames(path, run_id=f"{i:016x}")
        run = runs.iloc[0].to_dict()
        run["labels"] = json.loads(run["labels"])
        st.commit(run["run_id"], {**run, "source": "llm-suite-test", "format": "sagemaker-benchmark-suite-csv"},
                  [TableWrite("llm_steps", steps.drop(columns="run_id"))], parse={})
    runs, steps = suite_frames(QWEN32_G6E, run_id="f" * 16)  # two levels only: listed as not fitted
    st.commit("f" * 16, {**runs.iloc[0].to_dict(), "labels": {}}, [TableWrite("llm_steps", steps.head(2).drop(columns="run_id"))], parse={})
    return str(root)


def _json(args):
    result = runner.invoke(app, args)
    return result, json.loads(result.stdout) if result.stdout.strip().startswith("{") else None


def test_fit_json(store):
    result, data = _json(["llm", "fit", "--store", store, "--json"])
    assert result.exit_code == 0, result.output
    by_model = {c["model"]: c for c in data["configs"]}
    assert set(by_model) == {"bench-v2-qwen3-vanilla", "qwen3-14b", "kimi-k2.5"}
    assert [u["reason"] for u in data["unfitted"]] == ["2 load level(s) with a known concurrency; a fit needs at "
                                                       "least 3"]
    kimi = by_model["kimi-k2.5"]
    assert kimi["levels"] == 6 and kimi["output_tokens_mean"] == 600 and kimi["input_tokens_mean"] == 511
    assert kimi["heldout_error"] < kimi["heldout_error_line"] < kimi["heldout_error_max_throughput"]
    assert {(c["metric"], c["statistic"]) for c in kimi["curves"]} == {("e2e", "mean"), ("e2e", "p50"),
                                                                        ("e2e", "p99")}


def test_fit_table(store):
    result = runner.invoke(app, ["llm", "fit", "--store", store])
    assert result.exit_code == 0, result.output
    assert "kimi-k2.5" in result.stdout and "held-out" in result.stdout
    assert ("not fitted: ml.g6e.12xlarge bench-v2-qwen3-vanilla (runs ffffffff): 2 load level(s) with a known "
            "concurrency; a fit needs at least 3") in result.stdout


def test_recommend_json(store):
    result, data = _json(["llm", "recommend", "--store", store, "--target-rps", "2", "--input-tokens", "1600",
                          "--output-tokens", "600", "--e2e-p99", "60s", "--json"])
    assert result.exit_code == 0, result.output
    assert (data["target_rps"], data["input_tokens"], data["output_tokens"]) == (2, 1600, 600)
    assert data["slos"] == {"ttft_ms": None, "itl_ms": None, "e2e_ms": 60000.0, "percentile": "p99"}
    costs = [o["usd_per_hour"] for o in data["options"]]
    assert costs == sorted(costs) and len(costs) == 3
    cheapest = data["options"][0]
    assert cheapest["instance_type"] == "ml.g7e.2xlarge"
    assert cheapest["usd_per_hour"] == pytest.approx(4.20 * cheapest["instance_count"])
    assert cheapest["usd_per_million_output_tokens"] == pytest.approx(
        cheapest["usd_per_hour"] / (2 * 600 * 3600) * 1e6)
    assert all(o["predicted_e2e_ms"] <= 60000 for o in data["options"])
    assert data["price_catalog"]["region"] == "us-east-1"
    assert any(r["reason"].startswith("not fitted: 2 load level(s)") for r in data["rejected"])


def test_recommend_output_tps_and_human_table(store):
    result = runner.invoke(app, ["llm", "recommend", "--store", store, "--target-output-tps", "1.2k",
                                 "--input-tokens", "500", "--output-tokens", "600", "--ttft-p99", "500ms",
                                 "--percentile", "p90"])
    assert result.exit_code == 0, result.output
    assert "2 req/s (1,200 output tok/s)" in result.stdout
    assert "no ttft p90 measurement" in result.stdout  # the schema A and C runs have no TTFT
    assert "Prices: USD prices for us-east-1" in result.stdout


def test_usage_errors(store):
    both = runner.invoke(app, ["llm", "recommend", "--store", store, "--target-rps", "2", "--target-output-tps",
                               "100", "--input-tokens", "1", "--output-tokens", "1"])
    assert both.exit_code == 2
    bad = runner.invoke(app, ["llm", "recommend", "--store", store, "--target-rps", "2", "--input-tokens", "1",
                              "--output-tokens", "1", "--e2e-p99", "soon"])
    assert bad.exit_code == 2 and "--e2e-p99" in bad.output
    infeasible = runner.invoke(app, ["llm", "recommend", "--store", store, "--target-rps", "2",
                                     "--input-tokens", "500", "--output-tokens", "600", "--e2e-p99", "1s"])
    assert infeasible.exit_code == 1 and "unreachable even at concurrency 1" in infeasible.stdout


def test_end_to_end_on_ingested_suite_files(tmp_path):
    """`planner ingest` of real suite CSVs, then `planner llm fit` / `llm recommend` on that store."""
    store = str(tmp_path / "store")
    for path in (QWEN32_G7E, KIMI_P5E):
        done = runner.invoke(app, ["ingest", str(path), "--store", store])
        assert done.exit_code == 0, done.output
    result, data = _json(["llm", "fit", "--store", store, "--json"])
    assert result.exit_code == 0, result.output
    kimi = next(c for c in data["configs"] if c["instance_type"] == "ml.p5e.48xlarge")
    assert kimi["levels"] == 6 and kimi["concurrency_max"] == 32 and kimi["output_tokens_mean"] == 600
    assert kimi["heldout_error"] < kimi["heldout_error_line"] < kimi["heldout_error_max_throughput"]
    result, data = _json(["llm", "recommend", "--store", store, "--target-rps", "2", "--input-tokens", "520",
                          "--output-tokens", "600", "--e2e-p99", "40s", "--json"])
    assert result.exit_code == 0, result.output
    by_type = {o["instance_type"]: o for o in data["options"]}
    # Kimi at C=32 serves 2.61 req/s (the CSV's rps): one ml.p5e.48xlarge at 80 USD/h
    assert by_type["ml.p5e.48xlarge"]["instance_count"] == 1
    assert by_type["ml.p5e.48xlarge"]["requests_per_s_per_instance"] == pytest.approx(2.61, rel=0.03)
    # Qwen3-32B on ml.g7e.2xlarge: 0.87 req/s at C=32, so 3 instances at 4.20 USD/h
    assert by_type["ml.g7e.2xlarge"]["instance_count"] == 3
    assert by_type["ml.g7e.2xlarge"]["usd_per_hour"] == pytest.approx(12.6)


def test_fmbench_ec2_run_priced_as_sagemaker(tmp_path):
    """FMBench on EC2 trn1.32xlarge (11 levels, C=1..25): priced as ml.trn1.32xlarge, throughput from the
    file's transactions_per_minute (503/min at C=25 = 8.38 req/s) by Little's law."""
    csv = (QWEN32_G7E.parents[1] / "fmbench" /
           "llama3-8b-trn1.32xl-ec2-triton-madhureks__20240930T2048__summary_metrics_for_dataset_w_scores.csv")
    store = str(tmp_path / "store")
    assert runner.invoke(app, ["ingest", str(csv), "--store", store]).exit_code == 0
    result, data = _json(["llm", "recommend", "--store", store, "--target-rps", "20", "--input-tokens", "3400",
                          "--output-tokens", "42", "--e2e-p99", "5s", "--json"])
    assert result.exit_code == 0, result.output
    (o,) = data["options"]
    assert (o["instance_type"], o["concurrency_per_instance"]) == ("ml.trn1.32xlarge", 25)
    assert o["requests_per_s_per_instance"] == pytest.approx(503 / 60, rel=0.02)
    assert o["instance_count"] == 3 and o["usd_per_hour"] == pytest.approx(3 * 28.497)
    assert "measured on EC2 trn1.32xlarge; priced as SageMaker ml.trn1.32xlarge" in o["notes"]


# ------------------------------------------------------------------ the scenario layer the CLI calls


def test_cli_json_is_the_scenario_functions_answer(store):
    from planner.catalog import load_catalog
    from planner.scenarios.llm import LlmScenario, size_llm
    from planner.scenarios.source import open_runs

    scenario = LlmScenario(input_tokens=500, output_tokens=600, target_output_tokens_per_s=1200, e2e_ms=60_000)
    assert scenario.requests_per_s == 2.0
    rec = size_llm(open_runs(store, cached=False), load_catalog("us-east-1"), scenario)
    result, data = _json(["llm", "recommend", "--store", store, "--target-output-tps", "1.2k", "--input-tokens",
                          "500", "--output-tokens", "600", "--e2e-p99", "60s", "--json"])
    assert result.exit_code == 0, result.output
    assert data == json.loads(json.dumps(rec.to_dict()))
    assert data["notes"][0] == "load given as 1200 output tokens/s = 2 requests/s at 600 output tokens each"
    assert [o["instance_type"] for o in data["options"]][0] == "ml.g7e.2xlarge"


def test_scenario_says_what_is_wrong_with_it(tmp_path):
    from planner.catalog import load_catalog
    from planner.errors import InputError
    from planner.scenarios.llm import LlmScenario, size_llm

    with pytest.raises(InputError, match="exactly one of target_rps and target_output_tokens_per_s"):
        LlmScenario(input_tokens=1, output_tokens=1)
    with pytest.raises(InputError, match="percentile: expected one of p50, p90, p95, p99, found 'p999'"):
        LlmScenario(input_tokens=1, output_tokens=1, target_rps=1, percentile="p999")
    with pytest.raises(InputError, match="ttft_ms: expected a positive number, found -5"):
        LlmScenario(input_tokens=1, output_tokens=1, target_rps=1, ttft_ms=-5)
    empty = size_llm([], load_catalog("us-east-1"), LlmScenario(input_tokens=1, output_tokens=1, target_rps=1))
    assert not empty.feasible and empty.notes[0].startswith("no LLM load levels: ingest LLM benchmark results")


# ------------------------------------------------------------------ planner export costs: the LLM section


def test_export_costs_has_an_llm_sheet_equal_to_llm_recommend(store, tmp_path):
    import openpyxl

    from planner.catalog import load_catalog

    args = ["--store", store, "--target-tps", "2", "--p99", "200ms"]
    llm = ["--llm-input-tokens", "1600", "--llm-output-tokens", "600", "--llm-e2e", "60s"]
    result, data = _json(["export", "costs", *args, *llm, "--out", str(tmp_path / "costs.xlsx"), "--json"])
    assert result.exit_code == 0, result.output
    _, rec = _json(["llm", "recommend", "--store", store, "--target-rps", "2", "--input-tokens", "1600",
                    "--output-tokens", "600", "--e2e-p99", "60s", "--json"])
    assert [(o["instance_type"], o["instance_count"], o["usd_per_hour"], o["usd_per_million_output_tokens"])
            for o in data["llm_options"]] == [(o["instance_type"], o["instance_count"], o["usd_per_hour"],
                                               o["usd_per_million_output_tokens"]) for o in rec["options"]]
    g7e = data["llm_options"][0]
    assert g7e["usd_per_month"] == pytest.approx(4.20 * g7e["instance_count"] * 730)
    assert g7e["usd_per_million_requests"] == pytest.approx(g7e["usd_per_month"] / (2 * 730 * 3600) * 1e6)
    book = openpyxl.load_workbook(tmp_path / "costs.xlsx")
    assert book.sheetnames == ["Options", "LLM", "Assumptions"]
    rows = list(book["LLM"].values)
    assert rows[0][:3] == ("option", "deployment", "instance type") and len(rows) == 1 + len(rec["options"])
    assert rows[1][6] == g7e["usd_per_hour"] and rows[1][9] == pytest.approx(g7e["usd_per_million_output_tokens"])
    assumptions = {r[0]: r for r in book["Assumptions"].values}
    catalog = load_catalog("us-east-1")
    for instance_type in {o["instance_type"] for o in rec["options"]}:  # every LLM price, with its date
        item, value, unit, source, date = assumptions[f"{instance_type} hosting"]
        assert (value, unit, (source, date)) == (catalog.price(instance_type), "USD/hour",
                                                 catalog.price_origin(instance_type))
        assert date
    assert assumptions["LLM load"][1:3] == (2, "requests/s")
    assert assumptions["LLM e2e target (p99)"][1] == 60_000
    assert assumptions["LLM output tokens per request"][1] == 600


def test_export_csv_has_an_llm_block_and_says_when_it_is_not_priced(store, tmp_path):
    import csv

    args = ["export", "costs", "--store", store, "--target-tps", "2", "--p99", "200ms"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "plain.csv")])
    assert result.exit_code == 0, result.output
    assert "LLM endpoints: not priced" in result.stdout
    rows = list(csv.reader((tmp_path / "plain.csv").open(encoding="utf-8")))
    assert not any(r and r[0] == "llm_option" for r in rows)
    assert any(r[:2] == ["LLM endpoints", "not priced"] for r in rows)
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "llm.csv"), "--llm-input-tokens", "500",
                                 "--llm-output-tokens", "600", "--llm-target-rps", "4", "--llm-e2e", "60s"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader((tmp_path / "llm.csv").open(encoding="utf-8")))
    start = next(i for i, r in enumerate(rows) if r and r[0] == "llm_option")
    end = rows.index([], start)
    block = [dict(zip(rows[start], r, strict=True)) for r in rows[start + 1:end]]
    assert len(block) == 3, "one row per LLM option, then a blank row"
    assert block[0]["instance_type"] == "ml.g7e.2xlarge"
    assert float(block[0]["usd_per_million_output_tokens"]) == pytest.approx(
        float(block[0]["usd_per_hour"]) / (4 * 600 * 3600) * 1e6)
    half = runner.invoke(app, [*args, "--out", str(tmp_path / "x.csv"), "--llm-input-tokens", "500"])
    assert half.exit_code == 2 and "--llm-output-tokens" in half.output


def test_llm_fits_read_beside_the_users_runs_are_marked(store, tmp_path):
    from planner.scenarios.llm import llm_fits
    from planner.scenarios.source import SAMPLE_NOTE, RunSource

    own = RunStore(tmp_path / "own").create()
    beside = llm_fits(RunSource(own, RunStore(store)))  # a collection standing in for the bundled sample
    assert len(beside) == 4 and all(f.origin.endswith(", bundled sample") for f in beside)
    assert all(SAMPLE_NOTE in f.notes_ for f in beside)
    assert {f.origin for f in llm_fits(RunSource(RunStore(store)))} == {"published"}
