"""From runs to steady-state load steps: one row per load level (DESIGN.md §5).

A load test is a staircase of load levels. For a Locust history, a level is a maximal stretch of
consecutive rows at one user count. Per level, after trimming the first ``trim_s`` seconds
(Locust's rates and windowed percentiles lag ~10 s), throughput and mean latency are exact, from
differences of the cumulative ``Total Request Count`` and ``Total Average Response Time``:

    throughput_rps   = Δcount / Δt
    latency_mean_ms  = (mean₂·count₂ − mean₁·count₁) / Δcount

Percentiles per step come only from a per-window source (Locust's windowed history columns,
perf_analyzer, plain points); a cumulative history's percentiles are never presented as per-step
values (they are left empty and the step is flagged ``cumulative_percentiles``).

Nothing is dropped silently: doubtful steps are kept and flagged (``warmup_trimmed``,
``too_short``, ``errors``, ``cumulative_percentiles``, ``generator_saturated``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from planner.schema import column_percentile, percentile_columns
from planner.store import RunRecord, RunStore

STEP_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
FLAGS = ("warmup_trimmed", "too_short", "errors", "cumulative_percentiles", "generator_saturated")
CONFIG_FIELDS = ("instance_type", "instance_count", "framework", "memory_mb", "model", "endpoint")


@dataclass(frozen=True)
class StepRules:
    """Thresholds of step detection. Durations in seconds; error rate as a fraction."""

    trim_s: float = 10.0
    min_duration_s: float = 20.0
    min_requests: int = 50
    max_error_rate: float = 0.01


class StepsCache(Protocol):
    """Where :func:`for_collection` keeps each run's steps (:class:`planner.fit_cache.FitCache`)."""

    def steps_key(self, record: RunRecord, rules: StepRules) -> str: ...
    def load_steps(self, key: str) -> pd.DataFrame | None: ...
    def save_steps(self, key: str, steps: pd.DataFrame) -> None: ...


def _flags(frame: pd.DataFrame) -> pd.DataFrame:
    for flag in FLAGS:
        if flag not in frame:
            frame[flag] = False
        frame[flag] = frame[flag].fillna(False).astype(bool)
    return frame


def from_history(history: pd.DataFrame, percentiles: str, rules: StepRules = StepRules()) -> pd.DataFrame:
    """Steps of one Locust history (Aggregated rows; ``percentiles`` = window | cumulative | unknown)."""
    rows = history[history["is_aggregate"].fillna(False).astype(bool)].sort_values("row")
    rows = rows[rows["user_count"].fillna(0) > 0].dropna(subset=["timestamp", "total_request_count"])
    if rows.empty:
        return _flags(pd.DataFrame(columns=["step", "concurrency", "throughput_rps"]))
    users = rows["user_count"].astype("float64").to_numpy()
    level = np.concatenate([[0], np.cumsum(users[1:] != users[:-1])])
    # Cumulative counters only grow; a timestamp that goes backwards is a clock glitch: keep the
    # rows but measure time by the running maximum.
    t_s = np.maximum.accumulate(rows["timestamp"].astype("datetime64[ms, UTC]").astype("int64").to_numpy() / 1000.0)
    count = rows["total_request_count"].astype("float64").to_numpy()
    fails = rows["total_failure_count"].astype("float64").fillna(0).to_numpy()
    mean_total = rows["total_latency_mean_ms"].astype("float64").fillna(0).to_numpy()
    # p50/p90/p95/p99 only: the rest of Locust's columns (66%, 99.99%, 100%...) are too few
    # samples per window to be per-step values (100% is just the window's maximum).
    pct_cols = [c for c in percentile_columns(rows.columns) if column_percentile(c) in STEP_PERCENTILES]
    bounds = np.flatnonzero(np.diff(level)) + 1
    out = []
    for step, idx in enumerate(np.split(np.arange(len(rows)), bounds)):
        a, b = int(idx[0]), int(idx[-1])
        first = a - 1 if a > 0 else a  # the previous level's last row: where this level begins
        # Measure from the last row at or before level start + trim_s to the level's last row.
        base = first + int(np.searchsorted(t_s[first:b + 1], t_s[first] + rules.trim_s, side="right")) - 1
        trimmed = base > first and base < b
        if not base < b:  # shorter than the trim: the whole level, flagged too short below
            base = first
        window = np.arange(max(base + 1, a), b + 1)
        dt = float(t_s[b] - t_s[base])
        dcount = float(count[b] - count[base])
        dfail = float(fails[b] - fails[base])
        mean_ms = (mean_total[b] * count[b] - mean_total[base] * count[base]) / dcount if dcount > 0 else np.nan
        row: dict[str, Any] = {
            "step": step, "concurrency": float(users[a]), "started_at": rows["timestamp"].iloc[a],
            "duration_s": dt, "request_count": dcount, "failure_count": dfail,
            "throughput_rps": dcount / dt if dt > 0 else np.nan,
            "error_rate": dfail / dcount if dcount > 0 else np.nan, "latency_mean_ms": mean_ms,
            "warmup_trimmed": trimmed,
            "too_short": dt < rules.min_duration_s or dcount < rules.min_requests,
            "cumulative_percentiles": percentiles != "window",
        }
        row["errors"] = bool(dcount > 0 and dfail / dcount > rules.max_error_rate)
        if percentiles == "window":
            part = rows.iloc[window]
            for col in pct_cols:
                values = pd.to_numeric(part[col], errors="coerce").dropna()
                row[col] = float(values.median()) if len(values) else np.nan
        out.append(row)
    return _flags(pd.DataFrame(out))


