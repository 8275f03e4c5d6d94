"""The emulated SageMaker endpoint: real HTTP on 127.0.0.1, queueing that matches M/G/c theory."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import heapq
import http.client
import json
import math
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from planner.collect.endpoint import (
    PROFILES,
    SETTINGS_PATH,
    EndpointSettings,
    LocalEndpoint,
    ServiceTimes,
    parse_service_dist,
    probe_serve_local,
    profile_settings,
    serve_forever,
)
from planner.errors import InputError, PlannerError
from planner.queueing import mmc_mean_response_s

# ----------------------------------------------------------------------------- a small asyncio client


class Conn:
    """One keep-alive HTTP/1.1 connection: ``await conn.call("POST", "/invocations")`` -> (status, body)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def call(self, method: str, path: str, body: bytes = b"{}") -> tuple[int, bytes]:
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:-2])
        return int(head.split(b" ", 2)[1]), await self.reader.readexactly(int(fields["Content-Length"]))

    def close(self) -> None:
        self.writer.close()


async def burst(port: int, n: int) -> list[tuple[int, dict, float]]:
    """``n`` invocations sent at once on ``n`` pre-opened connections -> (status, body, latency_s) each."""
    conns = [await Conn.open(port) for _ in range(n)]

    async def one(conn: Conn) -> tuple[int, dict, float]:
        sent = time.perf_counter()
        status, body = await conn.call("POST", "/invocations")
        return status, json.loads(body), time.perf_counter() - sent

    try:
        return await asyncio.gather(*(one(c) for c in conns))
    finally:
        for c in conns:
            c.close()


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes on a fresh socket and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def endpoint():
    with LocalEndpoint(EndpointSettings(workers=2, service_ms=5, service_dist="const")) as ep:
        yield ep


# ----------------------------------------------------------------------------- the container contract


def test_ping_invocations_and_unknown_paths(endpoint):
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=5)
    conn.request("GET", "/ping")
    ping = conn.getresponse()
    assert (ping.status, ping.read()) == (200, b"")
    conn.request("POST", "/invocations", body=b'{"instances": [[1, 2, 3]]}',
                 headers={"Content-Type": "application/json"})
    inv = conn.getresponse()
    assert inv.status == 200 and inv.getheader("Content-Type") == "application/json"
    answer = json.loads(inv.read())
    assert 5.0 <= answer.pop("busy_ms") < 50  # held for the draw, plus the timer's lateness
    assert answer == {"instance": 0, "service_ms": 5.0, "wait_ms": pytest.approx(0, abs=5)}
    conn.request("GET", "/models")
    missing = conn.getresponse()
    assert missing.status == 404 and "error" in json.loads(missing.read())
    conn.request("GET", "/invocations")
    wrong = conn.getresponse()
    assert (wrong.status, wrong.getheader("Allow")) == (405, "POST")
    wrong.read()
    assert endpoint.stats().served == 1


def test_keep_alive_serves_many_requests_on_one_connection(endpoint):
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=5)
    for i in range(6):
        conn.request("POST", "/invocations", body=b"x" * (100 * i))  # bodies must be consumed exactly
        assert conn.getresponse().read().startswith(b'{"instance"')
        conn.request("GET", "/ping")
        ping = conn.getresponse()
        assert (ping.status, ping.read()) == (200, b"")
    stats = endpoint.stats()
    assert (stats.served, stats.connections) == (6, 1)


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"THIS IS NOT HTTP AT ALL\r\n\r\n", 400),
    (b"GET /ping\r\n\r\n", 400),
    (b"GET /ping HTTP/2.0\r\n\r\n", 400),
    (b"POST /invocations HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400),
    (b"POST /invocations HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    (b"GET /ping HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    (b"POST /invocations HTTP/1.1\r\nContent-Length: 7000000\r\n\r\n", 413),
])
def test_malformed_requests_get_an_error_and_the_connection_is_closed(endpoint, request_bytes, status):
    answer = raw_exchange(endpoint.port, request_bytes)  # returns only because the server closes
    assert answer.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Connection: close\r\n" in answer
    assert endpoint.stats().served == 0


def test_connection_header_decides_keep_alive(endpoint):
    kept = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    closed = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    assert raw_exchange(endpoint.port, b"GET /ping HTTP/1.0\r\n\r\n") == closed
    pipelined = (b"GET /ping HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
                 b"GET /ping HTTP/1.1\r\n\r\n"
                 b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n"
                 b"GET /ping HTTP/1.1\r\n\r\n")  # never answered: the connection closed before it
    assert raw_exchange(endpoint.port, pipelined) == kept + kept + closed


