"""Serverless charts: cost vs monthly invocations against the real-time option, and the explorer's
memory-size (Power Tuning) and concurrency (Erlang B) views."""

from __future__ import annotations

import functools
import json

import altair as alt
import numpy as np
import pandas as pd

from planner.catalog import PriceCatalog
from planner.charts.palette import deployment_kind, deployment_scale
from planner.charts.spec import _filled
from planner.costs import serverless_usd_per_month
from planner.queueing import erlang_b
from planner.recommend.serverless import MAX_CONCURRENCY, ServerlessRecommendation


def serverless_cost_frame(rec: ServerlessRecommendation, points: int = 60) -> pd.DataFrame:
    """Monthly cost (USD) vs monthly invocations: serverless on demand, with provisioned slots, real-time."""
    even = rec.break_even_monthly_invocations
    top = 2 * max(rec.monthly_invocations, even if even is not None and np.isfinite(even) else 0)
    x = np.linspace(0, top, points)
    standby = rec.provisioned_cost.provisioned_standby_usd_per_month
    series = {"serverless on demand": x * rec.on_demand_cost.usd_per_month / rec.monthly_invocations,
              f"serverless + {rec.provisioned_concurrency} provisioned": standby + x * (
                  rec.provisioned_cost.usd_per_month - standby) / rec.monthly_invocations}
    if rec.realtime_option:
        rt = rec.realtime_option
        series[f"real-time {rt.instance_type} × {rt.instance_count}"] = np.full(points, rt.usd_per_month)
    return pd.concat([pd.DataFrame({"option": name, "monthly_invocations": x, "usd_per_month": y})
                      for name, y in series.items()], ignore_index=True)


def serverless_cost_chart(rec: ServerlessRecommendation) -> alt.LayerChart:
    """Monthly cost vs monthly invocations for serverless and the real-time option, break-even marked."""
    x = alt.X("monthly_invocations:Q", title="invocations per month")
    frame = serverless_cost_frame(rec)
    frame["kind"] = frame["option"].map(deployment_kind)
    lines = alt.Chart(frame).mark_line().encode(
        x=x, y=alt.Y("usd_per_month:Q", title="cost (USD per month)"), detail="option:N",
        color=alt.Color("kind:N", title="deployment", scale=deployment_scale()), tooltip=["option:N"])
    marks = [("your traffic", rec.monthly_invocations)]
    if rec.break_even_monthly_invocations is not None and np.isfinite(rec.break_even_monthly_invocations):
        marks.append(("break-even", rec.break_even_monthly_invocations))
    frame = pd.DataFrame(marks, columns=["mark", "monthly_invocations"])
    rules = alt.Chart(frame).mark_rule(strokeDash=[6, 3]).encode(x=x, tooltip=["mark", "monthly_invocations"])
    labels = alt.Chart(frame).mark_text(align="left", dx=4, dy=-6, baseline="top").encode(
        x=x, y=alt.value(0), text="mark:N")
    return alt.LayerChart(layer=[lines, rules, labels]).properties(
        title=f"{rec.recommended_memory_mb} MB serverless vs real-time ({rec.price_catalog.text})",
        width=640, height=380)


def serverless_memory_frame(rec: ServerlessRecommendation) -> pd.DataFrame:
    """The Power Tuning view's data: per memory size (MB) and latency statistic (mean, p50…p99), the latency
    (ms), with the size's USD per 1M invocations, Pareto membership (p99, cost), SLA and the recommended size."""
    rows = []
    for o in rec.memory_options:
        common = {"memory_mb": o.memory_mb, "usd_per_million_invocations": o.usd_per_million_invocations,
                  "pareto": o.pareto, "meets_sla": o.meets_sla, "recommended": o.memory_mb == rec.recommended_memory_mb,
                  "source": o.latency_percentiles_source}
        for statistic, value in (("mean", o.latency_mean_ms), ("p50", o.latency_p50_ms), ("p90", o.latency_p90_ms),
                                 ("p95", o.latency_p95_ms), ("p99", o.latency_p99_ms)):
            if value is not None:
                rows.append({**common, "statistic": statistic, "latency_ms": value})
    return pd.DataFrame(rows, columns=["memory_mb", "statistic", "latency_ms", "usd_per_million_invocations", "pareto",
                                       "meets_sla", "recommended", "source"])


