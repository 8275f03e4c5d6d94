"""`planner mme`: multi-model endpoint (GPU) density, cache hit ratio, cold loads, instances and cost."""

from __future__ import annotations

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
    open_source,
    out,
    price_options,
    print_prices,
    progress,
    step_rule_options,
)
from planner.recommend import DEFAULT_MAX_UTILIZATION


@app.command()
@step_rule_options
@price_options
def mme(
    target_tps: Annotated[str | None, typer.Option("--target-tps", help="Peak throughput over all models, e.g. 500 "
                                                   "or 1.5k (without it: models per instance only).")] = None,
    models: Annotated[int | None, typer.Option(min=1, help="How many models the endpoint hosts (M).")] = None,
    popularity: Annotated[str, typer.Option(help="Traffic skew over the models: zipf:S (e.g. zipf:1.1), uniform, or "
                                            "a CSV file of measured per-model traffic (model,requests).")] = "uniform",
    tps_per_instance: Annotated[str | None, typer.Option("--tps-per-instance", help="Per-instance capacity to use "
                                                         "instead of the fitted configuration's.")] = None,
    p99: Annotated[str | None, typer.Option("--p99", help="p99 target for the fitted per-instance capacity, e.g. "
                                            "800ms (default: the utilisation cap alone).")] = None,
    memory_threshold: Annotated[float, typer.Option(min=0.05, max=1.0, help="GPU memory fraction models may fill.")]
    = 0.9,
    max_miss_ratio: Annotated[float, typer.Option(min=0.0, max=1.0, help="Largest share of requests that may wait "
                                                  "for a cold load (0.01 keeps cold loads out of the p99; 0: every "
                                                  "model resident).")] = 0.01,
    max_utilization: Annotated[float, typer.Option(min=0.05, max=1.0, help="Utilisation cap per instance.")]
    = DEFAULT_MAX_UTILIZATION,
    cold_load: Annotated[str | None, typer.Option("--cold-load-ms", help="Time a request waits for its model to "
                                                  "load, e.g. 2500 or 2.5s (default: the measured "
                                                  "ModelLoadingWaitTime, when a run carries it).")] = None,
    run: Annotated[list[str] | None, typer.Option("--run", help="Only these GPU memory series runs (repeatable).")]
    = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    rules: StepRulesArg = None,
    prices: PriceArgsArg = None,
) -> None:
    """Models per GPU instance, cache hit ratio, cold-load p99, instances and cost for M models (without
    --target-tps: models per instance only)."""
    from planner.ingest.traffic import parse_popularity
    from planner.scenarios.multi_model import MultiModelScenario, size_multi_model

    if target_tps is None:
        _density_only(store, run, memory_threshold, prices.catalog(), as_json)
        return
    scenario = MultiModelScenario(
        target_tps=count_arg(target_tps, "--target-tps"), popularity=parse_popularity(popularity, models),
        tps_per_instance=count_arg(tps_per_instance, "--tps-per-instance") if tps_per_instance else None,
        latency_target_ms=duration_ms_arg(p99, "--p99") if p99 else None, max_utilization=max_utilization,
        memory_threshold=memory_threshold, max_miss_ratio=max_miss_ratio,
        cold_load_ms=duration_ms_arg(cold_load, "--cold-load-ms") if cold_load else None, run_ids=tuple(run or ()))
    source = open_source(store)
    with progress("fitting", total=None):
        rec = size_multi_model(source, prices.catalog(), scenario, rules)
    if as_json:
        emit_json(rec.to_dict())
    else:
        _print(rec)


