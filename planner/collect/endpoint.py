"""An emulated SageMaker inference endpoint: a real HTTP server for demos, tests and closed-loop validation.

It implements the SageMaker inference-container contract (``GET /ping``, ``POST /invocations``) on
stdlib asyncio with a minimal HTTP/1.1 parser (keep-alive, ``Content-Length`` bodies). Each of
``instances`` copies behind one front has ``workers`` model workers (an ``asyncio.Semaphore``) and
a FIFO wait queue; a request holds a worker for a service time drawn from ``service_dist`` with
mean ``service_ms``. One instance is therefore exactly an M/G/c queue with c = ``workers`` (M/M/c
for ``exp``), which is what makes the emulator useful for checking the queueing models.

``POST /invocations`` answers ``{"instance": i, "service_ms": drawn, "busy_ms": held, "wait_ms":
queued}``. ``busy_ms`` exceeds the draw by the timer's lateness: asyncio on Linux sleeps in whole
milliseconds of epoll timeout, so a worker is held about 0.5-1 ms longer than drawn (more on a
loaded machine). Body bytes are read and ignored.

Beyond the contract, ``GET /serve-local/settings`` (:data:`SETTINGS_PATH`) answers
``{"planner_serve_local": {settings}}``: :func:`probe_serve_local` reads it, so ``planner collect``
recognises the emulator, labels its runs ``origin=emulated`` and records the settings
(:meth:`EndpointSettings.labels`). Other servers answer that path otherwise and are left alone.

Use :class:`LocalEndpoint` from synchronous code (the event loop runs in a background thread) and
:func:`serve_forever` from the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http.client
import json
import math
import os
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from planner.errors import InputError, PlannerError

ROUTINGS = ("round-robin", "least-outstanding", "random")
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker real-time InvokeEndpoint payload limit (6 MB)
MAX_HEAD_BYTES = 64 * 1024  # request line + headers
_SETTINGS = "endpoint settings"
SETTINGS_PATH = "/serve-local/settings"  # GET: {"planner_serve_local": settings}
IDENTITY_KEY = "planner_serve_local"
LABEL_PREFIX = "serve_local_"
PROBE_TIMEOUT_S = 2.0


def parse_service_dist(text: str) -> tuple[str, float]:
    """``"exp"`` | ``"const"`` | ``"lognormal:SIGMA"`` -> ``(kind, sigma)`` (sigma is 0 unless lognormal)."""
    kind, _, arg = text.strip().partition(":")
    if kind in ("exp", "const") and not arg:
        return kind, 0.0
    if kind == "lognormal":
        with contextlib.suppress(ValueError):
            sigma = float(arg)
            if 0 < sigma < 10:
                return kind, sigma
    raise InputError(_SETTINGS, "service_dist", "exp, const or lognormal:SIGMA with 0 < SIGMA < 10", repr(text))


def _require(ok: bool, where: str, expected: str, found: object) -> None:
    if not ok:
        raise InputError(_SETTINGS, where, expected, repr(found))


@dataclass(frozen=True)
class EndpointSettings:
    """How the emulated endpoint behaves.

    ``workers``: concurrent model workers per instance (c of the M/G/c queue); ``service_ms``: mean
    service time (ms); ``service_dist``: ``exp`` | ``const`` | ``lognormal:SIGMA`` (SIGMA of the
    underlying normal; the mean stays ``service_ms``); ``queue_limit``: requests allowed to wait per
    instance beyond the busy workers (0 = unbounded). An invocation that finds its instance's queue
    full is answered ``503 Service Unavailable``, as the common SageMaker serving stacks do when
    their job queue is full (TorchServe, Multi Model Server) and as InvokeEndpoint reports it
    (ModelError with OriginalStatusCode 503): 503 says the server is overloaded, where 429 would
    blame the client's request rate. ``instances``: copies behind one front;
    ``routing``: ``round-robin`` | ``least-outstanding`` | ``random`` (SageMaker's two routing
    strategies are RANDOM and LEAST_OUTSTANDING_REQUESTS); ``seed``: seeds service times and random
    routing; ``instance_type`` / ``profile``: labels for runs collected against it.
    """

    workers: int = 1
    service_ms: float = 20.0
    service_dist: str = "exp"
    queue_limit: int = 0
    instances: int = 1
    routing: str = "round-robin"
    seed: int | None = 0
    instance_type: str = "local"
    profile: str | None = None

    def __post_init__(self) -> None:
        _require(isinstance(self.workers, int) and self.workers >= 1, "workers", "an integer >= 1", self.workers)
        _require(math.isfinite(self.service_ms) and self.service_ms >= 0, "service_ms", "a finite number >= 0",
                 self.service_ms)
        parse_service_dist(self.service_dist)
        _require(isinstance(self.queue_limit, int) and self.queue_limit >= 0, "queue_limit",
                 "an integer >= 0 (0 = unbounded)", self.queue_limit)
        _require(isinstance(self.instances, int) and self.instances >= 1, "instances", "an integer >= 1",
                 self.instances)
        _require(self.routing in ROUTINGS, "routing", " | ".join(ROUTINGS), self.routing)

    @property
    def service_scv(self) -> float:
        """Squared coefficient of variation of the service time (1 exp, 0 const, e^sigma^2 - 1 lognormal)."""
        kind, sigma = parse_service_dist(self.service_dist)
        return {"exp": 1.0, "const": 0.0}.get(kind, math.expm1(sigma**2))

    @property
    def capacity_rps(self) -> float:
        """Saturation throughput of the whole endpoint, ``instances * workers * 1000 / service_ms`` (1/s)."""
        return math.inf if self.service_ms == 0 else self.instances * self.workers * 1000.0 / self.service_ms

    def to_dict(self) -> dict[str, object]:
        """Fields plus ``service_scv`` and ``capacity_rps`` (None when unbounded, i.e. ``service_ms`` = 0)."""
        capacity = None if math.isinf(self.capacity_rps) else self.capacity_rps
        return {**dataclasses.asdict(self), "service_scv": self.service_scv, "capacity_rps": capacity}

    def labels(self) -> dict[str, str]:
        """Run labels recording these settings: ``serve_local_workers``, ``serve_local_service_ms``... (unset
        fields left out)."""
        return {LABEL_PREFIX + k: str(v) for k, v in dataclasses.asdict(self).items() if v is not None}


# Presets emulating published instance behaviour; override any field with dataclasses.replace.
#
# GPU presets are calibrated from the aws-samples MME GPU benchmark (ResNet-50 on ml.g4dn.2xlarge,
# Locust 20..200 users; ../shared/datasets/sagemaker-mme-gpu/). Locust's latency includes the
# network and client, which the emulator folds into the service time; "workers" is the endpoint's
# effective concurrency, not a count of GPU streams.
#   PyTorch: low load (~24 rps) p50 120 ms, p90 150 ms, p99 190 ms. Lognormal sigma from p90/p50:
#     ln(150/120)/1.2816 = 0.17, from p99/p50: ln(190/120)/2.3263 = 0.20 -> sigma 0.2, so mean =
#     median * exp(sigma^2/2) = 120 * 1.02 = 122 ms. Plateau (80..200 users) 113.2..117.0 rps, mean
#     114.9 rps -> workers = 114.9 * 0.122 = 14.0 -> 14 workers: capacity 14 * 1000/122 = 114.8 rps.
#   TensorRT: low load p50 100 ms, p90 130 ms, p99 160 ms -> sigma ln(1.3)/1.2816 = 0.20 and
#     ln(1.6)/2.3263 = 0.20; mean 100 * 1.02 = 102 ms. Plateau (100..200 users) 134.6..140.0 rps,
#     mean 137.6 rps -> workers = 137.6 * 0.102 = 14.0 -> 14 workers: capacity 137.3 rps.
# CPU presets are illustrative, not calibrated: one worker per vCPU, a small model's service time.
PROFILES: dict[str, EndpointSettings] = {
    "g4dn.2xlarge-resnet50-pt": EndpointSettings(workers=14, service_ms=122.0, service_dist="lognormal:0.2",
                                                 instance_type="ml.g4dn.2xlarge",
                                                 profile="g4dn.2xlarge-resnet50-pt"),
    "g4dn.2xlarge-resnet50-trt": EndpointSettings(workers=14, service_ms=102.0, service_dist="lognormal:0.2",
                                                  instance_type="ml.g4dn.2xlarge",
                                                  profile="g4dn.2xlarge-resnet50-trt"),
    "m5.xlarge-small-model": EndpointSettings(workers=4, service_ms=25.0, service_dist="lognormal:0.3",
                                              instance_type="ml.m5.xlarge", profile="m5.xlarge-small-model"),
    "c5.2xlarge-small-model": EndpointSettings(workers=8, service_ms=20.0, service_dist="lognormal:0.3",
                                               instance_type="ml.c5.2xlarge", profile="c5.2xlarge-small-model"),
}


def profile_settings(name: str, **overrides: Any) -> EndpointSettings:
    """The preset ``name`` with ``overrides`` (e.g. ``instances=3``) applied; InputError for a bad value."""
    if name not in PROFILES:
        raise InputError(_SETTINGS, "profile", " | ".join(PROFILES), repr(name))
    return dataclasses.replace(PROFILES[name], **overrides)


class ServiceTimes:
    """Seeded service-time draws (s) with mean ``service_ms``; drawn from numpy in blocks for speed."""

    def __init__(self, service_ms: float, service_dist: str, rng: np.random.Generator, block: int = 1024) -> None:
        self.mean_s = service_ms / 1000.0
        self.kind, self.sigma = parse_service_dist(service_dist)
        self._rng = rng
        self._block = block
        self._buffer: list[float] = []
        self._next = 0

    def draw_s(self, n: int) -> np.ndarray:
        """``n`` service times (s)."""
        if self.kind == "const" or self.mean_s == 0:
            return np.full(n, self.mean_s)
        if self.kind == "exp":
            return self._rng.exponential(self.mean_s, n)
        mu = math.log(self.mean_s) - self.sigma**2 / 2  # E[lognormal(mu, sigma)] = exp(mu + sigma^2/2) = mean
        return self._rng.lognormal(mu, self.sigma, n)

    def next_s(self) -> float:
        """The next service time (s)."""
        if self._next == len(self._buffer):
            self._buffer = self.draw_s(self._block).tolist()
            self._next = 0
        self._next += 1
        return self._buffer[self._next - 1]


@dataclass(frozen=True)
class EndpointStats:
    """Counters since start: invocations served (200) and rejected (503), per instance and in total.

    ``max_queue_depth``: most requests ever waiting for a worker on one instance; ``connections``:
    TCP connections accepted (keep-alive clients open few).
    """

    served: int
    rejected: int
    served_per_instance: tuple[int, ...]
    rejected_per_instance: tuple[int, ...]
    max_queue_depth_per_instance: tuple[int, ...]
    max_queue_depth: int
    outstanding: int
    connections: int

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


class _Instance:
    """One model instance: ``workers`` slots and a FIFO wait queue of at most ``queue_limit`` (0 = unbounded)."""

    def __init__(self, index: int, settings: EndpointSettings, rng: np.random.Generator) -> None:
        self.index = index
        self.workers = settings.workers
        self.capacity = settings.workers + settings.queue_limit if settings.queue_limit else math.inf
        self.service = ServiceTimes(settings.service_ms, settings.service_dist, rng)
        self.slots = asyncio.Semaphore(settings.workers)
        self.outstanding = 0
        self.served = 0
        self.rejected = 0
        self.max_waiting = 0

    async def invoke(self) -> tuple[float, float, float]:
        """Wait for a worker, hold it for one drawn service time; -> (wait_s, drawn service_s, held_s)."""
        self.outstanding += 1
        self.max_waiting = max(self.max_waiting, self.outstanding - self.workers)
        arrived = time.perf_counter()
        try:
            async with self.slots:
                started = time.perf_counter()
                service_s = self.service.next_s()
                if service_s > 0:
                    await asyncio.sleep(service_s)
                held_s = time.perf_counter() - started
        finally:
            self.outstanding -= 1
        self.served += 1
        return started - arrived, service_s, held_s


class _HttpError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class _Request(NamedTuple):
    method: bytes
    path: bytes
    keep_alive: bool
    content_length: int


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
            431: "Request Header Fields Too Large", 501: "Not Implemented", 503: "Service Unavailable"}
_ROUTES = {b"/ping": b"GET", b"/invocations": b"POST", SETTINGS_PATH.encode(): b"GET"}
_VERSIONS = (b"HTTP/1.1", b"HTTP/1.0")


def _response(status: int, body: bytes = b"", keep_alive: bool = True, extra: str = "") -> bytes:
    """A complete HTTP/1.1 response (head and body in one buffer, written with one ``write``)."""
    head = f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Length: {len(body)}\r\n{extra}"
    if body:
        head += "Content-Type: application/json\r\n"
    if not keep_alive:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode("ascii") + body


def _error_body(detail: str) -> bytes:
    return json.dumps({"error": detail}).encode()


_PONG = _response(200)


def _parse_head(head: bytes) -> _Request:
    """Request line and header fields (``head`` ends with the blank line); raises :class:`_HttpError`."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[0].isalpha() or parts[1][:1] != b"/" or parts[2] not in _VERSIONS:
        raise _HttpError(400, "malformed request line")
    fields = {}
    for line in lines[1:-2]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name[-1:].isspace():
            raise _HttpError(400, "malformed header line")
        fields[name.lower()] = value
    if b"transfer-encoding" in fields:
        raise _HttpError(501, "Transfer-Encoding is not supported; send Content-Length")
    length = fields.get(b"content-length", b"0").strip()
    if not length.isdigit():
        raise _HttpError(400, "malformed Content-Length")
    if int(length) > MAX_PAYLOAD_BYTES:
        raise _HttpError(413, f"payload over {MAX_PAYLOAD_BYTES} bytes")
    connection = fields.get(b"connection", b"").lower()
    keep_alive = b"close" not in connection if parts[2] == b"HTTP/1.1" else b"keep-alive" in connection
    return _Request(parts[0], parts[1].partition(b"?")[0], keep_alive, int(length))


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """The next request on a connection (its body read and discarded); None on a clean close."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _HttpError(400, "incomplete request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise _HttpError(431, f"request head over {MAX_HEAD_BYTES} bytes") from None
    request = _parse_head(head)
    if request.content_length:
        await reader.readexactly(request.content_length)
    return request


def _set_nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Front:
    """The HTTP front: parses requests, routes invocations to instances, keeps the counters."""

    def __init__(self, settings: EndpointSettings) -> None:
        self.settings = settings
        seeds = np.random.SeedSequence(settings.seed).spawn(settings.instances + 1)
        self.instances = [_Instance(i, settings, np.random.default_rng(s)) for i, s in enumerate(seeds[1:])]
        self._router_rng = np.random.default_rng(seeds[0])
        self._next = 0
        self._connections: set[asyncio.Task] = set()
        self._accepted = 0
        self._server: asyncio.Server | None = None
        self._identity = json.dumps({IDENTITY_KEY: dataclasses.asdict(settings)}).encode()

    async def open(self, host: str, port: int) -> int:
        """Listen on host:port (0 = any free port); -> the bound port."""
        try:
            self._server = await asyncio.start_server(self._serve_connection, host, port, limit=MAX_HEAD_BYTES,
                                                      backlog=1024)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise PlannerError(f"cannot listen on {host}:{port}: {reason}") from None
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop open connections (in-flight requests are cancelled)."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stats(self) -> EndpointStats:
        served = tuple(i.served for i in self.instances)
        rejected = tuple(i.rejected for i in self.instances)
        depth = tuple(i.max_waiting for i in self.instances)
        return EndpointStats(sum(served), sum(rejected), served, rejected, depth, max(depth),
                             sum(i.outstanding for i in self.instances), self._accepted)

    def _route(self) -> _Instance:
        n = len(self.instances)
        if self.settings.routing == "random":
            return self.instances[int(self._router_rng.integers(n))]
        start = self._next
        self._next = (start + 1) % n
        if self.settings.routing == "round-robin":
            return self.instances[start]
        order = (self.instances[(start + k) % n] for k in range(n))  # ties go round-robin
        return min(order, key=lambda inst: inst.outstanding)

    async def _invoke(self, keep_alive: bool) -> bytes:
        instance = self._route()
        if instance.outstanding >= instance.capacity:
            instance.rejected += 1
            return _response(503, _error_body("instance queue full"), keep_alive)
        wait_s, service_s, held_s = await instance.invoke()
        body = (f'{{"instance": {instance.index}, "service_ms": {service_s * 1e3:.3f}, '
                f'"busy_ms": {held_s * 1e3:.3f}, "wait_ms": {wait_s * 1e3:.3f}}}')
        return _response(200, body.encode(), keep_alive)

    async def _answer(self, request: _Request) -> bytes:
        allowed = _ROUTES.get(request.path)
        if allowed is None:
            return _response(404, _error_body("not found: use GET /ping or POST /invocations"), request.keep_alive)
        if request.method != allowed:
            return _response(405, _error_body(f"{request.path.decode()} takes {allowed.decode()}"),
                             request.keep_alive, extra=f"Allow: {allowed.decode()}\r\n")
        if allowed == b"POST":
            return await self._invoke(request.keep_alive)
        if request.path == b"/ping":
            return _PONG if request.keep_alive else _response(200, keep_alive=False)
        return _response(200, self._identity, request.keep_alive)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None, "asyncio runs every connection handler in a task"
        self._connections.add(task)
        self._accepted += 1
        _set_nodelay(writer)
        try:
            while (request := await _read_request(reader)) is not None:
                writer.write(await self._answer(request))
                await writer.drain()
                if not request.keep_alive:
                    break
        except _HttpError as exc:
            writer.write(_response(exc.status, _error_body(str(exc)), keep_alive=False))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # close() ends the connection; re-raising would make asyncio log the handler as failed
        finally:
            self._connections.discard(task)
            writer.close()


def probe_serve_local(base_url: str, timeout_s: float = PROBE_TIMEOUT_S) -> EndpointSettings | None:
    """The settings of the ``planner serve-local`` endpoint at ``base_url`` (``http://host:port``), read
    from its ``GET /serve-local/settings``; None for any other server or when the probe fails (never raises).

    One request without proxies (as Locust sends its own), each socket operation bounded by ``timeout_s``.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(base_url.rstrip("/") + SETTINGS_PATH, timeout=timeout_s) as response:
            body = response.read(MAX_HEAD_BYTES)
    except (OSError, ValueError, http.client.HTTPException):  # refused, timed out, 4xx/5xx, not HTTP
        return None
    try:
        data = json.loads(body)[IDENTITY_KEY]
        known = {f.name for f in dataclasses.fields(EndpointSettings)}
        return EndpointSettings(**{k: v for k, v in data.items() if k in known})
    except (ValueError, TypeError, KeyError, AttributeError, InputError):  # not the emulator's answer
        return None


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class LocalEndpoint:
    """The emulated endpoint on a background thread: ``with LocalEndpoint(settings) as ep: ep.url``."""

    def __init__(self, settings: EndpointSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self._front = _Front(settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8080`` (the bound port once started)."""
        return _url(self.host, self.port)

    def start(self) -> LocalEndpoint:
        """Bind and serve on a background thread; ``port=0`` picks a free port (see ``.port``)."""
        loop = self._loop = asyncio.new_event_loop()
        thread = self._thread = threading.Thread(target=loop.run_forever, name="planner-serve-local", daemon=True)
        thread.start()
        try:
            self.port = asyncio.run_coroutine_threadsafe(self._front.open(self.host, self.port), loop).result()
        except PlannerError:
            self._shutdown_loop(loop, thread)
            raise
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._front.close(), self._loop).result()
        self._shutdown_loop(self._loop, self._thread)

    def _shutdown_loop(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        self._loop = self._thread = None

    def stats(self) -> EndpointStats:
        """Counters since start (a snapshot; safe to call while serving)."""
        return self._front.stats()

    def __enter__(self) -> LocalEndpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_forever(settings: EndpointSettings, host: str = "127.0.0.1", port: int = 8080,
                  duration_s: float | None = None, on_ready: Callable[[str], None] | None = None) -> EndpointStats:
    """Serve in the calling thread until SIGINT/SIGTERM or ``duration_s`` has passed; -> final counters.

    ``on_ready(url)`` is called once the socket is bound (the CLI prints the URL there). Signal
    handlers are installed only when called from the main thread.
    """

    async def main() -> EndpointStats:
        front = _Front(settings)
        bound = await front.open(host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        handled = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
                handled.append(sig)
        try:
            if on_ready is not None:
                on_ready(_url(host, bound))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration_s)
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            await front.close()
        return front.stats()

    return asyncio.run(main())
