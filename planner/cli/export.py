"""`planner export costs`: the finance cost comparison as XLSX, CSV or parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from planner.cli.common import (
    DiscountOpt,
    JsonOpt,
    PriceFileOpt,
    RegionOpt,
    StepRulesArg,
    StoreOpt,
    app,
    bytes_arg,
    count_arg,
    duration_ms_arg,
    emit_json,
    open_source,
    out,
    progress,
    step_rule_options,
)
from planner.recommend import DEFAULT_MAX_UTILIZATION

export_app = typer.Typer(help="Export cost comparisons for finance (XLSX, CSV, parquet).", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("costs")
@step_rule_options
def export_costs(
    target_tps: Annotated[str, typer.Option("--target-tps", help="Peak throughput to serve, e.g. 1000 or 1.5k.")],
    p99: Annotated[str, typer.Option("--p99", help="Latency target at p99, e.g. 200ms.")],
    out_file: Annotated[Path, typer.Option("--out", help="File to write (.xlsx, .csv or .parquet).")],
    fmt: Annotated[str | None, typer.Option("--format", help="xlsx | csv | parquet [default: from --out].")] = None,
    monthly_invocations: Annotated[str | None, typer.Option(help="Requests per month, e.g. 3M [default: the peak "
                                                                 "every second of the month, an upper bound].")]
    = None,
    request_bytes: Annotated[str, typer.Option(help="Request payload per invocation, e.g. 40KB or 1KiB.")] = "0",
    response_bytes: Annotated[str, typer.Option(help="Response payload per invocation, e.g. 2KB.")] = "0",
    models: Annotated[int | None, typer.Option(min=1, help="Also price hosting this many models on one multi-model "
                                                           "GPU endpoint (needs GPU memory series).")] = None,
    popularity: Annotated[str, typer.Option(help="With --models: uniform, zipf:S or a model,requests CSV.")]
    = "uniform",
    plot: Annotated[Path | None, typer.Option(help="Also draw the options' monthly cost to FILE.html or FILE.png.")]
    = None,
    scenario: Annotated[str | None, typer.Option(help="A name for this scenario (shown on the Assumptions sheet).")]
    = None,
    store: StoreOpt = None,
    region: RegionOpt = "us-east-1",
    price_file: PriceFileOpt = None,
    discount: DiscountOpt = 0.0,
    max_utilization: Annotated[float, typer.Option(min=0.05, max=1.0, help="Utilisation cap per instance.")]
    = DEFAULT_MAX_UTILIZATION,
    as_json: JsonOpt = False,
    rules: StepRulesArg = None,
) -> None:
    """Every deployment option side by side with monthly and annual cost, and an Assumptions sheet.

    Real-time fleets (without and with HA) come from the collection's fits; serverless on demand and
    with provisioned concurrency appear when the collection has serverless latencies per memory size;
    multi-model GPU endpoints with --models, when it has GPU memory series.
    """
    from planner.catalog import load_catalog
    from planner.export import Traffic, write_comparison
    from planner.ingest.traffic import parse_popularity
    from planner.scenarios.costs import CostScenario, compare_costs

    tps = count_arg(target_tps, "--target-tps")
    target_ms = duration_ms_arg(p99, "--p99")
    payload = (bytes_arg(request_bytes, "--request-bytes"), bytes_arg(response_bytes, "--response-bytes"))
    traffic = (Traffic(tps, count_arg(monthly_invocations, "--monthly-invocations"), *payload)
               if monthly_invocations else Traffic.at_peak_all_month(tps, *payload))
    catalog = load_catalog(region, price_file=price_file, discount=discount)
    source = open_source(store)
    question = CostScenario(traffic=traffic, latency_target_ms=target_ms, max_utilization=max_utilization,
                            popularity=parse_popularity(popularity, models) if models else None, name=scenario)
    with progress("fitting", total=None):
        comparison = compare_costs(source, catalog, question, rules)
    path = write_comparison(comparison, out_file, fmt)
    if plot:
        from planner.charts import comparison_chart, save_chart

        save_chart(comparison_chart(comparison.to_dict()["options"]), plot)
    if as_json:
        emit_json({"path": str(path), **comparison.to_dict()})
        return
    table = Table("option", "deployment", "compute $/mo", "provisioned $/mo", "data $/mo", "total $/mo",
                  "total $/yr", "$/1M req", "p99 ms", "SLA met", "data", title=f"wrote {path}")
    for line in comparison.lines:
        table.add_row(line.option, line.deployment, f"{line.compute_usd_per_month:,.0f}",
                      f"{line.provisioned_concurrency_usd_per_month:,.0f}",
                      f"{line.data_processing_usd_per_month:,.2f}", f"{line.usd_per_month:,.0f}",
                      f"{line.usd_per_year:,.0f}", f"{line.usd_per_million_requests:.3f}",
                      f"{line.predicted_latency_ms:.0f}" if line.predicted_latency_ms is not None else "-",
                      "yes" if line.sla_met else "no", line.origin)
    out.print(table)
    for line in comparison.lines:
        if line.notes:
            out.print(f"  {line.option}: {line.notes}", style="dim")
    out.print(f"Prices: {catalog.provenance()}; months of 730 h.", style="dim")
