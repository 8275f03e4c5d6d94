"""One ``locust --json`` stats entry: validated field by field, merged into the Aggregated entry the way
Locust merges them, and turned into a canonical ``requests`` row (percentiles from its histogram).

Bad input raises :class:`~planner.errors.InputError` with ``where`` ``"entry N ('name'), field 'x'"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner import schema
from planner.errors import InputError
from planner.ingest.locust.cells import _shorten
from planner.ingest.locust.percentiles import histogram_median, histogram_percentile

JSON_PERCENTILES = (0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0)
"""Fractions reported for ``--json`` entries (Locust's PERCENTILES_TO_REPORT)."""


@dataclass
class _Entry:
    """One ``--json`` stats entry, validated."""

    method: str
    name: str
    num_requests: int
    num_none_requests: int
    num_failures: int
    total_response_time: float
    min_response_time: float | None
    max_response_time: float
    total_content_length: int
    histogram: dict[float, int]
    reqs_per_sec: dict[int, int]
    fails_per_sec: dict[int, int]
    start_time: float
    last_request_timestamp: float | None

    def row(self, span_s: float | None, is_aggregate: bool = False) -> dict[str, Any]:
        timed = self.num_requests - self.num_none_requests
        median = histogram_median(self.histogram, timed)
        if median is not None:
            median = min(max(median, self.min_response_time or 0.0), self.max_response_time)
        row: dict[str, Any] = {
            "request_type": self.method,
            "name": self.name,
            "is_aggregate": is_aggregate,
            "request_count": self.num_requests,
            "failure_count": self.num_failures,
            "latency_median_ms": median,
            "latency_mean_ms": self.total_response_time / timed if timed else None,
            "latency_min_ms": self.min_response_time,
            "latency_max_ms": self.max_response_time if timed else None,
            "content_size_mean_bytes": self.total_content_length / self.num_requests
            if self.num_requests
            else None,
            "throughput_rps": self.num_requests / span_s if span_s else None,
            "failures_per_s": self.num_failures / span_s if span_s else None,
        }
        for fraction in JSON_PERCENTILES:
            value = histogram_percentile(self.histogram, self.num_requests, fraction)
            row[schema.percentile_column(fraction * 100)] = value
        return row


_JSON_FIELDS = (
    "name",
    "method",
    "num_requests",
    "num_failures",
    "total_response_time",
    "min_response_time",
    "max_response_time",
    "total_content_length",
    "response_times",
    "num_reqs_per_sec",
    "start_time",
    "last_request_timestamp",
)


def _json_entry(path: Path, index: int, item: object) -> _Entry:
    if not isinstance(item, dict) or "num_requests" not in item:
        found = f"keys {sorted(item)[:6]}" if isinstance(item, dict) else f"a JSON {type(item).__name__}"
        raise InputError(
            path, f"entry {index}", "a Locust stats entry (name, method, num_requests, ...)", found
        )
    where = f"entry {index} ({item.get('name')!r})"
    missing = [k for k in _JSON_FIELDS if k not in item]
    if missing:
        raise InputError(path, f"{where}, field {missing[0]!r}", "present", "no such field")

    def get(key: str, check: Callable[[Any], bool], expected: str) -> Any:
        value = item.get(key)
        if not check(value):
            raise InputError(path, f"{where}, field {key!r}", expected, _shorten(repr(value)))
        return value

    entry = _Entry(
        method=get("method", lambda v: isinstance(v, str) or v is None, "a string") or "",
        name=get("name", lambda v: isinstance(v, str), "a string"),
        num_requests=get("num_requests", _is_count, "an integer >= 0"),
        num_none_requests=get("num_none_requests", lambda v: v is None or _is_count(v), "an integer >= 0")
        or 0,
        num_failures=get("num_failures", _is_count, "an integer >= 0"),
        total_response_time=get("total_response_time", _is_measure, "a finite number >= 0"),
        min_response_time=get(
            "min_response_time", lambda v: v is None or _is_measure(v), "a finite number >= 0"
        ),
        max_response_time=get("max_response_time", _is_measure, "a finite number >= 0"),
        total_content_length=get("total_content_length", _is_count, "an integer >= 0"),
        histogram=_counts(path, where, "response_times", item["response_times"], float),
        reqs_per_sec=_counts(path, where, "num_reqs_per_sec", item["num_reqs_per_sec"], _epoch),
        fails_per_sec=_counts(path, where, "num_fail_per_sec", item.get("num_fail_per_sec") or {}, _epoch),
        start_time=get("start_time", _is_measure, "epoch seconds"),
        last_request_timestamp=get(
            "last_request_timestamp", lambda v: v is None or _is_measure(v), "epoch seconds"
        ),
    )
    timed = entry.num_requests - entry.num_none_requests
    if sum(entry.histogram.values()) != timed:
        raise InputError(
            path,
            f"{where}, field 'response_times'",
            f"counts summing to {timed} requests",
            str(sum(entry.histogram.values())),
        )
    return entry


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_measure(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    )


def _epoch(key: str) -> int:
    return int(float(key))


def _counts(
    path: Path, where: str, key: str, value: object, parse_key: Callable[[str], Any]
) -> dict[Any, int]:
    """{key: count} with keys parsed by ``parse_key`` (repeated keys add up)."""
    if not isinstance(value, dict):
        raise InputError(
            path, f"{where}, field {key!r}", "an object {key: count}", f"a JSON {type(value).__name__}"
        )
    out: dict[Any, int] = {}
    for raw_key, count in value.items():
        try:
            parsed = parse_key(raw_key)
        except ValueError:
            parsed = None
        if parsed is None or not _is_measure(parsed) or not _is_count(count):
            raise InputError(
                path, f"{where}, field {key!r}", "number keys with counts >= 0", f"{raw_key!r}: {count!r}"
            )
        out[parsed] = out.get(parsed, 0) + count
    return out


def _merge(entries: list[_Entry]) -> _Entry:
    """The Aggregated entry, merged the way Locust merges stats entries."""

    def add(dicts: list[dict[Any, int]]) -> dict[Any, int]:
        out: dict[Any, int] = {}
        for d in dicts:
            for k, v in d.items():
                out[k] = out.get(k, 0) + v
        return out

    mins = [e.min_response_time for e in entries if e.min_response_time is not None]
    lasts = [e.last_request_timestamp for e in entries if e.last_request_timestamp is not None]
    return _Entry(
        method="",
        name="Aggregated",
        num_requests=sum(e.num_requests for e in entries),
        num_none_requests=sum(e.num_none_requests for e in entries),
        num_failures=sum(e.num_failures for e in entries),
        total_response_time=sum(e.total_response_time for e in entries),
        min_response_time=min(mins) if mins else None,
        max_response_time=max((e.max_response_time for e in entries), default=0.0),
        total_content_length=sum(e.total_content_length for e in entries),
        histogram=add([e.histogram for e in entries]),
        reqs_per_sec=add([e.reqs_per_sec for e in entries]),
        fails_per_sec=add([e.fails_per_sec for e in entries]),
        start_time=min((e.start_time for e in entries), default=0.0),
        last_request_timestamp=max(lasts) if lasts else None,
    )
