"""The autoscaling timeline: traffic, instances and predicted latency against the SLA."""

from __future__ import annotations

import altair as alt

from planner.charts.spec import _sla_layers
from planner.recommend.autoscale import AutoscalePlan


def autoscale_chart(plan: AutoscalePlan, max_points: int = 1440) -> alt.VConcatChart:
    """Autoscaling timeline: traffic (TPS), instances (in service, billed, static at peak), predicted
    latency vs the SLA. Long profiles are shown in buckets of whole minutes (traffic and latency:
    bucket maximum; in service: minimum; billed: maximum); latency is capped at 3× the SLA for display,
    and overloaded minutes (latency inf) are drawn at that cap."""
    frame = plan.timeline_frame()
    bucket = max(1, -(-len(frame) // max_points))
    cap_ms = 3 * plan.latency_target_ms
    frame["latency_shown_ms"] = frame["latency_ms"].clip(upper=cap_ms)
    shown = frame.groupby(frame["minute"] // bucket).agg(
        minute=("minute", "min"), tps=("tps", "max"), in_service=("in_service", "min"), billed=("billed", "max"),
        static=("static_instances", "max"), latency_ms=("latency_shown_ms", "max"), breach=("breach", "any"))
    shown["hour"] = shown["minute"] / 60.0
    x = alt.X("hour:Q", title="time (h)" + (f", {bucket}-minute buckets" if bucket > 1 else ""))
    traffic = alt.Chart(shown).mark_line().encode(x=x, y=alt.Y("tps:Q", title="traffic (requests/s)"))
    counts = shown.melt(id_vars=["hour"], value_vars=["in_service", "billed", "static"], var_name="instances",
                        value_name="count")
    instances = alt.Chart(counts).mark_line(interpolate="step-after").encode(
        x=x, y=alt.Y("count:Q", title="instances"), color=alt.Color("instances:N", title="instances"),
        strokeDash=alt.StrokeDash("instances:N", title="instances"))
    label = plan.percentile
    latency = alt.Chart(shown).mark_line().encode(
        x=x, y=alt.Y("latency_ms:Q", title=f"{label} latency (ms, capped at {cap_ms:g})"))
    breaches = alt.Chart(shown[shown["breach"]]).mark_point(color="red", filled=True, size=20).encode(
        x=x, y="latency_ms:Q")
    title = alt.Title(f"{plan.label}: {plan.autoscaled.breach_minutes} SLA-breach minutes (red), target "
                      f"{plan.policy.target_invocations_per_instance_per_minute:,.0f} invocations/instance/min",
                      subtitle="overloaded minutes (latency inf) are drawn at the display cap")
    return alt.vconcat(traffic.properties(width=720, height=160), instances.properties(width=720, height=160),
                       alt.layer(latency, breaches, *_sla_layers(plan.latency_target_ms, label)).properties(
                           width=720, height=160), title=title)
