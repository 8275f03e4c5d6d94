"""`planner fit` and `planner recommend`: curves, capacity and real-time sizing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from planner.cli.common import (
    JsonOpt,
    PriceArgsArg,
    StepRulesArg,
    StoreOpt,
    app,
    count_arg,
    duration_ms_arg,
    emit_json,
    err,
    open_source,
    out,
    percentile_arg,
    price_options,
    progress,
    step_rule_options,
)
from planner.recommend import DEFAULT_CONFIDENCE, DEFAULT_MAX_UTILIZATION


@app.command()
@step_rule_options
def fit(
    store: StoreOpt = None,
    run: Annotated[list[str] | None, typer.Option("--run", help="Only these runs (repeatable).")] = None,
    config: Annotated[list[str] | None, typer.Option(
        "--config", help="Only configurations whose label contains TEXT (any case) or whose instance type is "
        "TEXT (repeatable), e.g. ml.c5.2xlarge, resnet50 or variant=trt.")] = None,
    percentile: Annotated[str, typer.Option(help="Latency percentile for capacity, e.g. p99, p95.")] = "p99",
    sla: Annotated[str | None, typer.Option(help="Latency target for capacity, e.g. 200ms.")] = None,
    max_utilization: Annotated[float, typer.Option(min=0.05, max=1.0, help="Utilisation cap.")]
    = DEFAULT_MAX_UTILIZATION,
    plot: Annotated[Path | None, typer.Option(help="Write the curves (latency vs throughput, and throughput vs "
                                                   "concurrency per USL fit) to FILE.html or FILE.png.")] = None,
    all_configs: Annotated[bool, typer.Option("--all", help="Also put configurations that could not be fitted in "
                                                            "the tables (they are always listed below them).")]
    = False,
    as_json: JsonOpt = False,
    rules: StepRulesArg = None,
) -> None:
    """Fit throughput (USL) and latency curves per configuration, with held-out error and intervals.

    Runs whose user labels (--label key=value at ingest or collect) differ are different configurations.
    Every configuration that could not be fitted is listed with the reason and its steps by flag."""
    from planner.capacity import CurveFit, unfitted_configurations
    from planner.scenarios.realtime import FitScenario, fit_configurations

    pct = percentile_arg(percentile)
    sla_ms = duration_ms_arg(sla, "--sla") if sla else None
    scenario = FitScenario(run_ids=tuple(run or ()), configs=tuple(config or ()), percentile=pct,
                           latency_target_ms=sla_ms, max_utilization=max_utilization)
    source = open_source(store)
    with progress("fitting", total=None):
        fitted = fit_configurations(source, scenario, rules)
    fits = [f.fit for f in fitted]
    shown = [f for f in fitted if all_configs or f.fit.fitted]
    unfitted = unfitted_configurations(fits)
    if plot:
        from planner.charts import fit_report_chart, save_chart

        save_chart(fit_report_chart([f.fit for f in shown], pct, sla_ms), plot)
    if as_json:
        emit_json({"percentile": f"p{pct:g}", "sla_ms": sla_ms, "max_utilization": max_utilization,
                    "configs": [f.to_dict() for f in shown], "unfitted": [u.to_dict() for u in unfitted]})
        return
    if not fits:
        out.print("No configurations: the selected runs have no steps.")
        return
    if len(unfitted) < len(fits):
        with_usl = [f.fit for f in shown if isinstance(f.fit, CurveFit) and f.fit.usl]
        if with_usl:
            out.print(_usl_table(with_usl))
        out.print(_latency_table(shown, sla))
    else:
        out.print(f"None of the {len(fits)} configurations could be fitted:")
    for u in unfitted:
        out.print(_unfitted_line(u))


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return "∞" if value == float("inf") else f"{value:.3g}"


def _with_ci(value: float, lower: float | None, upper: float | None) -> str:
    """``value [lower–upper]`` on two lines (the interval omitted when unknown)."""
    band = f"\n[{_num(lower)}–{_num(upper)}]" if lower is not None and upper is not None else ""
    return _num(value) + band


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _usl_table(fits) -> Table:
    """σ, κ, λ, N* and peak throughput with their intervals, residual standard error, held-out error."""
    interval = {f.usl.interval for f in fits}
    table = Table("configuration", "steps", "σ", "κ", "λ (rps)", "peak N* (users)", "peak (rps)",
                  "resid. SE (rps)", "held-out err", title="Throughput vs concurrency per instance (USL; "
                  f"intervals: {', '.join(sorted(interval))} {fits[0].usl.level:.0%})")
    for f in fits:
        u = f.usl
        table.add_row(f.config.label, f"{u.rows_used}", _with_ci(u.sigma, u.sigma_ci_lower, u.sigma_ci_upper),
                      _with_ci(u.kappa, u.kappa_ci_lower, u.kappa_ci_upper),
                      _with_ci(u.lambda_rps, u.lambda_ci_lower, u.lambda_ci_upper),
                      _with_ci(u.peak_concurrency, u.peak_concurrency_ci_lower, u.peak_concurrency_ci_upper),
                      _with_ci(u.peak_throughput_rps, u.peak_throughput_rps_ci_lower, u.peak_throughput_rps_ci_upper),
                      _num(u.residual_std_error_rps), _pct(u.heldout_error))
    return table


def _latency_table(fitted, sla: str | None) -> Table:
    """Latency model, its held-out error and the capacity at the SLA per configuration."""
    table = Table("configuration", "origin", "steps", "latency model", "held-out err",
                  f"capacity @ {sla or 'SLA'} (rps)", title=f"Latency vs throughput per instance: {len(fitted)} "
                  "configurations")
    from planner.capacity import CurveFit

    for f, capacity in ((x.fit, x.capacity) for x in fitted):
        if not isinstance(f, CurveFit):
            model, heldout = "IR point", "n/a"
        else:
            s = f.latency_summary
            model = f"{s.model} (c={s.servers}, S={s.service_time_ms:.0f} ms)" if s else "-"
            heldout = _heldout_text(f)
        table.add_row(f.config.label, f.origin, f"{f.n_steps_used}/{f.n_steps}", model, heldout,
                      _capacity_text(capacity))
    return table


def _unfitted_line(u) -> str:
    """One line: the configuration, its steps with the counts each excluding flag removed, the reason."""
    excluded = ", ".join(f"{flag} {n}" for flag, n in u.excluded_by_flag.items() if n)
    steps = f"{u.n_steps} step{'' if u.n_steps == 1 else 's'}"
    return (f"not fitted: {u.label} ({steps}{'; ' + excluded if excluded else ''}; runs "
            f"{', '.join(r[:8] for r in u.run_ids)}): {u.reason}")


def _capacity_text(c) -> str:
    if c is None:
        return "-"
    band = (f" [{c.capacity_rps_ci_lower:.0f}–{c.capacity_rps_ci_upper:.0f}]"
            if c.capacity_rps_ci_lower is not None and c.capacity_rps_ci_upper is not None else "")
    return (f"{c.capacity_rps:.1f}{band} ({c.binding})" if c.feasible else "infeasible") + (
        " extrapolated" if c.extrapolated else "")


def _heldout_text(fit) -> str:
    if fit.heldout_error is not None:
        return f"{fit.heldout_error:.0%}"
    raw = fit.latency_summary.heldout_error if fit.latency_summary else None
    return "∞ (saturates early)" if raw is not None and raw == float("inf") else "n/a"


@app.command()
@step_rule_options
@price_options
def recommend(
    target_tps: Annotated[str, typer.Option("--target-tps", help="Peak throughput to serve, e.g. 1000 or 1.5k.")],
    p99: Annotated[str | None, typer.Option("--p99", help="Latency target at p99, e.g. 200ms.")] = None,
    latency: Annotated[str | None, typer.Option("--latency", help="Latency target at --percentile.")] = None,
    percentile: Annotated[str, typer.Option(help="Percentile of --latency (p50..p99.9, or mean).")] = "p99",
    store: StoreOpt = None,
    max_utilization: Annotated[float, typer.Option(min=0.05, max=1.0, help="Utilisation cap per instance.")]
    = DEFAULT_MAX_UTILIZATION,
    ha: Annotated[bool, typer.Option("--ha", help="At least 2 instances, SLA kept with one lost.")] = False,
    routing: Annotated[str, typer.Option(help="least-outstanding (pooled) or random (independent queues).")]
    = "least-outstanding",
    top: Annotated[int, typer.Option(min=1, help="How many options to show (per model when the options serve "
                                                 "different models).")] = 5,
    confidence: Annotated[float, typer.Option(
        min=0.5, max=0.99, help="Size on this one-sided bootstrap quantile of the prediction: 0.9 (default) a "
                                "count whose predicted percentile meets the target in 90% of resampled fits; 0.5 "
                                "the estimate itself."
    )] = DEFAULT_CONFIDENCE,
    as_json: JsonOpt = False,
    rules: StepRulesArg = None,
    prices: PriceArgsArg = None,
) -> None:
    """Instance type and count for a target TPS and latency percentile, ranked by monthly cost (within each
    model when the measured configurations serve different models)."""
    from planner.recommend.realtime import ROUTINGS, rationale
    from planner.scenarios.realtime import RealtimeScenario, size_realtime

    if routing not in ROUTINGS:
        raise typer.BadParameter(f"expected one of {', '.join(ROUTINGS)}, found {routing!r}", param_hint="--routing")
    if (p99 is None) == (latency is None):
        raise typer.BadParameter("give exactly one of --p99 or --latency (with --percentile)", param_hint="--p99")
    pct: float | str = 99.0 if p99 is not None else ("mean" if percentile == "mean" else percentile_arg(percentile))
    option, text = ("--p99", p99) if p99 is not None else ("--latency", latency or "")
    target_ms = duration_ms_arg(text, option)
    tps = count_arg(target_tps, "--target-tps")
    catalog = prices.catalog()
    scenario = RealtimeScenario(target_tps=tps, latency_target_ms=target_ms, percentile=pct,
                                max_utilization=max_utilization, ha=ha, routing=routing, top=top,
                                confidence=confidence)
    source = open_source(store)
    with progress("fitting", total=None):
        rec = size_realtime(source, catalog, scenario, rules)
    if as_json:
        emit_json(rec.to_dict())
    else:
        _print_recommendation(rec)
    if not rec.feasible:
        if not as_json:
            err.print(rationale(rec))
        raise typer.Exit(1)


def _print_recommendation(rec) -> None:
    from planner.recommend.realtime import rationale

    title = (f"{rec.target_tps:g} TPS at {rec.percentile} ≤ {rec.latency_target_ms:g} ms "
             f"(≤ {rec.max_utilization:.0%} utilisation{', HA' if rec.ha else ''}, {rec.routing} routing"
             f"{f', sized at {rec.confidence:.0%} confidence' if rec.confidence > 0.5 else ''})")
    grouped = len(rec.models) > 1
    table = Table("#", *(["model"] if grouped else []), "instance", "count", f"{rec.percentile} ms [95% CI]",
                  "TPS/inst (cap)", "util", "$/hour", "$/month", "$/1M req", "held-out err", "data", title=title)
    for model, options in rec.by_model():
        for i, o in enumerate(options, 1):
            band = (f" [{o.predicted_latency_ci_lower_ms:.0f}–{o.predicted_latency_ci_upper_ms:.0f}]"
                    if o.predicted_latency_ci_lower_ms is not None and o.predicted_latency_ci_upper_ms is not None
                    else "")
            table.add_row(str(i), *([model or "not recorded"] if grouped else []), o.label, str(o.instance_count),
                          f"{o.predicted_latency_ms:.0f}{band}",
                          f"{o.load_tps_per_instance:.0f} ({o.capacity_tps_per_instance:.0f})",
                          f"{o.utilization:.0%}", f"{o.usd_per_hour:,.2f}", f"{o.usd_per_month:,.0f}",
                          f"{o.usd_per_million_requests:.3f}",
                          f"{o.heldout_error:.0%}" if o.heldout_error is not None else "n/a",
                          o.origin + (" (extrapolated)" if o.extrapolated else ""))
        if grouped:
            table.add_section()
    out.print(table)
    for note in rec.notes:
        out.print(f"Note: {note}.")
    out.print(rationale(rec))
    by_reason: dict[str, list[str]] = {}
    for r in rec.rejected:
        by_reason.setdefault(r.reason, []).append(r.label)
    for reason, labels in by_reason.items():
        out.print(f"  not an option: {', '.join(labels)}: {reason}", style="dim")
    out.print(f"Prices: {rec.price_catalog.text}; months of {rec.hours_per_month:g} h.", style="dim")

