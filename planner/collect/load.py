"""Drive a real Locust (headless, a subprocess) against an endpoint and ingest what it measured.

:func:`run_locust` drives any of the locustfile's users (HTTP here, SageMaker in
:mod:`planner.collect.sagemaker`); :func:`collect_http` and :func:`collect_and_ingest` aim it at
an HTTP URL.

The load is a staircase (:class:`StairsShape`): closed-loop users with zero think time, so users
= concurrency (``stairs:``), or open-loop levels of offered requests/s (``rate:``), each user
sending Poisson arrivals on its own schedule, so latency does not throttle the offered rate. The run is bounded three ways: the shape ends by itself after its last hold;
``max_duration_s`` (by default the shape's duration plus :data:`SHAPE_GRACE_S`, see
:func:`default_max_duration_s`) and ``max_requests`` stop it early from inside Locust (which then writes its
CSVs as on any graceful stop); a hard timeout (``kill_after_s``) sends SIGTERM to the process group
(Locust's handler writes its CSVs) and SIGKILL 10 s later. Any exception while Locust runs (Ctrl-C, or
SIGTERM/SIGHUP made one by :func:`planner.collect.signals.raising_on_stop_signals`) stops the process
group the same way before it propagates, forked workers included. Locust rewrites its CSVs every second,
so even a killed run leaves what it measured up to its last second.

A Locust process uses one core. When one process cannot generate the load, ``processes`` > 1 runs
Locust's own distributed mode on this machine (``--processes N``: a master running the shape and
writing the CSVs, N forked workers sending the requests). While Locust runs, the CPU of every
process of its tree is sampled every second into ``generator_cpu.csv`` (``cpu_percent``: the
busiest process, % of one core; ``cpu_total_percent``: all of them). A level whose busiest process
averaged more than :data:`SATURATED_CPU_PERCENT` of one core, or whose processes together averaged
more than that share of the machine's cores, measured the generator as much as the endpoint, and
is reported in ``generator_saturated_levels``.

Before the load, :func:`collect_http` asks the target whether it is ``planner serve-local``
(:func:`planner.collect.endpoint.probe_serve_local`); if so its runs default to ``origin=emulated``
and carry the emulator's settings as ``serve_local_*`` labels.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psutil

from planner.collect.endpoint import EndpointSettings, probe_serve_local
from planner.collection import IngestOutcome, ingest
from planner.errors import InputError, PlannerError
from planner.ingest.locust.percentiles import PERCENTILE_WINDOW_S
from planner.steps import MIN_LOAD_LEVELS, StepRules, finest_rules
from planner.store import RunStore

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
SATURATED_CPU_PERCENT = 90.0  # of one core
ABORT_AFTER_FAILURES = 200  # stop a run once this many requests failed and none succeeded
CSV_PREFIX = "locust"
CSV_SUFFIXES = ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv")
SHUTDOWN_GRACE_S = 20.0  # startup plus graceful stop, beyond max_duration_s, before the hard timeout
SHAPE_GRACE_S = 30.0  # default max_duration_s: the shape's own duration plus this
MASTER_PORT = 5557  # Locust's default master port
LOOPBACK = "127.0.0.1"  # where the master of --processes listens; only --expect-workers listens on every interface
WORKERS_MAX_WAIT_S = 60.0  # a master waits this long for its remote workers before giving up
_SHAPE = "--shape"


@dataclass(frozen=True)
class StairsShape:
    """Load levels: ``users`` per level, each held ``hold_s`` seconds after a ramp at ``spawn_rate``
    users/s, the first one ``warmup_s`` seconds when given. Closed loop (``user_rps`` None): no think time, users = concurrency. Open loop
    (``user_rps`` set): each user sends Poisson arrivals at ``user_rps`` requests/s on its own
    schedule, so a level offers ``users × user_rps`` requests/s whatever the latency (while a user's
    response takes less than its mean gap). ``ramp``: one closed-loop level reached by a continuous
    ramp from 0 (spelled ``ramp:``). :attr:`text` is the canonical spelling (``stairs:...``,
    ``rate:...`` or ``ramp:...``)."""

    users: tuple[int, ...]
    hold_s: float
    spawn_rate: float
    user_rps: float | None = None
    warmup_s: float | None = None
    ramp: bool = False

    @property
    def holds_s(self) -> tuple[float, ...]:
        """How long each level is held once reached (s)."""
        first = self.hold_s if self.warmup_s is None else self.warmup_s
        return (first,) + (self.hold_s,) * (len(self.users) - 1)

    @property
    def rates_rps(self) -> tuple[float, ...] | None:
        """Offered requests/s per level (open loop only)."""
        return tuple(u * self.user_rps for u in self.users) if self.user_rps else None

    @property
    def duration_s(self) -> float:
        """Planned length of the whole staircase, ramps included (s)."""
        steps = [abs(b - a) for a, b in zip((0, *self.users), self.users, strict=False)]
        return sum(steps) / self.spawn_rate + sum(self.holds_s)

    @property
    def text(self) -> str:
        if self.ramp:
            return f"ramp:users={self.users[0]},spawn-rate={self.spawn_rate:g},hold={self.hold_s:g}s"
        warmup = "" if self.warmup_s is None else f"warmup={self.warmup_s:g}s,"
        tail = f"{warmup}hold={self.hold_s:g}s,spawn-rate={self.spawn_rate:g}"
        if (rates := self.rates_rps) is not None:
            return f"rate:rps={','.join(f'{r:g}' for r in rates)},{tail},user-rps={self.user_rps:g}"
        return f"stairs:users={','.join(map(str, self.users))},{tail}"

    def users_at(self, t_s: float) -> float:
        """Users running ``t_s`` seconds into the staircase (ramps linear at ``spawn_rate``); 0 after it."""
        now, previous = 0.0, 0
        for users, hold_s in zip(self.users, self.holds_s, strict=True):
            ramp_s = abs(users - previous) / self.spawn_rate
            if t_s < now + ramp_s:
                return previous + (users - previous) * (t_s - now) / ramp_s
            now += ramp_s + hold_s
            if t_s < now:
                return float(users)
            previous = users
        return 0.0

    def env(self) -> dict[str, str]:
        """The environment variables :mod:`planner.collect.locustfile` reads."""
        env = {"PLANNER_STAIRS_USERS": ",".join(map(str, self.users)),
               "PLANNER_STAIRS_HOLDS_S": ",".join(f"{h:g}" for h in self.holds_s),
               "PLANNER_STAIRS_SPAWN_RATE": f"{self.spawn_rate:g}"}
        return env | ({"PLANNER_USER_RPS": f"{self.user_rps:g}"} if self.user_rps else {})

    def to_dict(self) -> dict[str, Any]:
        rates = self.rates_rps
        return {"users": list(self.users), "hold_s": self.hold_s, "warmup_s": self.warmup_s,
                "spawn_rate": self.spawn_rate, "ramp": self.ramp,
                "user_rps": self.user_rps, "rates_rps": list(rates) if rates is not None else None,
                "duration_s": self.duration_s, "text": self.text}


def _with_warmup(shape: StairsShape, warmup: str, expected: str) -> StairsShape:
    """``shape`` with its first level held ``warmup`` (a duration) instead of ``hold``."""
    try:
        warmup_s = _seconds(warmup)
    except ValueError as exc:
        raise InputError(_SHAPE, "warmup", expected, str(exc)) from None
    if warmup_s <= 0:
        raise InputError(_SHAPE, "warmup", expected, repr(warmup))
    return dataclasses.replace(shape, warmup_s=warmup_s)


def default_max_duration_s(shape: StairsShape) -> float:
    """The hard bound on the load when none is given: the shape's own duration plus :data:`SHAPE_GRACE_S` (s)."""
    return shape.duration_s + SHAPE_GRACE_S


