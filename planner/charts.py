"""Altair charts (never Streamlit): fitted curves with bands and the SLA line. Axes name their units.

The capacity planner's what-if charts (:func:`cost_chart`, :func:`option_latency_chart`) are Vega-Lite
specs: authored with altair once per layout and filled with each call's data, so they cost milliseconds."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from planner.capacity import ConfigurationFit
from planner.catalog import PriceCatalog
from planner.costs import serverless_usd_per_month, usd_per_month
from planner.errors import PlannerError
from planner.queueing import erlang_b, usl_throughput
from planner.recommend.autoscale import AutoscalePlan
from planner.recommend.mme import (
    GpuMemoryFit,
    MemorySeries,
    MmeRecommendation,
    MmeVariant,
    cache_hit_ratio,
    usable_points,
)
from planner.recommend.realtime import (
    RealtimeOption,
    RealtimeRecommendation,
    predicted_latency_interval_ms,
    predicted_latency_ms,
)
from planner.recommend.serverless import MAX_CONCURRENCY, ServerlessRecommendation
from planner.resampling import percentile_interval

# Roles of a measured step in the latency fit (see :func:`measured_frame`).
FITTED, HELD_OUT, PAST_KNEE = "fitted", "held out (validation)", "past the knee (USL only)"
# Whether an instance count meets the recommender's limits (see :func:`cost_frame`).
MEETS, OVER_LATENCY, OVER_CAP, HA_LOST = ("meets the SLA and cap", "over the latency target",
                                          "over the utilisation cap", "breaks the SLA with one instance lost")
_STATUS_COLORS = alt.Scale(domain=[MEETS, OVER_LATENCY, OVER_CAP, HA_LOST],
                           range=["#2ca02c", "#d62728", "#ff7f0e", "#9467bd"])
_REFERENCE_COLORS = alt.Scale(domain=["SLA", "target", "utilisation cap"], range=["red", "black", "gray"])
_REFERENCE_DASHES = alt.Scale(domain=["SLA", "target", "utilisation cap"], range=[[6, 3], [1, 0], [4, 4]])


def curve_frame(fits: Sequence[ConfigurationFit], percentile: float, points: int = 80) -> pd.DataFrame:
    """Predicted latency (ms) with its bootstrap band over per-instance throughput (rps), per configuration."""
    rows = []
    for fit in fits:
        if fit.latency is None:
            continue
        top = min(fit.latency_summary.saturation_rps * 0.98, fit.latency.max_measured_rps_ * 1.5)
        grid = np.linspace(top / points, top, points)
        low, high = fit.latency.predict_interval(grid, percentile)
        rows.append(pd.DataFrame({"configuration": fit.config.label, "throughput_rps": grid,
                                  "latency_ms": fit.latency.predict(grid, percentile), "lower_ms": low,
                                  "upper_ms": high}))
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["configuration", "throughput_rps", "latency_ms", "lower_ms", "upper_ms"])
    return frame.replace([np.inf, -np.inf], np.nan)


def measured_frame(fits: Sequence[ConfigurationFit], percentile: float) -> pd.DataFrame:
    """The measured steps behind each fit: per-instance throughput and the latency statistic used."""
    col = f"latency_p{percentile:g}_ms".replace(".", "_")
    rows = []
    for fit in fits:
        if fit.steps is None or fit.latency is None:
            continue
        steps = fit.steps
        stat = col if col in steps and steps[col].notna().any() else "latency_mean_ms"
        past_knee = steps.get("saturated", pd.Series(False, index=steps.index)).fillna(False).astype(bool)
        rows.append(pd.DataFrame({"configuration": fit.config.label, "throughput_rps": steps["throughput_rps"],
                                  "latency_ms": steps[stat], "statistic": "p" + f"{percentile:g}" if stat == col
                                  else "mean", "past_knee": past_knee,
                                  "role": _roles(fit, steps["throughput_rps"], past_knee)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["configuration", "throughput_rps", "latency_ms", "statistic", "past_knee", "role"])


def _roles(fit: ConfigurationFit, throughput_rps: pd.Series, past_knee: pd.Series) -> np.ndarray:
    """Each step's part in the latency fit: past the knee (not used), held out (the top load levels the
    chosen model was validated on), or fitted."""
    points = fit.latency.heldout_points_
    held = points.loc[points["model"] == fit.latency.model_, "throughput_rps"]
    cut = float(held.min()) if len(held) else np.inf
    rps = pd.to_numeric(throughput_rps, errors="coerce").to_numpy(dtype=float)
    return np.where(past_knee.to_numpy(), PAST_KNEE, np.where(rps >= cut, HELD_OUT, FITTED))


def fit_chart(fits: Sequence[ConfigurationFit], percentile: float, sla_ms: float | None = None) -> alt.LayerChart:
    """Latency vs per-instance throughput: measured steps (fitted, held out, past the knee), fitted curve,
    95% band, SLA line."""
    label = f"p{percentile:g}"
    curves, measured = curve_frame(fits, percentile), measured_frame(fits, percentile)
    x = alt.X("throughput_rps:Q", title="throughput per instance (requests/s)")
    color = alt.Color("configuration:N", title="configuration")
    band = alt.Chart(curves).mark_area(opacity=0.2).encode(
        x=x, y=alt.Y("lower_ms:Q", title=f"{label} latency (ms)"), y2=alt.Y2("upper_ms"), color=color)
    line = alt.Chart(curves).mark_line().encode(x=x, y=alt.Y("latency_ms:Q"), color=color)
    dots = alt.Chart(measured).mark_point(filled=True, size=70).encode(
        x=x, y=alt.Y("latency_ms:Q"), color=color, shape=alt.Shape("role:N", title="measured steps"),
        tooltip=[alt.Tooltip("configuration:N"), alt.Tooltip("throughput_rps:Q", format=".1f"),
                 alt.Tooltip("latency_ms:Q", format=".1f"), alt.Tooltip("statistic:N"), alt.Tooltip("role:N")])
    layers = [band, line, dots]
    if sla_ms is not None:
        layers.extend(_sla_layers(sla_ms, label))
    return alt.layer(*layers).properties(title=f"Fitted {label} latency vs throughput (bands: 95% bootstrap)",
                                         width=560, height=340)


def _sla_layers(sla_ms: float, label: str) -> list[alt.Chart]:
    """A red dashed horizontal rule at the latency target, labelled."""
    data = pd.DataFrame({"sla_ms": [sla_ms], "text": [f"SLA: {label} ≤ {sla_ms:g} ms"]})
    rule = alt.Chart(data).mark_rule(color="red", strokeDash=[6, 3], size=2).encode(y=alt.Y("sla_ms:Q"))
    text = alt.Chart(data).mark_text(color="red", align="left", dx=4, dy=-7, fontWeight="bold").encode(
        y=alt.Y("sla_ms:Q"), x=alt.XValue(0), text=alt.Text("text:N"))
    return [rule, text]


def _vertical_rule(x_value: float, text: str, color: str, dash: list[int] | None = None,
                   row: int = 0) -> list[alt.Chart]:
    """A vertical rule at ``x_value`` labelled near the top (``row`` staggers labels that could overlap)."""
    data = pd.DataFrame({"x": [x_value], "text": [text]})
    rule = alt.Chart(data).mark_rule(color=color, strokeDash=dash or [], size=2).encode(x=alt.X("x:Q"))
    label = alt.Chart(data).mark_text(color=color, align="left", dx=4, fontWeight="bold").encode(
        x=alt.X("x:Q"), y=alt.YValue(10 + 16 * row), text=alt.Text("text:N"))
    return [rule, label]


def usl_frame(fit: ConfigurationFit, points: int = 80) -> pd.DataFrame:
    """Fitted USL throughput (rps per instance) with its bootstrap band over concurrency (users per
    instance), from the configuration's own bootstrapped estimator (``fit.usl_model``)."""
    usl = fit.usl_model
    if usl is None:
        raise PlannerError(f"{fit.config.label}: no USL fit to draw")
    grid = np.linspace(0.0, float(np.max(usl.concurrency_)) * 1.25, points)
    samples = usl.bootstrap_samples_
    band = usl_throughput(grid[None, :], samples["lambda"].to_numpy()[:, None], samples["sigma"].to_numpy()[:, None],
                          samples["kappa"].to_numpy()[:, None])
    lower, upper = percentile_interval(band, usl.level)
    return pd.DataFrame({"configuration": fit.config.label, "concurrency": grid, "throughput_rps": usl.predict(grid),
                         "lower_rps": lower, "upper_rps": upper})


