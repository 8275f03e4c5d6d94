"""End to end through the CLI: `planner serve-local` (a real process) + `planner collect` (real Locust)
+ `planner fit --json` / `planner recommend --json`, for the load shapes users run: a continuous
ramp then a hold, a staircase of short (12 s) levels, and a closed-loop staircase past the knee.

What is identifiable from a closed loop is the saturation throughput c/S (the plateau, exact from
Locust's counters); c and S separately trade against the fixed delay D, so c is asserted within ±1
and c/S tightly. The emulator holds each worker 0.5-1 ms longer than drawn (asyncio's millisecond
timer; more on a loaded machine), so its real capacity is c/(S + ~1 ms): 2-4 % below the nominal
c/S for the service times here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.collect.load import StairsShape, parse_shape
from planner.errors import InputError

LOGNORMAL_CV_03 = "lognormal:0.2936"  # sigma = sqrt(ln(1 + 0.3²)): service CV 0.3


def test_a_ramp_is_one_closed_loop_level_reached_at_the_spawn_rate():
    shape = parse_shape("ramp:users=40,spawn-rate=0.5,hold=60s")
    assert shape == StairsShape((40,), 60.0, 0.5, ramp=True) and shape.user_rps is None
    assert shape.text == "ramp:users=40,spawn-rate=0.5,hold=60s" and shape.duration_s == 80 + 60
    # What the locustfile's shape reads: one level of 40 users, reached at 0.5 users/s, held 60 s.
    assert shape.env() == {"PLANNER_STAIRS_USERS": "40", "PLANNER_STAIRS_HOLDS_S": "60",
                           "PLANNER_STAIRS_SPAWN_RATE": "0.5"}
    assert parse_shape("ramp:hold=1m,users=5").spawn_rate == 1.0  # Locust's default -r


@settings(max_examples=60, deadline=None)
@given(users=st.integers(1, 300), spawn_rate=st.sampled_from([0.25, 0.5, 1.0, 2.0]), hold_s=st.integers(1, 600),
       t_frac=st.floats(0, 1))
def test_a_ramp_rises_linearly_then_holds(users, spawn_rate, hold_s, t_frac):
    shape = parse_shape(f"ramp:users={users},spawn-rate={spawn_rate},hold={hold_s}s")
    assert parse_shape(shape.text) == shape
    ramp_s = users / spawn_rate
    assert shape.duration_s == pytest.approx(ramp_s + hold_s)
    t_s = t_frac * shape.duration_s * 0.999
    assert shape.users_at(t_s) == pytest.approx(min(spawn_rate * t_s, users))


@pytest.mark.parametrize("text", ["ramp:users=1", "ramp:users=2,4,hold=5s", "ramp:users=0,hold=5s",
                                  "ramp:users=2,hold=0s", "ramp:users=2,hold=5s,spawn-rate=0",
                                  "ramp:users=2,warmup=5s,hold=5s", "ramp:users=2,hold=5s,users=3",
                                  "ramp:users=2.5,hold=5s", "ramp:users=2,hold=5s,user-rps=1"])
def test_a_bad_ramp_is_one_clear_line(text):
    with pytest.raises(InputError, match=r"^--shape: \w[\w-]*: expected ") as err:
        parse_shape(text)
    assert "\n" not in str(err.value)


@pytest.fixture
def serve_local():
    """Start `planner serve-local` on a free loopback port; yields its URL (stopped after the test)."""
    procs = []

    def start(*options: str) -> str:
        proc = subprocess.Popen([sys.executable, "-m", "planner.cli", "serve-local", "--port", "0", "--json",
                                 "--duration-s", "600", *options], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready", ready
        return ready["url"]

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def _collect(url: str, shape: str, store, tmp_path) -> dict:
    result = CliRunner().invoke(app, ["collect", url, "--store", str(store), "--shape", shape,
                                      "--instance-type", "ml.m5.xlarge", "--out-dir", str(tmp_path / "out"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["collect"]["stop_reason"] == "shape-complete" and data["collect"]["failure_count"] == 0
    assert data["collect"]["max_duration_s"] <= parse_shape(shape).duration_s + 30  # every run bounded
    return data


def _fitted(store) -> dict:
    """The one configuration `planner fit --json` fitted (not "0 configurations")."""
    result = CliRunner().invoke(app, ["fit", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    configs = json.loads(result.stdout)["configs"]
    assert len(configs) == 1, result.stdout
    assert configs[0]["latency_model"] is not None, configs[0]["notes"]
    return configs[0]["latency_model"]


@pytest.mark.slow
def test_a_continuous_ramp_then_a_hold_fits_the_saturation(serve_local, store_path, tmp_path):
    """`ramp:` as the seed posts run Locust (-u N -r R): one user per second from 0 to 20 (2.5 × 8
    workers), then 30 s at 20: every user count lasts ~1 s, so only binned ramp steps make a fit.

    A ramp measures the plateau c/S and the light-load latency S + D; it does not say how that latency
    splits into queueing servers and a fixed delay (a 1 s level has no clean percentile), so the
    server count is not asserted: the fit has put anything from 3 to 8 there."""
    url = serve_local("--workers", "8", "--service-ms", "50", "--service-dist", "exp")  # c/S = 160 rps
    data = _collect(url, "ramp:users=20,spawn-rate=1,hold=30s", store_path, tmp_path)
    assert data["collect"]["shape"]["ramp"] and data["collect"]["shape"]["duration_s"] == 50
    model = _fitted(store_path)
    assert model["saturation_rps"] == pytest.approx(160, rel=0.10)
    assert model["low_load_latency_ms"] == pytest.approx(50, rel=0.20)
    assert model["arrivals"] == "closed"


@pytest.mark.slow
def test_a_staircase_of_short_levels_fits_the_saturation(serve_local, store_path, tmp_path):
    """Levels held 12 s (Locust's percentile window is 10 s): 1..5 users against 2 workers."""
    url = serve_local("--workers", "2", "--service-ms", "15", "--service-dist", "lognormal:0.5")  # 133 rps
    _collect(url, "stairs:users=1,2,3,4,5,hold=12s,spawn-rate=50", store_path, tmp_path)
    model = _fitted(store_path)
    assert model["saturation_rps"] == pytest.approx(2000 / 15, rel=0.10)
    assert abs(model["servers"] - 2) <= 1


@pytest.mark.slow
def test_a_closed_loop_staircase_recommends_the_count_the_truth_needs(serve_local, store_path, tmp_path):
    """1..16 users against 4 workers of lognormal service 25 ms, CV 0.3 (saturation 160 rps), then
    300 TPS at p99 <= 110 ms under random routing (independent M/G/4 queues per instance).

    Truth (FIFO simulation of M/G/4 with that service, 10⁶ customers, bench/closed_loop.true_p99_ms):
    3 instances take 100 rps each (62.5 % utilisation): p99 60-61 ms, well within 110 ms (plus
    ~1 ms of loopback transport); 2 instances take 150 rps each (94 %, ~97 % with the emulator's
    timer lateness): p99 270-285 ms, 2.5x the target. So 3 is right and 2 misses by far.
    """
    url = serve_local("--workers", "4", "--service-ms", "25", "--service-dist", LOGNORMAL_CV_03)
    _collect(url, "stairs:users=1,2,4,8,16,hold=18s,spawn-rate=50", store_path, tmp_path)
    model = _fitted(store_path)
    assert model["arrivals"] == "closed"
    # Nominal 160 rps, really 4/(25 + 0.5..1 ms) = 154-156 rps; the plateau (8 and 16 users) is
    # measured from counters over >= 10 s at ~155 rps: ~1 % noise.
    assert 148 <= model["saturation_rps"] <= 162
    assert abs(model["servers"] - 4) <= 1
    result = CliRunner().invoke(app, ["recommend", "--store", str(store_path), "--target-tps", "300", "--p99",
                                      "110ms", "--max-utilization", "1.0", "--routing", "random", "--json"])
    assert result.exit_code == 0, result.output
    best = json.loads(result.stdout)["options"][0]
    assert best["instance_count"] == 3, best
    assert best["predicted_latency_ms"] <= 110
