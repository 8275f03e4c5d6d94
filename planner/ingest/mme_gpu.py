"""Outputs of aws-samples/sagemaker-mme-gpu-benchmarking (multi-model endpoint on one GPU instance).

``mme-gpu-memory-log``: the model-loading stdout. ``loaded N models with memory utilzation of P%``
lines (the tool's typo; "utilization"/"utilisation" accepted) and the closing ``This instance is able
to load N models with P% of gpu memory consumed`` line (also a row), grouped under ``# ... (engine=pt)``
headers. One run per engine (key ``pt``/``trt``; rows outside any engine header form key ``""``),
table ``gpu_memory`` (models_loaded, gpu_memory_utilization_pct, gpu_total_memory_mb). The Python dict
printed before loading gives ``gpu_total_memory`` (MiB, nvidia-smi) and the baseline
``gpu_memory_utilization``, a FRACTION (used/total) there, stored as percent in
``notes["baseline_gpu_memory_utilization_pct"]``.

``mme-locust-summary``: the notebook's summary table (model_name, instance_type, platform,
max_models_loaded, User Count, Requests/s, Total * Response Time (ms), Successful/Failed Requests).
One run per (model, instance_type, platform), key = platform, table ``points``. Its latencies are
averages of Locust's cumulative ``Total`` columns: ``notes["latency_is_cumulative_average"]``.

``mme-locust-polled``: the live ``_stats.csv`` row the notebook printed every 30 s as
``OrderedDict([('Type', ...), ...])`` (parsed with ``ast.literal_eval``, never ``eval``), under cell
headers naming the engine. One run per engine, table ``history``: Locust's cumulative columns
(``total_*``, percentiles cumulative since start), ``total_throughput_rps`` = Locust's whole-run
Requests/s, ``elapsed_s`` = Request Count / Requests/s; timestamps are synthetic (1970-01-01T00:00:00Z
+ 30 s per poll), ``user_count`` unknown (null).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from planner import schema
from planner.errors import InputError
from planner.ingest.base import ParsedRun
from planner.ingest.points import CsvTable

FORMATS = ("mme-gpu-memory-log", "mme-locust-summary", "mme-locust-polled")

SOURCE_TOOL = "sagemaker-mme-gpu-benchmarking"
ENGINES = {"pt": "pytorch", "trt": "tensorrt"}
POLL_PERIOD_S = 30

_LOADED = re.compile(r"^loaded\s+(\d+)\s+models?\s+with\s+memory\s+utili?[sz]ation\s+of\s+(\S+?)\s*%$", re.I)
_FINAL = re.compile(r"^this\s+instance\s+is\s+able\s+to\s+load\s+(\d+)\s+models?\s+with\s+(\S+?)\s*%\s+of\s+gpu\s+"
                    r"memory\s+consumed", re.I)
_LOADED_LIKE = re.compile(r"^(loaded\s+\S+\s+models?\b|this\s+instance\s+is\s+able\s+to\s+load\b)", re.I)
_POLLED_ROW = re.compile(r"^OrderedDict\((\[.*\])\)$|^(\{.*'Request Count'.*\})$")
_EXIT_CODE = re.compile(r"exit code (-?\d+)")
_PERCENT_KEY = re.compile(r"^\d+(?:\.\d+)?%$")
_SUMMARY_COLUMNS = ("model_name", "instance_type", "platform", "max_models_loaded", "User Count", "Requests/s",
                    "Total Median Response Time", "Total Average Response Time", "Total Min Response Time",
                    "Total Max Response Time", "Successful Requests", "Failed Requests")
_SUMMARY_LATENCY = {"Total Median Response Time": "latency_median_ms", "Total Average Response Time": "latency_mean_ms",
                    "Total Min Response Time": "latency_min_ms", "Total Max Response Time": "latency_max_ms"}
_POLLED_FIELDS = {"Median Response Time": "total_latency_median_ms", "Average Response Time": "total_latency_mean_ms",
                  "Min Response Time": "total_latency_min_ms", "Max Response Time": "total_latency_max_ms",
                  "Average Content Size": "total_content_size_mean_bytes", "Requests/s": "total_throughput_rps",
                  "Failures/s": "total_failures_per_s"}


def sniff(path: Path, head: bytes) -> str | None:
    """Detect the three outputs by their characteristic lines or header columns."""
    text = head.decode("utf-8-sig", errors="replace")
    lines = [s.strip() for s in text.splitlines()]
    if any(_LOADED.match(s) or _FINAL.match(s) for s in lines):
        return FORMATS[0]
    if any(_POLLED_ROW.match(s) for s in lines):
        return FORMATS[2]
    header = {c.strip() for c in next((s for s in lines if s), "").split(",")}
    if {"instance_type", "platform", "max_models_loaded"} <= header:
        return FORMATS[1]
    return None


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """Runs per engine (logs) or per (model, instance type, platform) (summary); see the module docstring."""
    one = {FORMATS[0]: _parse_memory_log, FORMATS[1]: _parse_summary, FORMATS[2]: _parse_polled}[fmt]
    return [run for p in paths for run in one(Path(p), fmt)]


def _engine(header: str) -> str | None:
    """The engine a ``#`` header names (``(engine=pt)`` or ``...*trt*...``), if any."""
    return next((w for w in re.findall(r"[a-z]+", header.lower()) if w in ENGINES), None)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(path, f"byte {e.start}", "UTF-8 text", repr(raw[e.start:e.start + 8])) from None
    for n, line in enumerate(text.splitlines(), start=1):
        yield n, line.strip()


