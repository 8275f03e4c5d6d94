"""planner collect for HTTP targets: real Locust (subprocess) against the real emulated endpoint on loopback."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.collect.endpoint import EndpointSettings, LocalEndpoint
from planner.collect.load import (
    PRESETS,
    SHAPE_GRACE_S,
    StairsShape,
    collect_and_ingest,
    collect_http,
    default_max_duration_s,
    parse_shape,
    saturated_levels,
)
from planner.errors import InputError, PlannerError
from planner.steps import StepRules, for_run
from planner.store import RunStore

SERVICE_MS = 20.0
SETTINGS = EndpointSettings(workers=4, service_ms=SERVICE_MS, service_dist="const")  # capacity 200 rps


@pytest.fixture(scope="module")
def endpoint():
    with LocalEndpoint(SETTINGS) as ep:
        yield ep


def test_stairs_measure_the_closed_loop_law_and_ingest_as_one_run(endpoint, tmp_path):
    shape = parse_shape("stairs:users=2,4,8,warmup=10s,hold=6s,spawn-rate=50")  # the first level held 10 s
    store = RunStore(tmp_path / "store")
    outcome, result = collect_and_ingest(store, endpoint.url, shape, out_dir=tmp_path / "out", max_duration_s=60,
                                         meta={"instance_type": "local", "instance_count": 1},
                                         labels={"purpose": "test"}, origin="emulated")
    assert (outcome.status, result.stop_reason, result.failure_count) == ("added", "shape-complete", 0)
    assert outcome.tables["history"] > 0 and (tmp_path / "out" / "generator_cpu.csv").read_text().count("\n") > 5
    run = store.get(outcome.run_id).run
    assert run["origin"] == "emulated" and run["notes"]["history_percentiles"] == "window"
    assert run["labels"]["target_url"] == endpoint.url and run["labels"]["shape"] == shape.text
    assert run["labels"]["purpose"] == "test"
    steps = for_run(store, outcome.run_id, StepRules(trim_s=2, min_duration_s=3))
    assert steps["concurrency"].tolist() == [2.0, 4.0, 8.0]
    assert steps["duration_s"].iloc[0] > steps["duration_s"].iloc[1] + 2  # Locust held the warm-up longer
    assert not steps["cumulative_percentiles"].any()
    # Zero think time: X = N / R (Little), and X = min(N / S, capacity) up to Locust's overhead.
    little = steps["concurrency"] / (steps["latency_mean_ms"] / 1000.0)
    assert ((steps["throughput_rps"] - little).abs() / little).max() < 0.25
    # Locust's own per-request overhead (more on a loaded machine) only lowers X; a server that used
    # fewer than its 4 workers would give at most half the ideal at 8 users.
    ideal = (steps["concurrency"] * 1000.0 / SERVICE_MS).clip(upper=SETTINGS.capacity_rps)
    assert (steps["throughput_rps"] <= 1.05 * ideal).all() and (steps["throughput_rps"] > 0.55 * ideal).all()
    # 2 -> 4 users doubles X (both below the 4 workers); 4 and 8 users both sit at capacity, where
    # their order is noise, so only the queueing delay tells them apart (next line).
    assert steps["throughput_rps"].iloc[1] > 1.5 * steps["throughput_rps"].iloc[0]
    assert steps["latency_mean_ms"].iloc[0] >= SERVICE_MS
    assert steps["latency_mean_ms"].iloc[2] > 1.5 * steps["latency_mean_ms"].iloc[0]  # 8 users queue for 4 workers


def test_max_duration_stops_a_long_hold_and_what_it_measured_ingests(endpoint, tmp_path):
    shape = parse_shape("stairs:users=2,hold=10m")
    started = time.monotonic()
    outcome, result = collect_and_ingest(RunStore(tmp_path / "store"), endpoint.url, shape,
                                         out_dir=tmp_path / "out", max_duration_s=6)
    assert time.monotonic() - started < 15
    assert result.stop_reason == "max-duration" and outcome.status == "added"
    assert all(p.exists() for p in result.csv_paths) and result.request_count > 100


def test_max_requests_stops_the_run_early(endpoint, tmp_path):
    result = collect_http(endpoint.url, parse_shape("stairs:users=4,hold=10m"), out_dir=tmp_path, max_duration_s=60,
                          max_requests=200)
    assert result.stop_reason == "max-requests" and result.serve_local == SETTINGS  # asked before the load
    assert 150 <= result.request_count <= 400 and result.wall_s < 15


def test_hard_timeout_terminates_locust_and_keeps_its_csvs(endpoint, tmp_path):
    outcome, result = collect_and_ingest(RunStore(tmp_path / "store"), endpoint.url,
                                         parse_shape("stairs:users=2,hold=10m"), out_dir=tmp_path / "out",
                                         max_duration_s=600, kill_after_s=5)
    assert result.stop_reason == "killed" and result.wall_s < 15
    assert outcome.status == "added" and result.request_count > 0


def test_payload_bodies_are_sent_and_a_bad_payload_names_its_line(endpoint, tmp_path):
    payload = tmp_path / "payload.jsonl"
    payload.write_text(json.dumps({"body": {"inputs": [1, 2]}}) + "\n"
                       + json.dumps({"body": "a,b", "content_type": "text/csv"}) + "\n")
    result = collect_http(endpoint.url + "/invocations", StairsShape((1,), 1.0, 10.0), out_dir=tmp_path / "out",
                          max_duration_s=30, max_requests=20, payload=payload)
    assert result.request_count >= 20 and result.failure_count == 0
    sent = (tmp_path / "out" / "payload.jsonl").read_text().splitlines()
    assert [json.loads(x)["content_type"] for x in sent] == ["application/json", "text/csv"]
    payload.write_text('{"body": 1}\n{oops\n')
    with pytest.raises(InputError, match=r"payload.jsonl: line 2: expected a JSON object"):
        collect_http(endpoint.url, StairsShape((1,), 1.0, 1.0), out_dir=tmp_path / "bad", max_duration_s=5,
                     payload=payload)


def test_nothing_listening_is_one_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed on exit: nothing listens there
    started = time.monotonic()
    with pytest.raises(PlannerError, match=rf"^http://127.0.0.1:{port}: cannot connect to 127.0.0.1:{port}") as err:
        collect_http(f"http://127.0.0.1:{port}", StairsShape((2,), 5.0, 10.0), out_dir=tmp_path, max_duration_s=10)
    assert "\n" not in str(err.value) and time.monotonic() - started < 5


def test_every_request_failing_is_an_error_not_a_run(endpoint, tmp_path):
    # The endpoint answers 404 off its contract's paths: every request fails, and the run aborts early.
    started = time.monotonic()
    with pytest.raises(PlannerError, match=r"no request succeeded \(\d+ of \d+ failed") as err:
        collect_http(endpoint.url + "/nowhere", parse_shape("stairs:users=2,hold=10m"), out_dir=tmp_path,
                     max_duration_s=60)
    assert "\n" not in str(err.value) and time.monotonic() - started < 15
    assert (tmp_path / "stop_reason.txt").read_text() == "all-failed"


@pytest.mark.parametrize(("text", "users", "hold_s", "spawn_rate"), [
    ("stairs:users=2,4,8,hold=6s,spawn-rate=50", (2, 4, 8), 6.0, 50.0),
    ("stairs:users=10,20..60,hold=1m", (10, 20, 30, 40, 50, 60), 60.0, 1.0),
    ("stairs:users=1,2,4..10,hold=500ms,spawn-rate=0.5", (1, 2, 4, 6, 8, 10), 0.5, 0.5),
    ("seeds", (10, *range(20, 201, 20)), 60.0, 2.0),
    ("rate:rps=10,20,warmup=5s,hold=20s,user-rps=2", (5, 10), 20.0, 10.0),
])
def test_parse_shape(text, users, hold_s, spawn_rate):
    shape = parse_shape(text)
    assert (shape.users, shape.hold_s, shape.spawn_rate) == (users, hold_s, spawn_rate)
    assert parse_shape(shape.text) == shape


def test_seeds_preset_is_the_design_staircase():
    """Warm up 10 users for 30 s, then +2 users/s to 20, hold 60 s, ... to 200."""
    shape = parse_shape("seeds")
    assert shape.text == "stairs:users=10,20,40,60,80,100,120,140,160,180,200,warmup=30s,hold=60s,spawn-rate=2"
    assert shape.holds_s == (30.0,) + (60.0,) * 10
    assert shape.duration_s == pytest.approx(200 / 2 + 30 + 10 * 60)
    assert [shape.users_at(t) for t in (34.9, 36, 40, 99.9, 102.5)] == pytest.approx([10, 12, 20, 20, 25])
    assert PRESETS["seeds"].startswith("stairs:")


def _locust_timeline(env: dict[str, str]) -> list[tuple[int, float]]:
    """(users, end s) of each level as the locustfile's StairsLoadShape reads them from ``env``."""
    users = [int(u) for u in env["PLANNER_STAIRS_USERS"].split(",")]
    holds_s = [float(h) for h in env["PLANNER_STAIRS_HOLDS_S"].split(",")]
    rate = float(env["PLANNER_STAIRS_SPAWN_RATE"])
    out, now, previous = [], 0.0, 0
    for u, hold_s in zip(users, holds_s, strict=True):
        now += abs(u - previous) / rate + hold_s
        out.append((u, now))
        previous = u
    return out


