"""The Locust users and stair-step load shape that :mod:`planner.collect.load` runs with ``locust -f``.

Self-contained (Locust, the standard library and, for SageMaker, boto3): Locust imports this file
in its own process(es), and it must not pull in planner's data stack. The driver configures it
through environment variables:

- ``PLANNER_USER``: ``http`` (default: :class:`InvocationsUser` POSTs to an HTTP endpoint) or
  ``sagemaker`` (:class:`SageMakerUser` calls sagemaker-runtime ``invoke_endpoint``);
- ``PLANNER_STAIRS_USERS``: user counts of the levels, comma-separated (``10,20,40``);
- ``PLANNER_STAIRS_HOLDS_S``: seconds each level is held once reached, comma-separated, one per level;
- ``PLANNER_STAIRS_SPAWN_RATE``: users started (or stopped) per second between levels;
- ``PLANNER_MAX_DURATION_S``: stop after this many seconds whatever the shape says;
- ``PLANNER_MAX_REQUESTS``: stop once this many requests have completed (unset: no bound);
- ``PLANNER_ABORT_AFTER_FAILURES``: stop when this many requests failed and none succeeded;
- ``PLANNER_TARGET_PATH``: the path to POST to (default ``/invocations``);
- ``PLANNER_SAGEMAKER_ENDPOINT``, ``PLANNER_SAGEMAKER_REGION`` (default: boto3's), and
  ``PLANNER_SAGEMAKER_VARIANT`` (``TargetVariant``; unset: the endpoint's weights decide);
  ``AWS_ENDPOINT_URL`` etc. are honoured by boto3 itself;
- ``PLANNER_PAYLOAD``: a JSON-lines file of ``{"body": TEXT, "content_type": TYPE}`` (bodies sent
  round-robin; unset: ``{}`` as ``application/json``);
- ``PLANNER_STOP_REASON_FILE``: where to write why the run stopped (``shape-complete``,
  ``max-duration``, ``max-requests``, ``all-failed``).

- ``PLANNER_USER_RPS``: unset, users wait zero seconds between requests (closed loop: users =
  concurrency); set, each user sends Poisson arrivals at this rate on its own schedule (open loop:
  a late user fires at once and keeps its schedule, so the offered rate holds while responses take
  less than the mean gap; time a request spent late is not in its response time).

Bounds: each process counts the requests it makes and idles its users once it reached its share
of a request bound (all of it on one process; 1/N each of N workers with ``--processes N``, given
as ``PLANNER_PROCESSES``) and writes the stop reason file; the shape, which runs on the master,
adopts a reason found in that file and also checks the runner's totals (the workers' reports in
distributed mode, every ~3 s) each tick, then stops every user. So the total stays within the
bound, and in distributed mode may end a little below it (the other workers stop within ~1 s).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path

import gevent
from locust import FastHttpUser, LoadTestShape, User, constant, events, task

USER_KIND = os.environ.get("PLANNER_USER") or "http"


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value else default


def _payloads() -> list[tuple[bytes, str]]:
    path = os.environ.get("PLANNER_PAYLOAD", "")
    if not path:
        return [(b"{}", "application/json")]
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["body"].encode("utf-8"), row["content_type"]) for row in rows]


USER_RPS = _env_float("PLANNER_USER_RPS", 0.0)


def _open_loop_wait(user) -> float:
    """Seconds until the user's next Poisson arrival (exponential gaps of mean 1/``USER_RPS``)."""
    now = time.monotonic()
    user._next_arrival_s = getattr(user, "_next_arrival_s", now) + random.expovariate(USER_RPS)
    return max(0.0, user._next_arrival_s - now)


WAIT_TIME = _open_loop_wait if USER_RPS > 0 else constant(0)
DRAIN_S = 1.5  # users stopped, the run lingers this long so Locust rewrites its CSVs with the final totals
STOP_ALL_RATE = 10_000.0  # users/s: stop every user at once


class _Bounds:
    """Why the run stops (None while it runs) and the request counts the bounds check: totals on
    the master (or the only process), each worker's share of them in the worker."""

    max_requests = int(_env_float("PLANNER_MAX_REQUESTS", 0)) or None
    abort_after_failures = int(_env_float("PLANNER_ABORT_AFTER_FAILURES", 0)) or None
    processes = max(int(_env_float("PLANNER_PROCESSES", 1)), 1)
    requests = 0
    successes = 0
    stop_reason: str | None = None


def _request_stop(reason: str) -> None:
    """Stop sending (the first reason wins, written to ``PLANNER_STOP_REASON_FILE``); the shape then
    stops the users, lets Locust write its CSVs once more, and ends the run."""
    if _Bounds.stop_reason is not None:
        return
    _Bounds.stop_reason = reason
    reason_file = os.environ.get("PLANNER_STOP_REASON_FILE", "")
    if reason_file:
        Path(reason_file).write_text(reason, encoding="utf-8")


def _check_counts(requests: int, successes: int, share: int = 1) -> None:
    """Stop once ``requests`` reach 1/``share`` of a bound (a worker's share of the total)."""
    bounds = _Bounds
    if bounds.max_requests and requests * share >= bounds.max_requests:
        _request_stop("max-requests")
    elif bounds.abort_after_failures and successes == 0 and requests * share >= bounds.abort_after_failures:
        _request_stop("all-failed")


