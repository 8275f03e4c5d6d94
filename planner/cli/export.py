"""`planner export costs`: the finance cost comparison as XLSX, CSV or parquet."""

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
    emit_json,
    open_source,
    out,
    price_options,
    progress,
    step_rule_options,
)
from planner.recommend import DEFAULT_MAX_UTILIZATION

export_app = typer.Typer(help="Export cost comparisons for finance (XLSX, CSV, parquet).", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("costs")
@step_rule_options
@price_options
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
    llm_input_tokens: Annotated[str | None, typer.Option(help="LLM section: mean input tokens per request (with "
                                                              "--llm-output-tokens; prices the collection's LLM "
                                                              "configurations).")] = None,
    llm_output_tokens: Annotated[str | None, typer.Option(help="LLM section: mean output tokens per request.")]
    = None,
    llm_target_rps: Annotated[str | None, typer.Option(help="LLM section: requests/s [default: --target-tps].")]
    = None,
    llm_ttft: Annotated[str | None, typer.Option(help="LLM section: time-to-first-token target, e.g. 500ms.")] = None,
    llm_itl: Annotated[str | None, typer.Option(help="LLM section: inter-token latency target, e.g. 50ms.")] = None,
    llm_e2e: Annotated[str | None, typer.Option(help="LLM section: end-to-end latency target, e.g. 60s.")] = None,
    llm_percentile: Annotated[str, typer.Option(help="LLM section: percentile of its targets (p50, p90, p95, p99).")]
    = "p99",
    store: StoreOpt = None,
    max_utilization: Annotated[float, typer.Option(min=0.05, max=1.0, help="Utilisation cap per instance.")]
    = DEFAULT_MAX_UTILIZATION,
    as_json: JsonOpt = False,
    rules: StepRulesArg = None,
    prices: PriceArgsArg = None,
) -> None:
    """Every deployment option side by side with monthly and annual cost, and an Assumptions sheet.

    Real-time fleets (without and with HA) come from the collection's fits; serverless on demand and
    with provisioned concurrency appear when the collection has serverless latencies per memory size;
    multi-model GPU endpoints with --models, when it has GPU memory series; LLM endpoints (an LLM
    sheet, $ per million tokens) with --llm-input-tokens and --llm-output-tokens, when it has LLM load levels.
    """
    from planner.export import Traffic, write_comparison
    from planner.ingest.traffic import parse_popularity
    from planner.scenarios.costs import CostScenario, compare_costs

    tps = count_arg(target_tps, "--target-tps")
    target_ms = duration_ms_arg(p99, "--p99")
    payload = (bytes_arg(request_bytes, "--request-bytes"), bytes_arg(response_bytes, "--response-bytes"))
    traffic = (Traffic(tps, count_arg(monthly_invocations, "--monthly-invocations"), *payload)
               if monthly_invocations else Traffic.at_peak_all_month(tps, *payload))
    catalog = prices.catalog()
    source = open_source(store)
    llm = _llm_scenario(llm_input_tokens, llm_output_tokens, llm_target_rps or target_tps,
                        {"ttft": llm_ttft, "itl": llm_itl, "e2e": llm_e2e}, llm_percentile)
    question = CostScenario(traffic=traffic, latency_target_ms=target_ms, max_utilization=max_utilization,
                            popularity=parse_popularity(popularity, models) if models else None, name=scenario,
                            llm=llm)
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
    if comparison.llm_lines:
        llm_table = Table("LLM option", "count×copies", "$/hour", "$/month", "$/M out tok", "$/M tok",
                          "e2e ms [band]", "data", title=f"LLM endpoints: {llm.requests_per_s:g} req/s, "
                          f"{llm.input_tokens:g}→{llm.output_tokens:g} tokens")
        for o in comparison.llm_lines:
            band = (f" [{o.predicted_e2e_lower_ms:,.0f}–{o.predicted_e2e_upper_ms:,.0f}]"
                    if o.predicted_e2e_lower_ms is not None and o.predicted_e2e_upper_ms is not None else "")
            llm_table.add_row(o.option, f"{o.instance_count} × {o.copies_per_instance}", f"{o.usd_per_hour:,.2f}",
                              f"{o.usd_per_month:,.0f}", f"{o.usd_per_million_output_tokens:,.2f}",
                              f"{o.usd_per_million_tokens:,.2f}",
                              "-" if o.predicted_e2e_ms is None else f"{o.predicted_e2e_ms:,.0f}{band}", o.origin)
        out.print(llm_table)
    for a in comparison.assumptions:
        if a.item.startswith("LLM") and (a.value == "not priced" or a.item.startswith("LLM not an option")):
            out.print(f"  {a.item}: {a.value} ({a.source})" if a.value == "not priced" else f"  {a.item}: {a.value}",
                      style="dim")
    out.print(f"Prices: {catalog.provenance()}; months of 730 h.", style="dim")


def _llm_scenario(input_tokens: str | None, output_tokens: str | None, target_rps: str, slos: dict[str, str | None],
                  percentile: str):
    """The LLM section's question (a :class:`planner.scenarios.llm.LlmScenario`), None without a token mix."""
    from planner.scenarios.llm import LLM_PERCENTILES, LlmScenario

    if (input_tokens is None) != (output_tokens is None):
        raise typer.BadParameter("give both --llm-input-tokens and --llm-output-tokens", param_hint="--llm-input-tokens")
    if input_tokens is None or output_tokens is None:
        return None
    if percentile not in LLM_PERCENTILES:
        raise typer.BadParameter(f"expected one of {', '.join(LLM_PERCENTILES)}, found {percentile!r}",
                                 param_hint="--llm-percentile")
    targets = {m: duration_ms_arg(v, f"--llm-{m}") if v else None for m, v in slos.items()}
    return LlmScenario(input_tokens=count_arg(input_tokens, "--llm-input-tokens"),
                       output_tokens=count_arg(output_tokens, "--llm-output-tokens"),
                       target_rps=count_arg(target_rps, "--llm-target-rps"), percentile=percentile,
                       ttft_ms=targets["ttft"], itl_ms=targets["itl"], e2e_ms=targets["e2e"])