@functools.cache
def _serverless_memory_template() -> str:
    x = alt.X("memory_mb:Q", title="memory (MB)", scale=alt.Scale(domain=[512, 6656]),
              axis=alt.Axis(values=list(range(1024, 6145, 1024))))
    latency = alt.Chart(alt.NamedData("latency"))
    stat_color = alt.Color("statistic:N", title="latency", sort=["mean", "p50", "p90", "p95", "p99"],
                           scale=alt.Scale(scheme="blues"))
    lines = latency.mark_line(point=True).encode(
        x=x, y=alt.Y("latency_ms:Q", title="latency (ms)"), color=stat_color,
        tooltip=[alt.Tooltip("memory_mb:Q", title="memory (MB)"), alt.Tooltip("statistic:N"),
                 alt.Tooltip("latency_ms:Q", title="latency (ms)", format=".1f"), alt.Tooltip("source:N")])
    sla = alt.Chart(alt.NamedData("sla"))
    sla_rule = sla.mark_rule(color="red", strokeDash=[6, 3], size=2).encode(y=alt.Y("latency_ms:Q"))
    sla_text = sla.mark_text(color="red", align="left", dx=4, dy=-7, fontWeight="bold").encode(
        y=alt.Y("latency_ms:Q"), x=alt.XValue(0), text=alt.Text("text:N"))
    missed = latency.transform_filter((alt.datum.statistic == "p99") & ~alt.datum.meets_sla).mark_point(
        size=220, strokeWidth=2, color="red").encode(
        x=x, y=alt.Y("latency_ms:Q"), tooltip=[alt.Tooltip("memory_mb:Q", title="memory (MB)"),
                                               alt.Tooltip("latency_ms:Q", title="p99 (ms): misses the SLA",
                                                           format=".1f")])
    cost = alt.Chart(alt.NamedData("cost"))
    y_cost = alt.Y("usd_per_million_invocations:Q", title="cost (USD per 1M invocations)", axis=alt.Axis(orient="right"))
    cost_line = cost.mark_line(color="#ff7f0e", strokeDash=[4, 2]).encode(x=x, y=y_cost)
    cost_dots = cost.mark_point(size=90, color="#ff7f0e").encode(
        x=x, y=y_cost, shape=alt.Shape("front:N", title="cost points", scale=alt.Scale(
            domain=["on the Pareto front", "dominated"], range=["diamond", "circle"])),
        fill=alt.Fill("front:N", scale=alt.Scale(domain=["on the Pareto front", "dominated"],
                                                  range=["#ff7f0e", "white"]), legend=None),
        tooltip=[alt.Tooltip("memory_mb:Q", title="memory (MB)"),
                 alt.Tooltip("usd_per_million_invocations:Q", title="USD per 1M", format=".2f"),
                 alt.Tooltip("front:N"), alt.Tooltip("meets_sla:N", title="meets the SLA")])
    chosen = cost.transform_filter(alt.datum.recommended).mark_text(
        dy=-16, fontWeight="bold", color="black").encode(x=x, y=y_cost, text=alt.Text("label:N"))
    view = alt.layer(alt.layer(lines, missed, sla_rule, sla_text), alt.layer(cost_line, cost_dots, chosen)).resolve_scale(
        y="independent", color="independent", shape="independent").properties(
        width=430, height=300, title="Latency (left) and cost (right) per memory size")
    scatter_x = alt.X("latency_p99_ms:Q", title="p99 latency (ms)", scale=alt.Scale(zero=False))
    scatter_y = alt.Y("usd_per_million_invocations:Q", title="cost (USD per 1M invocations)",
                      scale=alt.Scale(zero=False))
    front = cost.transform_filter(alt.datum.pareto).mark_line(color="#ff7f0e").encode(
        x=scatter_x, y=scatter_y, order=alt.Order("latency_p99_ms:Q"))
    dots = cost.mark_point(size=90, filled=True).encode(
        x=scatter_x, y=scatter_y, color=alt.Color("front:N", title="", scale=alt.Scale(
            domain=["on the Pareto front", "dominated"], range=["#ff7f0e", "#999999"])),
        tooltip=[alt.Tooltip("memory_mb:Q", title="memory (MB)"), alt.Tooltip("latency_p99_ms:Q", format=".1f"),
                 alt.Tooltip("usd_per_million_invocations:Q", title="USD per 1M", format=".2f")])
    names = cost.mark_text(align="left", dx=7, dy=-5).encode(x=scatter_x, y=scatter_y, text=alt.Text("label:N"))
    sla_x = sla.mark_rule(color="red", strokeDash=[6, 3], size=2).encode(x=alt.X("latency_ms:Q"))
    missed_x = cost.transform_filter(~alt.datum.meets_sla).mark_point(size=220, strokeWidth=2, color="red").encode(
        x=scatter_x, y=scatter_y, tooltip=[alt.Tooltip("memory_mb:Q", title="memory (MB)"),
                                           alt.Tooltip("latency_p99_ms:Q", title="p99 (ms): misses the SLA",
                                                       format=".1f")])
    pareto = alt.layer(front, dots, names, sla_x, missed_x).properties(width=330, height=300,
                                                             title="p99 vs cost: the Pareto front")
    return json.dumps(alt.hconcat(view, pareto).resolve_scale(color="independent", shape="independent").to_dict())