# The staircase of DESIGN.md §10: warm up with 10 users for 30 s, then +2 users/s to 20, 40, 60 ... 200,
# each held 60 s (about 12 minutes).
PRESETS = {"seeds": "stairs:users=10,20,40..200,warmup=30s,hold=60s,spawn-rate=2"}


def _levels(text: str) -> list[float]:
    """``10,20..60`` -> 10,20,30,40,50,60: ``a..b`` continues by the difference of the two values
    before ``b`` (the previous item and ``a``) up to ``b`` inclusive."""
    levels: list[float] = []
    for item in text.split(","):
        first, dots, last = item.strip().partition("..")
        if not dots:
            levels.append(float(first))
            continue
        start, stop = float(first), float(last)
        step = start - levels[-1] if levels else 0.0
        count = (stop - start) / step if step > 0 else -1.0
        if count < 0 or abs(count - round(count)) > 1e-9:
            raise ValueError(f"{item!r} needs a smaller value before it and an end reached in whole steps")
        levels += [start + i * step for i in range(round(count) + 1)]
    if not levels or any(v <= 0 for v in levels):
        raise ValueError("levels must be > 0")
    return levels


def _users(text: str) -> tuple[int, ...]:
    levels = _levels(text)
    if any(v != int(v) for v in levels):
        raise ValueError("user counts must be integers >= 1")
    return tuple(int(v) for v in levels)


