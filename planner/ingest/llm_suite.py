"""SageMaker inference benchmark-suite CSV (aws-samples/sagemaker-genai-hosting-examples,
``07-benchmark/sagemaker-inference-benchmark-suite``) -> table ``llm_steps``, one run per file.

One row per concurrency level of a closed loop (``concurrency`` parallel callers, ``total_requests``
per level). Columns are read by header name, so every schema variant works (A: 24 columns; B: A plus
``ttft_p50,ttft_p90,ttft_avg``; C: 17 columns without p90/min/max/validation). A file without a
header row (format ``sagemaker-suite-csv-headerless``) is read in schema A's order.

Units and mapping: ``latency_*`` (ms, client wall time of the whole call) -> ``e2e_<stat>_ms``;
``ttft_*`` (ms) -> ``ttft_<stat>_ms``; ``successful`` -> ``request_count``, ``failed`` ->
``failure_count`` (``total_requests`` must be their sum); ``rps`` -> ``throughput_rps`` with
``throughput_derived`` true (the suite computes it as concurrency / mean latency);
``aggregate_output_tok_sec`` -> ``output_tokens_per_s``; ``avg_input_tokens``/``avg_output_tokens``
-> ``input_tokens_mean``/``output_tokens_mean`` (an average of 0 input tokens means the endpoint
returned no usage: stored as null, and noted); ``tok_per_sec_avg``/``tok_per_sec_p50`` (output tokens
per second of ONE request) -> ``request_output_tokens_per_s_mean``/``_p50``; other columns are kept
under their snake_case name. Run metadata: ``instance_type``, ``model`` (the suite's run label, e.g.
``bench-v2-qwen3-vanilla``), ``endpoint``; labels ``use_case``, ``optimization``, ``region``,
``timestamp`` (each must hold one value per file). Latency statistics cover successful requests only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.ingest.base import ParsedRun
from planner.ingest.llm_base import provenance, steps_frame
from planner.ingest.points import CsvTable, first_record, snake_case

FORMATS = ("sagemaker-suite-csv", "sagemaker-suite-csv-headerless")

SCHEMA_A = ("endpoint", "use_case", "concurrency", "total_requests", "successful", "failed",
            "output_validation_rate", "latency_p50", "latency_p90", "latency_p99", "latency_avg", "latency_min",
            "latency_max", "tok_per_sec_avg", "tok_per_sec_p50", "avg_input_tokens", "avg_output_tokens", "rps",
            "aggregate_output_tok_sec", "model", "optimization", "instance_type", "region", "timestamp")
_REQUIRED = ("concurrency", "successful", "failed", "latency_avg", "avg_output_tokens", "rps",
             "aggregate_output_tok_sec", "model", "instance_type")
_LATENCY = re.compile(r"^(latency|ttft)_(p\d+|avg|min|max)$")
_RENAMED = {"successful": "request_count", "failed": "failure_count", "rps": "throughput_rps",
            "aggregate_output_tok_sec": "output_tokens_per_s", "avg_input_tokens": "input_tokens_mean",
            "avg_output_tokens": "output_tokens_mean", "tok_per_sec_avg": "request_output_tokens_per_s_mean",
            "tok_per_sec_p50": "request_output_tokens_per_s_p50"}
_LABELS = ("use_case", "optimization", "region", "timestamp")
_META = {"instance_type": "instance_type", "model": "model", "endpoint": "endpoint"}
_COUNTS = ("total_requests", "successful", "failed")
_TIMESTAMP = re.compile(r"^\d{8}_\d{6}$")


def sniff(path: Path, head: bytes) -> str | None:
    """By the header (``endpoint,use_case,concurrency,total_requests,...``), or for a header-less
    file by a first row of 24 fields shaped like schema A (whole-number counts, an ``ml.`` instance
    type, a ``YYYYMMDD_HHMMSS`` timestamp)."""
    first = first_record(head)
    if first[:4] == ["endpoint", "use_case", "concurrency", "total_requests"]:
        return FORMATS[0]
    if len(first) == len(SCHEMA_A) and first[21].startswith("ml.") and _TIMESTAMP.match(first[23]) \
            and all(c.isdigit() for c in first[2:6]):
        return FORMATS[1]
    return None


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """One run per file (see the module docstring)."""
    return [_parse_one(Path(p), fmt) for p in paths]


def _read(path: Path, fmt: str) -> CsvTable:
    table = CsvTable.read(path)
    if fmt == FORMATS[1]:
        first = table.header
        if len(first) != len(SCHEMA_A) or first[0] == "endpoint":
            raise InputError(path, "line 1", f"a header-less row of the {len(SCHEMA_A)} schema-A fields",
                             f"{len(first)} fields starting {first[0]!r}")
        return CsvTable(table.path, SCHEMA_A, (first, *table.rows), (1, *table.lines))
    return table


def _parse_one(path: Path, fmt: str) -> ParsedRun:
    table = _read(path, fmt)
    table.require(_REQUIRED)
    if not table.rows:
        raise InputError(path, "line 2", "at least one data row", "none")
    columns: dict[str, list[Any]] = {"concurrency": table.floats("concurrency", positive=True)}
    counts = {c: table.counts(c) for c in _COUNTS if c in table.header}
    if "total_requests" in counts:
        for i, (total, ok, bad) in enumerate(zip(counts["total_requests"], counts["successful"], counts["failed"],
                                                 strict=True)):
            if total != ok + bad:
                raise InputError(path, table.where(i, "total_requests"), f"successful + failed = {ok + bad}",
                                 repr(table.text("total_requests")[i]))
    columns["request_count"] = counts["successful"]
    columns["failure_count"] = counts["failed"]
    notes: dict[str, Any] = {"throughput": "rps derived by the suite as concurrency / mean latency"}
    if fmt == FORMATS[1]:
        notes["header_assumed"] = "no header row: read in schema A's 24-column order"
    for name in table.header:
        if name in _RENAMED and _RENAMED[name] not in columns:
            columns[_RENAMED[name]] = table.floats(name, minimum=0.0, empty_ok=True)
        elif m := _LATENCY.match(name):
            metric = "e2e" if m.group(1) == "latency" else "ttft"
            stat = {"avg": "mean"}.get(m.group(2), m.group(2))
            columns[f"{metric}_{stat}_ms"] = table.floats(name, minimum=0.0, empty_ok=True)
        elif name not in (*_COUNTS, *_LABELS, *_META, "concurrency"):
            columns[snake_case(name)] = _as_is(table, name)
    if any(v == 0 for v in columns.get("input_tokens_mean", [])):
        notes["input_tokens"] = "avg_input_tokens 0 (no usage returned by the endpoint): stored as unknown"
        columns["input_tokens_mean"] = [None if v == 0 else v for v in columns["input_tokens_mean"]]
    levels: list[dict[str, Any]] = [{"load_kind": "concurrency", "throughput_derived": True,
                                     **{k: (None if _missing(v[i]) else v[i]) for k, v in columns.items()}}
                                    for i in range(len(table.rows))]
    levels.sort(key=lambda row: row["concurrency"])
    meta: dict[str, Any] = {key: _one_value(table, col) for col, key in _META.items() if col in table.header}
    meta["instance_count"] = 1
    meta["labels"] = {col: _one_value(table, col) for col in _LABELS if col in table.header}
    meta["labels"] = {k: v for k, v in meta["labels"].items() if v}
    meta.update(provenance([path]))
    return ParsedRun(source="llm_suite", format=fmt, inputs=(path,), tables={"llm_steps": steps_frame(levels)},
                     meta=meta, notes=notes)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _as_is(table: CsvTable, column: str) -> list[Any]:
    """An extra column: numbers when every non-empty cell is one, else text."""
    try:
        return table.floats(column, empty_ok=True)
    except InputError:
        return [cell or None for cell in table.text(column)]


def _one_value(table: CsvTable, column: str) -> str:
    values = list(dict.fromkeys(table.text(column)))
    if len(values) != 1:
        i = table.text(column).index(values[1])
        raise InputError(table.path, table.where(i, column), f"one value per file ({values[0]!r})", repr(values[1]))
    return values[0]
