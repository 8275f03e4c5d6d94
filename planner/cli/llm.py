"""`planner llm fit` and `planner llm recommend`: LLM endpoints by tokens, TTFT, ITL and copies per instance."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from planner.cli.common import (
    JsonOpt,
    PriceArgsArg,
    StoreOpt,
    app,
    count_arg,
    duration_ms_arg,
    emit_json,
    emit_result,
    open_source,
    out,
    price_options,
    print_prices,
)

llm_app = typer.Typer(help="LLM endpoints: fit TTFT / ITL / e2e against concurrency, size and price per million "
                           "tokens.", no_args_is_help=True)
app.add_typer(llm_app, name="llm")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


@llm_app.command("fit")
def fit(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Fit TTFT, ITL and end-to-end latency against concurrency per LLM configuration, with the token mix
    measured and the leave-one-level-out error against a straight line and the max-throughput rule."""
    from planner.scenarios.llm import llm_fits

    summaries = [f.summary() for f in llm_fits(open_source(store))]
    if as_json:
        emit_json({"configs": [s.to_dict() for s in summaries if s.fitted],
                   "unfitted": [s.to_dict() for s in summaries if not s.fitted]})
        return
    if not summaries:
        out.print("No LLM load levels in the store (ingest LLM benchmark results first).")
        return
    table = Table("configuration", "levels", "c range", "tokens in→out", "e2e model (ms)", "held-out e2e",
                  "line", "max-rps rule", "held-out TTFT", title="LLM latency vs concurrency per instance "
                  "(e2e = a + b·c^γ; held-out: leave one level out, mean relative error)")
    for s in summaries:
        if not s.fitted:
            continue
        e2e = next((c for c in s.curves if c.metric == "e2e" and c.statistic == "mean"),
                   next(c for c in s.curves if c.metric == "e2e"))
        tokens = "→".join("?" if t is None else f"{t:.0f}" for t in (s.input_tokens_mean, s.output_tokens_mean))
        table.add_row(s.label, str(s.levels), f"{s.concurrency_min:.3g}–{s.concurrency_max:.3g}", tokens,
                      f"{e2e.statistic}: {e2e.intercept_ms:.0f} + {e2e.slope_ms:.3g}·c^{e2e.exponent:g}",
                      _pct(s.heldout_error), _pct(s.heldout_error_line), _pct(s.heldout_error_max_throughput),
                      _pct(s.ttft_heldout_error))
    out.print(table)
    for s in summaries:
        if not s.fitted:
            out.print(f"not fitted: {s.label} (runs {', '.join(r[:8] for r in s.run_ids)}): {s.reason}")
    for s in summaries:
        for v in s.mix_validations:
            out.print(f"another mix: {v.fitted} moved per token to {v.heldout} ({v.levels} level(s)): held-out e2e "
                      f"{v.statistic} error {_pct(v.e2e_heldout_error)} (unmoved {_pct(v.e2e_heldout_error_unmoved)})"
                      + (f", TTFT {v.ttft_statistic} {_pct(v.ttft_heldout_error)}" if v.ttft_statistic else ""))


