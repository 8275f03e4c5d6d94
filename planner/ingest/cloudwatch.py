"""CloudWatch exports -> the ``metrics`` table (long format; units normalised once, here).

Three inputs: ``aws cloudwatch get-metric-data`` JSON (pages passed together make one run;
an optional ``MetricDataQueries`` sidecar names each series), ``get-metric-statistics`` JSON
and the console's CSV download (a timestamp column plus one column per series).

Units: SageMaker latencies/times are microseconds in CloudWatch and become ms (unit ``ms``);
invocation and error metrics are counts per period (``count``); utilisation is ``percent``
(CPU summed over cores). ``SampleCount`` of any metric is a ``count``. A series whose metric
cannot be identified keeps its raw values with unit ``unknown`` and is listed in
``notes["unresolved_series"]``.

Instance count: ``InvocationsPerInstance`` adds 1/instance-count per request, so each period's
count is ``Invocations / InvocationsPerInstance`` (Sums; :func:`instance_counts`). The run's
``instance_count`` is the most common one; ``notes["measured_fields"]`` says where it was measured
(a count given at ingest must agree), ``notes["assumed_fields"]`` that it is unknown when the
export has no ``InvocationsPerInstance``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import InputError
from planner.ingest.base import ParsedRun, csv_errors
from planner.schema import coerce

FORMATS = ("cloudwatch-get-metric-data", "cloudwatch-get-metric-statistics", "cloudwatch-csv")

SAGEMAKER = "AWS/SageMaker"
ENDPOINTS = "/aws/sagemaker/Endpoints"

# metric name -> (namespace, unit as CloudWatch stores it: "us" | "count" | "percent")
KNOWN_METRICS: dict[str, tuple[str, str]] = {
    **{m: (SAGEMAKER, "us") for m in ("ModelLatency", "OverheadLatency", "ModelSetupTime",
                                      "ModelLoadingWaitTime", "ModelDownloadingTime", "ModelLoadingTime",
                                      "ModelUnloadingTime")},
    **{m: (SAGEMAKER, "count") for m in ("Invocations", "InvocationsPerInstance", "Invocation4XXErrors",
                                         "Invocation5XXErrors", "InvocationModelErrors", "ModelCacheHit",
                                         "ModelNotReadyErrors")},
    **{m: (ENDPOINTS, "percent") for m in ("CPUUtilization", "MemoryUtilization", "GPUUtilization",
                                           "GPUMemoryUtilization", "DiskUtilization")},
    "LoadedModelCount": (ENDPOINTS, "count"),
}

# CloudWatch StandardUnit -> (canonical unit, factor to it)
_STANDARD_UNITS: dict[str, tuple[str, float]] = {
    "Microseconds": ("ms", 1e-3), "Milliseconds": ("ms", 1.0), "Seconds": ("ms", 1000.0),
    "Percent": ("percent", 1.0), "Count": ("count", 1.0), "Bytes": ("bytes", 1.0),
    "Count/Second": ("count_per_s", 1.0),
}
_KNOWN_UNIT = {"us": ("ms", 1e-3, "Microseconds"), "count": ("count", 1.0, "Count"),
               "percent": ("percent", 1.0, "Percent")}
_STATS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_STAT_WORDS = {"avg": "Average", "average": "Average", "mean": "Average", "sum": "Sum", "min": "Minimum",
               "minimum": "Minimum", "max": "Maximum", "maximum": "Maximum"}
_PERCENTILE = re.compile(r"(?:^|[^a-z0-9])p(\d{1,2}(?:\.\d+)?|100)(?![0-9.])")
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_TIME_HEADER = re.compile(r"time|date", re.IGNORECASE)
_MAX_EPOCH_S = 1e11  # beyond year 5000: milliseconds, not seconds
# Relative distance from a whole instance count within which a period's ratio is that count;
# further off, instances were added or removed inside the period and the ratio is kept as it is.
COUNT_TOLERANCE = 0.02
_COLUMNS = ("timestamp", "namespace", "metric_name", "dimensions", "statistic", "value", "unit", "period_s",
            "series_id", "label")


@dataclass(frozen=True)
class _Series:
    """What is known about one series; ``None`` = not known."""

    series_id: str
    label: str
    metric_name: str | None = None
    namespace: str | None = None
    dimensions: str | None = None
    statistic: str | None = None
    period_s: int | None = None
    declared_unit: str | None = None
    from_query: bool = False


@dataclass
class _Collector:
    """Rows of one run, as (series, timestamp, raw value, path, where), plus the notes gathered."""

    rows: list[tuple[_Series, pd.Timestamp, float, Path, str]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def note_list(self, key: str, item: Any) -> None:
        items = self.notes.setdefault(key, [])
        if item not in items:
            items.append(item)


# ---------------------------------------------------------------------------- sniff


def sniff(path: Path, head: bytes) -> str | None:
    """Detect a CloudWatch export from its first bytes."""
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("{"):
        if re.search(r'"MetricDataResults"\s*:', text) or re.search(r'"MetricDataQueries"\s*:', text):
            return FORMATS[0]
        if re.search(r'"Datapoints"\s*:', text) and re.search(r'"Label"\s*:', text):
            return FORMATS[1]
        return None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or text.startswith("["):
        return None
    header = next(csv.reader([lines[0]]))
    has_time = any(_TIME_HEADER.search(h) and _metric_in(h) is None for h in header)
    has_metric = any(_infer_from_label(h)[0] is not None for h in header)
    return FORMATS[2] if has_time and has_metric else None


# ---------------------------------------------------------------------------- parse


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """Parse CloudWatch exports of format ``fmt``.

    get-metric-data and get-metric-statistics files passed together make one run (pages of one
    export); each console CSV is its own run.
    """
    paths = [Path(p) for p in paths]
    if fmt == FORMATS[0]:
        return [_run(paths, fmt, _read_metric_data(paths))]
    if fmt == FORMATS[1]:
        col = _Collector()
        for path in paths:
            _read_metric_statistics(path, col)
        return [_run(paths, fmt, col)]
    if fmt == FORMATS[2]:
        runs = []
        for path in paths:
            col = _Collector()
            _read_csv(path, col)
            runs.append(_run([path], fmt, col))
        return runs
    raise InputError(paths[0] if paths else "-", "format", f"one of {', '.join(FORMATS)}", repr(fmt))


def _run(paths: list[Path], fmt: str, col: _Collector) -> ParsedRun:
    if not col.rows:
        raise InputError(paths[0], "datapoints", "at least one datapoint", "none in any series")
    frame = _frame(col)
    meta = _meta(frame)
    count = _run_instance_count(frame, col)
    if count is not None:
        meta["instance_count"] = count
    return ParsedRun(source="cloudwatch", format=fmt, inputs=tuple(paths), tables={"metrics": frame},
                     meta=meta, notes=col.notes)


def _frame(col: _Collector) -> pd.DataFrame:
    """Normalise units, check signs and duplicates, infer missing periods; the canonical frame."""
    records: list[tuple[Any, ...]] = []  # rows of _COLUMNS
    seen: dict[tuple[str, str | None, pd.Timestamp], float] = {}  # (series, statistic, time) -> first value
    for series, ts, raw, path, where in col.rows:
        factor, unit = _unit(series, path, where)
        if unit != "unknown" and raw < 0:
            raise InputError(path, where, f"a non-negative {series.metric_name} value", repr(raw))
        key = (series.series_id, series.statistic, ts)
        if key in seen:
            if seen[key] != raw:
                raise InputError(path, where, f"the same value as the earlier datapoint of series "
                                 f"{series.series_id!r} at {ts.isoformat()}", f"{raw!r} vs {seen[key]!r}")
            col.notes["duplicates_dropped"] = col.notes.get("duplicates_dropped", 0) + 1
            continue
        seen[key] = raw
        records.append((ts, series.namespace, series.metric_name or series.label, series.dimensions,
                        series.statistic, raw * factor, unit, series.period_s, series.series_id, series.label))
    frame = pd.DataFrame.from_records(records, columns=list(_COLUMNS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["period_s"] = _fill_periods(frame, col)
    frame = frame.sort_values(["series_id", "statistic", "timestamp"], kind="stable").reset_index(drop=True)
    out = coerce("metrics", frame)
    out["label"] = out["label"].astype("string")
    return out


def _fill_periods(frame: pd.DataFrame, col: _Collector) -> pd.Series:
    """Known periods, else the smallest spacing between a series' timestamps (noted)."""
    period = frame["period_s"].astype("Int64")
    for sid, group in frame[period.isna()].groupby("series_id"):
        steps = group["timestamp"].drop_duplicates().sort_values().diff().dt.total_seconds().dropna()
        steps = steps[steps > 0]
        if len(steps):
            period[group.index] = int(steps.min())
            col.notes.setdefault("period_s_inferred_from_spacing", {})[sid] = int(steps.min())
    return period


