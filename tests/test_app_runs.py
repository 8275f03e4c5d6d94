"""Issue #14 in the app: the Runs page's load-test timeline and SLA, uploads that cannot give a fit saying why,
the discount as a percentage (links keep the fraction), and price overrides for unknown instance types."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.store import RunStore
from tests.apptest import SAMPLE, open_page, open_planner, widget

C5 = "8655be92da9d0ed8"  # the sample's ml.c5.2xlarge open-loop Locust run: 9 steps of 35 s


@pytest.fixture
def sample_env(monkeypatch):
    monkeypatch.setenv("PLANNER_STORE", str(SAMPLE))


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def _red_marks(at: AppTest) -> list[str]:
    """The red marks (SLA) of the page's fitted-latency charts."""
    return [layer["mark"]["type"] for spec in _specs(at) if "Fitted" in str(spec.get("title"))
            for layer in spec["layer"] if layer["mark"].get("color") == "red"]


# ------------------------------------------------------------------ runs page


def test_runs_page_shows_the_load_test_over_time_with_its_steps(sample_env):
    at = open_page("runs", run=C5)
    texts = [json.dumps(s, ensure_ascii=False) for s in _specs(at)]
    timeline = [t for t in texts if "time since start (s)" in t]
    assert len(timeline) == 3  # users; requests/s and failures/s; p50 and p99
    assert "users (open loop: each at a fixed rate)" in timeline[0]
    assert "requests/s, failures/s" in timeline[1] and "latency, 10 s window (ms)" in timeline[2]
    assert any("Fitted p99 latency vs throughput" in t for t in texts)
    assert _red_marks(at) == []
    widget(at, "runs_sla_ms").set_value(45.0).run()
    assert not at.exception
    assert _red_marks(at) == ["point", "rule", "text"]  # the steps over 45 ms ringed; the SLA line, labelled


def test_a_run_without_a_history_has_no_timeline(sample_env):
    points = next(r.run_id for r in RunStore(SAMPLE).records() if r.tables == ("points",) or
                  list(r.tables) == ["points"])
    at = open_page("runs", run=points)
    assert any("not a Locust history" in c.value for c in at.caption)
    assert not any("time since start (s)" in json.dumps(s, ensure_ascii=False) for s in _specs(at))


def test_a_cloudwatch_run_shows_its_periods_over_time(tmp_path, monkeypatch):
    from planner.collection import ingest

    two = Path(__file__).parent / "fixtures" / "cloudwatch" / "two_instances"
    store = RunStore(tmp_path / "store")
    (run,) = ingest(store, [two / "results_iso.json", two / "queries.json"])
    monkeypatch.setenv("PLANNER_STORE", str(store.root))
    at = open_page("runs", run=run.run_id)
    timeline = [t for t in (json.dumps(s, ensure_ascii=False) for s in _specs(at)) if "time since start (s)" in t]
    assert len(timeline) == 3 and "instances (InvocationsPerInstance ÷ Invocations)" in timeline[0]
    assert not any("not a Locust history" in c.value for c in at.caption)


# ------------------------------------------------------------------ upload page


def _upload(files: list[tuple[str, bytes, str]]) -> AppTest:
    at = open_page("upload")
    at.file_uploader[0].set_value(files).run()
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _locust(datasets: Path, prefix: str, endings: tuple[str, ...]) -> list[tuple[str, bytes, str]]:
    return [(prefix + e, (datasets / "locust" / (prefix + e)).read_bytes(), "text/csv") for e in endings]


