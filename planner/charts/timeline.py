"""The load test itself (issue #14): users, requests/s, failures/s and latency percentiles over time, as
Locust's own charts show them, with each detected steady-state step shaded and its flags named.

:func:`timeline_chart` is pure: a run's Locust history (the store's ``history`` table) and its steps
(:func:`planner.steps.for_run`) in, a Vega-Lite spec (dict) out. The series are Locust's columns as
recorded (``Requests/s``, ``Failures/s``, the percentile columns); percentiles of a cumulative history are
labelled as such, never as per-interval values.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable

import altair as alt
import numpy as np
import pandas as pd

from planner.capacity import ConfigurationFit
from planner.charts.spec import _filled

# A step's flag column -> how the chart names it; ``saturated`` comes from the fit (past the throughput knee).
FLAG_NAMES = {"warmup_trimmed": "trimmed", "too_short": "too short", "errors": "errors",
              "saturated": "past the knee", "cumulative_percentiles": "percentiles dropped (cumulative history)",
              "no_clean_percentiles": "percentiles dropped (no clean 10 s window)",
              "percentile_window_untrimmed": "percentiles from a window taking in the transition",
              "generator_saturated": "load generator saturated",
              "small_bin": "finer bin (ramp too fast for the step rules)"}
# Flags that make a step doubtful (shaded orange); ``warmup_trimmed`` alone is routine (shaded green).
DOUBTFUL = ("too_short", "errors", "saturated", "generator_saturated")
CLEAN, TRIMMED, FLAGGED = "steady step", "steady step (transition trimmed)", "flagged step"
_STEP_COLORS = alt.Scale(domain=[CLEAN, TRIMMED, FLAGGED], range=["#2ca02c", "#17becf", "#ff7f0e"])
TIMELINE_PERCENTILES = ("p50", "p99")


def past_knee_steps(fits: Iterable[ConfigurationFit]) -> frozenset[int]:
    """Step numbers the fits mark past the throughput knee (``saturated``; left out of the latency fit)."""
    found: set[int] = set()
    for fit in fits:
        if fit.steps is not None and "saturated" in fit.steps:
            found |= set(fit.steps.loc[fit.steps["saturated"].fillna(False).astype(bool), "step"].astype(int))
    return frozenset(found)


def timeline_frames(history: pd.DataFrame, steps: pd.DataFrame,
                    past_knee: Iterable[int] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(series, spans) of :func:`timeline_chart`.

    ``series``: one row per Aggregated history row and quantity, long format — ``elapsed_s`` (s since the
    first row), ``panel`` (load | throughput | latency), ``series`` and ``value`` (users, requests/s or
    ms; a per-row ``latency_mean_ms`` as "mean", which a Locust history does not have). ``spans``: one row per step with a start and end time — ``start_s``, ``end_s``, ``status``
    (:data:`CLEAN`, :data:`TRIMMED`, :data:`FLAGGED`), ``flags`` (comma-separated :data:`FLAG_NAMES`, or
    "none") and its users, duration (s), requests/s and error rate.
    """
    rows = history[history["is_aggregate"].fillna(False).astype(bool)].dropna(subset=["timestamp"])
    rows = rows.sort_values("row")
    time = pd.to_datetime(rows["timestamp"], utc=True)
    start = time.min()
    elapsed = ((time - start).dt.total_seconds()).to_numpy(dtype=float)
    columns = {"users": ("load", "user_count"), "requests/s": ("throughput", "throughput_rps"),
               "failures/s": ("throughput", "failures_per_s"),
               **{p: ("latency", f"latency_{p}_ms") for p in ("mean", *TIMELINE_PERCENTILES)}}
    parts = [pd.DataFrame({"elapsed_s": elapsed, "panel": panel, "series": name,
                           "value": pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)})
             for name, (panel, column) in columns.items() if column in rows]
    series = pd.concat(parts, ignore_index=True).dropna(subset=["value"]) if parts else pd.DataFrame(
        columns=["elapsed_s", "panel", "series", "value"])
    return series, _spans(steps, start, frozenset(past_knee))