def from_points(points: pd.DataFrame, notes: Mapping[str, Any]) -> pd.DataFrame:
    """Steps from a ready-made points table (perf_analyzer, USL data, summaries, plain CSV).

    A summary whose mean latencies are cumulative averages (``notes.latency_is_cumulative_average``)
    is de-cumulated with the per-step request counts, taking each value as the cumulative mean at
    the end of its step: ``mean_k = (A_k·N_k − A_{k−1}·N_{k−1}) / n_k`` with ``N`` the running count.
    Its other latency columns (cumulative medians, percentiles) cannot be de-cumulated and are cleared.
    """
    frame = points.copy().reset_index(drop=True)
    frame.insert(0, "step", np.arange(len(frame)))
    if "error_rate" in frame:
        frame["errors"] = frame["error_rate"].fillna(0) > StepRules().max_error_rate
    cumulative = bool(notes.get("latency_is_cumulative_average") or notes.get("history_percentiles") == "cumulative")
    frame["cumulative_percentiles"] = cumulative
    if notes.get("latency_is_cumulative_average") and {"request_count", "latency_mean_ms"} <= set(frame):
        n_step = frame["request_count"].astype("float64").to_numpy()
        running = np.cumsum(n_step)
        total_ms = frame["latency_mean_ms"].astype("float64").to_numpy() * running
        step_ms = np.diff(total_ms, prepend=0.0) / n_step
        frame["latency_mean_ms"] = np.where(step_ms > 0, step_ms, np.nan)
        frame["latency_mean_decumulated"] = True
        for col in [c for c in frame if c.startswith("latency_") and c != "latency_mean_ms"]:
            frame[col] = np.nan
    return _flags(frame)


def from_metrics(metrics: pd.DataFrame, rules: StepRules = StepRules()) -> pd.DataFrame:
    """One step per CloudWatch period with ``Invocations`` (Sum): the endpoint's offered load.

    throughput = Invocations / period; mean latency = ModelLatency + OverheadLatency averages (ms,
    converted at ingest); per-period ModelLatency percentiles (p50…p99) plus the mean overhead
    when published; concurrency = in-flight requests by Little's law (X · R). Series of several
    endpoints or variants in one run are summed (invocations) per period.
    """
    sagemaker = metrics[metrics["namespace"] == "AWS/SageMaker"]
    stat = sagemaker["statistic"].astype(str)
    name = sagemaker["metric_name"].astype(str)
    invocations = sagemaker[(name == "Invocations") & (stat == "Sum")]
    if invocations.empty:
        return _flags(pd.DataFrame(columns=["step", "concurrency", "throughput_rps"]))
    frame = invocations.groupby("timestamp").agg(request_count=("value", "sum"), duration_s=("period_s", "max"))
    frame["throughput_rps"] = frame["request_count"] / frame["duration_s"]

    def series(metric: str, statistic: str) -> pd.Series:
        rows = sagemaker[(name == metric) & (stat == statistic)]
        return rows.groupby("timestamp")["value"].mean().astype("float64")

    overhead = series("OverheadLatency", "Average").reindex(frame.index)
    frame["latency_mean_ms"] = series("ModelLatency", "Average").reindex(frame.index) + overhead.fillna(0.0)
    for pct in STEP_PERCENTILES:
        values = series("ModelLatency", f"p{pct:g}").reindex(frame.index)
        if values.notna().any():
            frame[f"latency_p{pct:g}_ms"] = values + overhead.fillna(0.0)
    errors = sum((series(m, "Sum").reindex(frame.index).fillna(0.0)
                  for m in ("Invocation5XXErrors", "Invocation4XXErrors")), pd.Series(0.0, index=frame.index))
    frame["failure_count"] = errors
    frame["error_rate"] = errors / frame["request_count"].where(frame["request_count"] > 0)
    frame["errors"] = frame["error_rate"].fillna(0) > rules.max_error_rate
    frame["too_short"] = frame["request_count"] < rules.min_requests
    frame["concurrency"] = frame["throughput_rps"] * frame["latency_mean_ms"] / 1000.0
    frame = frame.reset_index().rename(columns={"timestamp": "started_at"})
    frame.insert(0, "step", np.arange(len(frame)))
    return _flags(frame)