def serverless_memory_chart(rec: ServerlessRecommendation) -> dict:
    """AWS Lambda Power Tuning's view for serverless inference: latency per memory size (mean and p50…p99,
    ms) beside USD per 1M invocations, the p99 SLA (sizes whose p99 misses it ringed in red), and p99 vs cost
    with the Pareto front; the recommended size labelled. A Vega-Lite spec (dict), as :func:`cost_chart`."""
    frame = serverless_memory_frame(rec)
    cost = pd.DataFrame([{"memory_mb": o.memory_mb, "latency_p99_ms": o.latency_p99_ms,
                          "usd_per_million_invocations": o.usd_per_million_invocations, "pareto": o.pareto,
                          "front": "on the Pareto front" if o.pareto else "dominated", "meets_sla": o.meets_sla,
                          "recommended": o.memory_mb == rec.recommended_memory_mb,
                          "label": f"{o.memory_mb} MB" + (" ◀" if o.memory_mb == rec.recommended_memory_mb else "")}
                         for o in rec.memory_options])
    sla = [{"latency_ms": rec.latency_target_ms, "text": f"SLA: p99 ≤ {rec.latency_target_ms:g} ms"}]
    return _filled(_serverless_memory_template(), {"latency": frame, "cost": cost, "sla": sla},
                   f"Serverless memory sizes at {rec.monthly_invocations:,.0f} invocations/month "
                   f"(strategy {rec.strategy}: {rec.recommended_memory_mb} MB)")


def serverless_concurrency_frame(rec: ServerlessRecommendation, catalog: PriceCatalog,
                                 max_slots: int = MAX_CONCURRENCY) -> pd.DataFrame:
    """Per slot count 1..``max_slots``: Erlang B blocking ``B(A, slots)`` at the peak offered load A (erlang) —
    the throttle probability with MaxConcurrency = slots, and the spill-over probability with that many
    provisioned slots — and the monthly bill (USD) with that many provisioned slots, priced as
    :func:`planner.recommend.serverless.recommend_serverless` prices its own choice."""
    slots = np.arange(1, max_slots + 1)
    blocking = np.asarray(erlang_b(rec.offered_load_erlang, slots), dtype=float)
    chosen = rec.recommended
    cost = [serverless_usd_per_month(chosen.memory_mb, chosen.latency_mean_ms, rec.request_bytes, rec.response_bytes,
                                     catalog, rec.monthly_invocations, provisioned_concurrency=int(p),
                                     provisioned_hours=rec.hours_per_month,
                                     provisioned_served_fraction=1 - float(b)).usd_per_month
            for p, b in zip(slots, blocking, strict=True)]
    return pd.DataFrame({"slots": slots, "blocking_probability": blocking, "provisioned_usd_per_month": cost})