@settings(max_examples=60, deadline=None)
@given(levels=st.lists(st.integers(1, 300), min_size=1, max_size=8).filter(
           lambda xs: all(a != b for a, b in zip(xs, xs[1:], strict=False))),
       warmup_s=st.integers(1, 120), hold_s=st.integers(1, 120), spawn_rate=st.sampled_from([0.5, 2.0, 10.0]))
def test_a_warmup_reaches_locust_as_the_staircase_it_describes(levels, warmup_s, hold_s, spawn_rate):
    text = f"stairs:users={','.join(map(str, levels))},warmup={warmup_s}s,hold={hold_s}s,spawn-rate={spawn_rate}"
    shape = parse_shape(text)
    assert parse_shape(shape.text) == shape
    timeline = _locust_timeline(shape.env())
    assert [u for u, _ in timeline] == list(levels)
    assert timeline[-1][1] == pytest.approx(shape.duration_s)
    previous, start = 0, 0.0
    for i, (users, end) in enumerate(timeline):  # the first level held warmup_s, the others hold_s
        assert end - start == pytest.approx(abs(users - previous) / spawn_rate + (hold_s if i else warmup_s))
        assert shape.users_at(end - 1e-6) == pytest.approx(users)
        previous, start = users, end


def test_the_default_hard_bound_follows_the_shape():
    seeds = parse_shape("seeds")
    assert default_max_duration_s(seeds) == seeds.duration_s + SHAPE_GRACE_S > 300  # the whole ~12 min staircase
    short = parse_shape("stairs:users=2,hold=5s,spawn-rate=2")
    assert default_max_duration_s(short) == pytest.approx(1 + 5 + SHAPE_GRACE_S)
    help_text = CliRunner().invoke(app, ["collect", "--help"], terminal_width=200).output
    assert "the shape's planned duration + 30 s" in re.sub(r"[\s│]+", " ", help_text)