def _key_values(body: str, keys: tuple[str, ...], list_key: str) -> dict[str, str]:
    """``k=v,k=v`` where the ``list_key`` value may itself hold commas; each key at most once."""
    parts = dict.fromkeys(keys, "")
    key = ""
    for item in body.split(","):
        name, eq, value = item.partition("=")
        if eq:
            key = name.strip()
            if key not in parts or parts[key]:
                raise InputError(_SHAPE, "key", f"{', '.join(keys)} (each once)", repr(key))
            parts[key] = value
        elif key == list_key:
            parts[key] += "," + item
        else:
            raise InputError(_SHAPE, "item", "key=value", repr(item))
    return parts


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m|min)?", text.strip())
    if not match:
        raise ValueError(f"duration {text!r}")
    scale = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0}[match.group(2)]
    return float(match.group(1)) * scale


def _rate_shape(body: str, text: str) -> StairsShape:
    expected = "rate:rps=R,R..R[,warmup=DURATION],hold=DURATION[,user-rps=U][,spawn-rate=S]"
    parts = _key_values(body, ("rps", "warmup", "hold", "user-rps", "spawn-rate"), "rps")
    try:
        user_rps = float(parts["user-rps"] or 1)
        rates = _levels(parts["rps"]) if parts["rps"] else None
        hold_s = _seconds(parts["hold"]) if parts["hold"] else None
    except ValueError as exc:
        raise InputError(_SHAPE, "value", expected, str(exc)) from None
    if not rates or hold_s is None or hold_s <= 0 or not user_rps > 0:
        raise InputError(_SHAPE, "value", expected + " with hold > 0 and user-rps > 0", repr(text))
    users = tuple(round(r / user_rps) for r in rates)
    if any(u < 1 or abs(u * user_rps - r) > 1e-9 * r for u, r in zip(users, rates, strict=True)):
        raise InputError(_SHAPE, "rps", f"multiples of user-rps {user_rps:g}", parts["rps"])
    spawn_rate = float(parts["spawn-rate"]) if parts["spawn-rate"] else max(10.0, max(users) / 5)
    shape = StairsShape(users, hold_s, spawn_rate, user_rps)
    return _with_warmup(shape, parts["warmup"], expected) if parts["warmup"] else shape


def _users_hold_spawn(parts: dict[str, str], expected: str) -> tuple[tuple[int, ...] | None, float | None, float]:
    """``users`` (None if absent), ``hold`` in s (None if absent) and ``spawn-rate`` (default 1 user/s)."""
    try:
        users = _users(parts["users"]) if parts["users"] else None
        hold_s = _seconds(parts["hold"]) if parts["hold"] else None
        return users, hold_s, float(parts["spawn-rate"] or 1)
    except ValueError as exc:
        raise InputError(_SHAPE, "value", expected, str(exc)) from None


def _ramp_shape(body: str, text: str) -> StairsShape:
    expected = "ramp:users=N,spawn-rate=R,hold=DURATION"
    parts = _key_values(body, ("users", "spawn-rate", "hold"), "")
    users, hold_s, spawn_rate = _users_hold_spawn(parts, expected)
    if users is None or len(users) != 1 or hold_s is None or hold_s <= 0 or not spawn_rate > 0:
        raise InputError(_SHAPE, "value", expected + " with one user count, hold > 0 and spawn-rate > 0", repr(text))
    return StairsShape(users, hold_s, spawn_rate, ramp=True)


