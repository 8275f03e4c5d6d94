"""The capacity planner's what-if charts: cost vs instance count per ranked option (:func:`cost_chart`) and
the chosen option's predicted latency vs load (:func:`option_latency_chart`).

They are Vega-Lite specs: authored with altair once per layout and filled with each call's data, so they
cost milliseconds."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from planner.capacity import ConfigurationFit, CurveFit
from planner.charts.palette import family_color, instance_family
from planner.charts.spec import _records
from planner.costs import usd_per_month
from planner.recommend.realtime import (
    RealtimeOption,
    RealtimeRecommendation,
    predicted_latency_interval_ms,
    predicted_latency_ms,
)

# Whether an instance count meets the recommender's limits (see :func:`cost_frame`).
MEETS, OVER_LATENCY, OVER_CAP, HA_LOST = ("meets the SLA and cap", "over the latency target",
                                          "over the utilisation cap", "breaks the SLA with one instance lost")
_STATUS_COLORS = alt.Scale(domain=[MEETS, OVER_LATENCY, OVER_CAP, HA_LOST],
                           range=["#2ca02c", "#d62728", "#ff7f0e", "#9467bd"])
_REFERENCE_COLORS = alt.Scale(domain=["SLA", "target", "utilisation cap"], range=["red", "black", "gray"])
_REFERENCE_DASHES = alt.Scale(domain=["SLA", "target", "utilisation cap"], range=[[6, 3], [1, 0], [4, 4]])


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
                       if isinstance(fit, CurveFit) and fit.latency is not None else np.nan)
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
                                  title="at the target load (green band: SLA-feasible)",
                                  legend=alt.Legend(orient="bottom")),
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


def option_latency_frame(fit: CurveFit, option: RealtimeOption, rec: RealtimeRecommendation,
                         points: int = 60) -> pd.DataFrame:
    """Predicted latency (ms) of ``option.instance_count`` instances sharing a total load (requests/s) up to
    near saturation, with its 95 % bootstrap band as the recommender reports it
    (:func:`planner.recommend.realtime.predicted_latency_interval_ms`)."""
    if fit.latency is None:  # as predicted_latency_ms says it
        raise ValueError(f"{fit.config.label}: no fitted latency model")
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
def _option_latency_template(percentile_label: str, color: str) -> str:
    """:func:`option_latency_chart`'s Vega-Lite spec without its data (JSON), built once per percentile label
    and curve colour."""
    x = alt.X("total_tps:Q", title="total offered load (requests/s)")
    y = alt.Y("lower_ms:Q", title=f"predicted {percentile_label} latency (ms)")
    curve = alt.Chart(alt.NamedData("curve"))
    band = curve.mark_area(opacity=0.25, color=color).encode(x=x, y=y, y2=alt.Y2("upper_ms"))
    line = curve.mark_line(color=color, size=3).encode(
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


def option_latency_chart(fit: CurveFit, option: RealtimeOption, rec: RealtimeRecommendation) -> dict:
    """The chosen option's predicted latency vs total load with its 95 % band, the SLA line, the target load,
    the utilisation cap, and the predicted point at the target with its interval; the curve in the instance
    family's colour. The latency axis runs to
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
    spec = json.loads(_option_latency_template(rec.percentile, family_color(instance_family(option.instance_type))))
    spec["datasets"] = {"curve": _records(curve), "point": _records(point), "references": _records(references),
                        "extent": [{"latency_ms": 0.0}, {"latency_ms": top_ms}]}
    spec["title"] = {"text": [f"{option.instance_count} × {option.label}",
                              f"predicted {rec.percentile} vs load, {rec.routing} routing, 95% band"]}
    return spec
