"""Outputs of aws-samples/sagemaker-serverless-inference-benchmarking (the "stability" benchmark).

``serverless-toolkit-metrics`` (``*metrics_with_cost.csv``) -> table ``points``, one row per memory size::

    MemoryUtilization,ModelLatency,ModelSetupTime,OverheadLatency,average_latency,cost_per_invocation,cost_per_1M_invocations

- The toolkit writes this table without its ``memory_size`` index. A memory column
  (``memory_size``, ``memory_mb``, ``memory_size_mb``, ``MemorySizeInMB``) is used when present;
  otherwise a file of exactly 6 rows is the toolkit's default sweep 1024 ... 6144 MB in order
  (``notes["memory_mb_assigned_by_row_order"]``); anything else is an InputError.
- ModelLatency, OverheadLatency, ModelSetupTime are CloudWatch averages the toolkit ALREADY converted
  from µs to ms. ``latency_mean_ms`` = ModelLatency + OverheadLatency of the row (the measured
  server-side mean). The toolkit's ``average_latency`` (kept as ``toolkit_average_latency_ms``) is
  ModelLatency + the MEAN OverheadLatency over all rows (older versions: + the row's own
  OverheadLatency); the parser checks one of the two identities holds in every row (else
  InputError: the cost columns were computed from it) and records which in
  ``notes["average_latency_definition"]``.
- ``concurrency`` = 1 (sequential calls against MaxConcurrency 1), ``throughput_rps`` null.
- Cross-check: the toolkit's cost is price_per_ms(memory) × average_latency + a per-invocation data
  cost that is the same in every row; with its us-east-1 prices (0.00002 USD/s per 1024 MB) that
  constant is recovered and the memory assignment confirmed (``notes["memory_mb_consistent_with_cost"]``).

``serverless-toolkit-savings`` (``*cost_savings_summary.csv``) -> source-specific table
``cost_savings`` (monthly_invocations, serverless_usd_per_month, instance_usd_per_month, savings_pct)
and ``notes["break_even_invocations_per_month"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict, cast

import pandas as pd

from planner import schema
from planner.errors import InputError
from planner.ingest.base import ParsedRun
from planner.ingest.points import CsvTable

FORMATS = ("serverless-toolkit-metrics", "serverless-toolkit-savings")

SOURCE_TOOL = "sagemaker-serverless-inference-benchmarking"
DEFAULT_MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)
TOOLKIT_USD_PER_S_PER_1024_MB = 0.00002
AVERAGE_LATENCY_TOLERANCE_MS = 0.02  # survives values re-saved at 2 decimals; the two definitions differ more

_METRICS_COLUMNS = {
    "MemoryUtilization": "memory_utilization_pct",
    "ModelLatency": "model_latency_ms",
    "OverheadLatency": "overhead_latency_ms",
    "average_latency": "toolkit_average_latency_ms",
    "cost_per_invocation": "usd_per_invocation",
    "cost_per_1M_invocations": "usd_per_million_invocations",
}
_MEMORY_ALIASES = ("memory_size", "memory_mb", "memory_size_mb", "memorysizeinmb")
class _Limits(TypedDict, total=False):
    """Keyword bounds of :meth:`CsvTable.floats`."""

    minimum: float
    positive: bool
    maximum: float


_SAVINGS_COLUMNS: dict[str, tuple[str, _Limits]] = {  # source -> (target, limits)
    "monthly_invocations": ("monthly_invocations", {"positive": True}),
    "serverless_monthly_cost": ("serverless_usd_per_month", {"minimum": 0.0}),
    "instance_monthly_cost": ("instance_usd_per_month", {"minimum": 0.0}),
    "monthly_percent_savings": ("savings_pct", {"maximum": 100.0}),
}


def sniff(path: Path, head: bytes) -> str | None:
    """Recognise the two CSVs by their header columns."""
    first = head.decode("utf-8-sig", errors="replace").lstrip().split("\n", 1)[0]
    header = {c.strip() for c in first.split(",")}
    if {"ModelLatency", "OverheadLatency", "average_latency", "cost_per_invocation"} <= header:
        return FORMATS[0]
    if set(_SAVINGS_COLUMNS) <= header:
        return FORMATS[1]
    return None


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """One run per file: table ``points`` (metrics) or ``cost_savings`` (savings)."""
    one = {FORMATS[0]: _parse_metrics, FORMATS[1]: _parse_savings}[fmt]
    return [one(Path(p), fmt) for p in paths]


def _parse_metrics(path: Path, fmt: str) -> ParsedRun:
    table = CsvTable.read(path)
    table.require(_METRICS_COLUMNS)
    if not table.rows:
        raise InputError(path, "line 2", "one row per memory size", "none")
    memory, assigned = _memory_mb(table)
    frame = pd.DataFrame({"concurrency": pd.array([1.0] * len(memory), dtype="Float64"),
                          "throughput_rps": pd.array([None] * len(memory), dtype="Float64"),
                          "memory_mb": pd.array(memory, dtype="Float64")})
    for source, target in _METRICS_COLUMNS.items():
        frame[target] = pd.array(table.floats(source, minimum=0.0), dtype="Float64")
    setup = table.floats("ModelSetupTime", empty_ok=True, minimum=0.0) if "ModelSetupTime" in table.header else None
    frame["model_setup_time_ms"] = pd.array(setup or [None] * len(frame), dtype="Float64")
    frame["latency_mean_ms"] = frame["model_latency_ms"] + frame["overhead_latency_ms"]
    notes = {"source_tool": SOURCE_TOOL, "memory_mb_assigned_by_row_order": assigned,
             "latency_unit_source": "ms (the toolkit converted CloudWatch µs)",
             "average_latency_definition": _average_latency_definition(table, frame),
             **_cost_check(frame)}
    frame = frame.sort_values("memory_mb", kind="stable", ignore_index=True)
    return ParsedRun(source="serverless_toolkit", format=fmt, inputs=(path,),
                     tables={"points": schema.coerce("points", frame)}, meta={"max_concurrency": 1}, notes=notes)


def _memory_mb(table: CsvTable) -> tuple[list[float], bool]:
    """Memory per row from a memory column, else the default sweep by row order."""
    for name in table.header:
        if name.lower() in _MEMORY_ALIASES:
            return cast(list[float], table.floats(name, positive=True)), False  # no None without empty_ok
    if len(table.rows) != len(DEFAULT_MEMORY_SIZES_MB):
        raise InputError(table.path, "header", "a memory_size column, or exactly 6 rows (1024..6144 MB in order)",
                         f"no memory column and {len(table.rows)} rows")
    return [float(m) for m in DEFAULT_MEMORY_SIZES_MB], True


def _average_latency_definition(table: CsvTable, frame: pd.DataFrame) -> str:
    """Which toolkit identity ``average_latency`` satisfies; InputError naming the first bad row if none."""
    model, overhead = frame["model_latency_ms"], frame["overhead_latency_ms"]
    average = frame["toolkit_average_latency_ms"]
    candidates = {"ModelLatency + mean(OverheadLatency)": model + overhead.mean(),
                  "ModelLatency + OverheadLatency": model + overhead}
    for definition, expected in candidates.items():
        if ((average - expected).abs() <= AVERAGE_LATENCY_TOLERANCE_MS).all():
            return definition
    expected = candidates["ModelLatency + mean(OverheadLatency)"]
    i = int((average - expected).abs().to_numpy().argmax())
    raise InputError(table.path, table.where(i, "average_latency"),
                     f"ModelLatency + mean(OverheadLatency) = {expected.iloc[i]:.4f} ms "
                     f"(or ModelLatency + OverheadLatency = {(model + overhead).iloc[i]:.4f} ms)",
                     f"{average.iloc[i]:.4f}")


def _cost_check(frame: pd.DataFrame) -> dict[str, object]:
    """Recover the toolkit's per-invocation data cost; equal in every row iff memory sizes match the costs."""
    usd_per_ms = frame["memory_mb"] / 1024 * TOOLKIT_USD_PER_S_PER_1024_MB / 1000
    data_usd = frame["usd_per_invocation"] - usd_per_ms * frame["toolkit_average_latency_ms"]
    consistent = bool((data_usd >= -1e-12).all() and (data_usd.max() - data_usd.min()) <= 1e-12)
    notes: dict[str, object] = {"memory_mb_consistent_with_cost": consistent}
    if consistent:
        notes["data_usd_per_invocation"] = float(data_usd.mean())
    return notes


def _parse_savings(path: Path, fmt: str) -> ParsedRun:
    table = CsvTable.read(path)
    table.require(_SAVINGS_COLUMNS)
    if not table.rows:
        raise InputError(path, "line 2", "at least one data row", "none")
    frame = pd.DataFrame({target: pd.array(table.floats(source, **limits), dtype="Float64")
                          for source, (target, limits) in _SAVINGS_COLUMNS.items()})
    frame["monthly_invocations"] = pd.array(table.counts("monthly_invocations", positive=True), dtype="Int64")
    usd_per_invocation = float((frame["serverless_usd_per_month"] / frame["monthly_invocations"]).mean())
    notes: dict[str, object] = {"source_tool": SOURCE_TOOL, "usd_per_invocation": usd_per_invocation}
    instance = frame["instance_usd_per_month"]
    if instance.nunique() == 1 and usd_per_invocation > 0:
        notes["break_even_invocations_per_month"] = float(instance.iloc[0]) / usd_per_invocation
    return ParsedRun(source="serverless_toolkit", format=fmt, inputs=(path,),
                     tables={"cost_savings": frame}, notes=notes)