def hold_warning(shape: StairsShape, rules: StepRules | None = None) -> str | None:
    """Whether the holds (the warmup aside) can give usable steps under ``rules`` (default
    :class:`~planner.steps.StepRules`): a warning with the fix when a ramp climbs too fast for
    :data:`~planner.steps.MIN_LOAD_LEVELS` levels (its bins and the hold) or a hold is too short for a percentile
    (Locust's window, :data:`PERCENTILE_WINDOW_S`) or for one clear of the trimmed transition, else None; InputError when
    an open-loop level cannot even offer ``min_requests`` after the trim."""
    rules = rules or StepRules()
    finest = finest_rules(rules)
    if shape.ramp and (bins := _ramp_bins(shape, finest)) + 1 < MIN_LOAD_LEVELS:
        slower = shape.users[0] / (2 * MIN_LOAD_LEVELS * rules.min_duration_s)
        return (f"a ramp to {shape.users[0]} users at {shape.spawn_rate:g} users/s gives at most {bins} bin(s) of "
                f">= {finest.min_duration_s:g} s plus the hold, fewer than the {MIN_LOAD_LEVELS} load levels a latency "
                f"fit needs; use spawn-rate={slower:.2g} or less, or a staircase (stairs:users=...,hold=15s)")
    kept_s = shape.hold_s - rules.trim_s
    rates = (shape.rates_rps or ())[0 if shape.warmup_s is None else 1:]
    if rates and min(rates) * kept_s < rules.min_requests:
        raise InputError(_SHAPE, "hold", f">= {rules.min_requests} requests per level after the {rules.trim_s:g} s "
                         "trim", f"{min(rates):g} rps x {kept_s:g} s = {min(rates) * max(kept_s, 0):g}")
    clean_s = PERCENTILE_WINDOW_S + rules.trim_s
    if shape.hold_s < PERCENTILE_WINDOW_S:
        return (f"holds of {shape.hold_s:g} s give no percentiles: percentiles need holds >= "
                f"{PERCENTILE_WINDOW_S:g} s; use hold={clean_s + 3:g}s or more")
    if shape.hold_s < clean_s:
        return (f"holds of {shape.hold_s:g} s give percentiles only from windows that include each level's "
                f"transition (the {rules.trim_s:g} s trim); use hold={clean_s + 3:g}s or more")
    return None


