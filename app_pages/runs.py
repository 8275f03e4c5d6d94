"""Runs page: browse the collection (filters by instance type, source, origin, label), one run's load test
over time (users, requests/s, failures/s, p50/p99 with each detected step shaded and flagged), its steps,
and its fitted curves: throughput vs concurrency (USL) and latency vs throughput, with bands, the
held-out steps the latency model was validated on, and the SLA line with the steps that miss it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.draw import draw
from app_pages.shared import (
    labels_of_runs,
    open_page,
    run_fits,
    run_steps,
    run_timeline_spec,
    run_usl_chart,
    runs_table,
    step_rule_widgets,
    table,
)
from planner.capacity import CurveFit
from planner.charts import fit_chart, past_knee_steps

UNKNOWN = "(not recorded)"
RUN_COLUMNS = ["run_id", "source", "format", "origin", "instance_type", "instance_count", "endpoint", "model",
               "framework", "started_at", "labels", "tables"]
STEP_COLUMNS = ["step", "concurrency", "duration_s", "throughput_rps", "error_rate", "latency_mean_ms",
                "latency_p50_ms", "latency_p90_ms", "latency_p95_ms", "latency_p99_ms", "too_short", "errors",
                "cumulative_percentiles", "generator_saturated"]
STEP_FORMAT = {
    "step": st.column_config.NumberColumn("step"),
    "concurrency": st.column_config.NumberColumn(
        "concurrency", format="%.1f", help="Closed loop: users (a ramp bin's time-weighted mean); open loop: "
        "requests in flight (Little's law)"),
    "duration_s": st.column_config.NumberColumn("duration (s)", format="%.0f"),
    "throughput_rps": st.column_config.NumberColumn("throughput (requests/s)", format="%.1f"),
    "error_rate": st.column_config.NumberColumn("errors", format="percent"),
    **{f"latency_{stat}_ms": st.column_config.NumberColumn(f"{stat} (ms)", format="%.1f")
       for stat in ("mean", "p50", "p90", "p95", "p99")},
    "too_short": st.column_config.CheckboxColumn("too short"),
    "errors": st.column_config.CheckboxColumn("error flag"),
    "cumulative_percentiles": st.column_config.CheckboxColumn("cumulative percentiles"),
    "generator_saturated": st.column_config.CheckboxColumn("generator saturated"),
}
_NOT_RECORDED = "— : not recorded in the run's files (give it at ingest: --{} …)"
RUN_FORMAT = {c: st.column_config.TextColumn(c.replace("_", " "), help=_NOT_RECORDED.format(c.replace("_", "-")))
              for c in RUN_COLUMNS} | {
    "instance_count": st.column_config.NumberColumn("instances", format="%.0f",
                                                    help=_NOT_RECORDED.format("instance-count")),
    "started_at": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm", timezone="UTC",
                                                  help="— : the run's files carry no start time"),
    "labels": st.column_config.TextColumn("labels", help="key=value labels given at ingest (— : none)")}
LATENCY_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}


def _filtered(runs: pd.DataFrame, labels: dict[str, dict[str, str]]) -> pd.DataFrame:
    """The runs table narrowed by the filter widgets (an empty filter keeps everything)."""
    instance = runs["instance_type"].fillna(UNKNOWN).astype(str)
    pairs = {run_id: {f"{k}={v}" for k, v in found.items()} for run_id, found in labels.items()}
    cols = st.columns(4)
    chosen_types = cols[0].multiselect("Instance type", sorted(instance.unique()))
    chosen_sources = cols[1].multiselect("Source", sorted(runs["source"].dropna().unique()))
    chosen_origins = cols[2].multiselect("Origin", sorted(runs["origin"].dropna().unique()))
    chosen_labels = cols[3].multiselect("Label", sorted(set().union(*pairs.values())))
    keep = pd.Series(True, index=runs.index)
    if chosen_types:
        keep &= instance.isin(chosen_types)
    if chosen_sources:
        keep &= runs["source"].isin(chosen_sources).fillna(False)
    if chosen_origins:
        keep &= runs["origin"].isin(chosen_origins).fillna(False)
    if chosen_labels:
        keep &= runs["run_id"].map(lambda r: set(chosen_labels) <= pairs.get(r, set()))
    return runs[keep.astype(bool)]


def _readable(runs: pd.DataFrame, labels: dict[str, dict[str, str]]) -> pd.DataFrame:
    """The runs table as shown: labels as ``key=value, …`` (None when there are none), start times as
    UTC timestamps."""
    shown = runs.copy()
    shown["labels"] = shown["run_id"].map(
        lambda r: ", ".join(f"{k}={v}" for k, v in sorted(labels.get(r, {}).items())) or None)
    shown["started_at"] = pd.to_datetime(shown["started_at"], utc=True, format="ISO8601")
    return shown


def _describe(row: pd.Series) -> str:
    what = " ".join(str(row[c]) for c in ("instance_type", "endpoint", "model") if pd.notna(row.get(c)))
    return f"{row['run_id']} · {row['format']} · {what or 'no instance recorded'}"


def _choose_run(shown: pd.DataFrame) -> str:
    """A run picker (from the URL's ``run`` when given); runs with a load staircase come first."""
    staircase = shown["tables"].fillna("").str.contains("history|points|metrics")
    ids = shown["run_id"][staircase].astype(str).tolist() + shown["run_id"][~staircase].astype(str).tolist()
    wanted = st.query_params.get("run", "")
    names = {str(row["run_id"]): _describe(row) for _, row in shown.iterrows()}
    run_id = st.selectbox("Run", ids, index=ids.index(wanted) if wanted in ids else 0, format_func=names.get)
    st.query_params["run"] = run_id
    return run_id


def _fit_section(fit, root: str, version: tuple, run_id: str, percentile: float, sla_ms: float | None,
                 rules: tuple) -> None:
    st.subheader(fit.config.label)
    if not isinstance(fit, CurveFit):
        point = fit.recommender
        st.markdown(f"Inference Recommender point: **{point.throughput_rps_per_instance:.0f} requests/s per instance** "
                    f"at its plateau, ModelLatency {point.model_latency_ms:.0f} ms (a mean, not a percentile), "
                    f"measured on {point.instance_count_tested} instance(s); one point, no curve.")
        for note in fit.notes:
            st.caption(note)
        return
    if fit.latency_summary is not None:
        s = fit.latency_summary
        err = f"{fit.heldout_error:.0%}" if fit.heldout_error is not None else "not measured"
        st.markdown(f"Latency model **{s.model}** (c = {s.servers}, S = {s.service_time_ms:.1f} ms); saturation "
                    f"{fit.saturation_rps:.0f} requests/s per instance; held-out error **{err}** on "
                    f"{s.heldout_points} held-out points.")
    left, right = st.columns(2)
    with left:
        if fit.usl is not None:
            st.altair_chart(run_usl_chart(root, version, run_id, fit.config.label, rules))
        else:
            st.info("No throughput-vs-concurrency fit: " + "; ".join(n for n in fit.notes if "USL" in n))
    with right:
        if fit.latency is not None:
            st.altair_chart(fit_chart([fit], percentile, sla_ms))
        else:
            st.info("No latency-vs-throughput fit: " + "; ".join(n for n in fit.notes if "latency" in n))
    for note in fit.notes:
        st.caption(note)


def page() -> None:
    opened = open_page("Runs", step_rule_widgets)
    if opened is None:
        return
    choice, version, rules = opened
    runs = runs_table(choice.root, version)
    labels = labels_of_runs(choice.root, version)
    shown = _filtered(runs, labels)
    table(_readable(shown, labels)[[c for c in RUN_COLUMNS if c in shown]], RUN_FORMAT)
    if shown.empty:
        st.info("No run matches these filters.")
        return
    run_id = _choose_run(shown)
    with st.spinner("Deriving this run's steady-state steps…"):
        steps = run_steps(choice.root, version, run_id, rules)
    fits = run_fits(choice.root, version, run_id, rules) if not steps.empty else []
    st.subheader("The load test over time")
    timeline = run_timeline_spec(choice.root, version, run_id, tuple(sorted(past_knee_steps(fits))), rules)
    if timeline is None:
        st.caption("No time series: this run has steady-state points, not a Locust history with totals or "
                   "CloudWatch periods.")
    else:
        draw(timeline)
    if steps.empty:
        st.info("No steady-state steps could be derived from this run (no history, points, metrics or "
                "recommender rows with load levels).")
        return
    st.subheader("Steady-state steps")
    table(steps[[c for c in STEP_COLUMNS if c in steps]], STEP_FORMAT)
    left, right = st.columns(2)
    pct = LATENCY_PERCENTILES[left.selectbox("Latency percentile", list(LATENCY_PERCENTILES), index=3)]
    sla_ms = right.number_input("Latency target (ms, 0: none)", min_value=0.0, step=10.0, format="%g",
                                key="runs_sla_ms", help="Draws the SLA line and rings the measured steps above it.")
    for fit in fits:
        _fit_section(fit, choice.root, version, run_id, pct, sla_ms or None, rules)


page()