@llm_app.command("recommend")
@price_options
def recommend(
    input_tokens: Annotated[str, typer.Option("--input-tokens", help="Mean input (prompt) tokens per request.")],
    output_tokens: Annotated[str, typer.Option("--output-tokens", help="Mean output tokens per request.")],
    target_rps: Annotated[str | None, typer.Option("--target-rps", help="Requests/s to serve, e.g. 2 or 1.5k.")]
    = None,
    target_output_tps: Annotated[str | None, typer.Option(
        "--target-output-tps", help="Output tokens/s to serve instead of --target-rps.")] = None,
    ttft_p99: Annotated[str | None, typer.Option("--ttft-p99", help="Time to first token target, e.g. 500ms "
                                                                    "(at --percentile).")] = None,
    itl_p99: Annotated[str | None, typer.Option("--itl-p99", help="Inter-token latency target, e.g. 50ms "
                                                                  "(at --percentile).")] = None,
    e2e_p99: Annotated[str | None, typer.Option("--e2e-p99", help="End-to-end latency target, e.g. 60s "
                                                                  "(at --percentile).")] = None,
    percentile: Annotated[str, typer.Option(help="Percentile the SLOs apply at: p50, p90, p95 or p99.")] = "p99",
    ha: Annotated[bool, typer.Option("--ha", help="One instance more than the load needs (at least 2).")] = False,
    extrapolate: Annotated[bool, typer.Option("--extrapolate", help="Allow up to 2× the highest measured "
                                                                    "concurrency (flagged).")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    prices: PriceArgsArg = None,
) -> None:
    """Instance type, count and copies per instance for a target load and token mix under TTFT / ITL / e2e
    SLOs, cheapest first, with $/hour, $/month and $ per million output (and total) tokens."""
    from planner.scenarios.llm import LLM_PERCENTILES, LlmScenario, size_llm

    if percentile not in LLM_PERCENTILES:
        raise typer.BadParameter(f"expected one of {', '.join(LLM_PERCENTILES)}, found {percentile!r}",
                                 param_hint="--percentile")
    if (target_rps is None) == (target_output_tps is None):
        raise typer.BadParameter("give exactly one of --target-rps or --target-output-tps", param_hint="--target-rps")
    slos = {f"{m}_ms": duration_ms_arg(v, f"--{m}-p99") if v is not None else None
            for m, v in (("ttft", ttft_p99), ("itl", itl_p99), ("e2e", e2e_p99))}
    scenario = LlmScenario(
        input_tokens=count_arg(input_tokens, "--input-tokens"), output_tokens=count_arg(output_tokens, "--output-tokens"),
        target_rps=count_arg(target_rps, "--target-rps") if target_rps is not None else None,
        target_output_tokens_per_s=(count_arg(target_output_tps, "--target-output-tps")
                                    if target_output_tps is not None else None),
        percentile=percentile, ha=ha, extrapolate=extrapolate, **slos)
    rec = size_llm(open_source(store), prices.catalog(), scenario)
    emit_result(rec, as_json, lambda: _print(rec), "No configuration meets the target: see the reasons above.")


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _print(rec) -> None:
    from planner.recommend.llm import BAND

    slo = ", ".join(f"{s.metric} ≤ {s.target_ms:g} ms" for s in rec.slos) or "no SLO"
    title = (f"{rec.target_rps:g} req/s ({rec.target_output_tokens_per_s:,.0f} output tok/s), {rec.input_tokens:g}→"
             f"{rec.output_tokens:g} tokens, {slo} at {rec.percentile}{', HA' if rec.ha else ''}")
    table = Table("#", "configuration", "count×copies", "conc/inst", "req/s/inst", "out tok/s/inst",
                  f"{rec.percentile} ms [band]", "$/hour", "$/month", "$/M out tok", "$/M tok", "held-out",
                  "data", title=title)
    for i, o in enumerate(rec.options, 1):
        latency = "\n".join(f"{m} {_ms(v)}" + (f"\n[{_ms(lo)}–{_ms(hi)}]" if lo is not None and hi is not None else "")
                            for m, v, lo, hi in (
                                ("TTFT", o.predicted_ttft_ms, o.predicted_ttft_lower_ms, o.predicted_ttft_upper_ms),
                                ("ITL", o.predicted_itl_ms, o.predicted_itl_lower_ms, o.predicted_itl_upper_ms),
                                ("e2e", o.predicted_e2e_ms, o.predicted_e2e_lower_ms, o.predicted_e2e_upper_ms))
                            if v is not None) or "n/a"
        table.add_row(str(i), o.label, f"{o.instance_count} × {o.copies_per_instance}",
                      f"{o.concurrency_per_instance:g}", f"{o.requests_per_s_per_instance:.3g}",
                      f"{o.output_tokens_per_s_per_instance:,.0f}", latency, f"{o.usd_per_hour:,.2f}",
                      f"{o.usd_per_month:,.0f}", f"{o.usd_per_million_output_tokens:,.2f}",
                      f"{o.usd_per_million_tokens:,.2f}", _pct(o.heldout_error),
                      o.origin + ("*" if o.extrapolated else ""))
    out.print(table)
    if any(o.extrapolated for o in rec.options):
        out.print("* extrapolated (beyond the measured concurrency or token mix): see the notes", style="dim")
    by_note: dict[str, list[str]] = {}
    for o in rec.options:
        for note in o.notes:
            by_note.setdefault(note, []).append(o.label)
    for note, labels in by_note.items():
        who = "all options" if len(labels) == len(rec.options) > 1 else ", ".join(labels)
        out.print(f"  {who}: {note}", style="dim")
    for note in rec.notes:
        out.print(f"Note: {note}.")
    if rec.options:
        out.print(f"[band]: {BAND}.", style="dim")
    by_reason: dict[str, list[str]] = {}
    for r in rec.rejected:
        by_reason.setdefault(r.reason, []).append(r.label)
    for reason, labels in by_reason.items():
        out.print(f"  not an option: {', '.join(labels)}: {reason}", style="dim")
    print_prices(rec)