def _ramp_bins(shape: StairsShape, rules: StepRules) -> int:
    """Bins of at least ``rules.min_duration_s`` a ramp's levels (1 .. users - 1, each ``1 / spawn_rate``
    s or one 1 s history row) can make, requests permitting."""
    level_s = max(1.0 / shape.spawn_rate, 1.0)
    levels = (shape.users[0] - 1) / shape.spawn_rate / level_s
    return int(levels // math.ceil(rules.min_duration_s / level_s))


def parse_shape(text: str) -> StairsShape:
    """A closed-loop staircase, an open-loop rate staircase, a continuous ramp, or a preset name
    (:data:`PRESETS`).

    ``stairs:users=10,20,40..200,warmup=30s,hold=60s,spawn-rate=2``: ``users`` lists the levels;
    ``a..b`` steps on by the previous difference (``10,20..60`` = 10,20,30,40,50,60); ``hold`` is
    seconds per level (``s``, ``ms`` or ``m`` suffix), ``warmup`` the first level's if it differs
    (optional, also for ``rate:``); ``spawn-rate`` users/s (default 1).
    ``rate:rps=30,60..180,hold=30s,user-rps=1``: offered requests/s per level (Poisson arrivals,
    ``user-rps`` per user, so rates must be multiples of it; default 1); ``spawn-rate`` defaults to
    a fifth of the largest level's users per second (at least 10).
    ``ramp:users=40,spawn-rate=0.5,hold=60s``: closed-loop users rise continuously from 0 to
    ``users`` at ``spawn-rate`` users/s (default 1), then hold ``users`` for ``hold``, as the seed
    posts run Locust (``locust -u 240 -r 1``).
    """
    spelled = PRESETS.get(text.strip(), text.strip())
    expected = "stairs:users=N,N..N[,warmup=DURATION],hold=DURATION[,spawn-rate=R]"
    kind, colon, body = spelled.partition(":")
    if kind == "rate" and colon:
        return _rate_shape(body, text)
    if kind == "ramp" and colon:
        return _ramp_shape(body, text)
    if kind != "stairs" or not colon:
        raise InputError(_SHAPE, "kind", f"{expected} | rate:rps=R,R..R,hold=DURATION[,user-rps=U] | "
                         "ramp:users=N,spawn-rate=R,hold=DURATION | "
                         + " | ".join(PRESETS), repr(text))
    parts = _key_values(body, ("users", "warmup", "hold", "spawn-rate"), "users")
    users, hold_s, spawn_rate = _users_hold_spawn(parts, expected)
    if users is None or hold_s is None or hold_s <= 0 or not spawn_rate > 0:
        raise InputError(_SHAPE, "value", expected + " with hold > 0 and spawn-rate > 0", repr(text))
    shape = StairsShape(users, hold_s, spawn_rate)
    return _with_warmup(shape, parts["warmup"], expected) if parts["warmup"] else shape


def write_payload(path: Path, out: Path) -> Path:
    """Check a JSON-lines payload file (``{"body": ..., "content_type": ...}`` per line; a non-string
    body is sent as JSON; content type defaults to application/json) and write it to ``out`` with
    every body as the exact text to send."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"line {number}", "a JSON object", f"invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "body" not in row:
            raise InputError(path, f"line {number}", 'an object with "body"', line[:60])
        body = row["body"] if isinstance(row["body"], str) else json.dumps(row["body"])
        content_type = row.get("content_type", "application/json")
        if not isinstance(content_type, str) or not content_type:
            raise InputError(path, f"line {number}: content_type", "a MIME type string", repr(content_type))
        rows.append(json.dumps({"body": body, "content_type": content_type}))
    if not rows:
        raise InputError(path, "content", "at least one payload line", "none")
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out


@dataclass(frozen=True, kw_only=True)
class CollectResult:
    """What one Locust run measured and where its files are.

    ``url``: the target (``http(s)://...`` or ``sagemaker://...``); ``stop_reason``:
    shape-complete | max-duration | max-requests | all-failed | killed; ``started_at_s`` /
    ``ended_at_s``: wall clock (epoch s) when Locust was launched and when it exited;
    ``processes``: Locust processes sending requests (``remote_workers`` of them on other machines,
    whose CPU is not sampled); ``generator_saturated_levels``: user counts of levels where the
    generator's CPU was saturated (see the module docstring); ``max_duration_s``: the bound the
    load ran under (s); ``serve_local``: the target's settings when it is ``planner serve-local``.
    """

    url: str
    shape: StairsShape
    out_dir: Path
    csv_paths: tuple[Path, ...]
    stop_reason: str
    exit_code: int
    wall_s: float
    request_count: int
    failure_count: int
    generator_cpu_max_percent: float
    generator_saturated_levels: tuple[int, ...]
    started_at_s: float
    ended_at_s: float
    processes: int
    log_path: Path = field(repr=False)
    remote_workers: int = 0
    max_duration_s: float | None = None
    serve_local: EndpointSettings | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "shape": self.shape.to_dict(), "out_dir": str(self.out_dir),
                "csv_paths": [str(p) for p in self.csv_paths], "stop_reason": self.stop_reason,
                "exit_code": self.exit_code, "wall_s": self.wall_s, "request_count": self.request_count,
                "failure_count": self.failure_count, "generator_cpu_max_percent": self.generator_cpu_max_percent,
                "generator_saturated_levels": list(self.generator_saturated_levels),
                "started_at_s": self.started_at_s, "ended_at_s": self.ended_at_s, "processes": self.processes,
                "remote_workers": self.remote_workers, "log_path": str(self.log_path),
                "max_duration_s": self.max_duration_s,
                "serve_local": self.serve_local.to_dict() if self.serve_local else None}


def public_url(url: str, keep_user: bool = True) -> str:
    """``url`` without the password of its ``user:password@`` part (the user name stays unless not
    ``keep_user``): what may be stored, labelled or printed. The requests use the URL as given."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user.partition(':')[0]}@{host}" if keep_user else host
    return urlunsplit(parts._replace(netloc=netloc))


def http_target(url: str) -> tuple[str, str]:
    """-> (``scheme://[user:password@]host:port``, path); PlannerError when the URL is not http(s) or
    nothing listens (errors name :func:`public_url`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("TARGET", "url", "http://HOST[:PORT][/PATH] or https://...", repr(public_url(url)))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=5).close()
    except OSError as exc:
        raise PlannerError(f"{public_url(url)}: cannot connect to {parts.hostname}:{port} "
                           f"({exc.strerror or exc})") from None
    path = parts.path if parts.path not in ("", "/") else "/invocations"
    return f"{parts.scheme}://{parts.netloc}", path + (f"?{parts.query}" if parts.query else "")


def _host_env(host: str | None) -> dict[str, str]:
    """Locust's ``--host`` as its environment variable: a password in it stays out of the process list."""
    return {"LOCUST_HOST": host} if host else {}


def _locust_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LOCUST_", "PLANNER_STAIRS_", "PLANNER_MAX_", "PLANNER_SAGEMAKER_", "PLANNER_USER",
                                   "PLANNER_PROCESSES"))}
    return {**env, **extra}


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (Locust writes its CSVs), SIGKILL it 10 s later if still alive."""
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


class _TreeCpu:
    """CPU of a process and its descendants (Locust's master and forked workers), per process."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.known: dict[int, psutil.Process] = {}
        self.sample()  # primes the counters: psutil measures from one call to the next

    def sample(self) -> list[float]:
        """% of one core each live process used since the previous call (0 for a process seen first)."""
        try:
            tree = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return []
        values = []
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                values.append(self.known.setdefault(proc.pid, proc).cpu_percent(None))
        return values


def _run_sampling(proc: subprocess.Popen, cpu_path: Path, kill_after_s: float) -> bool:
    """Wait for ``proc``, sampling its process tree's CPU each second into ``cpu_path``;
    -> True when the hard timeout stopped it."""
    started = time.monotonic()
    with cpu_path.open("w", encoding="utf-8") as out:
        out.write("timestamp,cpu_percent,cpu_total_percent,processes\n")
        try:
            sampler = _TreeCpu(proc.pid)
        except psutil.Error:  # exited already
            return False
        while proc.poll() is None:
            if time.monotonic() - started > kill_after_s:
                _stop_group(proc)
                return True
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1.0)
            values = sampler.sample()
            if values:
                out.write(f"{time.time():.3f},{max(values):.1f},{sum(values):.1f},{len(values)}\n")
    return False