def _spans(steps: pd.DataFrame, start: pd.Timestamp, past_knee: frozenset[int]) -> pd.DataFrame:
    columns = ["step", "start_s", "end_s", "status", "flags", "label", "users", "duration_s", "throughput_rps",
               "error_rate"]
    if steps.empty or not {"started_at", "ended_at"} <= set(steps):
        return pd.DataFrame(columns=columns)
    steps = steps.dropna(subset=["started_at", "ended_at"])
    flags = pd.DataFrame({flag: steps[flag].fillna(False).astype(bool) if flag in steps else False
                          for flag in FLAG_NAMES}, index=steps.index)
    flags["saturated"] = steps["step"].astype(int).isin(past_knee)
    names = [", ".join(FLAG_NAMES[f] for f in FLAG_NAMES if row[f]) or "none" for _, row in flags.iterrows()]
    doubtful = flags[list(DOUBTFUL)].any(axis=1).to_numpy()
    status = np.where(doubtful, FLAGGED, np.where(flags["warmup_trimmed"].to_numpy(), TRIMMED, CLEAN))
    users = steps.get("offered_users", steps["concurrency"])
    frame = pd.DataFrame({
        "step": steps["step"].astype(int),
        "start_s": (pd.to_datetime(steps["started_at"], utc=True) - start).dt.total_seconds(),
        "end_s": (pd.to_datetime(steps["ended_at"], utc=True) - start).dt.total_seconds(),
        "status": status, "flags": names,
        "label": [f"#{s}" + ("" if n == "none" or st != FLAGGED else " ⚠") for s, n, st in
                  zip(steps["step"].astype(int), names, status, strict=True)],
        "users": pd.to_numeric(users, errors="coerce"), "duration_s": steps["duration_s"],
        "throughput_rps": steps["throughput_rps"], "error_rate": steps["error_rate"]})
    return frame[columns].reset_index(drop=True)


@functools.cache
def _template(load_title: str, latency_title: str, panels: tuple[str, ...]) -> str:
    """:func:`timeline_chart`'s Vega-Lite spec without its data (JSON), built once per titles and panels."""
    x = alt.X("elapsed_s:Q", title="time since start (s)")
    spans = alt.Chart(alt.NamedData("spans"))
    series = alt.Chart(alt.NamedData("series"))

    def panel(name: str, title: str, height: int) -> alt.LayerChart:
        """One quantity's lines over the shaded steps (the steps' legend on the first panel only)."""
        shade = spans.mark_rect(opacity=0.18).encode(
            x=alt.X("start_s:Q", title="time since start (s)"), x2=alt.X2("end_s"),
            color=alt.Color("status:N", scale=_STEP_COLORS, title="detected steps",
                            legend=alt.Legend(orient="bottom", labelLimit=320) if name == "load" else None),
            tooltip=[alt.Tooltip("step:Q"), alt.Tooltip("flags:N", title="flags"),
                     alt.Tooltip("users:Q", format=".1f"),
                     alt.Tooltip("duration_s:Q", title="duration (s)", format=".0f"),
                     alt.Tooltip("throughput_rps:Q", title="requests/s", format=".1f"),
                     alt.Tooltip("error_rate:Q", title="errors", format=".1%")])
        line = series.transform_filter(alt.datum.panel == name).mark_line(interpolate="step-after").encode(
            x=x, y=alt.Y("value:Q", title=title), color=alt.Color("series:N", title=None),
            tooltip=[alt.Tooltip("elapsed_s:Q", title="time (s)", format=".0f"), alt.Tooltip("series:N"),
                     alt.Tooltip("value:Q", format=",.1f")])
        return alt.layer(shade, line).resolve_scale(color="independent").properties(width=560, height=height)

    labels = spans.mark_text(align="left", baseline="top", dx=2, dy=2, fontSize=10).encode(
        x=alt.X("start_s:Q"), y=alt.YValue(0), text=alt.Text("label:N"),
        tooltip=[alt.Tooltip("step:Q"), alt.Tooltip("flags:N", title="flags")])
    views = {"load": alt.layer(panel("load", load_title, 120), labels),
             "throughput": panel("throughput", "requests/s, failures/s", 150),
             "latency": panel("latency", latency_title, 150)}
    chart = alt.vconcat(*(views[name] for name in panels)).resolve_scale(color="independent")
    return json.dumps(chart.to_dict())