def usl_chart(fit: ConfigurationFit) -> alt.LayerChart:
    """Throughput vs concurrency per instance: measured steps, the USL curve, its 95 % band, the peak."""
    curve = usl_frame(fit)
    steps = fit.steps[fit.steps["concurrency"].notna()]
    past_knee = steps.get("saturated", pd.Series(False, index=steps.index)).fillna(False).astype(bool)
    measured = pd.DataFrame({"concurrency": steps["concurrency"].astype(float),
                             "throughput_rps": steps["throughput_rps"].astype(float),
                             "role": np.where(past_knee.to_numpy(), PAST_KNEE, FITTED)})
    x = alt.X("concurrency:Q", title="concurrency per instance (users)")
    band = alt.Chart(curve).mark_area(opacity=0.2, color="#1f77b4").encode(
        x=x, y=alt.Y("lower_rps:Q", title="throughput per instance (requests/s)"), y2=alt.Y2("upper_rps"))
    line = alt.Chart(curve).mark_line(color="#1f77b4", size=3).encode(x=x, y=alt.Y("throughput_rps:Q"))
    dots = alt.Chart(measured).mark_point(filled=True, size=70, color="black").encode(
        x=x, y=alt.Y("throughput_rps:Q"), shape=alt.Shape("role:N", title="measured steps"),
        tooltip=[alt.Tooltip("concurrency:Q", format=".1f"), alt.Tooltip("throughput_rps:Q", format=".1f"),
                 alt.Tooltip("role:N")])
    layers = [band, line, dots]
    u = fit.usl
    if u.peak_concurrency <= curve["concurrency"].max():
        layers.extend(_vertical_rule(u.peak_concurrency, f"peak N* = {u.peak_concurrency:.0f} users", "gray", [4, 4]))
    return alt.layer(*layers).properties(
        title=alt.TitleParams(["Throughput vs concurrency (USL, band: 95% bootstrap)",
                               f"σ={u.sigma:.3g}, κ={u.kappa:.3g}, λ={u.lambda_rps:.3g} requests/s"]),
        width=560, height=340)


