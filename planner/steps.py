"""From runs to steady-state load steps: one row per load level (DESIGN.md §5).

A load test is a staircase of load levels, or a continuous ramp. For a Locust history, a level is a
maximal stretch of consecutive rows at one user count (within one counter segment: a restarted master
starts a new one). Each level's transition is trimmed (a couple of seconds, more for slow responses);
levels too short to be steps on their own (ramps, short holds) are merged into bins. Throughput and mean
latency are exact over any span, from differences of the cumulative ``Total Request Count`` and
``Total Average Response Time``:

    throughput_rps   = Δcount / Δt
    latency_mean_ms  = (mean₂·count₂ − mean₁·count₁) / Δcount

Percentiles per step come only from a per-window source (Locust's windowed history columns, from rows
whose 10 s window lies inside the step; perf_analyzer; plain points); a cumulative history's percentiles
are never presented as per-step values (they are left empty and the step is flagged
``cumulative_percentiles``).

Every step says how its load arrived (``arrivals``: open | closed). Nothing is dropped silently: doubtful
steps are kept and flagged (``warmup_trimmed``, ``too_short``, ``errors``, ``cumulative_percentiles``,
``generator_saturated``, ``no_clean_percentiles``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from planner.ingest.cloudwatch import instance_counts
from planner.ingest.locust.percentiles import PERCENTILE_WINDOW_S
from planner.schema import CONFIG_FIELDS, column_percentile, percentile_columns
from planner.store import RunRecord, RunStore

STEP_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
FLAGS = ("warmup_trimmed", "too_short", "errors", "cumulative_percentiles", "generator_saturated",
         "no_clean_percentiles", "percentile_window_untrimmed", "small_bin")
MIN_LOAD_LEVELS = 3
"""Distinct steady load levels a latency model needs (fewer leave the configuration unfitted)."""
SMALLEST_BIN_REQUESTS = 25
"""Floor of the finer bins of a ramp too fast for :data:`MIN_LOAD_LEVELS` levels (see :func:`_spans`)."""
SETTLE_RESPONSE_TIMES = 5.0
"""A closed loop settles on a new user count within a few response times: a level's transition trim is
``max(StepRules.trim_s, SETTLE_RESPONSE_TIMES × the level's mean latency)``."""


@dataclass(frozen=True)
class StepRules:
    """Thresholds of step detection (user options ``--trim-s``, ``--min-step-s``, ``--min-step-requests``).

    ``trim_s``: least transition trimmed off the start of each level (s; more for slow responses, see
    :data:`SETTLE_RESPONSE_TIMES`); ``min_duration_s`` and ``min_requests``: what a step needs to be
    trusted (levels short of them are merged into bins); ``max_error_rate``: a fraction.
    """

    trim_s: float = 2.0
    min_duration_s: float = 5.0
    min_requests: int = 200
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


@dataclass(frozen=True)
class _Counters:
    """One history's Aggregated rows as arrays: time (s, running maximum), users, cumulative counts and
    mean latency (ms), and the counter segment of each row (+1 after each reset)."""

    t_s: np.ndarray
    users: np.ndarray
    count: np.ndarray
    fails: np.ndarray
    mean_ms: np.ndarray
    segment: np.ndarray

    def requests(self, begin: int, end: int) -> float:
        return float(self.count[end] - self.count[begin])

    def seconds(self, begin: int, end: int) -> float:
        return float(self.t_s[end] - self.t_s[begin])

    def mean_latency_ms(self, begin: int, end: int) -> float:
        """Exact mean latency (ms) of the requests between two rows."""
        n = self.requests(begin, end)
        return (self.mean_ms[end] * self.count[end] - self.mean_ms[begin] * self.count[begin]) / n if n > 0 else np.nan

    def enough(self, begin: int, end: int, rules: StepRules) -> bool:
        return self.seconds(begin, end) >= rules.min_duration_s and self.requests(begin, end) >= rules.min_requests


@dataclass(frozen=True)
class _Span:
    """Rows ``(base, end]`` measured as one step; ``first``: its first own row (users changed between
    the row before it and it); ``levels``: the levels' (first row, last row), in order; ``within_trim``:
    a level no longer than its trim, measured whole."""

    base: int
    end: int
    first: int
    levels: tuple[tuple[int, int], ...]
    trimmed: bool = False
    within_trim: bool = False


def _counters(rows: pd.DataFrame) -> _Counters:
    count = rows["total_request_count"].astype("float64").to_numpy()
    # Cumulative counters only grow; a timestamp that goes backwards is a clock glitch: keep the
    # rows but measure time by the running maximum. A count that goes backwards is a restarted master.
    t_s = np.maximum.accumulate(rows["timestamp"].astype("datetime64[ms, UTC]").astype("int64").to_numpy() / 1000.0)
    return _Counters(t_s, rows["user_count"].astype("float64").to_numpy(), count,
                     rows["total_failure_count"].astype("float64").fillna(0).to_numpy(),
                     rows["total_latency_mean_ms"].astype("float64").fillna(0).to_numpy(),
                     np.concatenate([[0], np.cumsum(count[1:] < count[:-1])]))


def _levels(c: _Counters) -> list[tuple[int, int]]:
    """(first row, last row) of each level: consecutive rows of one user count (> 0) in one segment."""
    change = (c.users[1:] != c.users[:-1]) | (c.segment[1:] != c.segment[:-1])
    starts = np.concatenate([[0], np.flatnonzero(change) + 1])
    ends = np.concatenate([starts[1:] - 1, [len(c.users) - 1]])
    return [(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True) if c.users[a] > 0]


def _begin(c: _Counters, first: int) -> int:
    """Where a level starting at row ``first`` is measured from: the previous row, unless a counter
    reset (or the history's start) lies between them."""
    return first - 1 if first > 0 and c.segment[first - 1] == c.segment[first] else first


def _trimmed(c: _Counters, level: tuple[int, int], rules: StepRules) -> _Span:
    """One level, its transition trimmed: measured from the last row at or before its start + the trim
    (the whole level when the trim leaves nothing)."""
    first, last = level
    begin = _begin(c, first)
    mean_ms = c.mean_latency_ms(begin, last)
    trim_s = max(rules.trim_s, SETTLE_RESPONSE_TIMES * mean_ms / 1000.0 if np.isfinite(mean_ms) else 0.0)
    base = begin + int(np.searchsorted(c.t_s[begin:last + 1], c.t_s[begin] + trim_s, side="right")) - 1
    if not base < last:
        return _Span(begin, last, first, (level,), within_trim=True)
    return _Span(base, last, first, (level,), trimmed=base > begin)


def _bins(c: _Counters, run: list[tuple[int, int]], rules: StepRules) -> list[_Span]:
    """Consecutive short levels (a ramp) merged, untrimmed, into bins of at least ``min_requests`` and
    ``min_duration_s``; the leftover bin may fall short (flagged ``too_short`` by the caller)."""
    spans, start = [], 0
    for i, (_, last) in enumerate(run):
        base = _begin(c, run[start][0])
        if c.enough(base, last, rules) or i == len(run) - 1:
            spans.append(_Span(base, last, run[start][0], tuple(run[start:i + 1])))
            start = i + 1
    return spans


def _spans_under(c: _Counters, rules: StepRules) -> list[_Span]:
    """Long-enough levels, trimmed, as they are; runs of short ones (within a segment) as bins. A lone
    short level stays a trimmed level (flagged ``too_short``)."""
    spans: list[_Span] = []
    run: list[tuple[int, int]] = []

    def flush() -> None:
        spans.extend(_bins(c, run, rules) if len(run) > 1 else [_trimmed(c, lv, rules) for lv in run])
        run.clear()

    for level in _levels(c):
        plain = _trimmed(c, level, rules)
        if run and c.segment[level[0]] != c.segment[run[-1][0]]:
            flush()
        if not plain.within_trim and c.enough(plain.base, plain.end, rules):
            flush()
            spans.append(plain)
        else:
            run.append(level)
    flush()
    return spans


def _spans(c: _Counters, rules: StepRules) -> tuple[list[_Span], StepRules]:
    """The spans under ``rules``; when their usable steps hold fewer than :data:`MIN_LOAD_LEVELS` load
    levels and some bin merged several (a ramp too fast for the rule), finer bins: ``min_requests`` and
    ``min_duration_s`` halved until there are enough levels or no bin merges levels, down to
    :data:`SMALLEST_BIN_REQUESTS`. Returns the spans and the rules they were cut under."""
    spans, used, finest = _spans_under(c, rules), rules, finest_rules(rules)
    while (len({_concurrency(c, s) for s in spans if c.enough(s.base, s.end, used)}) < MIN_LOAD_LEVELS
           and any(len(s.levels) > 1 for s in spans) and used != finest):
        used = _finer(used)
        spans = _spans_under(c, used)
    return spans, used


def _finer(rules: StepRules) -> StepRules:
    return replace(rules, min_requests=rules.min_requests // 2, min_duration_s=rules.min_duration_s / 2)


def finest_rules(rules: StepRules) -> StepRules:
    """The finest bins a ramp too fast for ``rules`` is cut into: ``min_requests`` and ``min_duration_s``
    halved while ``min_requests`` stays >= :data:`SMALLEST_BIN_REQUESTS`. Rules stricter than the defaults
    (a user asking for longer steps) are kept as they are."""
    default = StepRules()
    if rules.min_requests > default.min_requests or rules.min_duration_s > default.min_duration_s:
        return rules
    while rules.min_requests // 2 >= SMALLEST_BIN_REQUESTS:
        rules = _finer(rules)
    return rules


def _concurrency(c: _Counters, span: _Span) -> float:
    """Time-weighted mean user count over the span's row intervals, an interval in which the count changed
    at its mid-point (Locust spawns at some moment between two rows): a trimmed level's users; a bin's,
    or an untrimmed level's, mean including its transitions."""
    rows = np.arange(span.base + 1, span.end + 1)
    seconds = c.t_s[rows] - c.t_s[rows - 1]
    users = np.where(c.users[rows - 1] == c.users[rows], c.users[rows], (c.users[rows - 1] + c.users[rows]) / 2)
    return float(users @ seconds / seconds.sum()) if seconds.sum() > 0 else float(c.users[span.levels[0][0]:span.end + 1].mean())


def _clean_rows(c: _Counters, span: _Span) -> tuple[np.ndarray, bool]:
    """Rows of ``span`` whose percentile window (:data:`PERCENTILE_WINDOW_S`, ending at the row) holds only
    this step's requests, and whether those windows take in the trimmed transition: windows starting no
    earlier than the measured start and the first own row; failing those (holds of 10-11 s), windows
    starting no earlier than the row before the level's first (the level's own requests, transition
    included: a closed loop settles in a few response times)."""
    rows = np.arange(span.first, span.end + 1)
    start_s = c.t_s[rows] - PERCENTILE_WINDOW_S
    trimmed = rows[start_s >= max(c.t_s[span.base], c.t_s[span.first])]
    if trimmed.size:
        return trimmed, False
    return rows[start_s >= c.t_s[_begin(c, span.first)]], True


def from_history(history: pd.DataFrame, percentiles: str, rules: StepRules = StepRules()) -> pd.DataFrame:
    """Steps of one Locust history (Aggregated rows; ``percentiles`` = window | cumulative | unknown).

    A level is a stretch of consecutive rows at one user count. Each is trimmed by ``max(rules.trim_s,``
    :data:`SETTLE_RESPONSE_TIMES` ``× its mean latency)`` and, if what is left has ``min_duration_s`` and
    ``min_requests``, is a step (``levels_merged`` 1). Consecutive shorter levels (a continuous ramp, short
    holds) are merged into bins that reach both thresholds, reported at their time-weighted mean user
    count; a ramp has no steady level to wait for, so bins are not trimmed. A bin never takes in a level
    long enough on its own, and nothing spans a counter reset (``Total Request Count`` going backwards: a
    restarted master), which starts a new ``segment``. Throughput and mean latency are exact from counter
    differences over each step's rows. Windowed percentiles are the median over the step's rows whose
    10 s window lies wholly inside it (:func:`_clean_rows`); with none, they are NaN and the step is
    flagged ``no_clean_percentiles``.
    """
    rows = history[history["is_aggregate"].fillna(False).astype(bool)].sort_values("row")
    loaded = rows["user_count"].fillna(0) > 0
    # A row without users just before users start is where the first level's counters are measured from.
    rows = rows[loaded | loaded.shift(-1, fill_value=False)].dropna(subset=["timestamp", "total_request_count"])
    if not (rows["user_count"].fillna(0) > 0).any():
        return _flags(pd.DataFrame(columns=["step", "concurrency", "throughput_rps"]))
    c = _counters(rows)
    # p50/p90/p95/p99 only: the rest of Locust's columns (66%, 99.99%, 100%...) are too few
    # samples per window to be per-step values (100% is just the window's maximum).
    pct_cols = [col for col in percentile_columns(rows.columns) if column_percentile(col) in STEP_PERCENTILES]
    out = []
    spans, used = _spans(c, rules)
    for step, span in enumerate(spans):
        dt, dcount = c.seconds(span.base, span.end), c.requests(span.base, span.end)
        dfail = float(c.fails[span.end] - c.fails[span.base])
        row: dict[str, Any] = {
            "step": step, "segment": int(c.segment[span.end]), "concurrency": _concurrency(c, span),
            "levels_merged": len(span.levels), "started_at": rows["timestamp"].iloc[span.first],
            "ended_at": rows["timestamp"].iloc[span.end],
            "duration_s": dt, "request_count": dcount, "failure_count": dfail,
            "throughput_rps": dcount / dt if dt > 0 else np.nan,
            "error_rate": dfail / dcount if dcount > 0 else np.nan,
            "latency_mean_ms": c.mean_latency_ms(span.base, span.end),
            "warmup_trimmed": span.trimmed, "too_short": not c.enough(span.base, span.end, used),
            "small_bin": used != rules and not c.enough(span.base, span.end, rules),
            "cumulative_percentiles": percentiles != "window",
            "errors": bool(dcount > 0 and dfail / dcount > rules.max_error_rate),
        }
        if percentiles == "window" and pct_cols:
            clean, untrimmed = _clean_rows(c, span)
            part = rows.iloc[clean]
            for col in pct_cols:
                values = pd.to_numeric(part[col], errors="coerce").dropna()
                row[col] = float(values.median()) if len(values) else np.nan
            row["no_clean_percentiles"] = part.empty
            row["percentile_window_untrimmed"] = untrimmed and not part.empty
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
        for col in [c for c in frame if isinstance(c, str) and c.startswith("latency_") and c != "latency_mean_ms"]:
            frame[col] = np.nan
    return _flags(frame)


def from_metrics(metrics: pd.DataFrame, rules: StepRules = StepRules()) -> pd.DataFrame:
    """One step per CloudWatch period with ``Invocations`` (Sum): the endpoint's offered load, open
    arrivals (``arrivals`` = open: production traffic).

    throughput = Invocations / period; mean latency = ModelLatency + OverheadLatency averages (ms,
    converted at ingest); ``fixed_delay_ms`` = the OverheadLatency average (SageMaker's time outside
    the container: a delay outside the queue); per-period ModelLatency percentiles (p50…p99) plus
    the mean overhead when published; concurrency = in-flight requests by Little's law (X · R).
    ``instance_count`` per period = Invocations / InvocationsPerInstance
    (:func:`planner.ingest.cloudwatch.instance_counts`; periods without it take the most common
    count), absent without InvocationsPerInstance (the run's count applies). Series of several
    endpoints or variants in one run are summed (invocations, instances) per period.
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
    frame["fixed_delay_ms"] = overhead
    counts = instance_counts(metrics).reindex(frame.index)
    if counts.notna().any():
        frame["instance_count"] = counts.fillna(counts.round().mode().min())
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
    frame["arrivals"] = "open"
    frame = frame.reset_index().rename(columns={"timestamp": "started_at"})
    frame.insert(0, "step", np.arange(len(frame)))
    return _flags(frame)


def from_recommender(rows: pd.DataFrame) -> pd.DataFrame:
    """One step per Inference Recommender recommendation: its plateau throughput and model latency.
    A benchmark that failed without metrics stays a step with no throughput, its ``status`` and
    ``failure_reason`` kept (a job-steps listing carries them)."""
    frame = pd.DataFrame({
        "step": np.arange(len(rows)), "concurrency": np.nan,
        "throughput_rps": pd.to_numeric(rows["throughput_rps"], errors="coerce").astype("float64").to_numpy(),
        "latency_mean_ms": pd.to_numeric(rows["model_latency_ms"], errors="coerce").astype("float64").to_numpy(),
        "instance_type": rows["instance_type"].to_numpy(), "instance_count": rows["instance_count"].to_numpy(),
    })
    for column in ("status", "failure_reason"):
        if column in rows:
            frame[column] = rows[column].astype(object).where(rows[column].notna(), None).to_numpy()
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
    steps["arrivals"] = _arrivals(rec, steps)
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


def _arrivals(rec: RunRecord, steps: pd.DataFrame) -> pd.Series | str | None:
    """How each step's load arrived: "open" for runs labelled ``arrivals=open``, CloudWatch metrics and
    request-rate points; "closed" for Locust histories and points with a concurrency; None for
    Inference Recommender rows (and points with neither)."""
    if (rec.run.get("labels") or {}).get("arrivals") == "open":
        return "open"
    if "history" in rec.tables:
        return "closed"
    if "points" not in rec.tables:  # the steps' source, in :func:`_for_record`'s order
        return None if "recommender" in rec.tables else "open"
    closed = pd.to_numeric(steps.get("concurrency", pd.Series(np.nan, index=steps.index)), errors="coerce").notna()
    rated = (pd.to_numeric(steps["request_rate_rps"], errors="coerce").notna() if "request_rate_rps" in steps
             else pd.Series(False, index=steps.index))
    labels = ["closed" if c else "open" if r else None for c, r in zip(closed, rated, strict=True)]
    return pd.Series(labels, index=steps.index, dtype=object)


def for_collection(store: RunStore, run_ids: Iterable[str] | None = None,
                   rules: StepRules = StepRules(), cache: StepsCache | None = None) -> pd.DataFrame:
    """Steps of every (or the given) run, one frame; each run's steps are kept in ``cache``."""
    frames = []
    for rec in store.records(run_ids):
        key = cache.steps_key(rec, rules) if cache is not None else ""
        steps = cache.load_steps(key) if cache is not None else None
        if steps is None:
            steps = _for_record(store, rec, rules)
            if cache is not None:
                cache.save_steps(key, steps)
        frames.append(steps)
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def why_unfittable(steps: pd.DataFrame, rules: StepRules = StepRules()) -> str | None:
    """Why a run's steps (:func:`for_run`) cannot give a fit, from their values and flags:
    no step or no completed request (zero load), every request failed, or every step flagged ``too_short``
    under ``rules``; None when some step can be fitted."""
    throughput = steps.get("throughput_rps", pd.Series(dtype=float))
    if steps.empty or not (throughput.fillna(0) > 0).any():
        return "zero load: no step with completed requests (every row at 0 users, or no request answered)"
    if (steps.get("error_rate", pd.Series(0.0, index=steps.index)).fillna(0) >= 1).all():
        return "100% failures: every request of every step failed"
    if steps["too_short"].all():
        return (f"all {len(steps)} step(s) too short: a step needs at least {rules.min_duration_s:g} s and "
                f"{rules.min_requests} requests after its transition trim (at least {rules.trim_s:g} s); "
                "shorter levels were merged and still fall short (lower --min-step-s / --min-step-requests of "
                "`planner fit` to try anyway)")
    return None