def _meta(frame: pd.DataFrame) -> dict[str, Any]:
    meta: dict[str, Any] = {"started_at": frame["timestamp"].min().isoformat(),
                            "ended_at": frame["timestamp"].max().isoformat()}
    for key, dim in (("endpoint", "EndpointName"), ("variant", "VariantName")):
        values = {v for d in frame["dimensions"].dropna() for v in _dimension_values(d, dim)}
        if len(values) == 1:
            meta[key] = values.pop()
    return meta


def _sums(metrics: pd.DataFrame, metric: str) -> pd.Series:
    """``metric``'s Sum per (timestamp, dimensions) of the SageMaker namespace."""
    rows = metrics[(metrics["namespace"] == SAGEMAKER) & (metrics["metric_name"] == metric)
                   & (metrics["statistic"] == "Sum")]
    keys = [rows["timestamp"], rows["dimensions"].astype(object).fillna("")]
    return rows["value"].astype("float64").groupby(keys).sum()


def _instance_ratios(metrics: pd.DataFrame) -> pd.Series:
    """Per period (timestamp): ``Invocations / InvocationsPerInstance`` (Sums), summed over the
    endpoints/variants of the run; NaN where either is missing or zero. Empty without both metrics."""
    invocations, per_instance = _sums(metrics, "Invocations"), _sums(metrics, "InvocationsPerInstance")
    both = pd.concat({"n": invocations, "per": per_instance}, axis=1).dropna()
    if both.empty:
        return pd.Series(dtype="float64")
    ratio = (both["n"] / both["per"].where(both["per"] > 0)).where(both["n"] > 0)
    return ratio.groupby(level=0).sum(min_count=1).rename_axis("timestamp")


