"""The Locust file kinds and their recognition: each CSV kind's header vocabulary (lower-cased aliases
over Locust 0.13 to 2.x mapped to canonical columns, :mod:`planner.schema`) and :func:`sniff`.

Formats are recognised from the header line (or a ``--json`` document's keys), never from the file name.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from planner import schema
from planner.ingest.locust.cells import _B, _F, _I

FORMATS = ("locust-stats", "locust-history", "locust-failures", "locust-exceptions", "locust-json")
_PCT_HEADER = re.compile(r"^\d+(\.\d+)?%$")


@dataclass(frozen=True)
class _Kind:
    """One Locust CSV file kind: its header vocabulary (lower-cased) and where it goes."""

    fmt: str
    table: str
    columns: Mapping[str, tuple[str, pa.DataType]]
    required: tuple[str, ...]
    suffixes: tuple[str, ...]
    label: str
    forbidden: tuple[str, ...] = ()
    percentiles: bool = False
    when_columns: tuple[str, ...] = ()


def _aliases(*pairs: tuple[tuple[str, ...], str, pa.DataType]) -> dict[str, tuple[str, pa.DataType]]:
    return {alias: (name, kind) for aliases, name, kind in pairs for alias in aliases}


_REQUEST_IDENTITY = (
    (("type", "method"), "request_type", _B),
    (("name",), "name", _B),
)

_KINDS: dict[str, _Kind] = {
    k.fmt: k
    for k in (
        _Kind(
            "locust-stats",
            "requests",
            _aliases(
                *_REQUEST_IDENTITY,
                (("request count", "# requests"), "request_count", _I),
                (("failure count", "# failures"), "failure_count", _I),
                (("median response time",), "latency_median_ms", _F),
                (("average response time",), "latency_mean_ms", _F),
                (("min response time",), "latency_min_ms", _F),
                (("max response time",), "latency_max_ms", _F),
                (("average content size",), "content_size_mean_bytes", _F),
                (("requests/s",), "throughput_rps", _F),
                (("failures/s", "requests failed/s"), "failures_per_s", _F),
            ),
            ("request_type", "name", "request_count"),
            ("_stats.csv", "_requests.csv"),
            "a Locust _stats.csv header (Type, Name, Request Count, ...)",
            forbidden=("timestamp",),
            percentiles=True,
        ),
        _Kind(
            "locust-history",
            "history",
            _aliases(
                (("timestamp",), "timestamp", _I),
                (("user count",), "user_count", _I),
                *_REQUEST_IDENTITY,
                (("requests/s",), "throughput_rps", _F),
                (("failures/s", "requests failed/s"), "failures_per_s", _F),
                (("total request count", "# requests"), "total_request_count", _I),
                (("total failure count", "# failures"), "total_failure_count", _I),
                (("total median response time", "median response time"), "total_latency_median_ms", _F),
                (("total average response time", "average response time"), "total_latency_mean_ms", _F),
                (("total min response time", "min response time"), "total_latency_min_ms", _F),
                (("total max response time", "max response time"), "total_latency_max_ms", _F),
                (("total average content size", "average content size"), "total_content_size_mean_bytes", _F),
            ),
            ("timestamp", "request_type", "name", "total_request_count"),
            ("_stats_history.csv",),
            "a Locust _stats_history.csv header (Timestamp, User Count, Type, Name, ...)",
            percentiles=True,
        ),
        _Kind(
            "locust-failures",
            "failures",
            _aliases(
                (("method", "type"), "method", _B),
                (("name",), "name", _B),
                (("error",), "error", _B),
                (("occurrences",), "occurrences", _I),
                (("first seen",), "first_seen", _B),
                (("last seen",), "last_seen", _B),
            ),
            ("method", "name", "error", "occurrences"),
            ("_failures.csv",),
            "a Locust _failures.csv header (Method, Name, Error, Occurrences)",
            when_columns=("first_seen", "last_seen"),
        ),
        _Kind(
            "locust-exceptions",
            "exceptions",
            _aliases(
                (("count",), "count", _I),
                (("message",), "message", _B),
                (("traceback",), "traceback", _B),
                (("nodes",), "nodes", _B),
            ),
            ("count", "message", "traceback", "nodes"),
            ("_exceptions.csv",),
            "a Locust _exceptions.csv header (Count, Message, Traceback, Nodes)",
        ),
    )
}
_CSV_ORDER = ("locust-stats", "locust-history", "locust-failures", "locust-exceptions")


def sniff(path: Path, head: bytes) -> str | None:
    """The Locust per-file format of ``head`` (the file's first bytes), or None."""
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if body.startswith(b"["):
        return "locust-json" if b'"num_requests"' in body and b'"response_times"' in body else None
    fields = _header_fields(head)
    for kind in _KINDS.values():
        if not _header_problem(kind, fields):
            return kind.fmt
    return None


def _header_fields(head: bytes) -> list[str]:
    """The header line's cells (quotes removed); header names are ASCII in every Locust version."""
    text = head.removeprefix(b"\xef\xbb\xbf")
    line = re.split(rb"[\r\n]", text, maxsplit=1)[0]
    return next(csv.reader([line.decode("latin-1")]), [])


def _header_targets(kind: _Kind, fields: list[str]) -> list[tuple[str, pa.DataType] | None]:
    """Canonical (column, arrow type) of each header cell; None for a column we do not read."""
    targets: list[tuple[str, pa.DataType] | None] = []
    for cell in fields:
        text = cell.strip()
        if kind.percentiles and _PCT_HEADER.match(text):
            targets.append((schema.percentile_column(text), _F))
        else:
            targets.append(kind.columns.get(text.lower()))
    return targets


def _header_problem(kind: _Kind, fields: list[str]) -> str | None:
    """Why ``fields`` is not a header of ``kind``; None when it is."""
    lowered = {f.strip().lower() for f in fields}
    betrayed = [f for f in kind.forbidden if f in lowered]
    if betrayed:
        return f"a header with {betrayed[0]!r} (another Locust file kind)"
    names = [t[0] for t in _header_targets(kind, fields) if t]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        return f"duplicate columns for {duplicated}"
    missing = [n for n in kind.required if n not in names]
    if missing:
        return f"no column for {missing}"
    return None