def _density_only(store: str | None, run: list[str] | None, memory_threshold: float, catalog, as_json: bool) -> None:
    from planner.scenarios.multi_model import multi_model_density

    rows, rejected = multi_model_density(open_source(store), catalog, memory_threshold, tuple(run or ()))
    if as_json:
        emit_json({"memory_threshold": memory_threshold, "densities": [d.to_dict() for d in rows],
                   "rejected": [{"label": label, "reason": why} for label, why in rejected]})
        return
    table = Table("variant", "data", "GPU %/model", "MiB/model", f"models @ {memory_threshold:.0%}", "loaded",
                  "reported", title="Models per instance (95% CI; no traffic given: no sizing)")
    for d in rows:
        m = d.memory
        table.add_row(d.label, d.origin,
                      _band(m.slope_pct_per_model, m.slope_pct_per_model_ci_lower, m.slope_pct_per_model_ci_upper,
                            ".3f"),
                      _band(m.gpu_memory_per_model_mb, m.gpu_memory_per_model_mb_ci_lower,
                            m.gpu_memory_per_model_mb_ci_upper, ".0f"),
                      _band(d.max_models_per_instance, d.max_models_per_instance_ci_lower,
                            d.max_models_per_instance_ci_upper, "d") + (" extrapolated" if d.extrapolated else ""),
                      str(d.max_models_loaded), str(d.max_models_reported) if d.max_models_reported else "-")
    out.print(table)
    for label, reason in rejected:
        out.print(f"  not an option: {label}: {reason}", style="dim")


def _band(value, low, high, fmt: str) -> str:
    if value is None:
        return "-"
    return format(value, fmt) + (f" [{format(low, fmt)}–{format(high, fmt)}]" if low is not None else "")


def _print(rec) -> None:
    from planner.recommend.mme import rationale

    memory = Table("variant", "data", "points", "GPU %/model", "MiB/model", "baseline %",
                   f"models @ {rec.memory_threshold:.0%}", "reported", title="GPU memory vs models loaded (95% CI)")
    sizing = Table("variant", "TPS/inst", "inst (memory)", "inst (TPS)", "instances", "hit ratio (no affinity)",
                   "p99 (warm + cold load)", "$/month",
                   title=f"{rec.models} models ({rec.popularity}) at {rec.target_tps:g} TPS")
    for v in rec.variants:
        m = v.memory
        memory.add_row(v.label, v.origin, f"{m.n_points} (+{m.n_points_excluded} out)",
                       _band(m.slope_pct_per_model, m.slope_pct_per_model_ci_lower, m.slope_pct_per_model_ci_upper,
                             ".3f"),
                       _band(m.gpu_memory_per_model_mb, m.gpu_memory_per_model_mb_ci_lower,
                             m.gpu_memory_per_model_mb_ci_upper, ".0f"),
                       _band(m.baseline_pct, m.baseline_pct_ci_lower, m.baseline_pct_ci_upper, ".2f"),
                       _band(v.max_models_per_instance, v.max_models_per_instance_ci_lower,
                             v.max_models_per_instance_ci_upper, "d"),
                       str(v.max_models_reported) if v.max_models_reported is not None else "-")
        warm = "n/a" if v.latency_p99_warm_ms is None else f"{v.latency_p99_warm_ms:.0f}"
        cold = "" if not v.cold_load_in_p99 else (f" + {v.cold_load_ms:.0f} cold" if v.cold_load_ms is not None
                                                  else " + ? cold (unknown)")
        p99 = f"{warm}{cold} ms" if v.latency_p99_ms is None or not v.cold_load_in_p99 else \
            f"{warm}{cold} = {v.latency_p99_ms:.0f} ms"
        label = v.label + (" (extrapolated)" if v.extrapolated else "")
        sizing.add_row(label, f"{v.tps_per_instance:.1f} ({v.throughput_origin})", str(v.instances_for_memory),
                       str(v.instances_for_throughput), str(v.instances),
                       f"{v.hit_ratio:.1%} ({v.hit_ratio_no_affinity:.1%})", p99, f"{v.usd_per_month:,.0f}")
    out.print(memory)
    out.print(sizing)
    out.print(rationale(rec))
    for label, reason in rec.rejected:
        out.print(f"  not an option: {label}: {reason}", style="dim")
    for note in rec.to_dict()["notes"]:
        out.print(f"  note: {note}", style="dim")
    print_prices(rec)