# ----------------------------------------------------------------------------- queueing


def test_two_workers_serve_a_burst_of_twenty_in_ten_steps():
    with LocalEndpoint(EndpointSettings(workers=2, service_ms=50, service_dist="const")) as ep:
        started = time.perf_counter()
        results = asyncio.run(burst(ep.port, 20))
        wall_s = time.perf_counter() - started
    assert all(status == 200 for status, _, _ in results)
    assert wall_s == pytest.approx(10 * 0.050, rel=0.3)
    # The staircase: requests finish in pairs, one service time (50 ms plus timer overshoot) apart,
    # and the server's own wait for the k-th pair is k service times.
    latencies_ms = np.sort([latency for _, _, latency in results]).reshape(10, 2) * 1e3
    waits_ms = np.sort([body["wait_ms"] for _, body, _ in results]).reshape(10, 2)
    assert np.ptp(waits_ms, axis=1).max() < 10 and np.ptp(latencies_ms, axis=1).max() < 10
    assert waits_ms[0].max() < 5 and waits_ms[-1].min() == pytest.approx(9 * 50, rel=0.15)
    assert np.all((np.diff(latencies_ms.mean(axis=1)) > 40) & (np.diff(latencies_ms.mean(axis=1)) < 70))
    held_ms = np.array([body["busy_ms"] for _, body, _ in results])
    assert held_ms.min() >= 50 and np.median(held_ms) < 60
    assert ep.stats().max_queue_depth == 18


def test_a_full_wait_queue_answers_503_and_counts_the_rejections():
    settings = EndpointSettings(workers=1, service_ms=100, service_dist="const", queue_limit=2)
    with LocalEndpoint(settings) as ep:
        results = asyncio.run(burst(ep.port, 10))
        stats = ep.stats()
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] * 3 + [503] * 7  # one in service + two waiting; the rest are turned away
    assert (stats.served, stats.rejected, stats.max_queue_depth) == (3, 7, 2)


async def _idle_overhead_s(port: int, n: int) -> float:
    """Median invocation latency minus its drawn service time on an idle endpoint (s); one scheduling
    hiccup on a loaded machine moves a mean of 30, not the median, and a Nagle stall moves both."""
    conn = await Conn.open(port)
    extra = []
    for _ in range(n):
        sent = time.perf_counter()
        _, body = await conn.call("POST", "/invocations")
        extra.append(time.perf_counter() - sent - json.loads(body)["service_ms"] / 1e3)
    conn.close()
    return float(np.median(extra))