def instance_counts(metrics: pd.DataFrame) -> pd.Series:
    """Per period: the instance count, whole when the ratio is within :data:`COUNT_TOLERANCE` of
    one, else the ratio itself (instances changed inside the period: throughput ÷ ratio is still
    the per-instance throughput); NaN where it cannot be told."""
    ratio = _instance_ratios(metrics)
    whole = ratio.round().clip(lower=1)
    return ratio.where((ratio - whole).abs() > COUNT_TOLERANCE * whole, whole)


def _run_instance_count(frame: pd.DataFrame, col: _Collector) -> int | None:
    """The most common per-period instance count (the smaller on a tie); what was measured, or that
    nothing was, goes to the notes. InputError for a period with fewer than one instance."""
    ratio = _instance_ratios(frame)
    if ratio.isna().all():
        col.notes["assumed_fields"] = {"instance_count": "unknown: the export has no InvocationsPerInstance "
                                                         "with Invocations (Sum); assumed 1"}
        return None
    counts = instance_counts(frame).dropna()
    below = counts[counts < 1 - COUNT_TOLERANCE]
    if len(below):
        path, where = _source_of(col, "InvocationsPerInstance", below.index[0])
        raise InputError(path, where, "an InvocationsPerInstance of at most Invocations (one instance or more)",
                         f"Invocations / InvocationsPerInstance = {below.iloc[0]:.3g} at {below.index[0].isoformat()}")
    run_count = int(counts.round().mode().min())
    periods = counts.round().astype(int).value_counts().sort_index()
    path, _ = _source_of(col, "InvocationsPerInstance")
    col.notes["instance_count"] = {
        "from": "Invocations / InvocationsPerInstance (Sum per period)",
        "periods_by_count": {str(k): int(v) for k, v in periods.items()},
        "periods_between_counts": [t.isoformat() for t in counts.index[counts % 1 != 0]]}
    col.notes["measured_fields"] = {"instance_count": {
        "value": run_count, "file": path.name, "where": "InvocationsPerInstance",
        "found": f"{run_count} (Invocations / InvocationsPerInstance in {int(periods[run_count])} of "
                 f"{len(counts)} periods)"}}
    return run_count