@pytest.mark.parametrize("text", [
    "ramp:users=1", "stairs:users=2,4", "stairs:hold=5s", "stairs:users=0,2,hold=5s", "stairs:users=a,hold=5s",
    "stairs:users=10..20,hold=5s", "stairs:users=10,20..25,hold=5s", "stairs:users=2,hold=5h",
    "stairs:users=2,hold=0s", "stairs:users=2,hold=5s,spawn-rate=0", "stairs:users=2,hold=5s,hold=6s",
    "stairs:users=2,hold=5s,burst=3", "stairs:users=2,warmup=0s,hold=5s", "stairs:users=2,warmup=-5s,hold=5s",
    "stairs:users=2,warmup=x,hold=5s", "stairs:users=2,warmup=5s,warmup=6s",
])
def test_parse_shape_rejects_bad_text_in_one_line(text):
    with pytest.raises(InputError, match=r"^--shape: \w[\w-]*: expected ") as err:
        parse_shape(text)
    assert "\n" not in str(err.value)


def test_shape_duration_counts_ramps_and_holds():
    assert StairsShape((2, 6, 4), 10.0, 2.0).duration_s == pytest.approx((2 + 4 + 2) / 2 + 30)



def test_processes_run_locust_distributed_within_the_request_bound(endpoint, tmp_path):
    store = RunStore(tmp_path / "store")
    outcome, result = collect_and_ingest(store, endpoint.url, parse_shape("stairs:users=2,4,hold=20s,spawn-rate=20"),
                                         out_dir=tmp_path / "out", max_duration_s=30, max_requests=300, processes=2)
    # Each worker stops at its share (150), the master then stops the other: at most the bound plus in-flight.
    assert result.stop_reason == "max-requests" and 200 <= result.request_count <= 304
    assert result.failure_count == 0
    cpu = pd.read_csv(tmp_path / "out" / "generator_cpu.csv")
    assert cpu["processes"].max() == 3  # the master and its two workers
    assert (cpu["cpu_total_percent"] >= cpu["cpu_percent"]).all()
    run = store.get(outcome.run_id).run
    assert run["labels"]["locust_processes"] == "2" and run["notes"]["history_percentiles"] == "window"


