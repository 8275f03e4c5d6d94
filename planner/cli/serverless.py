"""`planner serverless`: memory size, MaxConcurrency, provisioned concurrency and break-even for serverless."""

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
    bytes_arg,
    count_arg,
    duration_ms_arg,
    emit_result,
    open_source,
    out,
    price_options,
    progress,
    step_rule_options,
)
from planner.recommend import DEFAULT_MAX_UTILIZATION
from planner.variability import MEAN_ONLY_SERVICE_SCV


@app.command()
@step_rule_options
@price_options
def serverless(
    monthly_invocations: Annotated[str, typer.Option("--monthly-invocations", help="Invocations per month, e.g. 3M.")],
    peak_tps: Annotated[str, typer.Option("--peak-tps", help="Peak requests per second, e.g. 40.")],
    p99: Annotated[str, typer.Option("--p99", help="Latency target at p99, e.g. 300ms.")],
    store: StoreOpt = None,
    run: Annotated[list[str] | None, typer.Option("--run", help="Only these runs' latencies (repeatable).")] = None,
    strategy: Annotated[str, typer.Option(help="Memory choice among sizes meeting the SLA: cost, speed or balanced "
                                               "(as AWS Lambda Power Tuning).")] = "cost",
    balanced_weight: Annotated[float, typer.Option(min=0.0, max=1.0, help="balanced: weight of cost (0 = speed "
                                                                          "only, 1 = cost only).")] = 0.5,
    request_bytes: Annotated[str, typer.Option(help="Request payload per invocation, e.g. 40KB or 1KiB.")] = "0",
    response_bytes: Annotated[str, typer.Option(help="Response payload per invocation, e.g. 2KB.")] = "0",
    throttle_target: Annotated[float, typer.Option(min=1e-9, max=0.5, help="Largest acceptable share of requests "
                                                                           "throttled at the peak.")] = 0.001,
    spillover_target: Annotated[float, typer.Option(min=1e-9, max=0.5, help="Largest acceptable share of requests "
                                                                            "spilling past provisioned slots.")]
    = 0.01,
    latency_scv: Annotated[float, typer.Option(min=1e-4, max=4.0, help="Assumed latency Cs² where only the mean was "
                                                                       "measured (p99 estimated from it).")] = MEAN_ONLY_SERVICE_SCV,
    compare_instance: Annotated[str | None, typer.Option(help="Compare with this real-time instance type instead of "
                                                              "sizing one from the collection.")] = None,
    compare_count: Annotated[int, typer.Option(min=1, help="Instances of --compare-instance.")] = 1,
    max_utilization: Annotated[float, typer.Option(min=0.05, max=1.0, help="Utilisation cap of the real-time "
                                                                           "option sized from the collection.")]
    = DEFAULT_MAX_UTILIZATION,
    plot: Annotated[Path | None, typer.Option(help="Write monthly cost vs invocations to FILE.html or FILE.png.")]
    = None,
    as_json: JsonOpt = False,
    rules: StepRulesArg = None,
    prices: PriceArgsArg = None,
) -> None:
    """Serverless memory size, MaxConcurrency and provisioned concurrency for a traffic profile, with costs."""
    from planner.recommend.serverless import STRATEGIES, rationale
    from planner.scenarios.serverless import ServerlessScenario, size_serverless

    if strategy not in STRATEGIES:
        raise typer.BadParameter(f"expected one of {', '.join(STRATEGIES)}, found {strategy!r}",
                                 param_hint="--strategy")
    scenario = ServerlessScenario(
        monthly_invocations=count_arg(monthly_invocations, "--monthly-invocations"),
        peak_tps=count_arg(peak_tps, "--peak-tps"), latency_target_ms=duration_ms_arg(p99, "--p99"),
        strategy=strategy, balanced_weight=balanced_weight, request_bytes=bytes_arg(request_bytes, "--request-bytes"),
        response_bytes=bytes_arg(response_bytes, "--response-bytes"), throttle_target=throttle_target,
        spillover_target=spillover_target, latency_scv=latency_scv, max_utilization=max_utilization,
        compare_instance=compare_instance, compare_count=compare_count, run_ids=tuple(run or ()))
    catalog = prices.catalog()
    source = open_source(store)
    with progress("fitting", total=None):
        rec = size_serverless(source, catalog, scenario, rules)
    if plot:
        from planner.charts import save_chart, serverless_cost_chart

        save_chart(serverless_cost_chart(rec), plot)
    emit_result(rec, as_json, lambda: _print(rec, rationale(rec)), "infeasible: " + rationale(rec))


def _print(rec, text: str) -> None:
    title = (f"{rec.monthly_invocations:,.0f} invocations/month, {rec.peak_tps:g} TPS peak, p99 ≤ "
             f"{rec.latency_target_ms:g} ms (strategy {rec.strategy})")
    table = Table("memory MB", "mean ms", "p50 ms", "p99 ms", "p99 from", "$/invocation", "$/1M", "$/month",
                  "meets SLA", "Pareto", "data", title=title)
    for o in rec.memory_options:
        mark = " ◀" if o.memory_mb == rec.recommended_memory_mb else ""
        table.add_row(f"{o.memory_mb}{mark}", f"{o.latency_mean_ms:.0f}",
                      f"{o.latency_p50_ms:.0f}" if o.latency_p50_ms is not None else "-",
                      f"{o.latency_p99_ms:.0f}" + (f" [{o.latency_p99_ci_lower_ms:.0f}–{o.latency_p99_ci_upper_ms:.0f}]"
                                                   if o.latency_p99_ci_lower_ms is not None else ""),
                      "measured" if o.latency_percentiles_source == "measured" else "mean (est.)",
                      f"{o.usd_per_invocation:.3g}", f"{o.usd_per_million_invocations:.2f}", f"{o.usd_per_month:,.2f}",
                      "yes" if o.meets_sla else "no", "yes" if o.pareto else "", o.origin)
    out.print(table)
    sizing = Table("setting", "value", "probability at peak", "$/month", title=f"{rec.recommended_memory_mb} MB, "
                   f"offered load {rec.offered_load_erlang:.2f} erlang")
    sizing.add_row("MaxConcurrency", str(rec.max_concurrency), f"throttle {rec.throttle_probability:.2g}",
                   f"{rec.on_demand_cost.usd_per_month:,.2f} (on demand)")
    sizing.add_row("provisioned concurrency", str(rec.provisioned_concurrency),
                   f"spill-over {rec.spillover_probability:.2g}", f"{rec.provisioned_cost.usd_per_month:,.2f}")
    if rec.realtime_option:
        rt = rec.realtime_option
        even = rec.break_even_monthly_invocations
        sizing.add_row(f"real-time {rt.instance_type} × {rt.instance_count} ({rt.origin})", "", "",
                       f"{rt.usd_per_month:,.2f} (break-even "
                       + (f"{even:,.0f} invocations/month)" if even is not None else "n/a)"))
    out.print(sizing)
    out.print(text)
    for note in rec.notes:
        out.print(f"  note: {note}", style="dim")
    out.print(f"Prices: {rec.price_catalog.text}; months of {rec.hours_per_month:g} h.", style="dim")