def _notes(**extra: Any) -> dict[str, Any]:
    return {"source_tool": SOURCE_TOOL, **extra}


def _meta(engine: str) -> dict[str, Any]:
    return {"framework": ENGINES[engine]} if engine else {}


# ---- GPU memory vs models loaded -------------------------------------------------------------


@dataclass
class _Series:
    engine: str
    baseline: dict[str, Any] | None
    rows: list[tuple[int, float]] = field(default_factory=list)
    max_models_reported: int | None = None


def _parse_memory_log(path: Path, fmt: str) -> list[ParsedRun]:
    series: dict[str, _Series] = {}
    current: _Series | None = None
    pending: dict[str, Any] | None = None
    dict_start, dict_text = 0, ""
    for n, s in _lines(path):
        if dict_text:
            dict_text += s
            if s.endswith("}"):
                pending, dict_text = _literal_dict(path, dict_start, n, dict_text), ""
        elif s.startswith("{"):
            dict_start, dict_text = n, s
            if s.endswith("}"):
                pending, dict_text = _literal_dict(path, n, n, s), ""
        elif s.startswith("#"):  # a cell header ends the section; it starts one when it names an engine
            engine = _engine(s)
            current = None if engine is None else _new_series(path, n, series, engine, pending)
            pending = pending if engine is None else None
        elif m := _LOADED.match(s) or _FINAL.match(s):
            if current is None:
                current = _new_series(path, n, series, "", pending)
                pending = None
            _add_row(path, n, current, m)
        elif _LOADED_LIKE.match(s):  # a row the tool printed that does not parse is an error, never skipped
            raise InputError(path, f"line {n}", "'loaded N models with memory utilization of P%' with N a whole "
                             "number", repr(s[:80]))
    runs = [_memory_run(path, fmt, s) for s in series.values() if s.rows]
    if not runs:
        raise InputError(path, "file", "'loaded N models with memory utilization of P%' lines", "none")
    return runs


def _new_series(path: Path, n: int, series: dict[str, _Series], engine: str,
                baseline: dict[str, Any] | None) -> _Series:
    if engine in series:
        raise InputError(path, f"line {n}", f"one section for engine {engine!r}", "a second one")
    series[engine] = _Series(engine, baseline)
    return series[engine]


def _literal_dict(path: Path, first: int, last: int, text: str) -> dict[str, Any]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, dict):
        raise InputError(path, f"lines {first}-{last}", "a Python dict literal", repr(text[:60]))
    return value


def _add_row(path: Path, n: int, series: _Series, m: re.Match[str]) -> None:
    models, raw_pct = int(m.group(1)), m.group(2)
    try:
        pct = float(raw_pct)
    except ValueError:
        pct = float("nan")
    if not 0.0 <= pct <= 100.0:
        raise InputError(path, f"line {n}", "a GPU memory utilization in [0, 100] %", f"{raw_pct}%")
    if series.rows and models <= series.rows[-1][0]:
        raise InputError(path, f"line {n}", f"more than {series.rows[-1][0]} models loaded", f"{models}")
    series.rows.append((models, pct))
    if m.re is _FINAL:
        series.max_models_reported = models


def _memory_run(path: Path, fmt: str, series: _Series) -> ParsedRun:
    total_mib, baseline_pct = _baseline(path, series.baseline)
    frame = pd.DataFrame({
        "models_loaded": pd.array([r[0] for r in series.rows], dtype="Int64"),
        "gpu_memory_utilization_pct": pd.array([r[1] for r in series.rows], dtype="Float64"),
        "gpu_total_memory_mb": pd.array([total_mib] * len(series.rows), dtype="Float64"),
    })
    notes = _notes(gpu_memory_unit="MiB (nvidia-smi)")
    if series.max_models_reported is not None:
        notes["max_models_reported"] = series.max_models_reported
    if baseline_pct is not None:
        notes["baseline_gpu_memory_utilization_pct"] = baseline_pct
    return ParsedRun(source="mme_gpu", format=fmt, inputs=(path,), key=series.engine, meta=_meta(series.engine),
                     tables={"gpu_memory": schema.coerce("gpu_memory", frame)}, notes=notes)


