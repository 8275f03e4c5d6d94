"""Traffic files: load per minute (``minute,tps`` or ``timestamp,invocations`` CSV, or a run's
CloudWatch ``Invocations``) and per-model request counts (``model,requests`` CSV) for multi-model
popularity. Each parser returns a :mod:`planner.traffic` type; bad input is an InputError naming the
file, line and field.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputError
from planner.ingest.base import csv_errors
from planner.traffic import Popularity, TrafficProfile, traffic_profile

MODEL_COLUMNS = ("model", "model_name", "target_model", "name")
REQUEST_COLUMNS = ("requests", "request_count", "invocations", "count", "rps", "weight")


def _spread_per_minute(timestamps: pd.Series, counts: np.ndarray, period_s: int, where: str) -> TrafficProfile:
    """Counts per period at ``timestamps`` -> TPS per minute; missing periods count 0 (CloudWatch
    publishes no Invocations datapoint for a period without requests)."""
    if period_s < 60 or period_s % 60:
        raise InputError(where, "period", "a whole number of minutes (60 s, 300 s, ...)", f"{period_s} s")
    ordered = pd.DataFrame({"stamp": timestamps.to_numpy(), "count": counts}).sort_values("stamp", kind="stable")
    stamps, counts = ordered["stamp"].reset_index(drop=True), ordered["count"].to_numpy(dtype=float)
    offsets_s = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy()
    slots = offsets_s / period_s
    bad = np.flatnonzero(slots != np.round(slots))
    if bad.size:
        raise InputError(where, f"timestamp {stamps.iloc[bad[0]]}", f"a multiple of the {period_s} s period after "
                         f"{stamps.iloc[0]}", f"{offsets_s[bad[0]]:g} s after it")
    slots = slots.astype(int)
    if np.unique(slots).size != slots.size:
        raise InputError(where, "timestamps", "one value per period", "a repeated timestamp")
    per_period = np.zeros(slots.max() + 1)
    per_period[slots] = counts
    per_minute = np.repeat(per_period / (period_s / 60), period_s // 60)
    notes = []
    if (missing := per_period.size - slots.size) > 0:
        notes.append(f"{missing} missing period(s) of {period_s} s counted as 0 invocations")
    if period_s > 60:
        notes.append(f"{period_s} s periods spread evenly over their minutes")
    return traffic_profile(per_minute / 60.0, where, stamps.iloc[0].isoformat(), notes)


def _number(value: str, path: Path, line: int, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number >= 0):
        raise InputError(path, f"line {line} field {name!r}", "a finite number >= 0", repr(value))
    return number


def _minute_tps(path: Path, data: list[tuple[int, list[str]]]) -> TrafficProfile:
    minutes = [_number(r[0], path, line, "minute") for line, r in data]
    tps = [_number(r[1], path, line, "tps") for line, r in data]
    for k in range(1, len(minutes)):
        if minutes[k] != minutes[k - 1] + 1:
            raise InputError(path, f"line {data[k][0]} field 'minute'", f"{minutes[k - 1] + 1:g} (consecutive "
                             "whole minutes)", repr(data[k][1][0]))
    return traffic_profile(tps, str(path))


def _timestamp_invocations(path: Path, data: list[tuple[int, list[str]]]) -> TrafficProfile:
    if not data:
        raise InputError(path, "rows", "at least one data row", "none")
    counts = np.array([_number(r[1], path, line, "invocations") for line, r in data])
    raw = pd.Series([r[0].strip() for _, r in data])
    numeric = pd.to_numeric(raw, errors="coerce")
    stamps = (pd.to_datetime(numeric, unit="s", utc=True) if numeric.notna().all()
              else pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601"))
    if stamps.isna().any():
        k = int(np.flatnonzero(stamps.isna())[0])
        raise InputError(path, f"line {data[k][0]} field 'timestamp'", "an ISO-8601 time or epoch seconds",
                         repr(raw.iloc[k]))
    gaps = np.diff(np.sort((stamps - stamps.min()).dt.total_seconds().to_numpy()))
    period_s = int(gaps[gaps > 0].min()) if (gaps > 0).any() else 60
    return _spread_per_minute(stamps, counts, period_s, str(path))


def traffic_from_csv(path: Path) -> TrafficProfile:
    """Traffic from a CSV with header ``minute,tps`` (consecutive whole minutes, mean requests/s)
    or ``timestamp,invocations`` (ISO-8601 or epoch seconds; invocations per period, the period
    being the smallest spacing, a whole number of minutes)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh, csv_errors(path, reader := csv.reader(fh)):
            rows = list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, "file", "a readable UTF-8 CSV", f"{type(exc).__name__}: {exc}") from None
    header = [h.strip().lower() for h in rows[0]] if rows else []
    data = [(i, r) for i, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
    for line, row in data:
        if len(row) < 2:
            raise InputError(path, f"line {line}", "2 fields", f"{len(row)}: {row!r}")
    if header[:2] == ["minute", "tps"]:
        return _minute_tps(path, data)
    if header[:2] == ["timestamp", "invocations"]:
        return _timestamp_invocations(path, data)
    raise InputError(path, "header", "columns 'minute,tps' or 'timestamp,invocations'",
                     repr(",".join(rows[0])) if rows else "an empty file")


def traffic_from_metrics(metrics: pd.DataFrame, where: str) -> TrafficProfile:
    """Traffic from a ``metrics`` table (one run): the ``AWS/SageMaker`` ``Invocations`` ``Sum``
    series, summed per timestamp over variants as :func:`planner.steps.from_metrics` does."""
    needed = {"namespace", "metric_name", "statistic", "timestamp", "value", "period_s"}
    if not needed <= set(metrics.columns):
        raise InputError(where, "metrics", "a CloudWatch metrics table (ingest a CloudWatch export)",
                         "no metrics" if metrics.empty else f"columns {sorted(metrics.columns)}")
    chosen = ((metrics["namespace"] == "AWS/SageMaker") & (metrics["metric_name"] == "Invocations")
              & (metrics["statistic"] == "Sum"))
    rows = metrics[chosen.fillna(False).astype(bool)]
    if rows.empty:
        found = sorted(set(metrics["metric_name"].dropna().astype(str) + " " + metrics["statistic"].dropna().astype(str)))
        raise InputError(where, "metrics", "an AWS/SageMaker Invocations Sum series", ", ".join(found) or "none")
    periods = rows["period_s"].dropna().unique()
    if len(periods) != 1:
        raise InputError(where, "Invocations period_s", "one period", f"{sorted(int(p) for p in periods)}")
    per_stamp = rows.groupby("timestamp")["value"].sum()
    return _spread_per_minute(pd.Series(per_stamp.index), per_stamp.to_numpy(dtype=float), int(periods[0]), where)


def parse_popularity(spec: str, models: int | None) -> Popularity:
    """``zipf:S`` or ``uniform`` over ``models`` models, or a CSV file of per-model traffic."""
    text = spec.strip()
    if text.lower().startswith("zipf:") or text.lower() == "uniform":
        if not models or models < 1:
            raise InputError("--models", "value", f"a model count >= 1 with --popularity {text}", repr(models))
        try:
            exponent = 0.0 if text.lower() == "uniform" else float(text[5:])
        except ValueError:
            exponent = math.nan
        if not (math.isfinite(exponent) and exponent >= 0):
            raise InputError("--popularity", "zipf exponent", "a number >= 0 as in zipf:1.1", repr(spec))
        return Popularity.zipf(models, exponent, text.lower())
    if not Path(text).is_file():
        raise InputError("--popularity", "value", "zipf:S, uniform or a CSV file of model,requests", repr(spec))
    popularity = read_traffic_file(Path(text))
    if models is not None and models != popularity.models:
        raise InputError(text, "rows", f"{models} models (--models)", f"{popularity.models}")
    return popularity


def read_traffic_file(path: Path) -> Popularity:
    """Measured per-model traffic from a CSV file (see :func:`parse_traffic_csv`)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return parse_traffic_csv(fh.read(), Path(path))


def parse_traffic_csv(text: str, path: Path) -> Popularity:
    """Measured per-model traffic: CSV ``text`` (from ``path``, named in errors) with a model column
    (model, model_name, target_model, name) and a traffic column (requests, request_count,
    invocations, count, rps, weight)."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    with csv_errors(path, reader):
        rows = list(reader)
    fieldnames = reader.fieldnames or []
    header = [h.strip().lower() for h in fieldnames]
    name_col = next((fieldnames[header.index(c)] for c in MODEL_COLUMNS if c in header), None)
    count_col = next((fieldnames[header.index(c)] for c in REQUEST_COLUMNS if c in header), None)
    if name_col is None or count_col is None:
        raise InputError(path, "header", "a model column and a requests column (e.g. model,requests)",
                         repr(",".join(reader.fieldnames or [])))
    traffic: dict[str, float] = {}
    for line, row in enumerate(rows, start=2):
        name, cell = (row.get(name_col) or "").strip(), (row.get(count_col) or "").strip()
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not name or name in traffic or not (math.isfinite(value) and value >= 0):
            what = "a new model name" if not name or name in traffic else f"a number >= 0 in {count_col!r}"
            raise InputError(path, f"line {line}", what, repr(name if what.startswith("a new") else cell))
        traffic[name] = value
    total = sum(traffic.values())
    if total <= 0:
        raise InputError(path, count_col, "at least one model with requests > 0", f"{len(traffic)} rows, total 0")
    return Popularity(f"measured traffic of {len(traffic)} models ({path.name})",
                      tuple(v / total for v in traffic.values()))