async def _open_loop(port: int, arrivals_s: np.ndarray) -> np.ndarray:
    """One invocation at each arrival time (s from now) on a free pooled connection, whatever is in flight.

    -> rows of (sent_s, latency_s, drawn service_s, held service_s, server wait_s), in order of sending.
    """
    idle = [await Conn.open(port) for _ in range(32)]
    rows = []

    async def one() -> None:
        conn = idle.pop() if idle else await Conn.open(port)
        sent = time.perf_counter()
        status, body = await conn.call("POST", "/invocations")
        done = time.perf_counter()
        idle.append(conn)
        assert status == 200
        answer = json.loads(body)
        rows.append((sent, done - sent, answer["service_ms"] / 1e3, answer["busy_ms"] / 1e3, answer["wait_ms"] / 1e3))

    tasks = []
    start = time.perf_counter()
    for at_s in arrivals_s:
        await asyncio.sleep(max(0.0, start + at_s - time.perf_counter()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return np.array(sorted(rows))


def _fifo_waits_s(arrivals_s: np.ndarray, services_s: np.ndarray, servers: int) -> np.ndarray:
    """Waits of a FIFO queue with ``servers`` servers (each job takes the earliest free server)."""
    free_at = [-math.inf] * servers
    waits = []
    for arrival, service in zip(arrivals_s, services_s, strict=True):
        start = max(arrival, heapq.heappop(free_at))
        waits.append(start - arrival)
        heapq.heappush(free_at, start + service)
    return np.array(waits)


def test_poisson_load_at_60_percent_matches_mmc():
    settings = EndpointSettings(workers=4, service_ms=20, service_dist="exp", seed=7)
    rate_rps = 0.6 * settings.capacity_rps  # 120 rps against 200 rps capacity, for 3 s
    arrivals_s = np.cumsum(np.random.default_rng(11).exponential(1 / rate_rps, 360))
    with LocalEndpoint(settings) as ep:
        overhead_s = asyncio.run(_idle_overhead_s(ep.port, 30))
        sent_s, latency_s, service_s, held_s, wait_s = asyncio.run(_open_loop(ep.port, arrivals_s)).T
    # Idle overhead = HTTP round trip + the timer overshooting its deadline: about a millisecond here
    # (bench figures in the README); a Nagle/delayed-ACK stall would add ~40 ms. 10 ms leaves room
    # for a loaded CI machine.
    assert 0 < overhead_s < 0.010
    # M/M/c mean response at the realised arrival rate and mean draw (3 s of Poisson load gives
    # each a few % of sampling noise), plus the idle overhead.
    theory_s = mmc_mean_response_s(len(arrivals_s) / arrivals_s[-1], service_s.mean(), 4) + overhead_s
    assert latency_s.mean() == pytest.approx(theory_s, rel=0.2)
    # Stronger: each request waited what a FIFO 4-server queue fed the same arrivals and holding
    # times makes it wait (up to the client-to-server delay of each arrival).
    replayed_s = _fifo_waits_s(sent_s, held_s, 4)
    assert (wait_s > 0.001).mean() > 0.05  # queueing is real at 60% load
    assert np.median(np.abs(replayed_s - wait_s)) < 0.0005
    assert replayed_s.mean() == pytest.approx(wait_s.mean(), rel=0.2, abs=0.0002)


# ----------------------------------------------------------------------------- several instances


def test_round_robin_spreads_requests_evenly_over_instances():
    with LocalEndpoint(EndpointSettings(workers=1, service_ms=1, service_dist="const", instances=3)) as ep:
        conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=5)
        order = []
        for _ in range(30):
            conn.request("POST", "/invocations", body=b"{}")
            order.append(json.loads(conn.getresponse().read())["instance"])
        stats = ep.stats()
    assert order == [0, 1, 2] * 10
    assert stats.served_per_instance == (10, 10, 10)


async def _closed_loop(port: int, clients: int, requests_each: int) -> None:
    async def client() -> None:
        conn = await Conn.open(port)
        for _ in range(requests_each):
            assert (await conn.call("POST", "/invocations"))[0] == 200
        conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))


@pytest.mark.parametrize("routing", ["least-outstanding", "round-robin"])
def test_least_outstanding_never_queues_while_an_instance_is_idle(routing):
    # Three closed-loop clients, three single-worker instances, very variable service times: one
    # instance is always idle when a request arrives, so least-outstanding never queues, while
    # round-robin routes blindly and sends requests to busy instances.
    settings = EndpointSettings(workers=1, service_ms=4, service_dist="lognormal:1.2", instances=3, routing=routing)
    with LocalEndpoint(settings) as ep:
        asyncio.run(_closed_loop(ep.port, clients=3, requests_each=40))
        stats = ep.stats()
    assert stats.served == 120 and min(stats.served_per_instance) > 0
    assert (stats.max_queue_depth == 0) == (routing == "least-outstanding")


def test_random_routing_is_seeded_and_uses_every_instance():
    def instances_hit(seed: int) -> list[int]:
        settings = EndpointSettings(workers=4, service_ms=0, service_dist="const", instances=3, routing="random",
                                    seed=seed)
        with LocalEndpoint(settings) as ep:
            conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=5)
            hit = []
            for _ in range(30):
                conn.request("POST", "/invocations", body=b"{}")
                hit.append(json.loads(conn.getresponse().read())["instance"])
        return hit

    first = instances_hit(seed=3)
    assert first == instances_hit(seed=3) != instances_hit(seed=4)
    assert set(first) == {0, 1, 2} and first != [0, 1, 2] * 10


# ----------------------------------------------------------------------------- settings, profiles, service times


def test_service_time_distributions_keep_the_requested_mean():
    rng = np.random.default_rng(0)
    for dist, scv in [("exp", 1.0), ("lognormal:0.5", math.expm1(0.25)), ("lognormal:1.0", math.expm1(1.0))]:
        draws = ServiceTimes(40.0, dist, rng).draw_s(200_000)
        assert draws.mean() == pytest.approx(0.040, rel=0.02)
        assert draws.var() / draws.mean() ** 2 == pytest.approx(scv, rel=0.1)
        assert EndpointSettings(service_dist=dist).service_scv == pytest.approx(scv)
    assert np.median(ServiceTimes(40.0, "lognormal:0.5", rng).draw_s(100_000)) == pytest.approx(
        0.040 * math.exp(-0.125), rel=0.02)  # median = mean * exp(-sigma^2/2)
    const = ServiceTimes(40.0, "const", rng)
    assert {const.next_s() for _ in range(2000)} == {0.040}