def _percentile(label: str) -> float | str:
    """A recommendation's percentile label (``p99``, ``mean``) as the recommender's argument."""
    return "mean" if label == "mean" else float(label.removeprefix("p"))


def cost_frame(fits: Sequence[ConfigurationFit], rec: RealtimeRecommendation) -> pd.DataFrame:
    """Monthly cost (USD) of each ranked option's instance type at counts around the recommended one, with
    the predicted latency (ms) at the target load and which limit a count breaks (:data:`MEETS` from the
    recommended count on: latency and utilisation fall as instances are added)."""
    by_label = {f.config.label: f for f in fits}
    rows = []
    for option in rec.options:
        fit = by_label[option.label]
        n_rec = option.instance_count
        spread = max(3, min(n_rec // 2, 12))
        for n in range(max(1, n_rec - spread), n_rec + spread + 1):
            latency = (predicted_latency_ms(fit, rec.target_tps, n, _percentile(rec.percentile), rec.routing)
                       if fit.latency is not None else np.nan)
            utilization = rec.target_tps / n / option.saturation_tps_per_instance
            rows.append({"label": option.label, "instance_type": option.instance_type, "instance_count": n,
                         "usd_per_month": usd_per_month(option.usd_per_hour / n_rec, n, rec.hours_per_month),
                         "predicted_latency_ms": latency if np.isfinite(latency) else np.nan,
                         "utilization": utilization, "status": _status(n, option, latency, utilization, rec),
                         "recommended": n == n_rec})
    return pd.DataFrame(rows, columns=["label", "instance_type", "instance_count", "usd_per_month",
                                       "predicted_latency_ms", "utilization", "status", "recommended"])


def _status(n: int, option: RealtimeOption, latency_ms: float, utilization: float,
            rec: RealtimeRecommendation) -> str:
    if n >= option.instance_count:
        return MEETS
    if latency_ms > rec.latency_target_ms:
        return OVER_LATENCY
    return OVER_CAP if utilization > rec.max_utilization else HA_LOST


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (missing values as None)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@functools.cache
def _cost_template(percentile_label: str) -> str:
    """:func:`cost_chart`'s Vega-Lite spec without its data (JSON), built once per percentile label."""
    base = alt.Chart()
    x = alt.X("instance_count:Q", title="instances (count)", axis=alt.Axis(tickMinStep=1),
              scale=alt.Scale(zero=False))
    y = alt.Y("usd_per_month:Q", title="cost (USD/month)")
    shade = base.mark_rect(color="#2ca02c", opacity=0.15).encode(
        x=alt.X("band_start:Q", scale=alt.Scale(zero=False)), x2=alt.X2("band_end"),
        tooltip=alt.Tooltip("status:N", title="SLA-feasible"))
    line = base.mark_line(color="gray").encode(x=x, y=y)
    dots = base.mark_point(filled=True, size=70).encode(
        x=x, y=y, color=alt.Color("status:N", scale=_STATUS_COLORS,
                                  title="at the target load (green band: SLA-feasible)"),
        tooltip=[alt.Tooltip("instance_count:Q", title="instances"),
                 alt.Tooltip("usd_per_month:Q", title="USD/month", format=",.0f"),
                 alt.Tooltip("predicted_latency_ms:Q", title=f"predicted {percentile_label} (ms)", format=".1f"),
                 alt.Tooltip("utilization:Q", format=".0%"), alt.Tooltip("status:N")])
    star = base.mark_point(shape="diamond", size=260, filled=True, color="black").encode(
        x=x, y=alt.Y("recommended_usd_per_month:Q"))
    text = base.mark_text(align="right", dx=-12, dy=-10, fontWeight="bold").encode(
        x=x, y=alt.Y("recommended_usd_per_month:Q"), text=alt.Text("recommended_text:N"))
    chart = alt.layer(shade, line, dots, star, text).properties(width=520, height=120).facet(
        row=alt.Row("label:N", title=None, sort=alt.EncodingSortField(field="rank", op="min"),
                    header=alt.Header(labelAngle=0, labelAlign="left", labelOrient="top", labelFontWeight="bold",
                                      labelFontSize=12)),
        data=alt.NamedData("cost")).resolve_scale(x="independent", y="independent")
    return json.dumps(chart.to_dict())


def cost_chart(fits: Sequence[ConfigurationFit], rec: RealtimeRecommendation) -> dict:
    """One panel per ranked option: USD/month against instance count, the SLA-feasible counts shaded, each
    count coloured by the limit it breaks, the recommended count marked and labelled.

    A Vega-Lite spec (dict; ``alt.FacetChart.from_dict`` makes it an altair chart): the layout is authored
    with altair once and filled with this call's data, in milliseconds instead of the few hundred altair
    takes to build and validate a layered chart, so a what-if re-renders at once.
    """
    frame = cost_frame(fits, rec)
    feasible = frame["status"] == MEETS
    frame["rank"] = frame["label"].map({o.label: i for i, o in enumerate(rec.options)})
    frame["band_start"] = frame["instance_count"].where(feasible) - 0.5
    frame["band_end"] = frame["band_start"] + 1.0
    frame["recommended_usd_per_month"] = frame["usd_per_month"].where(frame["recommended"])
    frame["recommended_text"] = [f"{n} × {t}: ${c:,.0f}/month" if r else None for n, t, c, r in zip(
        frame["instance_count"], frame["instance_type"], frame["usd_per_month"], frame["recommended"], strict=True)]
    spec = json.loads(_cost_template(rec.percentile))
    spec["datasets"] = {"cost": _records(frame)}
    spec["title"] = (f"Cost vs instance count at {rec.target_tps:g} TPS, {rec.percentile} ≤ {rec.latency_target_ms:g} "
                     f"ms, ≤ {rec.max_utilization:.0%} utilisation")
    return spec


def option_latency_frame(fit: ConfigurationFit, option: RealtimeOption, rec: RealtimeRecommendation,
                         points: int = 60) -> pd.DataFrame:
    """Predicted latency (ms) of ``option.instance_count`` instances sharing a total load (requests/s) up to
    near saturation, with its 95 % bootstrap band as the recommender reports it
    (:func:`planner.recommend.realtime.predicted_latency_interval_ms`)."""
    n = option.instance_count
    pct = _percentile(rec.percentile)
    top = 0.98 * n * option.saturation_tps_per_instance
    grid = np.linspace(top / points, top, points)
    latency = (np.asarray(fit.latency.predict_table(grid / n, pct), dtype=float) if rec.routing == "random" else
               np.array([predicted_latency_ms(fit, x, n, pct, rec.routing) for x in grid]))
    low, high = predicted_latency_interval_ms(fit, grid, n, pct, rec.routing)
    frame = pd.DataFrame({"total_tps": grid, "latency_ms": latency, "lower_ms": low, "upper_ms": high})
    return frame.replace([np.inf, -np.inf], np.nan)


@functools.cache
def _option_latency_template(percentile_label: str) -> str:
    """:func:`option_latency_chart`'s Vega-Lite spec without its data (JSON), built once per percentile label."""
    x = alt.X("total_tps:Q", title="total offered load (requests/s)")
    y = alt.Y("lower_ms:Q", title=f"predicted {percentile_label} latency (ms)")
    curve = alt.Chart(alt.NamedData("curve"))
    band = curve.mark_area(opacity=0.25, color="#1f77b4").encode(x=x, y=y, y2=alt.Y2("upper_ms"))
    line = curve.mark_line(color="#1f77b4", size=3).encode(
        x=x, y=alt.Y("latency_ms:Q"),
        tooltip=[alt.Tooltip("total_tps:Q", title="total load (requests/s)", format=",.0f"),
                 alt.Tooltip("latency_ms:Q", title=f"predicted {percentile_label} (ms)", format=".1f"),
                 alt.Tooltip("lower_ms:Q", title="95% band low (ms)", format=".1f"),
                 alt.Tooltip("upper_ms:Q", title="95% band high (ms)", format=".1f")])
    point = alt.Chart(alt.NamedData("point"))
    whisker = point.mark_rule(color="black", size=2).encode(x=alt.X("total_tps:Q"), y=alt.Y("lower_ms:Q"),
                                                            y2=alt.Y2("upper_ms"))
    dot = point.mark_point(filled=True, size=120, color="black").encode(x=alt.X("total_tps:Q"),
                                                                         y=alt.Y("latency_ms:Q"))
    refs = alt.Chart(alt.NamedData("references"))
    kind = {"color": alt.Color("kind:N", scale=_REFERENCE_COLORS, legend=None),
            "strokeDash": alt.StrokeDash("kind:N", scale=_REFERENCE_DASHES, legend=None)}
    sla = refs.transform_filter(alt.datum.kind == "SLA")
    vertical = refs.transform_filter(alt.datum.kind != "SLA")
    layers = [band, line,
              sla.mark_rule(size=2).encode(y=alt.Y("value:Q"), **kind),
              sla.mark_text(align="left", dx=4, dy=-7, fontWeight="bold").encode(
                  y=alt.Y("value:Q"), x=alt.XValue(0), text=alt.Text("text:N"), color=kind["color"]),
              vertical.mark_rule(size=2).encode(x=alt.X("value:Q"), **kind),
              vertical.mark_text(align="left", dx=4, fontWeight="bold").encode(
                  x=alt.X("value:Q"), y=alt.Y("label_y_px:Q", scale=None), text=alt.Text("text:N"),
                  color=kind["color"]),
              whisker, dot,
              alt.Chart(alt.NamedData("extent")).mark_point(opacity=0).encode(y=alt.Y("latency_ms:Q"))]
    return json.dumps(alt.layer(*layers).properties(width=560, height=340).to_dict())


def option_latency_chart(fit: ConfigurationFit, option: RealtimeOption, rec: RealtimeRecommendation) -> dict:
    """The chosen option's predicted latency vs total load with its 95 % band, the SLA line, the target load,
    the utilisation cap, and the predicted point at the target with its interval. The latency axis runs to
    2.5 × the SLA (or 1.5 × the interval's top); latencies above are cut. A Vega-Lite spec (dict), as
    :func:`cost_chart`."""
    upper = option.predicted_latency_ci_upper_ms or option.predicted_latency_ms
    top_ms = max(2.5 * rec.latency_target_ms, 1.5 * upper)
    curve = option_latency_frame(fit, option, rec)
    curve["latency_ms"] = curve["latency_ms"].where(curve["latency_ms"] <= top_ms)
    curve[["lower_ms", "upper_ms"]] = curve[["lower_ms", "upper_ms"]].clip(upper=top_ms)
    point = pd.DataFrame({"total_tps": [rec.target_tps], "latency_ms": [option.predicted_latency_ms],
                          "lower_ms": [option.predicted_latency_ci_lower_ms or option.predicted_latency_ms],
                          "upper_ms": [upper]})
    cap_tps = rec.max_utilization * option.saturation_tps_per_instance * option.instance_count
    references = pd.DataFrame({
        "kind": ["SLA", "target", "utilisation cap"],
        "value": [rec.latency_target_ms, rec.target_tps, cap_tps],
        "text": [f"SLA: {rec.percentile} ≤ {rec.latency_target_ms:g} ms", f"target {rec.target_tps:,.0f} TPS",
                 f"{rec.max_utilization:.0%} utilisation cap"],
        "label_y_px": [0, 10, 26]})
    spec = json.loads(_option_latency_template(rec.percentile))
    spec["datasets"] = {"curve": _records(curve), "point": _records(point), "references": _records(references),
                        "extent": [{"latency_ms": 0.0}, {"latency_ms": top_ms}]}
    spec["title"] = {"text": [f"{option.instance_count} × {option.label}",
                              f"predicted {rec.percentile} vs load, {rec.routing} routing, 95% band"]}
    return spec


def save_chart(chart: alt.TopLevelMixin | dict, path: Path) -> Path:
    """Save an altair chart or a Vega-Lite spec (dict) as .html (self-contained spec), .png or .svg
    (rendered by vl-convert) or .json."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".png", ".svg", ".json"):
        raise PlannerError(f"{path}: expected a .html, .png, .svg or .json chart file name, found {path.suffix!r}")
    if isinstance(chart, dict):
        kind = next((k for k in ("layer", "vconcat", "hconcat", "concat") if k in chart), "")
        chart = {"layer": alt.LayerChart, "vconcat": alt.VConcatChart, "hconcat": alt.HConcatChart,
                 "concat": alt.ConcatChart}.get(kind, alt.Chart).from_dict(chart)
    try:
        chart.save(str(path))
    except (ValueError, ImportError) as exc:
        raise PlannerError(f"{path}: cannot write chart: {exc}") from None
    return path


def serverless_cost_frame(rec: ServerlessRecommendation, points: int = 60) -> pd.DataFrame:
    """Monthly cost (USD) vs monthly invocations: serverless on demand, with provisioned slots, real-time."""
    even = rec.break_even_monthly_invocations
    top = 2 * max(rec.monthly_invocations, even if even is not None and np.isfinite(even) else 0)
    x = np.linspace(0, top, points)
    standby = rec.provisioned_cost.provisioned_standby_usd
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
    lines = alt.Chart(serverless_cost_frame(rec)).mark_line().encode(
        x=x, y=alt.Y("usd_per_month:Q", title="cost (USD per month)"), color=alt.Color("option:N", title="option"))
    marks = [("your traffic", rec.monthly_invocations)]
    if rec.break_even_monthly_invocations is not None and np.isfinite(rec.break_even_monthly_invocations):
        marks.append(("break-even", rec.break_even_monthly_invocations))
    frame = pd.DataFrame(marks, columns=["mark", "monthly_invocations"])
    rules = alt.Chart(frame).mark_rule(strokeDash=[6, 3]).encode(x=x, tooltip=["mark", "monthly_invocations"])
    labels = alt.Chart(frame).mark_text(align="left", dx=4, dy=-6, baseline="top").encode(
        x=x, y=alt.value(0), text="mark:N")
    return alt.layer(lines, rules, labels).properties(
        title=f"{rec.recommended_memory_mb} MB serverless vs real-time ({rec.price_catalog['provenance']})",
        width=640, height=380)


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


# ---------------------------------------------------------------- the explorer's serverless, multi-model and compare views


def _filled(template: str, datasets: dict[str, pd.DataFrame | list], title: str | dict) -> dict:
    """A cached Vega-Lite template (JSON) with this call's named datasets and title."""
    spec = json.loads(template)
    spec["datasets"] = {name: _records(data) if isinstance(data, pd.DataFrame) else data
                        for name, data in datasets.items()}
    spec["title"] = title
    return spec


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
    view = alt.layer(alt.layer(lines, sla_rule, sla_text), alt.layer(cost_line, cost_dots, chosen)).resolve_scale(
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
    pareto = alt.layer(front, dots, names, sla_x).properties(width=330, height=300,
                                                             title="p99 vs cost: the Pareto front")
    return json.dumps(alt.hconcat(view, pareto).resolve_scale(color="independent", shape="independent").to_dict())


def serverless_memory_chart(rec: ServerlessRecommendation) -> dict:
    """AWS Lambda Power Tuning's view for serverless inference: latency per memory size (mean and p50…p99,
    ms) beside USD per 1M invocations, the p99 SLA, and p99 vs cost with the Pareto front; the recommended
    size labelled. A Vega-Lite spec (dict), as :func:`cost_chart`."""
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
    marks = pd.DataFrame([
        {"kind": "MaxConcurrency", "slots": max_concurrency,
         "probability_shown": row.loc[max_concurrency, "probability_shown"],
         "usd_per_month": None, "text": f"MaxConcurrency {max_concurrency}: throttle "
                                        f"{row.loc[max_concurrency, 'blocking_probability']:.2g}"},
        {"kind": "provisioned", "slots": provisioned_concurrency,
         "probability_shown": row.loc[provisioned_concurrency, "probability_shown"],
         "usd_per_month": row.loc[provisioned_concurrency, "provisioned_usd_per_month"],
         "text": f"{provisioned_concurrency} provisioned: spill-over "
                 f"{row.loc[provisioned_concurrency, 'blocking_probability']:.2g}"}])
    targets = [{"kind": "MaxConcurrency", "value": rec.throttle_target, "text": f"throttle target {rec.throttle_target:g}"},
               {"kind": "provisioned", "value": rec.spillover_target,
                "text": f"spill-over target {rec.spillover_target:g}"}]
    on_demand = [{"usd_per_month": rec.on_demand_cost.usd_per_month,
                  "text": f"on demand only: ${rec.on_demand_cost.usd_per_month:,.2f}/month"}]
    return _filled(_serverless_concurrency_template(),
                   {"curve": shown, "marks": marks, "targets": targets, "on_demand": on_demand},
                   f"{rec.recommended_memory_mb} MB at {rec.peak_tps:g} TPS peak: offered load "
                   f"{rec.offered_load_erlang:.2f} erlang")


def _variant_series(rec: MmeRecommendation, series: Sequence[MemorySeries]) -> list[tuple[MmeVariant, MemorySeries]]:
    by_label = {s.label: s for s in series}
    return [(v, by_label[v.label]) for v in rec.variants if v.label in by_label]


def _memory_fit(variant: MmeVariant, series: MemorySeries, catalog: PriceCatalog) -> GpuMemoryFit:
    """The variant's GPU memory fit, refitted from its series as :func:`planner.recommend.mme.size_variant`
    fits it (CloudWatch's per-GPU percentages summed over GPUs divided by the GPU count)."""
    pct = np.asarray(series.gpu_memory_utilization_pct, dtype=float)
    if series.source == "cloudwatch":
        pct = pct / max(1, catalog.spec(variant.instance_type).accelerator_count)
    return GpuMemoryFit().fit(series.models_loaded, pct, series.gpu_total_memory_mb)


def mme_memory_frames(rec: MmeRecommendation, series: Sequence[MemorySeries],
                      catalog: PriceCatalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fitted, measured): per variant, the fitted GPU memory utilisation (%) vs models loaded with its 95 %
    confidence band, and the measured points with whether the fit used them (at the cap, on the trailing
    plateau and with no model loaded are left out)."""
    fitted, measured = [], []
    for variant, s in _variant_series(rec, series):
        fit = _memory_fit(variant, s, catalog)
        top = max(max(s.models_loaded), variant.max_models_per_instance_ci_upper) + 2
        grid = np.arange(0, int(top) + 1, dtype=float)
        low, high = fit.predict_interval(grid)
        fitted.append(pd.DataFrame({"variant": variant.label, "models_loaded": grid,
                                    "gpu_memory_pct": fit.predict(grid), "lower_pct": low, "upper_pct": high}))
        used_x, _ = usable_points(s.models_loaded, s.gpu_memory_utilization_pct)
        pct = np.asarray(s.gpu_memory_utilization_pct, dtype=float)
        if s.source == "cloudwatch":
            pct = pct / max(1, catalog.spec(variant.instance_type).accelerator_count)
        x = np.asarray(s.models_loaded, dtype=float)
        measured.append(pd.DataFrame({"variant": variant.label, "models_loaded": x, "gpu_memory_pct": pct,
                                      "role": np.where(np.isin(x, used_x), "fitted", "left out")}))
    columns = (["variant", "models_loaded", "gpu_memory_pct", "lower_pct", "upper_pct"],
               ["variant", "models_loaded", "gpu_memory_pct", "role"])
    return tuple(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
                 for parts, cols in zip((fitted, measured), columns, strict=True))


@functools.cache
def _mme_memory_template() -> str:
    x = alt.X("models_loaded:Q", title="models loaded (count)")
    color = alt.Color("variant:N", title="variant", legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=480))
    fitted = alt.Chart(alt.NamedData("fitted"))
    points = alt.Chart(alt.NamedData("measured"))
    refs = alt.Chart(alt.NamedData("threshold"))
    at = alt.Chart(alt.NamedData("at_threshold"))
    y = alt.Y("gpu_memory_pct:Q", title="GPU memory used (%)", scale=alt.Scale(domain=[0, 100]))
    layers = [
        fitted.mark_area(opacity=0.25).encode(x=x, y=alt.Y("lower_pct:Q", scale=alt.Scale(domain=[0, 100])),
                                              y2=alt.Y2("upper_pct"), color=color),
        fitted.mark_line().encode(x=x, y=y, color=color),
        points.mark_point(size=40).encode(x=x, y=y, color=color, shape=alt.Shape("role:N", title="measured"),
                                          tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("models_loaded:Q"),
                                                   alt.Tooltip("gpu_memory_pct:Q", format=".2f"),
                                                   alt.Tooltip("role:N")]),
        refs.mark_rule(color="red", strokeDash=[6, 3], size=2).encode(y=alt.Y("pct:Q")),
        refs.mark_text(color="red", align="left", dx=4, dy=-7, fontWeight="bold").encode(
            y=alt.Y("pct:Q"), x=alt.XValue(0), text=alt.Text("text:N")),
        at.mark_rule(strokeDash=[2, 2]).encode(x=alt.X("models_loaded:Q"), color=color),
        at.mark_text(align="right", dx=-4, angle=0, fontWeight="bold").encode(
            x=alt.X("models_loaded:Q"), y=alt.Y("label_pct:Q"), text=alt.Text("text:N"), color=color),
    ]
    return json.dumps(alt.layer(*layers).properties(width=520, height=340).to_dict())


def mme_memory_chart(rec: MmeRecommendation, series: Sequence[MemorySeries], catalog: PriceCatalog) -> dict:
    """Density: GPU memory used (%) vs models loaded per variant, the fitted line with its 95 % band, the
    measured points (used or left out), the memory threshold and the models each variant fits under it.
    A Vega-Lite spec (dict), as :func:`cost_chart`."""
    fitted, measured = mme_memory_frames(rec, series, catalog)
    threshold_pct = 100 * rec.memory_threshold
    at = pd.DataFrame([{"variant": v.label, "models_loaded": v.max_models_per_instance,
                        "label_pct": threshold_pct - 8 - 7 * i,
                        "text": f"{v.max_models_per_instance} models"}
                       for i, (v, _) in enumerate(_variant_series(rec, series))])
    threshold = [{"pct": threshold_pct, "text": f"threshold {rec.memory_threshold:.0%}"}]
    return _filled(_mme_memory_template(), {"fitted": fitted, "measured": measured, "threshold": threshold,
                                            "at_threshold": at},
                   {"text": "GPU memory vs models loaded (95% band)", "subtitle": "models per instance at the threshold"})


def mme_instances_frame(rec: MmeRecommendation, shares: Sequence[float], max_instances: int | None = None
                        ) -> pd.DataFrame:
    """Per variant and instance count: the LRU hit ratio for the models' request ``shares`` (Che), the miss
    ratio, the monthly cost (USD) and whether the count meets the miss-ratio limit and the throughput."""
    top = max_instances or max(max(2 * v.instances, v.instances_all_models_resident) for v in rec.variants)
    rows = []
    for v in rec.variants:
        for n in range(1, top + 1):
            hit = cache_hit_ratio(shares, n, v.max_models_per_instance)
            rows.append({"variant": v.label, "instances": n, "hit_ratio": hit, "miss_ratio": 1.0 - hit,
                         "usd_per_month": usd_per_month(v.usd_per_hour / v.instances, n, rec.hours_per_month),
                         "meets_miss_ratio": 1.0 - hit <= rec.max_miss_ratio + 1e-12,
                         "meets_throughput": n >= v.instances_for_throughput, "recommended": n == v.instances})
    return pd.DataFrame(rows, columns=["variant", "instances", "hit_ratio", "miss_ratio", "usd_per_month",
                                       "meets_miss_ratio", "meets_throughput", "recommended"])


@functools.cache
def _mme_instances_template() -> str:
    x = alt.X("instances:Q", title="instances (count)", axis=alt.Axis(tickMinStep=1))
    color = alt.Color("variant:N", title="variant", legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=480))
    data = alt.Chart(alt.NamedData("instances"))
    chosen = data.transform_filter(alt.datum.recommended)
    tooltip = [alt.Tooltip("variant:N"), alt.Tooltip("instances:Q"), alt.Tooltip("hit_ratio:Q", format=".2%"),
               alt.Tooltip("usd_per_month:Q", title="USD/month", format=",.0f"), alt.Tooltip("meets_miss_ratio:N"),
               alt.Tooltip("meets_throughput:N")]
    y_hit = alt.Y("hit_ratio:Q", title="cache hit ratio (LRU, Che)", axis=alt.Axis(format="%"))
    target = alt.Chart(alt.NamedData("target"))
    hit = alt.layer(
        data.mark_line(point=True).encode(x=x, y=y_hit, color=color, tooltip=tooltip),
        chosen.mark_point(size=220, shape="diamond", filled=True).encode(x=x, y=y_hit, color=color),
        target.mark_rule(color="red", strokeDash=[6, 3], size=2).encode(y=alt.Y("hit_ratio:Q")),
        target.mark_text(color="red", align="right", dy=10, fontWeight="bold").encode(
            y=alt.Y("hit_ratio:Q"), x=alt.XValue(380), text=alt.Text("text:N")),
    ).properties(width=380, height=280, title="Hit ratio vs instances")
    y_cost = alt.Y("usd_per_month:Q", title="cost (USD/month)")
    cost = alt.layer(
        data.mark_line(point=True).encode(x=x, y=y_cost, color=color, tooltip=tooltip),
        chosen.mark_point(size=220, shape="diamond", filled=True).encode(x=x, y=y_cost, color=color),
        chosen.mark_text(align="left", dx=8, dy=-8, fontWeight="bold").encode(
            x=x, y=y_cost, text=alt.Text("text:N"), color=color),
    ).properties(width=380, height=280, title="Cost vs instances (diamond: recommended)")
    return json.dumps(alt.hconcat(hit, cost).to_dict())


def mme_instances_chart(rec: MmeRecommendation, shares: Sequence[float]) -> dict:
    """Hit ratio vs instances (with the miss-ratio limit) beside cost vs instances, per variant, the
    recommended counts marked. A Vega-Lite spec (dict), as :func:`cost_chart`."""
    frame = mme_instances_frame(rec, shares)
    frame["text"] = [f"{n} × ${c:,.0f}/month" if r else None
                     for n, c, r in zip(frame["instances"], frame["usd_per_month"], frame["recommended"], strict=True)]
    target = [{"hit_ratio": 1 - rec.max_miss_ratio, "text": f"miss ratio ≤ {rec.max_miss_ratio:g}"}]
    return _filled(_mme_instances_template(), {"instances": frame, "target": target},
                   f"{rec.models} models ({rec.popularity}) at {rec.target_tps:g} TPS")


@functools.cache
def _comparison_template() -> str:
    y = alt.Y("option:N", title=None, sort=alt.EncodingSortField(field="rank", op="min"),
              axis=alt.Axis(labelLimit=420))
    x = alt.X("usd_per_month:Q", title="total cost (USD/month)")
    data = alt.Chart(alt.NamedData("lines"))
    bars = data.mark_bar().encode(
        x=x, y=y, color=alt.Color("deployment:N", title="deployment"),
        opacity=alt.Opacity("sla:N", title="", scale=alt.Scale(domain=["meets the SLA", "misses the SLA"],
                                                               range=[1.0, 0.35])),
        tooltip=[alt.Tooltip("option:N"), alt.Tooltip("deployment:N"),
                 alt.Tooltip("usd_per_month:Q", title="USD/month", format=",.2f"),
                 alt.Tooltip("usd_per_year:Q", title="USD/year", format=",.0f"),
                 alt.Tooltip("predicted_latency_ms:Q", title="predicted latency (ms)", format=".0f"),
                 alt.Tooltip("sla:N")])
    text = data.mark_text(align="left", dx=4).encode(x=x, y=y, text=alt.Text("usd_per_month:Q", format="$,.0f"))
    return json.dumps(alt.layer(bars, text).properties(width=560).to_dict())


def comparison_chart(options: Sequence[Mapping[str, Any]]) -> dict:
    """Every option's monthly cost as a bar, in the given order (a cost comparison's ``to_dict()["options"]``:
    SLA-meeting first, cheapest first); options that miss the SLA faded. A Vega-Lite spec (dict), as
    :func:`cost_chart`."""
    frame = pd.DataFrame([{**line, "rank": i, "sla": "meets the SLA" if line["sla_met"] else "misses the SLA"}
                          for i, line in enumerate(options)])
    spec = _filled(_comparison_template(), {"lines": frame}, "Monthly cost of every option")
    spec["height"] = {"step": 24}
    return spec