def _stop_reason_from_file() -> None:
    """Adopt a stop a worker process wrote (the master learns of it at its next tick)."""
    reason_file = os.environ.get("PLANNER_STOP_REASON_FILE", "")
    if _Bounds.stop_reason is None and reason_file and Path(reason_file).is_file():
        _Bounds.stop_reason = Path(reason_file).read_text(encoding="utf-8").strip() or "unknown"


@events.request.add_listener
def _on_request(exception=None, **_kwargs) -> None:
    _Bounds.requests += 1
    _Bounds.successes += exception is None
    _check_counts(_Bounds.requests, _Bounds.successes, _Bounds.processes)


class InvocationsUser(FastHttpUser):
    """POSTs the payload bodies in turn to the target path (no think time, or open-loop arrivals)."""

    abstract = USER_KIND != "http"
    wait_time = WAIT_TIME

    def on_start(self) -> None:
        self._bodies = itertools.cycle(_payloads())
        self._path = os.environ.get("PLANNER_TARGET_PATH") or "/invocations"

    @task
    def invoke(self) -> None:
        if _Bounds.stop_reason is not None:  # a bound was reached: idle until the shape stops the users
            gevent.sleep(0.1)
            return
        body, content_type = next(self._bodies)
        # locust annotates ``data`` str | dict | None, but FastHttpSession sends bytes as they are (its docstring)
        self.client.post(self._path, data=body,  # type: ignore[arg-type]
                         headers={"Content-Type": content_type}, name=self._path)


_SAGEMAKER_CLIENT = None  # one client per process, its connection pool sized for the largest level


def _sagemaker_runtime():
    """The process's sagemaker-runtime client, SDK retries off so throttles and 5xx surface."""
    global _SAGEMAKER_CLIENT
    if _SAGEMAKER_CLIENT is None:
        import boto3
        from botocore.config import Config

        pool = max(int(u) for u in os.environ.get("PLANNER_STAIRS_USERS", "1").split(","))
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=pool + 2,
                        connect_timeout=10, read_timeout=70)
        _SAGEMAKER_CLIENT = boto3.client("sagemaker-runtime", region_name=os.environ.get("PLANNER_SAGEMAKER_REGION")
                                         or None, config=config)
    return _SAGEMAKER_CLIENT


class SageMakerUser(User):
    """Calls ``invoke_endpoint`` with the payload bodies in turn, no think time, and reports each call
    (its time until the whole response body was read, ms, and its error) as a Locust request."""

    abstract = USER_KIND != "sagemaker"
    wait_time = WAIT_TIME

    def on_start(self) -> None:
        self._bodies = itertools.cycle(_payloads())
        self._client = _sagemaker_runtime()
        self._endpoint = os.environ["PLANNER_SAGEMAKER_ENDPOINT"]
        variant = os.environ.get("PLANNER_SAGEMAKER_VARIANT")
        self._extra = {"TargetVariant": variant} if variant else {}

    @task
    def invoke(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if _Bounds.stop_reason is not None:
            gevent.sleep(0.1)
            return
        body, content_type = next(self._bodies)
        started = time.perf_counter()
        length, error = 0, None
        try:
            response = self._client.invoke_endpoint(EndpointName=self._endpoint, Body=body,
                                                    ContentType=content_type, **self._extra)
            length = len(response["Body"].read())
        except (BotoCoreError, ClientError) as exc:
            error = exc
        self.environment.events.request.fire(
            request_type="invoke_endpoint", name=self._endpoint, response_time=(time.perf_counter() - started) * 1000,
            response_length=length, response=None, context={}, exception=error)


class StairsLoadShape(LoadTestShape):
    """Levels of ``PLANNER_STAIRS_USERS`` users, each held its ``PLANNER_STAIRS_HOLDS_S`` seconds after the
    ramp to it (at ``PLANNER_STAIRS_SPAWN_RATE`` users/s); ends after the last hold or at
    ``PLANNER_MAX_DURATION_S``."""

    def __init__(self) -> None:
        super().__init__()
        self.users = [int(u) for u in os.environ.get("PLANNER_STAIRS_USERS", "1").split(",")]
        holds = os.environ.get("PLANNER_STAIRS_HOLDS_S") or "10"
        self.holds_s = [float(h) for h in holds.split(",")]
        self.spawn_rate = _env_float("PLANNER_STAIRS_SPAWN_RATE", 1.0)
        self.max_duration_s = _env_float("PLANNER_MAX_DURATION_S", float("inf"))
        ends, now, previous = [], 0.0, 0
        for users, hold_s in zip(self.users, self.holds_s, strict=True):
            now += abs(users - previous) / self.spawn_rate + hold_s
            ends.append(now)
            previous = users
        self.level_ends_s = ends
        self.drain_until_s: float | None = None

    def tick(self) -> tuple[int, float] | None:
        run_time_s = self.get_run_time()
        assert self.runner is not None, "Locust sets a shape's runner before it calls tick()"
        total = self.runner.stats.total
        _check_counts(total.num_requests, total.num_requests - total.num_failures)
        _stop_reason_from_file()
        if run_time_s >= self.max_duration_s:
            _request_stop("max-duration")
        elif run_time_s >= self.level_ends_s[-1]:
            _request_stop("shape-complete")
        if _Bounds.stop_reason is None:
            return next((users, self.spawn_rate) for users, end_s in zip(self.users, self.level_ends_s, strict=True)
                        if run_time_s < end_s)
        if self.drain_until_s is None:
            self.drain_until_s = run_time_s + DRAIN_S
        return (0, STOP_ALL_RATE) if run_time_s < self.drain_until_s else None