def saturated_levels(history_csv: Path, cpu_csv: Path, threshold_percent: float = SATURATED_CPU_PERCENT,
                     cores: int | None = None) -> tuple[float, tuple[int, ...]]:
    """-> (max CPU % of the busiest Locust process, user counts of saturated levels).

    A level is saturated when its busiest process averaged more than ``threshold_percent`` of one
    core, or (with a ``cpu_total_percent`` column) all processes together more than that share of
    ``cores`` (default: this machine's). Each CPU sample is assigned the user count of the last
    history row at or before it.
    """
    cpu = pd.read_csv(cpu_csv)
    if cpu.empty:
        return 0.0, ()
    history = pd.read_csv(history_csv, usecols=["Timestamp", "User Count", "Name"])
    history = history[history["Name"] == "Aggregated"].astype({"Timestamp": "float64"}).sort_values("Timestamp")
    cpu = cpu.astype({"timestamp": "float64"}).sort_values("timestamp")
    joined = pd.merge_asof(cpu, history, left_on="timestamp", right_on="Timestamp", direction="backward")
    joined = joined[joined["User Count"].fillna(0) > 0]
    means = joined.groupby("User Count").mean(numeric_only=True)
    saturated = means["cpu_percent"] > threshold_percent
    if "cpu_total_percent" in means:
        saturated |= means["cpu_total_percent"] > threshold_percent * (cores or os.cpu_count() or 1)
    return float(cpu["cpu_percent"].max()), tuple(int(u) for u in means.index[saturated])


def _totals(stats_csv: Path) -> tuple[int, int]:
    stats = pd.read_csv(stats_csv)
    total = stats[stats["Name"] == "Aggregated"]
    if total.empty:
        return 0, 0
    return int(total["Request Count"].iloc[0]), int(total["Failure Count"].iloc[0])


