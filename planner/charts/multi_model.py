"""Multi-model endpoint charts for the explorer: GPU memory vs models loaded per variant, and the LRU hit
ratio and cost vs instance count."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from planner.catalog import PriceCatalog
from planner.charts.palette import with_family_colors
from planner.charts.spec import _filled
from planner.costs import usd_per_month
from planner.gpu_memory_fit import usable_points
from planner.recommend.mme import (
    MemorySeries,
    MmeRecommendation,
    MmeVariant,
    cache_hit_ratio,
    fit_gpu_memory,
)


def _variant_series(rec: MmeRecommendation, series: Sequence[MemorySeries]) -> list[tuple[MmeVariant, MemorySeries]]:
    by_label = {s.label: s for s in series}
    return [(v, by_label[v.label]) for v in rec.variants if v.label in by_label]


def mme_memory_frames(rec: MmeRecommendation, series: Sequence[MemorySeries],
                      catalog: PriceCatalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fitted, measured): per variant, the fitted GPU memory utilisation (%) vs models loaded with its 95 %
    confidence band, and the measured points with whether the fit used them (at the cap, on the trailing
    plateau and with no model loaded are left out)."""
    fitted, measured = [], []
    for variant, s in _variant_series(rec, series):
        fit = fit_gpu_memory(s, catalog)[0]
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
    fitted_frame, measured_frame = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
                                    for parts, cols in zip((fitted, measured), columns, strict=True))
    return fitted_frame, measured_frame


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
    measured points (used or left out), the memory threshold and the models each variant fits under it;
    each variant in its instance family's colour (:func:`planner.charts.palette.family_scale`). A Vega-Lite spec (dict), as :func:`cost_chart`."""
    fitted, measured = mme_memory_frames(rec, series, catalog)
    threshold_pct = 100 * rec.memory_threshold
    at = pd.DataFrame([{"variant": v.label, "models_loaded": v.max_models_per_instance,
                        "label_pct": threshold_pct - 8 - 7 * i,
                        "text": f"{v.max_models_per_instance} models"}
                       for i, (v, _) in enumerate(_variant_series(rec, series))])
    threshold = [{"pct": threshold_pct, "text": f"threshold {rec.memory_threshold:.0%}"}]
    spec = _filled(_mme_memory_template(), {"fitted": fitted, "measured": measured, "threshold": threshold,
                                            "at_threshold": at},
                   {"text": "GPU memory vs models loaded (95% band)", "subtitle": "models per instance at the threshold"})
    return with_family_colors(spec, "variant", {v.label: v.instance_type for v in rec.variants})


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
    recommended counts marked; variants in their instance family's colours. A Vega-Lite spec (dict), as
    :func:`cost_chart`."""
    frame = mme_instances_frame(rec, shares)
    frame["text"] = [f"{n} × ${c:,.0f}/month" if r else None
                     for n, c, r in zip(frame["instances"], frame["usd_per_month"], frame["recommended"], strict=True)]
    target = [{"hit_ratio": 1 - rec.max_miss_ratio, "text": f"miss ratio ≤ {rec.max_miss_ratio:g}"}]
    spec = _filled(_mme_instances_template(), {"instances": frame, "target": target},
                   f"{rec.models} models ({rec.popularity}) at {rec.target_tps:g} TPS")
    return with_family_colors(spec, "variant", {v.label: v.instance_type for v in rec.variants})