def _source_of(col: _Collector, metric: str, at: pd.Timestamp | None = None) -> tuple[Path, str]:
    """(file, place) of the first ``metric`` datapoint (at ``at``, if given)."""
    return next((path, where) for series, ts, _, path, where in col.rows
                if series.metric_name == metric and (at is None or ts == at))


def _dimension_values(dimensions: str, name: str) -> list[str]:
    pairs = (p.split("=", 1) for p in dimensions.split(";") if "=" in p)
    return [v for k, v in pairs if k == name]


# ---------------------------------------------------------------------------- units


def _unit(series: _Series, path: Path, where: str) -> tuple[float, str]:
    """(factor, canonical unit) for the series' values; InputError if a declared unit contradicts."""
    known = KNOWN_METRICS.get(series.metric_name or "")
    declared = series.declared_unit
    if known is not None:
        unit, factor, expected = _KNOWN_UNIT[known[1]]
        if declared not in (None, "None", expected):
            raise InputError(path, where, f"Unit {expected} for {series.metric_name}", repr(declared))
    elif declared in _STANDARD_UNITS:
        unit, factor = _STANDARD_UNITS[declared]
    elif declared not in (None, "None"):
        unit, factor = declared.lower(), 1.0
    else:
        return 1.0, "unknown"
    stat = series.statistic or ""
    if stat == "SampleCount" or stat.upper().startswith("TC"):
        return 1.0, "count"
    if stat.upper().startswith("PR"):
        return 1.0, "percent"
    return factor, unit


# ---------------------------------------------------------------------------- series identity


def _infer_from_label(*texts: str) -> tuple[str | None, str | None]:
    """(metric name, statistic) named in a Label/Id/header such as 'model_latency_p99', or None each."""
    metric = stat = None
    for text in texts:
        if not text:
            continue
        metric = metric or _metric_in(text)
        stat = stat or _statistic_in(text)
    return metric, stat


def _metric_in(text: str) -> str | None:
    compact = re.sub(r"[^a-z0-9]", "", text.lower())
    found = [m for m in KNOWN_METRICS if m.lower() in compact]
    found = [m for m in found if not any(m != o and m.lower() in o.lower() for o in found)]
    return found[0] if len(found) == 1 else None


def _statistic_in(text: str) -> str | None:
    lower = text.lower()
    found = {f"p{m}" for m in _PERCENTILE.findall(lower)}
    words = [w.lower() for w in _WORDS.findall(text)]
    found |= {_STAT_WORDS[w] for w in words if w in _STAT_WORDS}
    if "samplecount" in re.sub(r"[^a-z]", "", lower):
        found = (found - {"Sum"}) | {"SampleCount"}
    return found.pop() if len(found) == 1 else None


def _inferred_series(series_id: str, label: str, col: _Collector) -> _Series:
    """Series identity from Label/Id alone; what cannot be resolved is noted, never guessed."""
    metric, stat = _infer_from_label(label, series_id)
    missing = [name for name, v in (("metric_name", metric), ("statistic", stat)) if v is None]
    if missing:
        col.note_list("unresolved_series", {"series_id": series_id, "label": label, "missing": missing})
    namespace = KNOWN_METRICS[metric][0] if metric else None
    return _Series(series_id, label, metric, namespace, statistic=stat)


def _dimensions(raw: Any, path: Path, where: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(d, Mapping) and "Name" in d and "Value" in d
                                            for d in raw):
        raise InputError(path, where, "a list of {Name, Value} dimensions", _describe(raw))
    return ";".join(sorted(f"{d['Name']}={d['Value']}" for d in raw)) or None


