"""SageMaker Inference Recommender output -> the ``recommender`` table (one row per recommendation).

Inputs: ``DescribeInferenceRecommendationsJob`` responses (Default or Advanced jobs, real-time or
serverless recommendations) and ``ListInferenceRecommendationsJobSteps`` responses (one row per
benchmark step, failed ones kept with ``failure_reason``). Each file is JSON as the AWS CLI or
``json.dumps(response, default=str)`` writes it, or the Python repr boto3 prints in a notebook
(``datetime.datetime(...)``, ``tzlocal()``), read with :mod:`ast` and never evaluated.

Units: ``MaxInvocations`` is per minute, so ``throughput_rps = MaxInvocations / 60``. AWS states
``ModelLatency``'s unit inconsistently; it is read as microseconds unless ``model_latency_unit="ms"``
and the assumption is recorded in ``notes["model_latency_unit_assumed"]`` (it applies to
``ModelSetupTime`` and ``EndpointMetrics.ModelLatency`` too). Costs are USD.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import InputError, PlannerError
from planner.ingest.base import ParsedRun
from planner.schema import TABLES, coerce

FORMATS = ("recommender-job", "recommender-job-steps")

MODEL_LATENCY_UNITS = {"us": 1e-3, "ms": 1.0}  # factor to milliseconds
COST_IDENTITY_TOLERANCE = 0.01  # relative; CostPerInference vs CostPerHour / (60 x MaxInvocations)

_TZ_CALLS = {"tzlocal", "tzutc"}
_FLOAT_NAMES = {"nan": math.nan, "inf": math.inf}
_FENCE = re.compile(r"^\s*```.*$", re.MULTILINE)
_CLOSERS = {"{": "}", "[": "]", "(": ")"}
_EXTRA_DTYPES = {
    "provisioned_concurrency": "Int64", "cost_identity_ok": "boolean", "cpu_utilization_pct": "Float64",
    "memory_utilization_pct": "Float64", "model_setup_time_ms": "Float64",
    "endpoint_max_invocations_per_min": "Float64", "endpoint_model_latency_ms": "Float64",
    "endpoint_name": "string", "variant_name": "string", "recommendation_id": "string",
    "environment": "string", "compilation_job_name": "string",
    "invocation_started_at": "datetime64[ms, UTC]", "invocation_ended_at": "datetime64[ms, UTC]",
}
_STEP_DTYPES = {"status": "string", "failure_reason": "string"}


# ---------------------------------------------------------------------------- sniff


def sniff(path: Path, head: bytes) -> str | None:
    """Detect Inference Recommender output (JSON or Python repr) from its first bytes."""
    text = head.decode("utf-8-sig", errors="replace")

    def has(key: str) -> bool:
        return re.search(rf"""["']{key}["']\s*:""", text) is not None

    if has("Steps") and (has("StepType") or has("InferenceBenchmark")):
        return FORMATS[1]
    if has("InferenceRecommendations") or (has("JobType") and has("InputConfig")):
        return FORMATS[0]
    return None


# ---------------------------------------------------------------------------- parse


def parse(paths: list[Path], fmt: str, model_latency_unit: str = "us") -> list[ParsedRun]:
    """One run per job: per file, or per job of a ``{"default_job": {...}, ...}`` wrapper (key = its name).

    ``model_latency_unit`` ("us" or "ms") is the unit ModelLatency is assumed to be in.
    """
    if model_latency_unit not in MODEL_LATENCY_UNITS:
        raise PlannerError(f"model_latency_unit: expected one of {', '.join(MODEL_LATENCY_UNITS)}, "
                           f"found {model_latency_unit!r}")
    if fmt not in FORMATS:
        raise InputError(paths[0] if paths else "-", "format", f"one of {', '.join(FORMATS)}", repr(fmt))
    runs: list[ParsedRun] = []
    for path in map(Path, paths):
        reader = _Reader(path, model_latency_unit)
        doc = reader.load()
        if fmt == FORMATS[0]:
            runs.extend(reader.job_run(key, job) for key, job in _jobs(path, doc))
        else:
            runs.append(reader.steps_run(doc))
    return runs


def _jobs(path: Path, doc: Any) -> list[tuple[str, Mapping]]:
    """The job(s) in a file: the response itself, or a wrapper object whose values are responses."""
    def is_job(value: Any) -> bool:
        return isinstance(value, Mapping) and any(k in value for k in ("InferenceRecommendations", "JobType",
                                                                       "JobName"))
    if is_job(doc):
        return [("", doc)]
    jobs = [(k, v) for k, v in doc.items() if is_job(v)] if isinstance(doc, Mapping) else []
    if not jobs:
        raise InputError(path, "top level", "a DescribeInferenceRecommendationsJob response (JobName, JobType, "
                         "InferenceRecommendations)", _describe(doc))
    return jobs


class _Reader:
    """Reads one file; collects the notes that apply to every run parsed from it."""

    def __init__(self, path: Path, model_latency_unit: str) -> None:
        self.path = path
        self.unit = model_latency_unit
        self.factor = MODEL_LATENCY_UNITS[model_latency_unit]
        self.notes: dict[str, Any] = {}

    # -- loading

    def load(self) -> Any:
        """The file as Python data: JSON, else a Python repr read safely with ast."""
        try:
            text = self.path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            found = f"byte {exc.object[exc.start]:#04x}"
            raise InputError(self.path, f"byte {exc.start}", "UTF-8 text", found) from None
        text = _FENCE.sub("", text)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            json_error = f"invalid JSON ({exc.msg} at line {exc.lineno})"
        self.notes["input_syntax"] = "python-repr"
        return self._literal_text(text, json_error)

    def _literal_text(self, text: str, json_error: str) -> Any:
        body = text.strip()
        try:
            tree = ast.parse(body, mode="eval")
        except SyntaxError as exc:
            closed = _close_brackets(body)
            if closed is None:
                raise InputError(self.path, f"line {exc.lineno}", "JSON or a Python-repr response",
                                 f"{json_error} and invalid Python ({exc.msg})") from None
            try:
                tree = ast.parse(body + closed, mode="eval")
            except SyntaxError:
                raise InputError(self.path, f"line {exc.lineno}", "JSON or a Python-repr response",
                                 f"{json_error} and invalid Python ({exc.msg})") from None
            self.notes["repaired"] = f"appended {closed!r}: the input ends before its closing brackets"
        if not isinstance(tree.body, ast.Dict):
            raise InputError(self.path, f"line {tree.body.lineno}", "a JSON or Python-repr object",
                             f"{json_error}; Python {ast.unparse(tree.body)[:60]}")
        return self._literal(tree.body)

    def _literal(self, node: ast.AST) -> Any:
        """Convert literals, dicts, lists and datetime.datetime(...) calls; refuse everything else."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool | type(None)):
            return node.value
        if isinstance(node, ast.Dict) and (keys := [k for k in node.keys if k is not None]) == node.keys:
            return {self._literal(k): self._literal(v) for k, v in zip(keys, node.values, strict=True)}
        if isinstance(node, ast.List | ast.Tuple):
            return [self._literal(e) for e in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = self._literal(node.operand)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Name) and node.id in _FLOAT_NAMES:
            return _FLOAT_NAMES[node.id]
        if isinstance(node, ast.Call) and _dotted(node.func) in ("datetime.datetime", "datetime"):
            return self._datetime(node)
        raise InputError(self.path, f"line {getattr(node, 'lineno', '?')}",
                         "literals, datetime.datetime(...), tzlocal() or tzutc() (nothing is executed)",
                         ast.unparse(node)[:80])

    def _datetime(self, node: ast.Call) -> datetime:
        args = [self._literal(a) for a in node.args]
        if not 3 <= len(args) <= 7 or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            raise InputError(self.path, f"line {node.lineno}", "datetime.datetime(year, month, day, ...) with "
                             "integer arguments", ast.unparse(node)[:80])
        tz = None
        for kw in node.keywords:
            call = kw.value
            if kw.arg != "tzinfo" or not (isinstance(call, ast.Call) and _dotted(call.func) in _TZ_CALLS
                                          and not call.args and not call.keywords):
                raise InputError(self.path, f"line {node.lineno}", "tzinfo=tzlocal() or tzinfo=tzutc()",
                                 ast.unparse(kw)[:80])
            tz = _dotted(call.func)
        if tz == "tzlocal":
            self.notes["timezone_assumed_utc"] = "tzlocal() times read as UTC (the printing zone is unknown)"
        try:
            return datetime(*args).replace(tzinfo=UTC if tz else None)
        except ValueError as exc:
            raise InputError(self.path, f"line {node.lineno}", "a valid date", str(exc)) from None

    # -- runs

    def job_run(self, key: str, job: Mapping) -> ParsedRun:
        prefix = f"{key}." if key else ""
        recs = job.get("InferenceRecommendations")
        if not isinstance(recs, list) or not recs:
            reason = f", {job['FailureReason']}" if job.get("FailureReason") else ""
            raise InputError(self.path, f"{prefix}InferenceRecommendations", "a non-empty list of recommendations",
                             f"{_describe(recs)} (job Status {job.get('Status')!r}{reason})")
        name, job_type = job.get("JobName"), job.get("JobType")
        rows = [self._row(f"{prefix}InferenceRecommendations[{i}]", rec, name, job_type, required=True)
                for i, rec in enumerate(recs)]
        notes = self._run_notes(rows)
        performances = self._endpoint_performances(prefix, job.get("EndpointPerformances"))
        if performances:
            notes["endpoint_performances"] = performances
        meta = {**_config_meta(rows), **self._job_meta(prefix, job)}
        return self._parsed(FORMATS[0], rows, meta, notes, key, {})

    def steps_run(self, doc: Any) -> ParsedRun:
        steps = doc.get("Steps") if isinstance(doc, Mapping) else None
        if not isinstance(steps, list) or not steps:
            raise InputError(self.path, "Steps", "a non-empty list of benchmark steps",
                             _describe(steps if isinstance(doc, Mapping) else doc))
        rows = []
        for i, step in enumerate(steps):
            where = f"Steps[{i}]"
            if not isinstance(step, Mapping) or step.get("StepType") != "BENCHMARK":
                raise InputError(self.path, f"{where}.StepType", "'BENCHMARK'",
                                 _describe(step.get("StepType") if isinstance(step, Mapping) else step))
            bench = step.get("InferenceBenchmark") or {}
            failed = step.get("Status") != "COMPLETED"
            row = self._row(f"{where}.InferenceBenchmark", bench, step.get("JobName"), None,
                            required=not failed)
            row.update(status=step.get("Status"), failure_reason=bench.get("FailureReason"))
            rows.append(row)
        notes = self._run_notes(rows)
        if doc.get("NextToken"):
            notes["next_token_present"] = True
        started = [r["invocation_started_at"] for r in rows if r["invocation_started_at"] is not None]
        ended = [r["invocation_ended_at"] for r in rows if r["invocation_ended_at"] is not None]
        meta = _config_meta(rows)
        if started:
            meta["started_at"] = min(started).isoformat()
        if ended:
            meta["ended_at"] = max(ended).isoformat()
        return self._parsed(FORMATS[1], rows, meta, notes, "", _STEP_DTYPES)

    def _parsed(self, fmt: str, rows: list[dict], meta: dict, notes: dict, key: str,
                extra: dict[str, str]) -> ParsedRun:
        frame = pd.DataFrame(rows)
        canonical = list(TABLES["recommender"].required)
        frame = coerce("recommender", frame[canonical + [c for c in frame.columns if c not in canonical]])
        for col, dtype in {**_EXTRA_DTYPES, **extra}.items():
            frame[col] = frame[col].astype(pd.api.types.pandas_dtype(dtype))
        return ParsedRun(source="recommender", format=fmt, inputs=(self.path,), tables={"recommender": frame},
                         meta=meta, notes={**self.notes, **notes}, key=key)

    def _run_notes(self, rows: list[dict]) -> dict[str, Any]:
        notes: dict[str, Any] = {"model_latency_unit_assumed": self.unit}
        bad = [{"row": i, "instance_type": r["instance_type"], "usd_per_inference": r["usd_per_inference"],
                "expected_usd_per_inference": r["usd_per_hour"] / (60 * r["max_invocations_per_min"])}
               for i, r in enumerate(rows) if r["cost_identity_ok"] is False]
        if bad:
            notes["cost_identity_violations"] = bad
        return notes

    def _job_meta(self, prefix: str, job: Mapping) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        for field, key in (("started_at", "CreationTime"), ("ended_at", "LastModifiedTime")):
            if job.get(key) is not None:
                meta[field] = self._timestamp(job[key], f"{prefix}{key}").isoformat()
        config = job.get("InputConfig")
        config = config if isinstance(config, Mapping) else {}
        container = config.get("ContainerConfig")
        container = container if isinstance(container, Mapping) else {}
        for field, value in (("model", config.get("ModelName")), ("framework", container.get("Framework"))):
            if value:
                meta[field] = value
        return meta

    def _endpoint_performances(self, prefix: str, raw: Any) -> list[dict[str, Any]]:
        out = []
        for i, perf in enumerate(raw or []):
            where = f"{prefix}EndpointPerformances[{i}]"
            metrics = perf.get("Metrics", {}) if isinstance(perf, Mapping) else {}
            info = perf.get("EndpointInfo", {}) if isinstance(perf, Mapping) else {}
            latency = self._number(metrics, "ModelLatency", where)
            out.append({"endpoint": info.get("EndpointName"),
                        "max_invocations_per_min": self._number(metrics, "MaxInvocations", where),
                        "model_latency_ms": None if latency is None else latency * self.factor})
        return out

    # -- one recommendation or benchmark

    def _row(self, where: str, rec: Any, job_name: Any, job_type: Any, *, required: bool) -> dict[str, Any]:
        if not isinstance(rec, Mapping):
            raise InputError(self.path, where, "an object", _describe(rec))
        metrics = self._mapping(rec, "Metrics", where, required)
        config = self._mapping(rec, "EndpointConfiguration", where, required)
        serverless = self._mapping(config, "ServerlessConfig", f"{where}.EndpointConfiguration", False)
        if required and not config.get("InstanceType") and not serverless:
            raise InputError(self.path, f"{where}.EndpointConfiguration", "InstanceType or ServerlessConfig",
                             _describe(config))
        m_where = f"{where}.Metrics"
        per_min = self._invocations(metrics, m_where, required)
        latency = self._number(metrics, "ModelLatency", m_where)
        setup = self._number(metrics, "ModelSetupTime", m_where)
        usd_h = self._number(metrics, "CostPerHour", m_where)
        usd_i = self._number(metrics, "CostPerInference", m_where)
        endpoint = self._mapping(rec, "EndpointMetrics", where, False)
        e_where = f"{where}.EndpointMetrics"
        e_latency = self._number(endpoint, "ModelLatency", e_where)
        s_where = f"{where}.ServerlessConfig"
        model = self._mapping(rec, "ModelConfiguration", where, False)
        return {
            "job_name": job_name, "job_type": job_type,
            "instance_type": config.get("InstanceType"),
            "instance_count": self._count(config, "InitialInstanceCount", f"{where}.EndpointConfiguration"),
            "memory_mb": self._number(serverless, "MemorySizeInMB", s_where),
            "max_concurrency": self._count(serverless, "MaxConcurrency", s_where),
            "provisioned_concurrency": self._count(serverless, "ProvisionedConcurrency", s_where),
            "max_invocations_per_min": per_min,
            "throughput_rps": None if per_min is None else per_min / 60.0,
            "model_latency_ms": None if latency is None else latency * self.factor,
            "usd_per_hour": usd_h, "usd_per_inference": usd_i,
            "cost_identity_ok": _cost_identity_ok(usd_h, usd_i, per_min),
            "cpu_utilization_pct": self._number(metrics, "CpuUtilization", m_where),
            "memory_utilization_pct": self._number(metrics, "MemoryUtilization", m_where),
            "model_setup_time_ms": None if setup is None else setup * self.factor,
            "endpoint_max_invocations_per_min": self._number(endpoint, "MaxInvocations", e_where),
            "endpoint_model_latency_ms": None if e_latency is None else e_latency * self.factor,
            "endpoint_name": config.get("EndpointName"), "variant_name": config.get("VariantName"),
            "recommendation_id": rec.get("RecommendationId"),
            "environment": _environment(model.get("EnvironmentParameters")),
            "compilation_job_name": model.get("CompilationJobName"),
            "invocation_started_at": self._optional_time(rec, "InvocationStartTime", where),
            "invocation_ended_at": self._optional_time(rec, "InvocationEndTime", where),
        }

    def _invocations(self, metrics: Mapping, where: str, required: bool) -> float | None:
        key = "MaxInvocations"
        if key not in metrics and "MaximumInvocations" in metrics:
            key = "MaximumInvocations"
            self.notes["renamed_keys"] = {"MaximumInvocations": "MaxInvocations"}
        value = self._number(metrics, key, where)
        if value is None and required:
            raise InputError(self.path, f"{where}.MaxInvocations", "the invocations per minute", "nothing")
        return value

    def _mapping(self, parent: Mapping, key: str, where: str, required: bool) -> Mapping:
        value = parent.get(key)
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            raise InputError(self.path, f"{where}.{key}", "an object", _describe(value))
        return value

    def _number(self, parent: Mapping, key: str, where: str) -> float | None:
        """A non-negative number, or None when absent or NaN ("not available" in the API)."""
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or math.isinf(value):
            raise InputError(self.path, f"{where}.{key}", "a non-negative number", repr(value)[:80])
        return None if math.isnan(value) else float(value)

    def _count(self, parent: Mapping, key: str, where: str) -> int | None:
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(self.path, f"{where}.{key}", "a whole number >= 1", repr(value)[:80])
        return value

    def _optional_time(self, parent: Mapping, key: str, where: str) -> pd.Timestamp | None:
        value = parent.get(key)
        return None if value is None else self._timestamp(value, f"{where}.{key}")

    def _timestamp(self, value: Any, where: str) -> pd.Timestamp:
        """A datetime, ISO-8601 string or epoch seconds -> UTC (naive values read as UTC, noted)."""
        try:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return pd.Timestamp(round(value * 1000), unit="ms", tz="UTC")  # epoch s, to the ms
            ts = pd.Timestamp(value) if isinstance(value, str | datetime) else None
        except (ValueError, OverflowError):
            ts = None
        if ts is None or ts is pd.NaT:
            raise InputError(self.path, where, "an ISO-8601 timestamp, datetime or epoch seconds",
                             repr(value)[:80])
        if ts.tzinfo is None:
            self.notes["naive_timestamps_assumed_utc"] = True
            return ts.tz_localize("UTC")
        return ts.tz_convert("UTC")


def _cost_identity_ok(usd_per_hour: float | None, usd_per_inference: float | None,
                      per_min: float | None) -> bool | None:
    """CostPerInference ≈ CostPerHour / (60 × MaxInvocations), within the tolerance; None if unknowable."""
    if usd_per_hour is None or usd_per_inference is None or not per_min:
        return None
    expected = usd_per_hour / (60.0 * per_min)
    return abs(usd_per_inference - expected) <= COST_IDENTITY_TOLERANCE * expected


def _config_meta(rows: list[dict]) -> dict[str, Any]:
    """instance_type/count (or serverless memory/concurrency) when every row has the same configuration."""
    keys = ("instance_type", "instance_count", "memory_mb", "max_concurrency", "provisioned_concurrency")
    configs = {tuple(r[k] for k in keys) for r in rows}
    if len(configs) != 1:
        return {}
    return {k: v for k, v in zip(keys, configs.pop(), strict=True) if v is not None}


def _environment(params: Any) -> str | None:
    if not isinstance(params, list) or not params:
        return None
    pairs = sorted(f"{p.get('Key')}={p.get('Value')}" for p in params if isinstance(p, Mapping))
    return ";".join(pairs) or None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _close_brackets(text: str) -> str | None:
    """The closers a truncated Python literal lacks at its end, or None if it is broken otherwise."""
    stack: list[str] = []
    quote, i = "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            i = text.find("\n", i)
            if i < 0:
                break
        elif ch in _CLOSERS:
            stack.append(_CLOSERS[ch])
        elif ch in _CLOSERS.values() and (not stack or stack.pop() != ch):
            return None
        i += 1
    return "".join(reversed(stack)) if stack and not quote else None


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object with keys " + (", ".join(list(map(str, value))[:6]) or "none")
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return "nothing" if value is None else repr(value)[:80]