def _baseline(path: Path, baseline: dict[str, Any] | None) -> tuple[float | None, float | None]:
    """(total MiB, utilization percent) from the pre-loading dict; the fraction-vs-percent question is
    settled by ``gpu_used_memory / gpu_total_memory``, never guessed."""
    if not baseline:
        return None, None
    total, used, util = (baseline.get(k) for k in ("gpu_total_memory", "gpu_used_memory", "gpu_memory_utilization"))
    if not (isinstance(total, int | float) and isinstance(used, int | float) and isinstance(util, int | float)) \
            or total <= 0:
        return (float(total) if isinstance(total, int | float) else None), None
    if abs(used / total - util) <= 1e-3:
        return float(total), 100.0 * util
    if abs(100.0 * used / total - util) <= 0.1:
        return float(total), float(util)
    raise InputError(path, "baseline dict field 'gpu_memory_utilization'",
                     f"gpu_used_memory/gpu_total_memory = {used / total:.6f} (as a fraction or percent)", f"{util}")


# ---- Locust summary table ---------------------------------------------------------------------


def _parse_summary(path: Path, fmt: str) -> list[ParsedRun]:
    table = CsvTable.read(path)
    table.require(_SUMMARY_COLUMNS)
    if not table.rows:
        raise InputError(path, "line 2", "at least one data row", "none")
    frame = _summary_frame(table)
    groups = list(frame.groupby(["model", "instance_type", "platform"], sort=False))
    instance_types = frame["instance_type"].nunique()
    return [_summary_run(table, fmt, keys, group, instance_types > 1) for keys, group in groups]


def _summary_frame(table: CsvTable) -> pd.DataFrame:
    succeeded, failed = table.counts("Successful Requests"), table.counts("Failed Requests")
    frame = pd.DataFrame({
        "concurrency": pd.array(table.floats("User Count", positive=True), dtype="Float64"),
        "throughput_rps": pd.array(table.floats("Requests/s", minimum=0.0), dtype="Float64"),
        **{t: pd.array(table.floats(s, minimum=0.0), dtype="Float64") for s, t in _SUMMARY_LATENCY.items()},
        "request_count": pd.array([s + f for s, f in zip(succeeded, failed, strict=True)], dtype="Int64"),
        "failure_count": pd.array(failed, dtype="Int64"),
    })
    frame["error_rate"] = (frame["failure_count"] / frame["request_count"].replace(0, pd.NA)).astype("Float64")
    frame["max_models_loaded"] = pd.array(table.counts("max_models_loaded"), dtype="Int64")
    frame["line"] = table.lines
    for source, target in (("model_name", "model"), ("instance_type", "instance_type"), ("platform", "platform")):
        frame[target] = table.text(source)
    return frame


def _summary_run(table: CsvTable, fmt: str, keys: tuple[Hashable, ...], group: pd.DataFrame,
                 several_instance_types: bool) -> ParsedRun:
    model, instance_type, platform = map(str, keys)  # the text cells of model_name, instance_type, platform
    max_models = group["max_models_loaded"]
    if max_models.nunique() > 1:
        odd = group[max_models != max_models.iloc[0]].iloc[0]
        raise InputError(table.path, f"line {odd['line']}, column 'max_models_loaded'",
                         f"{max_models.iloc[0]} like the other {platform!r} rows", f"{odd['max_models_loaded']}")
    points = group.drop(columns=["max_models_loaded", "line", "model", "instance_type", "platform"])
    points = points.sort_values("concurrency", kind="stable", ignore_index=True)
    meta = {"instance_type": instance_type, "framework": ENGINES.get(platform, platform), "model": model}
    notes = _notes(latency_is_cumulative_average=True, max_models_loaded=int(max_models.iloc[0]))
    key = f"{instance_type}/{platform}" if several_instance_types else platform
    return ParsedRun(source="mme_gpu", format=fmt, inputs=(table.path,), key=key, meta=meta,
                     tables={"points": schema.coerce("points", points)}, notes=notes)


# ---- polled _stats.csv rows -------------------------------------------------------------------


@dataclass
class _Polls:
    engine: str
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    exit_code: int | None = None