def timeline_chart(history: pd.DataFrame, steps: pd.DataFrame, *, percentiles: str = "window",
                   arrivals: str | None = "closed", past_knee: Iterable[int] = (), title: str = "") -> dict | None:
    """Users, requests/s with failures/s, and p50/p99 latency over time, one panel each, every detected step
    shaded (green: steady; teal: its transition trimmed; orange: flagged too short, errors, past the knee or
    generator saturated) with its number and flags in the tooltip. ``percentiles`` is the history's kind
    (window | cumulative | unknown): other than window, the latency panel says its values are cumulative
    since the start. ``arrivals`` "open": the users each offer a fixed rate (an open-loop test).
    A Vega-Lite spec (dict) of up to three vertically concatenated views (a panel without values, such as
    latency when no request was answered, is left out); None when the history has no Aggregated row (a
    per-request-name poll without totals) to draw."""
    series, spans = timeline_frames(history, steps, past_knee)
    if series.empty:
        return None
    load_title = "users (open loop: each at a fixed rate)" if arrivals == "open" else "users"
    latency_title = ("latency, 10 s window (ms)" if percentiles == "window"
                     else "latency, cumulative since start (ms)")
    panels = tuple(p for p in ("load", "throughput", "latency") if (series["panel"] == p).any())
    return _filled(_template(load_title, latency_title, panels), {"series": series, "spans": spans},
                   title or "Load test over time (shaded: detected steps)")


def metrics_timeline_chart(steps: pd.DataFrame, title: str = "") -> dict | None:
    """A CloudWatch run over time from its steps (:func:`planner.steps.from_metrics`: one per period): the
    instance count, requests/s with failures/s (the endpoint's, all instances), and the period's latency
    (ModelLatency + OverheadLatency: mean, p50, p99 where published), each period shaded as its step.
    None without periods."""
    if steps.empty or "started_at" not in steps:
        return None
    steps = steps.dropna(subset=["started_at"]).sort_values("started_at").reset_index(drop=True)
    started = pd.to_datetime(steps["started_at"], utc=True)
    steps = steps.assign(ended_at=started + pd.to_timedelta(steps["duration_s"].astype(float), unit="s"))
    rows = pd.DataFrame({"row": np.arange(len(steps)), "timestamp": started, "is_aggregate": True,
                         "throughput_rps": steps["throughput_rps"],
                         "failures_per_s": steps["failure_count"] / steps["duration_s"]})
    if "instance_count" in steps:
        rows["user_count"] = steps["instance_count"]
    for name in ("mean", *TIMELINE_PERCENTILES):
        column = f"latency_{name}_ms"
        if column in steps:
            rows[column] = steps[column]
    series, spans = timeline_frames(rows, steps)
    series = series.replace({"series": {"users": "instances"}})
    if series.empty:
        return None
    panels = tuple(p for p in ("load", "throughput", "latency") if (series["panel"] == p).any())
    period_s = float(steps["duration_s"].median())
    return _filled(_template("instances (InvocationsPerInstance ÷ Invocations)",
                             f"latency per {period_s:g} s period (ms)", panels),
                   {"series": series, "spans": spans}, title or "CloudWatch metrics over time (shaded: each period a step)")
