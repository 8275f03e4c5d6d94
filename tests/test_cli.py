"""Every command has --help; read commands have --json; prices carry their source and date."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from planner.cli import app

COMMANDS = [["ingest"], ["formats"], ["runs", "list"], ["runs", "show"], ["runs", "rm"], ["runs", "reparse"],
            ["runs", "gc"], ["fit"], ["recommend"], ["prices", "show"], ["prices", "refresh"], ["serve-local"], ["collect"]]
READ_COMMANDS = [["formats"], ["runs", "list"], ["runs", "show"], ["fit"], ["recommend"], ["prices", "show"]]


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
