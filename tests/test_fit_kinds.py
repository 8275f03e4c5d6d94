"""A fitted configuration is a curve fit or an Inference Recommender point, never one class with optional
halves: the sample's recommender jobs give RecommenderFits with the published plateau, in the same
`planner fit --json` shape as the curve fits."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from planner.capacity import CurveFit, RecommenderFit, curve_fits
from planner.cli import app
from planner.scenarios.source import open_runs
from tests.apptest import SAMPLE


@pytest.fixture(scope="module")
def fits():
    return open_runs(str(SAMPLE), cached=False).fits()


def test_recommender_jobs_are_points_and_load_tests_are_curves(fits):
    points = {f.config.label: f for f in fits if isinstance(f, RecommenderFit)}
    assert sorted(points) == ["ml.c5.xlarge", "ml.c5d.large", "ml.c5d.xlarge", "ml.m5.large"]
    c5d = points["ml.c5d.xlarge"].recommender  # the published job: 3 instances, 18.55 invocations/s at the plateau
    assert (c5d.instance_count_tested, c5d.model_latency_ms) == (3, 100.0)
    assert c5d.throughput_rps_per_instance == pytest.approx(6.1833, abs=1e-4)
    assert all(f.fitted for f in points.values())
    curves = curve_fits(fits)
    assert len(curves) + len(points) == len(fits) and all(isinstance(f, CurveFit) for f in curves)
    for attribute in ("latency", "latency_summary", "usl", "usl_model", "plateau_rps", "capacity_at_sla"):
        assert not hasattr(RecommenderFit, attribute) and not hasattr(points["ml.c5d.xlarge"], attribute)
    assert not hasattr(curves[0], "recommender")


def test_fit_json_has_one_shape_for_both_kinds(fits):
    done = CliRunner().invoke(app, ["fit", "--store", str(SAMPLE), "--json", "--all"])
    configs = json.loads(done.stdout)["configs"]
    shapes = {tuple(c) for c in configs}
    assert len(shapes) == 1, "a recommender point and a curve fit have the same keys"
    point = next(c for c in configs if c["label"] == "ml.c5d.xlarge")
    assert point["recommender"] == {"throughput_rps_per_instance": pytest.approx(6.1833, abs=1e-4),
                                    "model_latency_ms": 100.0, "instance_count_tested": 3}
    assert point["usl"] is point["latency_model"] is point["heldout_error"] is point["capacity"] is None
    assert all(c["recommender"] is None for c in configs if c["latency_model"] is not None)


def test_the_runs_page_shows_a_recommender_point_as_a_point(monkeypatch):
    from tests.apptest import open_page

    monkeypatch.setenv("PLANNER_STORE", str(SAMPLE))
    at = open_page("runs", run="03c8bf5e39ee60b3")  # the published ml.c5d.xlarge recommender job
    shown = " ".join(m.value for m in at.markdown)
    assert "Inference Recommender point: **6 requests/s per instance**" in shown and "ModelLatency 100 ms" in shown