def from_recommender(rows: pd.DataFrame) -> pd.DataFrame:
    """One step per Inference Recommender recommendation: its plateau throughput and model latency."""
    frame = pd.DataFrame({
        "step": np.arange(len(rows)), "concurrency": np.nan, "throughput_rps": rows["throughput_rps"].to_numpy(),
        "latency_mean_ms": rows["model_latency_ms"].to_numpy(),
        "instance_type": rows["instance_type"].to_numpy(), "instance_count": rows["instance_count"].to_numpy(),
    })
    return _flags(frame)


def for_run(store: RunStore, run_id: str, rules: StepRules = StepRules()) -> pd.DataFrame:
    """Steps of one committed run, with its configuration columns and provenance."""
    return _for_record(store, store.get(run_id), rules)


def _for_record(store: RunStore, rec: RunRecord, rules: StepRules) -> pd.DataFrame:
    notes = rec.run.get("notes") or {}
    if "history" in rec.tables:
        steps = from_history(store.table("history", [rec.run_id]), notes.get("history_percentiles", "unknown"), rules)
    elif "points" in rec.tables:
        steps = from_points(store.table("points", [rec.run_id]).drop(columns="run_id"), notes)
    elif "recommender" in rec.tables:
        steps = from_recommender(store.table("recommender", [rec.run_id]))
    elif "metrics" in rec.tables:
        steps = from_metrics(store.table("metrics", [rec.run_id]), rules)
    else:
        return pd.DataFrame()
    steps.insert(0, "run_id", rec.run_id)
    saturated = (rec.run.get("labels") or {}).get("generator_saturated_users")
    if saturated and "concurrency" in steps:  # set by `planner collect` from Locust's own CPU
        levels = {float(u) for u in str(saturated).split(",") if u.strip()}
        steps["generator_saturated"] = steps["concurrency"].isin(levels) | steps["generator_saturated"]
    if (rec.run.get("labels") or {}).get("arrivals") == "open" and {"concurrency", "latency_mean_ms"} <= set(steps):
        # open-loop levels are offered rates, not concurrencies: what was in flight is Little's law
        steps["offered_users"] = steps["concurrency"]
        steps["concurrency"] = steps["throughput_rps"] * steps["latency_mean_ms"] / 1000.0
    for field in (*CONFIG_FIELDS, "origin", "source"):
        if field not in steps or steps[field].isna().all():
            steps[field] = rec.run.get(field)
    if "throughput_rps" in steps:
        count = pd.to_numeric(steps["instance_count"], errors="coerce").fillna(1).clip(lower=1)
        steps["throughput_per_instance_rps"] = steps["throughput_rps"] / count
        if "latency_mean_ms" in steps:
            steps["in_flight"] = steps["throughput_rps"] * steps["latency_mean_ms"] / 1000.0
    return steps


def for_collection(store: RunStore, run_ids: Iterable[str] | None = None,
                   rules: StepRules = StepRules(), cache: StepsCache | None = None) -> pd.DataFrame:
    """Steps of every (or the given) run, one frame; each run's steps are kept in ``cache``."""
    frames = []
    for run_id in run_ids if run_ids is not None else store.run_ids():
        rec = store.get(run_id)
        key = cache.steps_key(rec, rules) if cache is not None else ""
        steps = cache.load_steps(key) if cache is not None else None
        if steps is None:
            steps = _for_record(store, rec, rules)
            if cache is not None:
                cache.save_steps(key, steps)
        frames.append(steps)
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