def test_a_level_is_saturated_by_its_busiest_process_or_by_all_of_them(tmp_path):
    history = tmp_path / "h.csv"
    history.write_text("Timestamp,User Count,Type,Name\n100,2,,Aggregated\n110,4,,Aggregated\n120,8,,Aggregated\n")
    cpu = tmp_path / "cpu.csv"
    cpu.write_text("timestamp,cpu_percent,cpu_total_percent,processes\n"
                   "101,50,60,3\n105,52,64,3\n111,60,185,3\n115,62,190,3\n121,95,120,3\n125,97,130,3\n")
    assert saturated_levels(history, cpu, cores=2) == (97.0, (4, 8))  # 4: 187.5% of 2 cores; 8: 96% of one
    assert saturated_levels(history, cpu, cores=4) == (97.0, (8,))


@pytest.mark.parametrize("text, users, rates", [
    ("rate:rps=40,80,hold=30s,user-rps=2", (20, 40), (40, 80)),
    ("rate:rps=10,20..50,hold=1m", (10, 20, 30, 40, 50), (10, 20, 30, 40, 50)),
    ("rate:rps=0.5,1..2,hold=30s,user-rps=0.5", (1, 2, 3, 4), (0.5, 1, 1.5, 2)),
])
def test_rate_shape_is_open_loop_users_at_user_rps(text, users, rates):
    shape = parse_shape(text)
    assert shape.users == users and shape.rates_rps == pytest.approx(rates)
    assert shape.env()["PLANNER_USER_RPS"] == f"{shape.user_rps:g}"
    assert parse_shape(shape.text) == shape


@pytest.mark.parametrize("text", ["rate:rps=3,hold=5s,user-rps=2", "rate:hold=5s", "rate:rps=10,hold=0s",
                                  "rate:rps=10,hold=5s,user-rps=0", "rate:rps=10,20..25,hold=5s"])
def test_rate_shape_rejects_bad_text_in_one_line(text):
    with pytest.raises(InputError, match=r"^--shape: \w[\w-]*: expected "):
        parse_shape(text)


def test_open_loop_offers_its_rate_whatever_the_latency(tmp_path):
    """Against a slow endpoint, closed-loop users would send users/latency; open-loop ones send their rate,
    the steps carry in-flight concurrency (Little's law) and the offered users."""
    slow = EndpointSettings(workers=8, service_ms=200.0, service_dist="const")  # 40 rps capacity
    store = RunStore(tmp_path / "store")
    with LocalEndpoint(slow) as ep:
        outcome, result = collect_and_ingest(store, ep.url, parse_shape("rate:rps=20,hold=8s,user-rps=1"),
                                             out_dir=tmp_path / "out", max_duration_s=30, origin="emulated")
    run = store.get(outcome.run_id).run
    assert run["labels"]["arrivals"] == "open" and run["labels"]["shape"].startswith("rate:rps=20,")
    steps = for_run(store, outcome.run_id, StepRules(trim_s=2, min_duration_s=4))
    (step,) = steps[steps["offered_users"] == 20].itertuples()
    assert step.throughput_rps == pytest.approx(20, rel=0.25), "20 closed-loop users would send 100 rps"
    assert step.latency_mean_ms == pytest.approx(200, rel=0.1)
    assert step.concurrency == pytest.approx(step.throughput_rps * step.latency_mean_ms / 1000)


