"""A FAILED Inference Recommender benchmark (no metrics) is kept, gives no point, and is reported unfitted:
`fit` and `recommend` still answer for the rest of the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.collection import ingest
from planner.store import RunStore

STEPS = Path(__file__).parent / "fixtures" / "recommender" / "list_job_steps.cli.json"


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    monkeypatch.setenv("PLANNER_CACHE_DIR", "off")
    found = RunStore(tmp_path / "store")
    (outcome,) = ingest(found, [STEPS])
    assert outcome.status == "added"
    return found


def _json(args: list[str]) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_failed_row_is_kept(store):
    rows = store.table("recommender")
    assert len(rows) == 3
    failed = rows[rows["status"] == "FAILED"].iloc[0]
    assert failed["instance_type"] == "ml.m5.large" and failed["failure_reason"].startswith("ResourceLimitExceeded")


def test_fit_reports_the_failed_configuration_unfitted_with_its_reason(store):
    configs = {c["config"]["instance_type"]: c for c in _json(["fit", "--store", str(store.root), "--all"])["configs"]}
    assert set(configs) == {"ml.c5.xlarge", "ml.g4dn.xlarge", "ml.m5.large"}
    failed = configs["ml.m5.large"]
    assert failed["recommender"] is None and failed["n_steps_used"] == 0
    assert "FAILED" in failed["notes"][0] and "ResourceLimitExceeded" in failed["notes"][0]
    assert configs["ml.g4dn.xlarge"]["recommender"]["throughput_rps_per_instance"] == pytest.approx(2400 / 60)


def test_recommend_sizes_the_others_and_rejects_the_failed_one_with_why(store):
    data = _json(["recommend", "--store", str(store.root), "--target-tps", "100", "--p99", "2s"])
    assert {o["instance_type"] for o in data["options"]} == {"ml.c5.xlarge", "ml.g4dn.xlarge"}
    (rejected,) = data["rejected"]
    assert rejected["instance_type"] == "ml.m5.large" and "ResourceLimitExceeded" in rejected["reason"]