def _parse_polled(path: Path, fmt: str) -> list[ParsedRun]:
    sections = [_Polls("")]
    for n, s in _lines(path):
        if s.startswith("#"):
            sections.append(_Polls(_engine(s) or ""))
        elif m := _POLLED_ROW.match(s):
            sections[-1].rows.append((n, _polled_row(path, n, m)))
        elif m := _EXIT_CODE.search(s):
            sections[-1].exit_code = int(m.group(1))
    filled = [sec for sec in sections if sec.rows]
    if not filled:
        raise InputError(path, "file", "OrderedDict([('Type', ...), ...]) stats rows", "none")
    engines = [sec.engine for sec in filled]
    if len(set(engines)) != len(engines):
        raise InputError(path, "section headers", "one section per engine (pt, trt)", f"engines {engines}")
    return [_polled_run(path, fmt, sec) for sec in filled]


def _polled_row(path: Path, n: int, m: re.Match[str]) -> dict[str, Any]:
    text = m.group(1) or m.group(2)
    try:
        value = ast.literal_eval(text)
        row = dict(value)
    except (ValueError, SyntaxError, TypeError):
        raise InputError(path, f"line {n}", "a Locust stats row as an OrderedDict/dict literal",
                         repr(text[:60])) from None
    return row


def _polled_run(path: Path, fmt: str, sec: _Polls) -> ParsedRun:
    records = [_history_record(path, n, row) for n, row in sec.rows]
    frame = pd.DataFrame.from_records(records)
    _check_cumulative(path, sec, frame)
    poll = frame.groupby(["request_type", "name"], sort=False).cumcount()
    frame.insert(0, "row", pd.Series(range(len(frame)), index=frame.index, dtype="Int64"))
    frame.insert(1, "timestamp", pd.to_datetime(poll * POLL_PERIOD_S, unit="s", utc=True))
    frame.insert(2, "user_count", pd.Series([None] * len(frame), index=frame.index, dtype="Int64"))
    frame["is_aggregate"] = frame["name"] == "Aggregated"
    frame["throughput_rps"] = pd.array([None] * len(frame), dtype="Float64")
    frame["failures_per_s"] = pd.array([None] * len(frame), dtype="Float64")
    rate = frame["total_throughput_rps"].astype("Float64")
    frame["elapsed_s"] = (frame["total_request_count"].astype("Float64") / rate.mask(rate == 0.0)).astype("Float64")
    frame = frame.astype({c: "Float64" for c in frame.columns if c.startswith("total_") and "count" not in c})
    notes = _notes(history_percentiles="cumulative", timestamps_synthetic=True,
                   poll_period_s=POLL_PERIOD_S, user_count_known=False,
                   total_throughput_rps_source="Locust's whole-run Requests/s at each poll",
                   elapsed_s_source="Request Count / Requests/s (seconds since Locust's stats start)")
    if sec.exit_code is not None:
        notes["locust_exit_code"] = sec.exit_code
    return ParsedRun(source="mme_gpu", format=fmt, inputs=(path,), key=sec.engine, meta=_meta(sec.engine),
                     tables={"history": schema.coerce("history", frame)}, notes=notes)


def _history_record(path: Path, n: int, row: dict[str, Any]) -> dict[str, Any]:
    def number(key: str, *, count: bool = False) -> float | int | None:
        if key not in row:
            raise InputError(path, f"line {n}, field {key!r}", "present", "missing")
        cell = str(row[key]).strip()
        if cell == "N/A":
            return None
        try:
            value = float(cell)
        except ValueError:
            value = float("nan")
        if not value >= 0 or value == float("inf") or (count and value != int(value)):
            raise InputError(path, f"line {n}, field {key!r}", "a whole number >= 0" if count else "a number >= 0",
                             repr(row[key]))
        return int(value) if count else value

    record: dict[str, Any] = {"request_type": str(row.get("Type", "")), "name": str(row.get("Name", "")),
                              "total_request_count": number("Request Count", count=True),
                              "total_failure_count": number("Failure Count", count=True)}
    record.update({target: number(key) for key, target in _POLLED_FIELDS.items()})
    record.update({schema.percentile_column(k): number(k) for k in row if _PERCENT_KEY.match(str(k))})
    return record


def _check_cumulative(path: Path, sec: _Polls, frame: pd.DataFrame) -> None:
    """Request counts are cumulative: never decreasing per (type, name)."""
    previous = frame.groupby(["request_type", "name"], sort=False)["total_request_count"].shift()
    dropped = (frame["total_request_count"] < previous).fillna(False)
    if dropped.any():
        i = int(dropped.to_numpy().argmax())
        raise InputError(path, f"line {sec.rows[i][0]}, field 'Request Count'",
                         f">= {int(previous.iloc[i])} (cumulative since start)", f"{frame['total_request_count'].iloc[i]}")