def test_a_master_drives_a_worker_started_separately(endpoint, tmp_path):
    """Locust's distributed mode across machines, on loopback: `planner collect --worker` in one process,
    the master (the shape, the CSVs, the ingest) in another; the run holds what the worker sent."""
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    shape = "stairs:users=2,hold=4s,spawn-rate=50"
    worker = subprocess.Popen([sys.executable, "-m", "planner.cli", "collect", endpoint.url, "--shape", shape,
                               "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                               "--max-duration-s", "20", "--out-dir", str(tmp_path / "worker")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        store = RunStore(tmp_path / "store")
        outcome, result = collect_and_ingest(store, endpoint.url, parse_shape(shape), out_dir=tmp_path / "master",
                                             max_duration_s=20, expect_workers=1, master_port=port)
        assert worker.wait(timeout=60) == 0, worker.stderr.read()
    finally:
        if worker.poll() is None:
            worker.kill()
    assert result.remote_workers == 1 and result.stop_reason == "shape-complete"
    assert result.request_count > 50 and result.failure_count == 0
    assert store.get(outcome.run_id).run["labels"]["locust_remote_workers"] == "1"


def test_processes_and_remote_workers_do_not_mix(endpoint, tmp_path):
    with pytest.raises(InputError, match="--processes: value: expected 1 with --expect-workers"):
        collect_http(endpoint.url, parse_shape("stairs:users=1,hold=1s"), out_dir=tmp_path, max_duration_s=5,
                     processes=2, expect_workers=1)


class _PlainEndpoint(BaseHTTPRequestHandler):
    """Some other HTTP server: answers every GET 200 (empty) and every POST 200 ``{}``."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def _answer(self, body: bytes) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(b"")

    def do_POST(self) -> None:  # noqa: N802
        self._answer(b"{}")

    def log_message(self, *args) -> None:
        pass


def test_a_target_that_is_not_serve_local_is_collected_as_before(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PlainEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = RunStore(tmp_path / "store")
        outcome, result = collect_and_ingest(store, f"http://127.0.0.1:{server.server_port}",
                                             parse_shape("stairs:users=1,hold=10m"), out_dir=tmp_path / "out",
                                             max_duration_s=20, max_requests=30)
    finally:
        server.shutdown()
        server.server_close()
    assert _PlainEndpoint.seen[0] == "GET /serve-local/settings"  # asked (answered 200, not the emulator's JSON)
    assert "POST /invocations" in _PlainEndpoint.seen
    assert result.serve_local is None and result.stop_reason == "max-requests"
    run = store.get(outcome.run_id).run
    assert run["origin"] == "measured" and not [k for k in run["labels"] if k.startswith("serve_local_")]


def test_an_explicit_origin_is_kept_against_serve_local_with_one_warning(endpoint, tmp_path):
    store = tmp_path / "store"
    result = CliRunner().invoke(app, ["collect", endpoint.url, "--store", str(store), "--shape",
                                      "stairs:users=2,hold=10m", "--max-requests", "50", "--origin", "measured",
                                      "--out-dir", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "is planner serve-local, but --origin measured" in warnings[0]
    run = RunStore(store).get(json.loads(result.stdout)["run"]["run_id"]).run
    assert run["origin"] == "measured" and run["labels"]["serve_local_workers"] == "4"


@pytest.mark.slow
def test_serve_local_then_collect_then_fit_through_the_cli(tmp_path):
    """Issue 6's done-when: `planner serve-local` + `planner collect URL` give a run whose steps and fits
    appear in `planner fit`. Four open-loop levels are the fewest with a held-out check, and `planner
    fit` keeps a step only after 10 s of trim plus 20 s of steady state: ~2 minutes."""
    emulator = EndpointSettings(workers=2, service_ms=20.0, service_dist="exp", profile="e2e")  # 100 rps
    shape_text = "rate:rps=20,40,60,80,hold=32s,user-rps=2"
    store = tmp_path / "store"
    runner = CliRunner()
    with LocalEndpoint(emulator) as ep:
        collected = runner.invoke(app, ["collect", ep.url, "--store", str(store), "--shape", shape_text,
                                        "--max-requests", "20000", "--out-dir", str(tmp_path / "out"), "--json"])
    assert collected.exit_code == 0, collected.output
    data = json.loads(collected.stdout)
    run_id = data["run"]["run_id"]
    assert data["collect"]["stop_reason"] == "shape-complete" and data["collect"]["serve_local"]["workers"] == 2
    assert data["collect"]["max_duration_s"] == pytest.approx(parse_shape(shape_text).duration_s + SHAPE_GRACE_S)
    run = RunStore(store).get(run_id).run
    assert run["origin"] == "emulated"
    assert {k: run["labels"][k] for k in ("serve_local_workers", "serve_local_service_ms", "serve_local_service_dist",
                                          "serve_local_instances", "serve_local_profile")} == {
        "serve_local_workers": "2", "serve_local_service_ms": "20.0", "serve_local_service_dist": "exp",
        "serve_local_instances": "1", "serve_local_profile": "e2e"}

    fitted = runner.invoke(app, ["fit", "--store", str(store), "--json"])
    assert fitted.exit_code == 0, fitted.output
    (config,) = [c for c in json.loads(fitted.stdout)["configs"] if run_id in c["run_ids"]]
    assert config["origin"] == "emulated" and config["n_steps_used"] == 4
    assert config["latency_model"] is not None and 0 <= config["heldout_error"] < 0.5
