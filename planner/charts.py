"""Altair charts (never Streamlit): fitted curves with bands and the SLA line. Axes name their units."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd

from planner.capacity import ConfigurationFit
from planner.errors import PlannerError


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
        rows.append(pd.DataFrame({"configuration": fit.config.label, "throughput_rps": steps["throughput_rps"],
                                  "latency_ms": steps[stat], "statistic": "p" + f"{percentile:g}" if stat == col
                                  else "mean", "past_knee": steps.get("saturated", False)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["configuration", "throughput_rps", "latency_ms", "statistic", "past_knee"])


def fit_chart(fits: Sequence[ConfigurationFit], percentile: float, sla_ms: float | None = None) -> alt.LayerChart:
    """Latency vs per-instance throughput: measured steps, fitted curve, 95% band, SLA line."""
    label = f"p{percentile:g}"
    curves, measured = curve_frame(fits, percentile), measured_frame(fits, percentile)
    x = alt.X("throughput_rps:Q", title="throughput per instance (requests/s)")
    color = alt.Color("configuration:N", title="configuration")
    band = alt.Chart(curves).mark_area(opacity=0.2).encode(x=x, y=alt.Y("lower_ms:Q", title=f"{label} latency (ms)"),
                                                           y2="upper_ms:Q", color=color)
    line = alt.Chart(curves).mark_line().encode(x=x, y="latency_ms:Q", color=color)
    dots = alt.Chart(measured).mark_point(filled=True, size=50).encode(
        x=x, y="latency_ms:Q", color=color, shape=alt.Shape("statistic:N", title="measured"),
        tooltip=["configuration", "throughput_rps", "latency_ms", "statistic", "past_knee"])
    layers = [band, line, dots]
    if sla_ms is not None:
        rule = alt.Chart(pd.DataFrame({"sla_ms": [sla_ms]})).mark_rule(color="red", strokeDash=[6, 3]).encode(
            y="sla_ms:Q")
        layers.append(rule)
    return alt.layer(*layers).properties(title=f"Fitted {label} latency vs throughput (bands: 95% bootstrap)",
                                         width=640, height=380)


def save_chart(chart: alt.TopLevelMixin, path: Path) -> Path:
    """Save as .html (self-contained spec) or .png (needs vl-convert-python)."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".png", ".svg", ".json"):
        raise PlannerError(f"{path}: expected a .html, .png, .svg or .json chart file name, found {path.suffix!r}")
    try:
        chart.save(str(path))
    except (ValueError, ImportError) as exc:
        raise PlannerError(f"{path}: cannot write chart: {exc}") from None
    return path