@functools.cache
def _serverless_concurrency_template() -> str:
    x = alt.X("slots:Q", title="concurrency slots (MaxConcurrency or provisioned)")
    curve = alt.Chart(alt.NamedData("curve"))
    marks = alt.Chart(alt.NamedData("marks"))
    targets = alt.Chart(alt.NamedData("targets"))
    kind = alt.Color("kind:N", title="", scale=alt.Scale(domain=["MaxConcurrency", "provisioned"],
                                                         range=["#1f77b4", "#2ca02c"]))
    y_p = alt.Y("probability_shown:Q", title="blocking probability at the peak (Erlang B, log)",
                scale=alt.Scale(type="log", domain=[1e-6, 1]))
    probability = alt.layer(
        curve.mark_line(color="black").encode(x=x, y=y_p, tooltip=[
            alt.Tooltip("slots:Q"), alt.Tooltip("blocking_probability:Q", title="B(A, slots)", format=".3g")]),
        targets.mark_rule(strokeDash=[6, 3], size=2).encode(y=alt.Y("value:Q"), color=kind),
        targets.mark_text(align="right", dy=-7, fontWeight="bold").encode(
            y=alt.Y("value:Q"), x=alt.XValue(430), text=alt.Text("text:N"), color=kind),
        marks.mark_rule(size=2).encode(x=alt.X("slots:Q"), color=kind),
        marks.mark_point(filled=True, size=120).encode(x=alt.X("slots:Q"), y=alt.Y("probability_shown:Q"),
                                                       color=kind, tooltip=[alt.Tooltip("text:N")]),
    ).properties(width=440, height=260, title="Throttle (MaxConcurrency) and spill-over (provisioned) probability")
    y_c = alt.Y("provisioned_usd_per_month:Q", title="cost with provisioned slots (USD/month)")
    on_demand = alt.Chart(alt.NamedData("on_demand"))
    cost = alt.layer(
        curve.mark_line(color="#2ca02c").encode(x=x, y=y_c, tooltip=[
            alt.Tooltip("slots:Q"), alt.Tooltip("provisioned_usd_per_month:Q", title="USD/month", format=",.2f")]),
        on_demand.mark_rule(color="gray", strokeDash=[4, 4], size=2).encode(y=alt.Y("usd_per_month:Q")),
        on_demand.mark_text(color="gray", align="left", dx=4, dy=-7).encode(
            y=alt.Y("usd_per_month:Q"), x=alt.XValue(0), text=alt.Text("text:N")),
        marks.transform_filter(alt.datum.kind == "provisioned").mark_point(filled=True, size=120, color="#2ca02c")
        .encode(x=alt.X("slots:Q"), y=alt.Y("usd_per_month:Q")),
    ).properties(width=440, height=260, title="Monthly cost vs provisioned slots")
    return json.dumps(alt.hconcat(probability, cost).to_dict())


def serverless_concurrency_chart(rec: ServerlessRecommendation, frame: pd.DataFrame, max_concurrency: int,
                                 provisioned_concurrency: int) -> dict:
    """Erlang B blocking vs slots with the throttle and spill-over targets and the chosen MaxConcurrency and
    provisioned concurrency marked, beside the monthly cost with that many provisioned slots
    (``frame`` from :func:`serverless_concurrency_frame`). Probabilities below 1e-6 are drawn at 1e-6."""
    shown = frame.assign(probability_shown=frame["blocking_probability"].clip(lower=1e-6))
    row = shown.set_index("slots")
    blocking = row["blocking_probability"]
    marks = pd.DataFrame([
        {"kind": "MaxConcurrency", "slots": max_concurrency,
         "probability_shown": row.loc[max_concurrency, "probability_shown"],
         "usd_per_month": None, "text": f"MaxConcurrency {max_concurrency}: throttle "
                                        f"{blocking.loc[max_concurrency]:.2g}"},
        {"kind": "provisioned", "slots": provisioned_concurrency,
         "probability_shown": row.loc[provisioned_concurrency, "probability_shown"],
         "usd_per_month": row.loc[provisioned_concurrency, "provisioned_usd_per_month"],
         "text": f"{provisioned_concurrency} provisioned: spill-over "
                 f"{blocking.loc[provisioned_concurrency]:.2g}"}])
    targets = [{"kind": "MaxConcurrency", "value": rec.throttle_target, "text": f"throttle target {rec.throttle_target:g}"},
               {"kind": "provisioned", "value": rec.spillover_target,
                "text": f"spill-over target {rec.spillover_target:g}"}]
    on_demand = [{"usd_per_month": rec.on_demand_cost.usd_per_month,
                  "text": f"on demand only: ${rec.on_demand_cost.usd_per_month:,.2f}/month"}]
    return _filled(_serverless_concurrency_template(),
                   {"curve": shown, "marks": marks, "targets": targets, "on_demand": on_demand},
                   f"{rec.recommended_memory_mb} MB at {rec.peak_tps:g} TPS peak: offered load "
                   f"{rec.offered_load_erlang:.2f} erlang")