def _log_tail(log_path: Path) -> str:
    lines = [ln.strip() for ln in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def _check_limits(max_duration_s: float, max_requests: int | None, processes: int) -> None:
    if max_duration_s <= 0:
        raise InputError("--max-duration-s", "value", "a number of seconds > 0", repr(max_duration_s))
    if max_requests is not None and max_requests < 1:
        raise InputError("--max-requests", "value", "an integer >= 1", repr(max_requests))
    if processes < 1:
        raise InputError("--processes", "value", "an integer >= 1", repr(processes))


def _first_failure(failures_csv: Path) -> str:
    """The most frequent error Locust recorded, or '' (its failures file may be missing)."""
    with contextlib.suppress(OSError, ValueError, KeyError, pd.errors.EmptyDataError):
        failures = pd.read_csv(failures_csv)
        if not failures.empty:
            top = failures.sort_values("Occurrences", ascending=False).iloc[0]
            return f"; most frequent: {str(top['Error'])[:200]}"
    return ""


def run_locust(target: str, shape: StairsShape, *, user_env: Mapping[str, str], out_dir: Path,
               max_duration_s: float, max_requests: int | None = None, payload: Path | None = None,
               kill_after_s: float | None = None, processes: int = 1, host: str | None = None,
               expect_workers: int = 0, master_port: int = MASTER_PORT) -> CollectResult:
    """Run Locust headless with the locustfile's user that ``user_env`` selects (``PLANNER_USER``
    and its settings, see :mod:`planner.collect.locustfile`) and ``shape``; ``target`` names the
    endpoint in results and errors, ``host`` is Locust's ``--host`` (HTTP users).

    Stops at the end of the shape, after ``max_duration_s`` seconds of load or ``max_requests``
    requests; ``kill_after_s`` (default ``max_duration_s`` + 20 s) is the hard wall-clock limit.
    ``processes`` > 1 runs Locust's distributed mode with that many worker processes here;
    ``expect_workers`` > 0 makes this the master of that many workers started elsewhere with
    :func:`run_worker` (on ``master_port``; it waits up to :data:`WORKERS_MAX_WAIT_S` for them, and
    samples only its own CPU). Raises
    PlannerError when Locust wrote no CSVs, or when every request failed (such a run says nothing
    about capacity; its files stay in ``out_dir``).
    """
    _check_limits(max_duration_s, max_requests, processes)
    if expect_workers and processes > 1:
        raise InputError("--processes", "value", "1 with --expect-workers (the workers run elsewhere)", str(processes))
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = out_dir / CSV_PREFIX
    reason_path, log_path, cpu_path = out_dir / "stop_reason.txt", out_dir / "locust.log", out_dir / "generator_cpu.csv"
    reason_path.unlink(missing_ok=True)
    env = {**shape.env(), **user_env, "PLANNER_MAX_DURATION_S": f"{max_duration_s:g}",
           "PLANNER_STOP_REASON_FILE": str(reason_path), "PLANNER_ABORT_AFTER_FAILURES": str(ABORT_AFTER_FAILURES),
           "PLANNER_MAX_REQUESTS": str(max_requests or ""), "PLANNER_PROCESSES": str(expect_workers or processes),
           "PLANNER_PAYLOAD": str(write_payload(payload, out_dir / "payload.jsonl")) if payload else "",
           **_host_env(host)}
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
               # the forked workers connect over loopback: nothing else may drive this machine's Locust
               *(["--processes", str(processes), "--master-bind-host", LOOPBACK] if processes > 1 else []),
               *(["--master", "--expect-workers", str(expect_workers), "--master-bind-port", str(master_port),
                  "--expect-workers-max-wait", f"{WORKERS_MAX_WAIT_S:g}"] if expect_workers else []),
               "--csv", str(prefix), "--csv-full-history", "--only-summary", "--loglevel", "WARNING",
               "--stop-timeout", "2", "--exit-code-on-error", "0"]
    started, started_at_s = time.monotonic(), time.time()
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, cwd=out_dir, env=_locust_env(env), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            waiting_s = WORKERS_MAX_WAIT_S if expect_workers else 0.0
            killed = _run_sampling(proc, cpu_path, kill_after_s or max_duration_s + SHUTDOWN_GRACE_S + waiting_s)
        finally:
            if proc.poll() is None:
                _stop_group(proc)
    wall_s = time.monotonic() - started
    csv_paths = tuple(Path(f"{prefix}{suffix}") for suffix in CSV_SUFFIXES)
    if not all(p.exists() and p.stat().st_size > 0 for p in csv_paths[:2]):
        raise PlannerError(f"{target}: Locust wrote no CSVs (exit code {proc.returncode}; {log_path}: "
                           f"{_log_tail(log_path)})")
    requests, failures = _totals(csv_paths[0])
    if requests == 0 or failures == requests:
        raise PlannerError(f"{target}: no request succeeded ({failures} of {requests} failed"
                           f"{_first_failure(csv_paths[2])}; see {csv_paths[2]} and {log_path})")
    cpu_max, saturated = saturated_levels(csv_paths[1], cpu_path)
    reason = "killed" if killed else (reason_path.read_text(encoding="utf-8").strip()
                                      if reason_path.exists() else "unknown")
    return CollectResult(url=target, shape=shape, out_dir=out_dir, csv_paths=tuple(p for p in csv_paths if p.exists()),
                         stop_reason=reason, exit_code=proc.returncode, wall_s=wall_s, request_count=requests,
                         failure_count=failures, generator_cpu_max_percent=cpu_max,
                         generator_saturated_levels=saturated, started_at_s=started_at_s,
                         ended_at_s=started_at_s + wall_s, processes=expect_workers or processes, log_path=log_path,
                         remote_workers=expect_workers, max_duration_s=max_duration_s)


