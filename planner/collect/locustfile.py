"""The Locust user and stair-step load shape that :mod:`planner.collect.load` runs with ``locust -f``.

Self-contained (Locust and the standard library only): Locust imports this file in its own
process, and it must not pull in planner's data stack. The driver configures it through
environment variables:

- ``PLANNER_STAIRS_USERS``: user counts of the levels, comma-separated (``10,20,40``);
- ``PLANNER_STAIRS_HOLD_S``: seconds each level is held once reached;
- ``PLANNER_STAIRS_SPAWN_RATE``: users started (or stopped) per second between levels;
- ``PLANNER_MAX_DURATION_S``: stop after this many seconds whatever the shape says;
- ``PLANNER_MAX_REQUESTS``: stop once this many requests have completed (unset: no bound);
- ``PLANNER_ABORT_AFTER_FAILURES``: stop when this many requests failed and none succeeded;
- ``PLANNER_TARGET_PATH``: the path to POST to (default ``/invocations``);
- ``PLANNER_PAYLOAD``: a JSON-lines file of ``{"body": TEXT, "content_type": TYPE}`` (bodies sent
  round-robin; unset: ``{}`` as ``application/json``);
- ``PLANNER_STOP_REASON_FILE``: where to write why the run stopped (``shape-complete``,
  ``max-duration``, ``max-requests``, ``all-failed``).

Users wait zero seconds between requests, so the load is closed-loop: users = concurrency.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import gevent
from locust import FastHttpUser, LoadTestShape, constant, events, task


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value else default


def _payloads() -> list[tuple[bytes, str]]:
    path = os.environ.get("PLANNER_PAYLOAD", "")
    if not path:
        return [(b"{}", "application/json")]
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["body"].encode("utf-8"), row["content_type"]) for row in rows]


DRAIN_S = 1.5  # users stopped, the run lingers this long so Locust rewrites its CSVs with the final totals
STOP_ALL_RATE = 10_000.0  # users/s: stop every user at once


class _Bounds:
    """Why the run stops (None while it runs) and the request counts the bounds check."""

    max_requests = int(_env_float("PLANNER_MAX_REQUESTS", 0)) or None
    abort_after_failures = int(_env_float("PLANNER_ABORT_AFTER_FAILURES", 0)) or None
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


@events.request.add_listener
def _on_request(exception=None, **_kwargs) -> None:
    bounds = _Bounds
    bounds.requests += 1
    bounds.successes += exception is None
    if bounds.max_requests and bounds.requests >= bounds.max_requests:
        _request_stop("max-requests")
    elif bounds.abort_after_failures and bounds.successes == 0 and bounds.requests >= bounds.abort_after_failures:
        _request_stop("all-failed")


class InvocationsUser(FastHttpUser):
    """POSTs the payload bodies in turn to the target path, with no think time."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self._bodies = itertools.cycle(_payloads())
        self._path = os.environ.get("PLANNER_TARGET_PATH") or "/invocations"

    @task
    def invoke(self) -> None:
        if _Bounds.stop_reason is not None:  # a bound was reached: idle until the shape stops the users
            gevent.sleep(0.1)
            return
        body, content_type = next(self._bodies)
        self.client.post(self._path, data=body, headers={"Content-Type": content_type}, name=self._path)


class StairsLoadShape(LoadTestShape):
    """Levels of ``PLANNER_STAIRS_USERS`` users, each held ``PLANNER_STAIRS_HOLD_S`` seconds after the
    ramp to it (at ``PLANNER_STAIRS_SPAWN_RATE`` users/s); ends after the last hold or at
    ``PLANNER_MAX_DURATION_S``."""

    def __init__(self) -> None:
        super().__init__()
        self.users = [int(u) for u in os.environ.get("PLANNER_STAIRS_USERS", "1").split(",")]
        self.hold_s = _env_float("PLANNER_STAIRS_HOLD_S", 10.0)
        self.spawn_rate = _env_float("PLANNER_STAIRS_SPAWN_RATE", 1.0)
        self.max_duration_s = _env_float("PLANNER_MAX_DURATION_S", float("inf"))
        ends, now, previous = [], 0.0, 0
        for users in self.users:
            now += abs(users - previous) / self.spawn_rate + self.hold_s
            ends.append(now)
            previous = users
        self.level_ends_s = ends
        self.drain_until_s: float | None = None

    def tick(self) -> tuple[int, float] | None:
        run_time_s = self.get_run_time()
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