def _query_series(query: Mapping[str, Any], path: Path, where: str) -> _Series:
    """Series identity from a MetricDataQuery (MetricStat, or a math expression)."""
    qid, label = query["Id"], str(query.get("Label") or "")
    stat = query.get("MetricStat")
    if not isinstance(stat, Mapping):  # a math expression: identity inferred from its label later
        period = _period(query.get("Period"), path, f"{where}.Period")
        return _Series(qid, label, period_s=period, from_query=True)
    metric = stat.get("Metric")
    if not isinstance(metric, Mapping) or not isinstance(metric.get("MetricName"), str):
        raise InputError(path, f"{where}.MetricStat.Metric", "a Metric with MetricName", _describe(metric))
    return _Series(qid, label, metric["MetricName"], metric.get("Namespace"),
                   _dimensions(metric.get("Dimensions"), path, f"{where}.MetricStat.Metric.Dimensions"),
                   stat.get("Stat"), _period(stat.get("Period"), path, f"{where}.MetricStat.Period"),
                   stat.get("Unit"), from_query=True)


def _period(raw: Any, path: Path, where: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise InputError(path, where, "a period in whole seconds >= 1", repr(raw))
    return raw


# ---------------------------------------------------------------------------- get-metric-data


def _read_metric_data(paths: list[Path]) -> _Collector:
    col = _Collector()
    docs = [(path, _load_export(path, ("MetricDataResults", "MetricDataQueries"), "get-metric-data"))
            for path in paths]
    queries = _queries(docs)
    results = [(path, doc) for path, doc in docs if "MetricDataResults" in doc]
    if not results:
        raise InputError(paths[0], "MetricDataResults", "at least one file with results",
                         "only MetricDataQueries")
    series_by_id: dict[str, _Series] = {}
    for path, doc in results:
        _read_results_page(path, doc, queries, series_by_id, col)
    if any(doc.get("NextToken") for _, doc in results[-1:]):
        col.notes["next_token_in_last_page"] = True
    return col


def _queries(docs: list[tuple[Path, dict]]) -> dict[str, _Series]:
    out: dict[str, tuple[Path, Mapping]] = {}
    series: dict[str, _Series] = {}
    for path, doc in docs:
        raw = doc.get("MetricDataQueries", [])
        if not isinstance(raw, list):
            raise InputError(path, "MetricDataQueries", "a list of queries", _describe(raw))
        for i, query in enumerate(raw):
            where = f"MetricDataQueries[{i}]"
            if not isinstance(query, Mapping) or not isinstance(query.get("Id"), str):
                raise InputError(path, where, "a query with an Id", _describe(query))
            previous = out.get(query["Id"])
            if previous is not None and previous[1] != query:
                raise InputError(path, where, f"the same definition of Id {query['Id']!r} as in "
                                 f"{previous[0].name}", "a different one")
            out[query["Id"]] = (path, query)
            series[query["Id"]] = _query_series(query, path, where)
    return series


def _read_results_page(path: Path, doc: Mapping, queries: Mapping[str, _Series],
                       series_by_id: dict[str, _Series], col: _Collector) -> None:
    results = doc["MetricDataResults"]
    if not isinstance(results, list) or not results:
        raise InputError(path, "MetricDataResults", "a non-empty list of results", _describe(results))
    if doc.get("Messages"):
        col.note_list("messages", {"file": path.name, "messages": doc["Messages"]})
    for i, result in enumerate(results):
        where = f"MetricDataResults[{i}]"
        if not isinstance(result, Mapping) or not isinstance(result.get("Id"), str):
            raise InputError(path, where, "a result with an Id", _describe(result))
        rid = result["Id"]
        _check_status(path, where, result, col)
        series = series_by_id.get(rid) or _result_series(rid, result, queries, col)
        series_by_id[rid] = series
        _read_points(path, where, series, result, col)


def _result_series(rid: str, result: Mapping, queries: Mapping[str, _Series], col: _Collector) -> _Series:
    """The query's identity for result ``rid``; whatever it lacks is inferred from Label/Id (noted)."""
    series = queries.get(rid) or _Series(rid, "")
    label = series.label or str(result.get("Label") or rid)
    if not series.from_query:
        col.note_list("series_without_query", rid)
    if series.metric_name is None:
        inferred = _inferred_series(rid, label, col)
        series = replace(inferred, period_s=series.period_s, from_query=series.from_query)
    return replace(series, label=label)


def _check_status(path: Path, where: str, result: Mapping, col: _Collector) -> None:
    status = result.get("StatusCode", "Complete")
    if status == "PartialData":
        col.note_list("partial_data", result["Id"])
    elif status != "Complete":
        messages = [m for m in result.get("Messages") or [] if isinstance(m, Mapping)]
        detail = "; ".join(str(m.get("Value", m)) for m in messages)
        raise InputError(path, f"{where}.StatusCode", "Complete or PartialData",
                         repr(status) + (f" ({detail})" if detail else ""))
    if result.get("Messages"):
        col.note_list("messages", {"series_id": result["Id"], "messages": result["Messages"]})


def _read_points(path: Path, where: str, series: _Series, result: Mapping, col: _Collector) -> None:
    stamps, values = result.get("Timestamps", []), result.get("Values", [])
    if not isinstance(stamps, list) or not isinstance(values, list):
        raise InputError(path, where, "Timestamps and Values lists", _describe(result))
    if len(stamps) != len(values):
        raise InputError(path, where, "as many Values as Timestamps",
                         f"{len(values)} Values and {len(stamps)} Timestamps")
    for j, (raw_ts, raw_v) in enumerate(zip(stamps, values, strict=True)):
        ts = _timestamp(raw_ts, path, f"{where}.Timestamps[{j}]", col)
        value = _number(raw_v, path, f"{where}.Values[{j}]")
        col.rows.append((series, ts, value, path, f"{where}.Values[{j}]"))


# ---------------------------------------------------------------------------- get-metric-statistics


def _read_metric_statistics(path: Path, col: _Collector) -> None:
    doc = _load_export(path, ("Datapoints",), "get-metric-statistics")
    points, label = doc["Datapoints"], doc.get("Label")
    if not isinstance(points, list) or not isinstance(label, str):
        raise InputError(path, "Datapoints/Label", "a Label and a list of Datapoints", _describe(doc))
    base = _statistics_series(path, doc, col)
    for i, point in enumerate(points):
        where = f"Datapoints[{i}]"
        if not isinstance(point, Mapping) or "Timestamp" not in point:
            raise InputError(path, where, "a datapoint with a Timestamp", _describe(point))
        ts = _timestamp(point["Timestamp"], path, f"{where}.Timestamp", col)
        stats = {s: point[s] for s in _STATS if s in point}
        extended = point.get("ExtendedStatistics") or {}
        if not isinstance(extended, Mapping):
            raise InputError(path, f"{where}.ExtendedStatistics", "an object {stat: value}",
                             _describe(extended))
        stats.update(extended)
        if not stats:
            raise InputError(path, where, "at least one statistic (Average, Sum, ..., ExtendedStatistics)",
                             "none")
        for stat, raw in stats.items():
            series = replace(base, statistic=stat, declared_unit=point.get("Unit", base.declared_unit))
            col.rows.append((series, ts, _number(raw, path, f"{where}.{stat}"), path, f"{where}.{stat}"))


def _statistics_series(path: Path, doc: Mapping, col: _Collector) -> _Series:
    """The metric of a get-metric-statistics file: its Label, plus request keys saved alongside."""
    label = doc["Label"]
    metric = doc.get("MetricName") or (label if label in KNOWN_METRICS else _infer_from_label(label)[0])
    if metric is None:
        col.note_list("unresolved_series", {"series_id": label, "label": label, "missing": ["metric_name"]})
    dims = _dimensions(doc.get("Dimensions"), path, "Dimensions")
    namespace = doc.get("Namespace") or (KNOWN_METRICS[metric][0] if metric in KNOWN_METRICS else None)
    series_id = label if dims is None else f"{label}|{dims}"
    period = _period(doc.get("Period"), path, "Period")
    return _Series(series_id, label, metric, namespace, dims, period_s=period)


# ---------------------------------------------------------------------------- console CSV


def _read_csv(path: Path, col: _Collector) -> None:
    reader = csv.reader(io.StringIO(_text(path)))
    with csv_errors(path, reader):
        rows = [r for r in reader if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise InputError(path, "line 1", "a header and at least one data row", f"{len(rows)} non-empty rows")
    header = [h.strip() for h in rows[0]]
    ts_col = _timestamp_column(path, header, rows[1])
    series = {}
    for c, name in enumerate(header):
        if c == ts_col:
            continue
        metric, stat = _infer_from_label(name)
        if metric is None or stat is None:
            missing = [k for k, v in (("metric_name", metric), ("statistic", stat)) if v is None]
            col.note_list("unresolved_series", {"series_id": name, "label": name, "missing": missing})
        series[c] = _Series(name, name, metric, KNOWN_METRICS[metric][0] if metric else None, statistic=stat)
    for n, row in enumerate(rows[1:], start=2):
        cell = row[ts_col] if ts_col < len(row) else ""
        ts = _timestamp(cell, path, f"line {n} column {header[ts_col]!r}", col)
        for c, s in series.items():
            cell = row[c].strip() if c < len(row) else ""
            if cell:
                where = f"line {n} column {header[c]!r}"
                col.rows.append((s, ts, _number(_csv_float(cell, path, where), path, where), path, where))


def _timestamp_column(path: Path, header: list[str], first: list[str]) -> int:
    named = [i for i, h in enumerate(header) if _TIME_HEADER.search(h) and _metric_in(h) is None]
    if named:
        return named[0]
    try:
        pd.Timestamp(first[0])
    except (ValueError, TypeError, IndexError):
        raise InputError(path, "header", "a timestamp column (Timestamp, Time or Date)",
                         f"columns {header!r}") from None
    return 0


def _csv_float(cell: str, path: Path, where: str) -> float:
    try:
        return float(cell)
    except ValueError:
        raise InputError(path, where, "a number", repr(cell)) from None


# ---------------------------------------------------------------------------- scalars and files


def _timestamp(raw: Any, path: Path, where: str, col: _Collector) -> pd.Timestamp:
    """ISO-8601 (any offset) or epoch seconds -> UTC; naive strings are taken as UTC (noted)."""
    if isinstance(raw, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", raw):
        raw = float(raw)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if not math.isfinite(raw) or not 0 <= raw < _MAX_EPOCH_S:
            raise InputError(path, where, "a timestamp in epoch seconds", repr(raw))
        return pd.Timestamp(round(raw * 1000), unit="ms", tz="UTC")  # epoch s, to the ms
    try:
        ts = pd.Timestamp(raw) if isinstance(raw, str) and raw.strip() else None
    except ValueError:
        ts = None
    if ts is None or ts is pd.NaT:
        raise InputError(path, where, "an ISO-8601 timestamp or epoch seconds", repr(raw))
    if ts.tzinfo is None:
        col.notes["naive_timestamps_assumed_utc"] = True
        return ts.tz_localize("UTC")
    return ts.tz_convert("UTC")


def _number(raw: Any, path: Path, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise InputError(path, where, "a finite number", repr(raw))
    return float(raw)


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        found = f"byte {exc.object[exc.start]:#04x}"
        raise InputError(path, f"byte {exc.start}", "UTF-8 text", found) from None


def _load_export(path: Path, keys: Iterable[str], what: str) -> dict:
    try:
        doc = json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"line {exc.lineno} column {exc.colno}", "JSON", exc.msg) from None
    keys = tuple(keys)
    if not isinstance(doc, dict) or not any(k in doc for k in keys):
        raise InputError(path, "top level", f"a CloudWatch {what} export (an object with {' or '.join(keys)})",
                         _describe(doc))
    return doc


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object with keys " + (", ".join(list(map(str, value))[:6]) or "none")
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return repr(value)[:80]
