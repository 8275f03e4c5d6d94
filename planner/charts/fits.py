"""Fitted curves: latency vs per-instance throughput with its bootstrap band and the SLA line, and the USL
throughput vs concurrency. Axes name their units."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from planner.capacity import ConfigurationFit, CurveFit, curve_fits
from planner.charts.palette import family_color, family_scale, instance_family
from planner.charts.spec import _sla_layers, _vertical_rule
from planner.errors import PlannerError
from planner.fit import LatencyModel
from planner.queueing import usl_throughput
from planner.resampling import percentile_interval

# Roles of a measured step in the latency fit (see :func:`measured_frame`).
FITTED, HELD_OUT, PAST_KNEE = "fitted", "held out (validation)", "past the knee (USL only)"


def plotted_statistic(fit: ConfigurationFit, percentile: float) -> float | str:
    """The latency statistic a configuration's chart plots: ``percentile`` when its steps measured it
    (per step, not cumulative), else ``"mean"``, so measured points and the fitted curve are the same
    statistic (a measured mean is never drawn against a fitted p99)."""
    col = f"latency_p{percentile:g}_ms".replace(".", "_")
    steps = fit.steps
    return percentile if steps is not None and col in steps and steps[col].notna().any() else "mean"


def _statistic_name(stat: float | str) -> str:
    return "mean" if stat == "mean" else f"p{stat:g}"


def curve_frame(fits: Sequence[ConfigurationFit], percentile: float, points: int = 80) -> pd.DataFrame:
    """Predicted latency (ms) with its bootstrap band over per-instance throughput (rps), per configuration,
    of the statistic its steps measured (:func:`plotted_statistic`)."""
    rows = []
    for fit in curve_fits(fits):
        if fit.latency is None or fit.latency_summary is None:  # fitted together
            continue
        stat = plotted_statistic(fit, percentile)
        top = min(fit.latency_summary.saturation_rps * 0.98, fit.latency.max_measured_rps_ * 1.5)
        grid = np.linspace(top / points, top, points)
        low, high = fit.latency.predict_interval(grid, stat)
        rows.append(pd.DataFrame({"configuration": fit.config.label, "throughput_rps": grid,
                                  "latency_ms": fit.latency.predict(grid, stat), "lower_ms": low,
                                  "upper_ms": high, "statistic": _statistic_name(stat)}))
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["configuration", "throughput_rps", "latency_ms", "lower_ms", "upper_ms", "statistic"])
    return frame.replace([np.inf, -np.inf], np.nan)


def measured_frame(fits: Sequence[ConfigurationFit], percentile: float,
                   sla_ms: float | None = None) -> pd.DataFrame:
    """The measured steps behind each fit: per-instance throughput and the statistic its curve plots
    (:func:`plotted_statistic`; steps without it are left out), and whether each meets ``sla_ms``."""
    rows = []
    for fit in curve_fits(fits):
        if fit.steps is None or fit.latency is None:
            continue
        stat = plotted_statistic(fit, percentile)
        col = "latency_mean_ms" if stat == "mean" else f"latency_p{percentile:g}_ms".replace(".", "_")
        steps = fit.steps[fit.steps[col].notna()]
        past_knee = steps.get("saturated", pd.Series(False, index=steps.index)).fillna(False).astype(bool)
        latency = steps[col].astype(float)
        rows.append(pd.DataFrame({"configuration": fit.config.label, "throughput_rps": steps["throughput_rps"],
                                  "latency_ms": latency, "statistic": _statistic_name(stat), "past_knee": past_knee,
                                  "role": _roles(fit.latency, steps["throughput_rps"], past_knee),
                                  "sla": _sla_status(latency, sla_ms)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["configuration", "throughput_rps", "latency_ms", "statistic", "past_knee", "role", "sla"])


MEETS_SLA, MISSES_SLA, NO_SLA = "meets the SLA", "misses the SLA", "no SLA given"


def _sla_status(latency_ms: pd.Series, sla_ms: float | None) -> np.ndarray:
    if sla_ms is None:
        return np.full(len(latency_ms), NO_SLA, dtype=object)
    return np.where(latency_ms.to_numpy(dtype=float) <= sla_ms, MEETS_SLA, MISSES_SLA)


def _roles(latency: LatencyModel, throughput_rps: pd.Series, past_knee: pd.Series) -> np.ndarray:
    """Each step's part in the ``latency`` fit: past the knee (not used), held out (the top load levels the
    chosen model was validated on), or fitted."""
    points = latency.heldout_points_
    held = points.loc[points["model"] == latency.model_, "throughput_rps"]
    cut = float(held.min()) if len(held) else np.inf
    rps = pd.to_numeric(throughput_rps, errors="coerce").to_numpy(dtype=float)
    return np.where(past_knee.to_numpy(), PAST_KNEE, np.where(rps >= cut, HELD_OUT, FITTED))


def fit_chart(fits: Sequence[ConfigurationFit], percentile: float, sla_ms: float | None = None) -> alt.LayerChart:
    """Latency vs per-instance throughput: measured steps (fitted, held out, past the knee), fitted curve,
    95% band (each configuration in its instance family's colour), and with ``sla_ms`` the SLA line and a red ring on each step that misses it. Each
    configuration plots the statistic its steps measured (:func:`plotted_statistic`: ``percentile``, else
    the mean); the latency axis stops at 3 × the highest measured value (or 1.5 × the SLA), the curve is
    cut above it."""
    curves, measured = curve_frame(fits, percentile), measured_frame(fits, percentile, sla_ms)
    stats = sorted(set(curves["statistic"]) | set(measured["statistic"])) or [f"p{percentile:g}"]
    label = " and ".join(stats)
    top_ms = max([3.0 * float(measured["latency_ms"].max()) if len(measured) else 0.0,
                  1.5 * sla_ms if sla_ms is not None else 0.0]) or None
    if top_ms is not None:
        curves["latency_ms"] = curves["latency_ms"].where(curves["latency_ms"] <= top_ms)
        curves[["lower_ms", "upper_ms"]] = curves[["lower_ms", "upper_ms"]].clip(upper=top_ms)
    x = alt.X("throughput_rps:Q", title="throughput per instance (requests/s)")
    color = alt.Color("configuration:N", title="configuration",
                      scale=family_scale({f.config.label: f.config.instance_type for f in fits}))
    band = alt.Chart(curves).mark_area(opacity=0.2).encode(
        x=x, y=alt.Y("lower_ms:Q", title=f"{label} latency (ms)"), y2=alt.Y2("upper_ms"), color=color)
    line = alt.Chart(curves).mark_line().encode(
        x=x, y=alt.Y("latency_ms:Q"), color=color, strokeDash=alt.StrokeDash("statistic:N", title="fitted"))
    dots = alt.Chart(measured).mark_point(filled=True, size=70).encode(
        x=x, y=alt.Y("latency_ms:Q"), color=color, shape=alt.Shape("role:N", title="measured steps"),
        tooltip=[alt.Tooltip("configuration:N"), alt.Tooltip("throughput_rps:Q", format=".1f"),
                 alt.Tooltip("latency_ms:Q", format=".1f"), alt.Tooltip("statistic:N"), alt.Tooltip("role:N"),
                 alt.Tooltip("sla:N", title="SLA")])
    layers = [band, line, dots]
    if sla_ms is not None:
        missed = measured[measured["sla"] == MISSES_SLA]
        layers.append(alt.Chart(missed).mark_point(shape="circle", size=220, strokeWidth=2, color="red").encode(
            x=x, y=alt.Y("latency_ms:Q"), tooltip=[alt.Tooltip("sla:N", title="SLA"),
                                                   alt.Tooltip("latency_ms:Q", format=".1f")]))
        layers.extend(_sla_layers(sla_ms, label))
    return alt.LayerChart(layer=layers).properties(title=f"Fitted {label} latency vs throughput (bands: 95% bootstrap)",
                                                   width=560, height=340)


def usl_frame(fit: CurveFit, points: int = 80) -> pd.DataFrame:
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


def usl_chart(fit: CurveFit) -> alt.LayerChart:
    """Throughput vs concurrency per instance: measured steps, the USL curve and its 95 % band (in the instance
    family's colour), the peak."""
    curve = usl_frame(fit)
    u, steps = fit.usl, fit.steps
    if u is None or steps is None:  # fitted with the USL model
        raise PlannerError(f"{fit.config.label}: no USL fit to draw")
    steps = steps[steps["concurrency"].notna()]
    past_knee = steps.get("saturated", pd.Series(False, index=steps.index)).fillna(False).astype(bool)
    measured = pd.DataFrame({"concurrency": steps["concurrency"].astype(float),
                             "throughput_rps": steps["throughput_rps"].astype(float),
                             "role": np.where(past_knee.to_numpy(), PAST_KNEE, FITTED)})
    x = alt.X("concurrency:Q", title="concurrency per instance (users)")
    hue = family_color(instance_family(fit.config.instance_type))
    band = alt.Chart(curve).mark_area(opacity=0.2, color=hue).encode(
        x=x, y=alt.Y("lower_rps:Q", title="throughput per instance (requests/s)"), y2=alt.Y2("upper_rps"))
    line = alt.Chart(curve).mark_line(color=hue, size=3).encode(x=x, y=alt.Y("throughput_rps:Q"))
    dots = alt.Chart(measured).mark_point(filled=True, size=70, color="black").encode(
        x=x, y=alt.Y("throughput_rps:Q"), shape=alt.Shape("role:N", title="measured steps"),
        tooltip=[alt.Tooltip("concurrency:Q", format=".1f"), alt.Tooltip("throughput_rps:Q", format=".1f"),
                 alt.Tooltip("role:N")])
    layers = [band, line, dots]
    if u.peak_concurrency <= curve["concurrency"].max():
        layers.extend(_vertical_rule(u.peak_concurrency, f"peak N* = {u.peak_concurrency:.0f} users", "gray", [4, 4]))
    return alt.LayerChart(layer=layers).properties(
        title=alt.TitleParams(["Throughput vs concurrency (USL, band: 95% bootstrap)",
                               f"σ={u.sigma:.3g}, κ={u.kappa:.3g}, λ={u.lambda_rps:.3g} requests/s"]),
        width=560, height=340)


def fit_report_chart(fits: Sequence[ConfigurationFit], percentile: float,
                     sla_ms: float | None = None) -> alt.TopLevelMixin:
    """``planner fit --plot``: latency vs throughput (:func:`fit_chart`, when any configuration has a
    latency model), then throughput vs concurrency (:func:`usl_chart`) per USL fit, titled with its
    parameters and held-out error."""
    views = []
    for f in curve_fits(fits):
        if f.usl_model is not None and f.usl is not None:
            u = f.usl
            err = "n/a" if u.heldout_error is None else f"{u.heldout_error:.0%}"
            views.append(usl_chart(f).properties(title=alt.TitleParams([
                f"{f.config.label}: throughput vs concurrency (USL, band: 95% bootstrap)",
                f"σ={u.sigma:.3g}, κ={u.kappa:.3g}, λ={u.lambda_rps:.3g} requests/s, held-out error {err}"])))
    if any(f.latency is not None for f in curve_fits(fits)) or not views:
        views.insert(0, fit_chart(fits, percentile, sla_ms))
    return views[0] if len(views) == 1 else alt.vconcat(*views).resolve_scale(shape="independent")
