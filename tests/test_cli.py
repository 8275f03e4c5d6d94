"""Every command has --help; read commands have --json; prices carry their source and date."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from planner.cli import app

COMMANDS = [["ingest"], ["formats"], ["runs", "list"], ["runs", "show"], ["runs", "rm"], ["runs", "reparse"],
            ["runs", "gc"], ["runs", "verify"], ["fit"], ["recommend"], ["prices", "show"], ["prices", "refresh"], ["serve-local"], ["collect"]]
READ_COMMANDS = [["formats"], ["runs", "list"], ["runs", "show"], ["runs", "verify"], ["fit"], ["recommend"], ["prices", "show"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_every_read_command_has_json(command):
    assert "--json" in CliRunner().invoke(app, [*command, "--help"], terminal_width=200).output


def test_prices_show_json_has_anchors_source_and_date():
    result = CliRunner().invoke(app, ["prices", "show", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["region"] == "us-east-1" and data["date"] and data["source"]
    prices = {name: spec["usd_per_hour"] for name, spec in data["instances"].items()}
    assert prices["ml.m5.large"] == 0.115 and prices["ml.g5.2xlarge"] == 1.515 and prices["ml.p3.2xlarge"] == 3.825


def test_discount_lowers_every_price_shown():
    full = json.loads(CliRunner().invoke(app, ["prices", "show", "--json"]).output)
    off = json.loads(CliRunner().invoke(app, ["prices", "show", "--json", "--discount", "0.2"]).output)
    for name, spec in full["instances"].items():
        assert off["instances"][name]["usd_per_hour"] == pytest.approx(0.8 * spec["usd_per_hour"])
    assert off["overrides"], "a discount is recorded with the prices it changed"


def test_formats_lists_every_source():
    data = json.loads(CliRunner().invoke(app, ["formats", "--json"]).output)
    assert {"locust", "cloudwatch", "recommender", "perf_analyzer", "serverless_toolkit", "mme_gpu",
            "llm_suite", "llm_fmbench", "llm_serving", "llm_llmperf", "llm_guidellm", "llm_nvidia",
            "points"} == set(data.values())


def test_serve_local_cli_serves_and_stops_by_itself(tmp_path):
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "planner.cli", "serve-local", "--port", "0", "--profile",
                             "m5.xlarge-small-model", "--duration-s", "5", "--json"], stdout=subprocess.PIPE, text=True)
    ready = json.loads(proc.stdout.readline())
    assert ready["event"] == "ready" and ready["settings"]["instance_type"] == "ml.m5.xlarge"
    with urllib.request.urlopen(urllib.request.Request(ready["url"] + "/invocations", data=b"{}",
                                                       method="POST"), timeout=5) as response:
        assert response.status == 200 and json.loads(response.read())["instance"] == 0
    stopped = json.loads(proc.stdout.readline())
    assert proc.wait(timeout=15) == 0 and stopped["stats"]["served"] == 1


# --------------------------------------------------------------------------- planner fit


@pytest.fixture(scope="module")
def fit_store_path(datasets, tmp_path_factory):
    """Raytracer on one ml.m5.xlarge and, scaled ×2, on two (the same per instance), and specsdm91 on an
    ml.c5.xlarge; runs labelled bench=usl plus a label planner's collectors write (target_url) that differs:
    it describes the run, not the setup, so the two ml.m5.xlarge runs stay one configuration."""
    import pandas as pd

    root = tmp_path_factory.mktemp("fit")
    ray = pd.read_csv(datasets / "usl" / "usl_raytracer.csv")
    ray.to_csv(root / "ray1.csv", index=False)
    (ray * 2).to_csv(root / "ray2.csv", index=False)
    store = str(root / "store")
    for path, args in (("ray1.csv", ["--instance-type", "ml.m5.xlarge", "--label", "target_url=http://a"]),
                       ("ray2.csv", ["--instance-type", "ml.m5.xlarge", "--instance-count", "2", "--label",
                                     "target_url=http://b"]),
                       (str(datasets / "usl" / "usl_specsdm91.csv"), ["--instance-type", "ml.c5.xlarge"])):
        done = CliRunner().invoke(app, ["ingest", str(root / path), "--store", store, "--label", "bench=usl",
                                        "--format", "points", *args])
        assert done.exit_code == 0, done.output
    return store


def test_fit_config_filters_and_json_has_counts_labels_and_usl_errors(fit_store_path):
    done = CliRunner().invoke(app, ["fit", "--store", fit_store_path, "--config", "ML.M5", "--json"])
    assert done.exit_code == 0, done.output
    (config,) = json.loads(done.stdout)["configs"]
    assert json.loads(done.stdout)["unfitted"] == []
    assert config["label"] == "ml.m5.xlarge" and len(config["run_ids"]) == 2
    assert config["config"]["setup_labels"] == {}
    assert config["config"]["instance_counts"] == [1, 2]
    assert config["config"]["labels"] == {"bench": "usl"}  # target_url differs between the runs
    usl = config["usl"]
    # per instance the two runs are the raytracer series twice: its fit and its held-out error
    assert usl["lambda"] == pytest.approx(21.8488, rel=1e-4) and usl["sigma"] == pytest.approx(0.057771, rel=1e-4)
    assert usl["heldout_error"] == pytest.approx(0.15639, abs=5e-5) and usl["heldout_points"] == 6
    assert usl["sigma_se"] > 0 and usl["lambda_se"] > 0 and usl["kappa_se"] >= 0
    assert usl["sigma_ci_lower"] <= usl["sigma"] <= usl["sigma_ci_upper"]
    both = CliRunner().invoke(app, ["fit", "--store", fit_store_path, "--config", "ml.c5.xlarge", "--config",
                                    "m5", "--json"])
    assert [c["label"] for c in json.loads(both.stdout)["configs"]] == ["ml.c5.xlarge", "ml.m5.xlarge"]


def test_fit_config_without_match_is_one_line_naming_the_option_and_the_labels(fit_store_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "planner.cli", "fit", "--store", fit_store_path, "--config",
                           "ml.c5.xlarge", "--config", "g5"], capture_output=True, text=True)
    assert done.returncode == 1 and not done.stdout
    (line,) = done.stderr.strip().splitlines()
    assert "--config" in line and "ml.c5.xlarge; ml.m5.xlarge" in line and "found 'g5'" in line


def test_fit_table_shows_usl_intervals_goodness_of_fit_and_heldout_error(fit_store_path):
    done = CliRunner().invoke(app, ["fit", "--store", fit_store_path, "--config", "ml.c5.xlarge"],
                              terminal_width=250)
    assert done.exit_code == 0, done.output
    usl_row = next(line for line in done.output.splitlines() if line.startswith("│ ml.c5.xlarge"))
    # specsdm91: sigma 0.0277 with its interval on the next line, residual SE 82.8 rps, held-out 16%
    cells = [c.strip() for c in usl_row.split("│")[1:-1]]
    assert cells[2] == "0.0277" and cells[7] == "82.8" and cells[8] == "16%"
    band = done.output.splitlines()[done.output.splitlines().index(usl_row) + 1]
    assert "[" in band.split("│")[3] and "–" in band.split("│")[3]
    assert "resid. SE (rps)" in done.output and "Latency vs throughput per instance" in done.output


def test_fit_plot_has_latency_and_usl_views(fit_store_path, tmp_path):
    from tests.samples import SAMPLE_STORE

    for name in ("fit.html", "fit.png"):
        done = CliRunner().invoke(app, ["fit", "--store", str(SAMPLE_STORE), "--config", "ml.c5.2xlarge", "--sla",
                                        "200ms", "--plot", str(tmp_path / name)])
        assert done.exit_code == 0, done.output
    html = (tmp_path / "fit.html").read_text()
    assert "vconcat" in html and "p99 latency vs throughput" in html and "SLA: p99" in html
    assert "ml.c5.2xlarge / serve-local c5.2xlarge-small-model: throughput vs concurrency" in html
    assert "concurrency per instance (users)" in html
    assert (tmp_path / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # without a latency model (points files carry none) only the USL views are drawn
    CliRunner().invoke(app, ["fit", "--store", fit_store_path, "--plot", str(tmp_path / "usl.html")])
    html = (tmp_path / "usl.html").read_text()
    assert "latency vs throughput" not in html and html.count(": throughput vs concurrency (USL") == 2