def test_service_times_are_reproducible_from_the_seed():
    def draws(seed: int) -> list[float]:
        times = ServiceTimes(20.0, "exp", np.random.default_rng(seed), block=16)
        return [times.next_s() for _ in range(50)]  # crosses several refill blocks

    assert draws(1) == draws(1) != draws(2)


@pytest.mark.parametrize(("field", "value"), [
    ("workers", 0), ("service_ms", -1.0), ("service_ms", math.nan), ("service_dist", "gamma"),
    ("service_dist", "lognormal:-1"), ("queue_limit", -1), ("instances", 0), ("routing", "fastest"),
])
def test_bad_settings_raise_one_line_input_errors(field, value):
    with pytest.raises(InputError) as caught:
        EndpointSettings(**{field: value})
    assert caught.value.where == field and "\n" not in str(caught.value)
    assert repr(value) in str(caught.value)


def test_parse_service_dist():
    assert parse_service_dist("exp") == ("exp", 0.0)
    assert parse_service_dist("lognormal:0.35") == ("lognormal", 0.35)
    with pytest.raises(InputError):
        parse_service_dist("const:3")


def _summary_rows(datasets, engine: str) -> list[dict[str, str]]:
    path = next((datasets / "sagemaker-mme-gpu").glob("*load_test_summary_table.csv"))
    with path.open(newline="") as f:
        return [row for row in csv.DictReader(f) if row["platform"] == engine]


@pytest.mark.parametrize(("profile", "engine", "plateau_users"), [
    ("g4dn.2xlarge-resnet50-pt", "pt", 80), ("g4dn.2xlarge-resnet50-trt", "trt", 100)])
def test_gpu_profiles_reproduce_the_published_benchmark(datasets, profile, engine, plateau_users):
    rows = _summary_rows(datasets, engine)
    settings = PROFILES[profile]
    plateau_rps = np.mean([float(r["Requests/s"]) for r in rows if float(r["User Count"]) >= plateau_users])
    low_load_median_ms = float(rows[0]["Total Median Response Time"])  # 20 users, far from saturation
    _, sigma = parse_service_dist(settings.service_dist)
    assert settings.capacity_rps == pytest.approx(plateau_rps, rel=0.03)
    assert settings.service_ms * math.exp(-sigma**2 / 2) == pytest.approx(low_load_median_ms, rel=0.03)
    assert settings.instance_type == rows[0]["instance_type"] and settings.profile == profile


def test_profiles_name_their_instance_and_accept_overrides():
    assert all(s.instance_type.startswith("ml.") and s.profile == name for name, s in PROFILES.items())
    scaled = profile_settings("m5.xlarge-small-model", instances=3, seed=9)
    assert (scaled.workers, scaled.instances, scaled.seed) == (4, 3, 9)
    assert scaled.capacity_rps == pytest.approx(3 * 4 * 1000 / 25)
    assert scaled.to_dict()["instance_type"] == "ml.m5.xlarge"
    with pytest.raises(InputError):
        profile_settings("p5.48xlarge-gpt")


# ----------------------------------------------------------------------------- lifecycle


def test_stop_closes_idle_keep_alive_connections_and_the_port():
    ep = LocalEndpoint(EndpointSettings(service_ms=0, service_dist="const")).start()
    conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=5)
    conn.request("GET", "/ping")
    conn.getresponse().read()
    ep.stop()
    assert conn.sock.recv(1) == b""  # the server closed the idle connection
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", ep.port), timeout=2)
    ep.stop()  # idempotent


def test_a_taken_port_is_a_one_line_planner_error_and_leaves_no_thread_behind(endpoint):
    threads_before = threading.active_count()
    with pytest.raises(PlannerError, match=rf"^cannot listen on 127.0.0.1:{endpoint.port}: [^\n]+$"):
        LocalEndpoint(EndpointSettings(), port=endpoint.port).start()
    assert threading.active_count() == threads_before