def test_an_upload_whose_steps_are_all_too_short_says_so_with_the_rule(datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_STORE", str(tmp_path / "store"))
    at = _upload(_locust(datasets, "zhajiangmian2342_20200823__locust",
                         ("_stats.csv", "_stats_history.csv", "_failures.csv")))  # 15 requests in 4 s
    assert "1 run(s) added" in at.success[0].value
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith("zhajiangmian2342_20200823__locust_stats.csv")
    assert "all 1 step(s) too short: a step needs at least 5 s and 200 requests" in warning


def test_an_upload_where_every_request_failed_says_so(datasets, tmp_path, monkeypatch):
    """A real history (louskac/deep-vision) with every request counted as failed."""
    monkeypatch.setenv("PLANNER_STORE", str(tmp_path / "store"))
    name = "louskac_deep-vision__results_optimized_stats_history.csv"
    rows = list(csv.reader(io.StringIO((datasets / "locust" / name).read_text())))
    header = rows[0]
    for row in rows[1:]:
        row[header.index("Total Failure Count")] = row[header.index("Total Request Count")]
        row[header.index("Failures/s")] = row[header.index("Requests/s")]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    at = _upload([("failing_stats_history.csv", text.getvalue().encode(), "text/csv")])
    assert "1 run(s) added" in at.success[0].value
    assert [w.value for w in at.warning] == ["failing_stats_history.csv: stored, but it cannot give a fit — "
                                             "100% failures: every request of every step failed."]


def test_a_zero_load_upload_is_refused_and_a_fittable_one_has_no_warning(datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_STORE", str(tmp_path / "store"))
    endings = ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv")
    at = _upload(_locust(datasets, "nogibjj_wine-prediction-app__results", endings))
    assert "no load: User Count is 0 in every row" in at.error[0].value
    good = _upload(_locust(datasets, "louskac_deep-vision__results", endings))
    assert "1 run(s) added" in good.success[0].value and not good.warning


# ------------------------------------------------------------------ prices: discount and overrides


def _monthly(at: AppTest) -> float:
    return json.loads(at.code[0].value)["options"][0]["usd_per_month"]


def test_planner_discount_is_a_percentage_and_links_keep_the_fraction(sample_env):
    full = open_planner()
    old_link = open_planner(discount="0.2")
    slider = widget(old_link, "plan_discount_pct")
    assert slider.value == 20 and slider.label == "Discount on compute prices (%)"
    assert _monthly(old_link) == pytest.approx(0.8 * _monthly(full))
    slider.set_value(35).run()
    assert old_link.query_params["discount"] == "0.35"
    assert _monthly(old_link) == pytest.approx(0.65 * _monthly(full))


def test_serverless_discount_link_restores_and_is_written_as_a_fraction(sample_env):
    at = open_page("serverless", discount="0.25")
    assert widget(at, "sls_discount_pct").value == 25
    assert at.query_params["discount"] == "0.25"
    widget(at, "sls_discount_pct").set_value(50).run()
    assert at.query_params["discount"] == "0.5"
    assert json.loads(at.code[-1].value)["price_catalog"]["overrides"][-1].startswith("discount 0.5 (50.00%)")


def test_an_override_for_an_unknown_instance_type_is_named_and_not_applied(sample_env):
    at = open_planner(prices="ml.c5.2xlarge=0.2, ml.c5.2xlarg=0.1")
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith("Price override ml.c5.2xlarg=0.1 not applied: no price for instance type "
                              "'ml.c5.2xlarg' in the us-east-1 catalog (did you mean ml.c5.2xlarge")
    changes = json.loads(at.code[0].value)["price_catalog"]["overrides"]
    assert any(c.startswith("ml.c5.2xlarge ") and c.endswith("-> 0.2 USD/h from overrides") for c in changes)
    assert not any("2xlarg " in c or "2xlarg added" in c for c in changes)


# ------------------------------------------------------------------ money first


def test_serverless_and_multi_model_tables_put_money_first(sample_env):
    serverless = open_page("serverless")
    table = serverless.dataframe[0].value
    assert list(table.columns[:4]) == ["memory_mb", "usd_per_month", "usd_per_million_invocations", "meets_sla"]
    assert table["memory_mb"].tolist() == [1024, 2048, 3072, 4096, 5120, 6144]
    mme = open_page("multi_model")
    variants = mme.dataframe[0].value
    assert list(variants.columns[:3]) == ["label", "usd_per_month", "instances"]
    cost = json.loads(mme.code[0].value)["variants"][0]["usd_per_month"]
    assert variants["usd_per_month"].iloc[0] == pytest.approx(cost)


def test_a_zero_load_run_shows_its_flat_timeline_and_why_it_has_no_steps(sample_env):
    zero = "f1cf28ccc6b84e55"  # the sample's nogibjj/wine-prediction history: 2,031 rows at 0 users
    at = open_page("runs", run=zero)
    timeline = [s for s in _specs(at) if "time since start (s)" in json.dumps(s)]
    assert len(timeline) == 2  # users and requests/s; no latency panel: no request was answered
    assert "No steady-state steps could be derived" in at.info[0].value


def test_runs_page_step_detection_follows_the_sidebar_rules(sample_env):
    """The sidebar's step options are `planner fit`'s: the steps shown are the library's under them."""
    from planner.steps import StepRules, for_run

    at = open_page("runs", run=C5)
    default = at.dataframe[1].value
    widget(at, "rules_min_step_s").set_value(60.0).run()
    assert not at.exception
    shown = at.dataframe[1].value
    expected = for_run(RunStore(SAMPLE), C5, StepRules(min_duration_s=60.0))
    assert len(expected) < len(default) == len(for_run(RunStore(SAMPLE), C5))  # 35 s levels merge into bins
    assert len(shown) == len(expected)
    assert shown["throughput_rps"].round(6).tolist() == expected["throughput_rps"].round(6).tolist()