def run_worker(target: str, shape: StairsShape, *, user_env: Mapping[str, str], master_host: str,
               master_port: int = MASTER_PORT, workers: int = 1, out_dir: Path, max_duration_s: float,
               max_requests: int | None = None, payload: Path | None = None, host: str | None = None) -> int:
    """A Locust worker for a master started elsewhere with ``expect_workers`` (same target, shape and
    bounds; ``workers`` = how many the master expects, for this one's share of ``max_requests``).
    Sends the requests the master's shape asks for and returns Locust's exit code when the master
    stops it; a hard timeout ends it if the master never does."""
    _check_limits(max_duration_s, max_requests, 1)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**shape.env(), **user_env, "PLANNER_MAX_REQUESTS": str(max_requests or ""),
           "PLANNER_PROCESSES": str(workers),
           "PLANNER_PAYLOAD": str(write_payload(payload, out_dir / "payload.jsonl")) if payload else "",
           **_host_env(host)}
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", master_host,
               "--master-port", str(master_port), "--loglevel", "WARNING"]
    with (out_dir / "locust_worker.log").open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, cwd=out_dir, env=_locust_env(env), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=max_duration_s + 2 * SHUTDOWN_GRACE_S + WORKERS_MAX_WAIT_S)
        except subprocess.TimeoutExpired:
            _stop_group(proc)
        finally:
            if proc.poll() is None:
                _stop_group(proc)
    return proc.returncode


def collect_http(url: str, shape: StairsShape, *, out_dir: Path, max_duration_s: float,
                 max_requests: int | None = None, payload: Path | None = None,
                 kill_after_s: float | None = None, processes: int = 1, expect_workers: int = 0,
                 master_port: int = MASTER_PORT) -> CollectResult:
    """:func:`run_locust` against ``url`` (POST to its path, default ``/invocations``); PlannerError
    first when nothing listens there. Before the load, a ``GET`` of its settings path bounded by
    :data:`~planner.collect.endpoint.PROBE_TIMEOUT_S` asks whether the target is ``planner
    serve-local`` (``serve_local`` of the result; None for any other server or a failed probe)."""
    host, path = http_target(url)
    emulator = probe_serve_local(public_url(host, keep_user=False))
    result = run_locust(public_url(url), shape, user_env=http_user_env(path), out_dir=out_dir,
                        max_duration_s=max_duration_s, max_requests=max_requests, payload=payload,
                        kill_after_s=kill_after_s, processes=processes, host=host, expect_workers=expect_workers,
                        master_port=master_port)
    return dataclasses.replace(result, serve_local=emulator)


def http_user_env(path: str) -> dict[str, str]:
    """The locustfile settings of the HTTP user POSTing to ``path``."""
    return {"PLANNER_USER": "http", "PLANNER_TARGET_PATH": path}


def run_labels(result: CollectResult, labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """Labels of a collected run: the user's, then target, shape, stop reason, Locust processes,
    saturated generator levels and a ``planner serve-local`` target's settings (``serve_local_*``)."""
    out = {**dict(labels or {}), "target_url": result.url, "shape": result.shape.text,
           "stop_reason": result.stop_reason, "collector": "planner collect (locust)",
           "arrivals": "open" if result.shape.user_rps else "closed"}
    if result.remote_workers:
        out["locust_remote_workers"] = str(result.remote_workers)
    elif result.processes > 1:
        out["locust_processes"] = str(result.processes)
    if result.generator_saturated_levels:
        out["generator_saturated_users"] = ",".join(map(str, result.generator_saturated_levels))
    return out | (result.serve_local.labels() if result.serve_local else {})


def collect_and_ingest(store: RunStore, url: str, shape: StairsShape, *, out_dir: Path, max_duration_s: float,
                       max_requests: int | None = None, payload: Path | None = None,
                       meta: Mapping[str, Any] | None = None, labels: Mapping[str, str] | None = None,
                       origin: str | None = None, kill_after_s: float | None = None, processes: int = 1,
                       expect_workers: int = 0, master_port: int = MASTER_PORT) -> tuple[IngestOutcome, CollectResult]:
    """:func:`collect_http`, then ingest its CSV set as one run labelled by :func:`run_labels`.
    ``origin`` defaults to ``emulated`` when the target is ``planner serve-local``, else ``measured``."""
    result = collect_http(url, shape, out_dir=out_dir, max_duration_s=max_duration_s, max_requests=max_requests,
                          payload=payload, kill_after_s=kill_after_s, processes=processes,
                          expect_workers=expect_workers, master_port=master_port)
    origin = origin or ("emulated" if result.serve_local else "measured")
    outcomes = ingest(store, result.csv_paths, fmt="auto", meta=meta, labels=run_labels(result, labels),
                      origin=origin)
    runs = [o for o in outcomes if o.status != "skipped"]
    if len(runs) != 1:
        raise PlannerError(f"{result.out_dir}: expected the Locust CSV set to ingest as one run, got {len(runs)}")
    return runs[0], result
