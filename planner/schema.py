"""Canonical tables of the run collection: column names, dtypes and units.

Every quantity names its unit in its column name (``latency_p99_ms``, ``throughput_rps``).
Percentile columns are open-ended: ``latency_p<pct>_ms`` with ``.`` written ``_``
(``99.9%`` -> ``latency_p99_9_ms``). Tables may carry extra source-specific columns, but
never a column named like a canonical one with another meaning.

``SCHEMA_VERSION`` is written into every store and every run manifest; readers accept any
version up to their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from planner.errors import SchemaError

SCHEMA_VERSION = 2

ORIGINS = ("measured", "emulated", "published")

_PCT_COL = re.compile(r"^(?:total_)?latency_p(\d+(?:_\d+)?)_ms$")


def percentile_column(pct: str | float, prefix: str = "latency") -> str:
    """``'99.9%'`` or ``99.9`` -> ``'latency_p99_9_ms'``."""
    text = str(pct).strip().rstrip("%")
    value = float(text)
    label = f"{value:g}".replace(".", "_")
    return f"{prefix}_p{label}_ms"


def column_percentile(column: str) -> float | None:
    """``'latency_p99_9_ms'`` -> ``99.9``; ``None`` for a non-percentile column."""
    m = _PCT_COL.match(column)
    return float(m.group(1).replace("_", ".")) if m else None


def percentile_columns(columns: Iterable[str]) -> list[str]:
    """The percentile columns among ``columns``, sorted by percentile."""
    found = [(pct, c) for c in columns if c.startswith("latency_p") and (pct := column_percentile(c)) is not None]
    return [c for _, c in sorted(found, key=lambda pair: pair[0])]


@dataclass(frozen=True)
class Table:
    """A canonical table: required columns with pandas dtypes, and its meaning."""

    name: str
    required: dict[str, str]
    doc: str


# dtypes use pandas' nullable types where data can be missing.
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "requests",
            {
                "request_type": "string",
                "name": "string",
                "is_aggregate": "bool",
                "request_count": "Int64",
                "failure_count": "Int64",
                "latency_median_ms": "Float64",
                "latency_mean_ms": "Float64",
                "latency_min_ms": "Float64",
                "latency_max_ms": "Float64",
                "content_size_mean_bytes": "Float64",
                "throughput_rps": "Float64",
                "failures_per_s": "Float64",
            },
            "Locust per-name whole-run totals (_stats.csv or --json); plus latency_p<pct>_ms columns.",
        ),
        Table(
            "history",
            {
                "row": "Int64",
                "timestamp": "datetime64[ms, UTC]",
                "user_count": "Int64",
                "request_type": "string",
                "name": "string",
                "is_aggregate": "bool",
                "throughput_rps": "Float64",
                "failures_per_s": "Float64",
                "total_request_count": "Int64",
                "total_failure_count": "Int64",
                "total_latency_median_ms": "Float64",
                "total_latency_mean_ms": "Float64",
                "total_latency_min_ms": "Float64",
                "total_latency_max_ms": "Float64",
                "total_content_size_mean_bytes": "Float64",
            },
            "Locust _stats_history.csv rows in file order (row = 0-based data row). "
            "latency_p<pct>_ms columns are a ~10 s window or cumulative: see the run's "
            "notes.history_percentiles ('window' | 'cumulative' | 'unknown').",
        ),
        Table(
            "failures",
            {"method": "string", "name": "string", "error": "string", "occurrences": "Int64"},
            "Locust _failures.csv (first_seen/last_seen timestamps from Locust 2.44).",
        ),
        Table(
            "exceptions",
            {"count": "Int64", "message": "string", "traceback": "string", "nodes": "string"},
            "Locust _exceptions.csv.",
        ),
        Table(
            "response_times",
            {"request_type": "string", "name": "string", "latency_ms": "Float64", "count": "Int64"},
            "Locust --json per-entry response-time histogram (bucketed ms -> count).",
        ),
        Table(
            "per_second",
            {
                "request_type": "string",
                "name": "string",
                "timestamp": "datetime64[ms, UTC]",
                "request_count": "Int64",
                "failure_count": "Int64",
            },
            "Locust --json num_reqs_per_sec / num_fail_per_sec.",
        ),
        Table(
            "metrics",
            {
                "timestamp": "datetime64[ms, UTC]",
                "namespace": "string",
                "metric_name": "string",
                "dimensions": "string",
                "statistic": "string",
                "value": "Float64",
                "unit": "string",
                "period_s": "Int64",
                "series_id": "string",
            },
            "CloudWatch, long format. Values normalised: latencies in ms (unit 'ms'), counts per "
            "period ('count'), utilisation in percent ('percent'). dimensions is 'k=v;k=v' sorted.",
        ),
        Table(
            "recommender",
            {
                "job_name": "string",
                "job_type": "string",
                "instance_type": "string",
                "instance_count": "Int64",
                "memory_mb": "Float64",
                "max_concurrency": "Int64",
                "max_invocations_per_min": "Float64",
                "throughput_rps": "Float64",
                "model_latency_ms": "Float64",
                "usd_per_hour": "Float64",
                "usd_per_inference": "Float64",
            },
            "SageMaker Inference Recommender recommendations, one row each. throughput_rps = "
            "MaxInvocations / 60. model_latency_ms converted from the assumed unit in notes.",
        ),
        Table(
            "points",
            {"concurrency": "Float64", "throughput_rps": "Float64"},
            "Ready-made load levels (perf_analyzer, USL data, plain CSV, summaries, serverless "
            "toolkit); optional latency_mean_ms, latency_p<pct>_ms, error_rate, memory_mb, "
            "request_count and source-specific extras.",
        ),
        Table(
            "cost_savings",
            {"monthly_invocations": "Float64", "serverless_usd_per_month": "Float64",
             "instance_usd_per_month": "Float64"},
            "The serverless toolkit's serverless-vs-instance monthly cost table (its prices, 720 h months).",
        ),
        Table(
            "llm_steps",
            {
                "load_kind": "string",
                "concurrency": "Float64",
                "request_rate_rps": "Float64",
                "request_count": "Int64",
                "failure_count": "Int64",
                "duration_s": "Float64",
                "throughput_rps": "Float64",
                "input_tokens_mean": "Float64",
                "output_tokens_mean": "Float64",
                "output_tokens_per_s": "Float64",
            },
            "LLM load levels (GuideLLM, AIPerf, GenAI-Perf, vLLM/SGLang bench_serving, LLMPerf, FMBench, "
            "the SageMaker benchmark suite), one row per level. load_kind 'concurrency' (closed loop: "
            "concurrency set) or 'request_rate' (open loop: request_rate_rps offered, inf = all at once). "
            "request_count = the requests the latency and token statistics cover (the successful ones), "
            "failure_count = failed requests (null where the tool does not say). "
            "Optional: input_tokens_per_s, throughput_derived (bool: the tool computed rps as "
            "concurrency / mean latency), and ttft_/itl_/tpot_/e2e_ latency columns as <metric>_mean_ms "
            "and <metric>_p<pct>_ms (e.g. ttft_p99_ms, itl_p50_ms, e2e_p90_ms), <metric>_min_ms / "
            "<metric>_max_ms, all in ms; error_rate (fraction, as the tool reports it), incomplete_count "
            "(GuideLLM: cut off by the window's end), measured_concurrency (GuideLLM's measured mean), "
            "max_concurrency (an open-loop client's cap), output_validation_rate and "
            "request_output_tokens_per_s_mean/_p50 (suite: one request's tokens/s), "
            "visible_output_tokens_mean / reasoning_tokens_mean (AIPerf: output_tokens_mean includes "
            "reasoning tokens).",
        ),
        Table(
            "gpu_memory",
            {"models_loaded": "Int64", "gpu_memory_utilization_pct": "Float64"},
            "GPU memory used vs models loaded on a multi-model endpoint; optional gpu_total_memory_mb.",
        ),
    )
}

CONFIG_FIELDS = ("instance_type", "instance_count", "framework", "model", "endpoint", "memory_mb")
"""The one configuration identity: the run metadata every step carries. Fits key configurations by
these less ``instance_count`` (they are per instance: ``planner.capacity.KEY_FIELDS``); GPU memory
series by those less ``memory_mb`` (a serverless setting)."""

# Run metadata fields (one row per run in the ``runs`` table), with their meaning.
RUN_FIELDS: dict[str, str] = {
    "run_id": "16 hex chars derived from the input bytes (and a sub-key when one file holds several runs)",
    "source": "locust | cloudwatch | recommender | perf_analyzer | serverless_toolkit | points | mme_gpu | "
              "llm_suite | llm_fmbench | llm_serving | llm_llmperf | llm_guidellm | llm_nvidia",
    "format": "the exact input format detected, e.g. 'locust-csv', 'locust-json', 'cloudwatch-get-metric-data'",
    "endpoint": "endpoint name, if known",
    "variant": "production variant name, if known",
    "instance_type": "e.g. ml.m5.xlarge",
    "instance_count": "instances behind the endpoint during the run",
    "memory_mb": "serverless memory size",
    "max_concurrency": "serverless MaxConcurrency",
    "provisioned_concurrency": "serverless provisioned concurrency",
    "model": "model name",
    "framework": "framework / engine (e.g. pytorch, tensorrt)",
    "labels": "free key=value labels (JSON object)",
    "started_at": "first timestamp in the data (UTC), if any",
    "ended_at": "last timestamp in the data (UTC), if any",
    "origin": "measured | emulated | published",
    "source_ref": "where the data came from (repository, document), for published data",
    "notes": "parser notes (JSON object): history_percentiles, latency_unit_assumed, ...",
    "inputs": "the input files: [{name, sha256, bytes}]",
    "ingested_at": "when the run was committed (UTC ISO-8601)",
    "schema_version": "SCHEMA_VERSION at ingest",
}


def coerce(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with the canonical dtypes of ``table``; raise SchemaError if columns are missing."""
    spec = TABLES.get(table)
    if spec is None:
        raise SchemaError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        raise SchemaError(f"table {table!r} lacks required columns {missing}")
    out = frame.copy()
    for col, dtype in spec.required.items():
        if str(out[col].dtype) != dtype:
            out[col] = out[col].astype(pd.api.types.pandas_dtype(dtype))
    for col in out.columns:
        if column_percentile(col) is not None and str(out[col].dtype) != "Float64":
            out[col] = out[col].astype("Float64")
    return out