def test_serve_forever_stops_after_duration_and_returns_its_counters():
    ready = threading.Event()
    found = {}

    def on_ready(url: str) -> None:
        found["url"] = url
        ready.set()

    def run() -> None:
        found["stats"] = serve_forever(EndpointSettings(service_ms=1), port=0, duration_s=1.0, on_ready=on_ready)

    thread = threading.Thread(target=run)
    thread.start()
    assert ready.wait(10)
    host, port = found["url"].removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    for _ in range(3):
        conn.request("POST", "/invocations", body=b"{}")
        assert conn.getresponse().read()
    thread.join(10)
    assert not thread.is_alive() and found["stats"].served == 3


def test_serve_forever_stops_cleanly_on_sigterm(tmp_path):
    script = textwrap.dedent("""
        import sys
        from planner.collect.endpoint import EndpointSettings, serve_forever
        stats = serve_forever(EndpointSettings(), port=0, on_ready=lambda url: sys.stdout.write(url + "\\n"))
        sys.stdout.write(f"served {stats.served}\\n")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    try:
        url = proc.stdout.readline().strip()
        conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=5)
        conn.request("POST", "/invocations", body=b"{}")
        assert conn.getresponse().status == 200
        proc.terminate()
        assert proc.wait(10) == 0
        assert proc.stdout.read().strip() == "served 1"
    finally:
        proc.kill()


# ----------------------------------------------------------------------------- identity: planner collect asks first


def test_the_settings_path_names_the_endpoint_and_the_probe_reads_it_back():
    settings = profile_settings("m5.xlarge-small-model", instances=3, queue_limit=5, routing="least-outstanding")
    with LocalEndpoint(settings) as ep:
        conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=5)
        conn.request("GET", SETTINGS_PATH)
        answer = conn.getresponse()
        assert answer.status == 200 and json.loads(answer.read()) == {"planner_serve_local": {
            "workers": 4, "service_ms": 25.0, "service_dist": "lognormal:0.3", "queue_limit": 5, "instances": 3,
            "routing": "least-outstanding", "seed": 0, "instance_type": "ml.m5.xlarge",
            "profile": "m5.xlarge-small-model"}}
        conn.request("POST", SETTINGS_PATH, body=b"{}")
        wrong = conn.getresponse()
        assert (wrong.status, wrong.getheader("Allow")) == (405, "GET")
        wrong.read()
        assert probe_serve_local(ep.url) == settings and probe_serve_local(ep.url + "/") == settings
        assert ep.stats().served == 0  # asking is not an invocation
    assert settings.labels() == {
        "serve_local_workers": "4", "serve_local_service_ms": "25.0", "serve_local_service_dist": "lognormal:0.3",
        "serve_local_queue_limit": "5", "serve_local_instances": "3", "serve_local_routing": "least-outstanding",
        "serve_local_seed": "0", "serve_local_instance_type": "ml.m5.xlarge",
        "serve_local_profile": "m5.xlarge-small-model"}
    assert "serve_local_profile" not in EndpointSettings(seed=None).labels()


def _one_answer_server(answer: bytes | None) -> tuple[socket.socket, threading.Thread]:
    """A TCP server on loopback that sends ``answer`` to its first connection and closes it (None:
    never answers, holds the connection until the client gives up)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                if answer is None:
                    conn.recv(1)
                else:
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def _ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


@pytest.mark.parametrize("answer", [
    _ok(b""),  # a catch-all server: 200 for any path
    _ok(b"{}"),  # a catch-all JSON API
    _ok(b"<html>hello</html>"),
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",  # a SageMaker container: only /ping, /invocations
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
    _ok(b'{"planner_serve_local": {"workers": 0}}'),  # settings no endpoint can have
    _ok(b'{"planner_serve_local": [1, 2]}'),
    _ok(b"[1, 2]"),
    b"SSH-2.0-OpenSSH_9.6\r\n",  # not HTTP at all
    b"",  # closes without a word
    None,  # accepts and never answers
], ids=["empty-200", "json-200", "html-200", "404", "500", "bad-settings", "settings-not-an-object", "json-list",
        "not-http", "silent-close", "never-answers"])
def test_the_probe_says_none_for_anything_else_within_its_timeout(answer):
    listener, thread = _one_answer_server(answer)
    started = time.monotonic()
    try:
        assert probe_serve_local(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout_s=0.5) is None
    finally:
        listener.close()
    assert time.monotonic() - started < 2.0
    thread.join(5)


def test_the_probe_says_none_when_nothing_listens_or_the_url_is_not_one():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert probe_serve_local(f"http://127.0.0.1:{port}") is None
    assert probe_serve_local("not a url") is None and probe_serve_local("http://[::1") is None
