"""Triton perf_analyzer ``-f`` CSV -> table ``points``.

Header (``Request Rate`` replaces ``Concurrency`` for ``--request-rate-range`` runs; the server
columns are absent without server statistics; cache, ``--verbose-csv`` and newer columns may follow)::

    Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,
    Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,
    p50 latency,p90 latency,p95 latency,p99 latency

Every time column is MICROSECONDS; they become ``*_ms``: ``latency_p<pct>_ms``, ``client_send_ms``,
``network_server_send_recv_ms``, ``server_queue_ms``, ``server_compute_infer_ms``, ... Unknown extra
columns are kept under their snake_case name, unconverted, and listed in
``notes["columns_kept_unconverted"]``. ``throughput_rps`` is perf_analyzer's inferences/s (requests/s
× batch size). Request-rate runs have ``concurrency`` null and ``request_rate_rps`` set. perf_analyzer
writes rows in order of throughput: they are re-sorted by load.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from planner import schema
from planner.errors import InputError
from planner.ingest.base import ParsedRun
from planner.ingest.points import CsvTable, snake_case

FORMATS = ("perf-analyzer-csv",)

_LOAD_COLUMNS = {"Concurrency": "concurrency", "Request Rate": "request_rate_rps"}
_THROUGHPUT = "Inferences/Second"
_REQUIRED_PERCENTILES = ("p50 latency", "p90 latency", "p95 latency", "p99 latency")
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?) latency$")
_MICROSECOND_COLUMNS = {
    "Client Send": "client_send_ms",
    "Network+Server Send/Recv": "network_server_send_recv_ms",
    "Server Queue": "server_queue_ms",
    "Server Compute": "server_compute_ms",
    "Server Compute Input": "server_compute_input_ms",
    "Server Compute Infer": "server_compute_infer_ms",
    "Server Compute Output": "server_compute_output_ms",
    "Server Cache Hit": "server_cache_hit_ms",
    "Server Cache Miss": "server_cache_miss_ms",
    "Client Recv": "client_recv_ms",
    "Avg latency": "latency_mean_ms",
    "request/response": "client_send_recv_ms",
    "response wait": "client_response_wait_ms",
}


def sniff(path: Path, head: bytes) -> str | None:
    """``'perf-analyzer-csv'`` when the first header cells are ``Concurrency|Request Rate,Inferences/Second``."""
    first = head.decode("utf-8-sig", errors="replace").lstrip().split("\n", 1)[0].split(",")
    if len(first) >= 2 and first[0].strip() in _LOAD_COLUMNS and first[1].strip() == _THROUGHPUT:
        return FORMATS[0]
    return None


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """One run per file with table ``points``, sorted by load."""
    return [_parse_one(Path(p), fmt) for p in paths]


def _parse_one(path: Path, fmt: str) -> ParsedRun:
    table = CsvTable.read(path)
    load = table.header[0]
    if load not in _LOAD_COLUMNS:
        raise InputError(path, "header column 1", "'Concurrency' or 'Request Rate'", repr(load))
    table.require((_THROUGHPUT, *_REQUIRED_PERCENTILES))
    if not table.rows:
        raise InputError(path, "line 2", "at least one data row", "none")
    columns, unconverted = _columns(table)
    frame = pd.DataFrame(columns)
    if load == "Request Rate":
        frame.insert(0, "concurrency", pd.Series([None] * len(frame), index=frame.index, dtype="Float64"))
    frame = frame.sort_values(_LOAD_COLUMNS[load], kind="stable", ignore_index=True)
    notes: dict[str, object] = {"latency_unit_source": "us", "load_mode": snake_case(load),
                                "throughput_unit_source": "inferences/s (requests/s x batch size)"}
    if unconverted:
        notes["columns_kept_unconverted"] = unconverted
    return ParsedRun(source="perf_analyzer", format=fmt, inputs=(path,),
                     tables={"points": schema.coerce("points", frame)}, notes=notes)


def _columns(table: CsvTable) -> tuple[dict[str, pd.api.extensions.ExtensionArray], list[str]]:
    load = table.header[0]
    columns: dict[str, pd.api.extensions.ExtensionArray] = {
        _LOAD_COLUMNS[load]: pd.array(table.floats(load, positive=True), dtype="Float64"),
        "throughput_rps": pd.array(table.floats(_THROUGHPUT, minimum=0.0), dtype="Float64")}
    unconverted: list[str] = []
    for name in table.header[2:]:
        target = _microsecond_column(name)
        if target is not None:
            columns[target] = pd.Series(table.floats(name, minimum=0.0), dtype="Float64").div(1000.0).array
        else:
            target = snake_case(name)
            columns[target] = table.as_is(name)
            unconverted.append(target)
    return columns, unconverted


def _microsecond_column(name: str) -> str | None:
    m = _PERCENTILE.match(name)
    return schema.percentile_column(m.group(1)) if m else _MICROSECOND_COLUMNS.get(name)

