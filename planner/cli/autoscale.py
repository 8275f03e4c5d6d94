"""`planner autoscale`: simulate a SageMaker target-tracking policy over a traffic profile and recommend one."""

from __future__ import annotations

import json
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
    price_options,
    progress,
    step_rule_options,
)
from planner.cli.llm import llm_app
from planner.recommend import DEFAULT_MAX_UTILIZATION

_DIURNAL_KEYS = ("peak", "trough", "period", "duration", "noise", "seed")
_TRAFFIC_HELP = ("FILE (CSV with header minute,tps or timestamp,invocations), run:RUN_ID (the ingested CloudWatch "
                 "Invocations series of a run in --store) or diurnal:peak=1000,trough=100,period=24h"
                 "[,duration=7d,noise=0.1,seed=1] (a sinusoid starting at the trough; duration defaults to one "
                 "period).")


# the simulated behaviour (planner.recommend.autoscale.ScalingBehaviour), shared by both autoscale commands
StartupOpt = Annotated[float, typer.Option(min=0, help="Seconds from a scale-out to the new capacity serving.")]
ScaleInCooldownOpt = Annotated[int, typer.Option(min=0, help="ScaleInCooldown, seconds.")]
ScaleOutCooldownOpt = Annotated[int, typer.Option(min=0, help="ScaleOutCooldown, seconds.")]
ScaleOutMinutesOpt = Annotated[int, typer.Option(
    min=1, help="Consecutive minutes above the target before a scale-out (AWS: 3).")]
ScaleInMinutesOpt = Annotated[int, typer.Option(min=1, help="Consecutive low minutes before a scale-in (observed: 15).")]
ScaleInRatioOpt = Annotated[float, typer.Option(
    min=0.01, max=1.0, help="A minute is low below this × target (observed: 0.9).")]
DisableScaleInOpt = Annotated[bool, typer.Option("--disable-scale-in", help="Policy never scales in.")]
MetricDelayOpt = Annotated[int, typer.Option(
    min=0, help="Minutes before a CloudWatch datapoint reaches the alarms (observed: about 1–2).")]


def _minutes_arg(text: str, key: str) -> float:
    """``24h``, ``90min``, ``7d`` -> minutes."""
    text = text.strip()
    if text.endswith("d") and text[:-1].replace(".", "", 1).isdigit():
        return float(text[:-1]) * 1440.0
    return duration_ms_arg(text, f"--traffic diurnal {key}") / 60_000.0


def _diurnal(spec: str):
    from planner.traffic import diurnal_traffic

    fields: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in _DIURNAL_KEYS:
            raise typer.BadParameter(f"expected key=value with key in {', '.join(_DIURNAL_KEYS)}, found {item!r}",
                                     param_hint="--traffic")
        fields[key.strip()] = value.strip()
    missing = [k for k in ("peak", "trough", "period") if k not in fields]
    if missing:
        raise typer.BadParameter(f"diurnal: needs {', '.join(missing)} (e.g. diurnal:peak=1000,trough=100,period=24h)",
                                 param_hint="--traffic")
    peak, trough = count_arg(fields["peak"], "--traffic diurnal peak"), count_arg(fields["trough"], "--traffic "
                                                                                  "diurnal trough")
    if trough > peak:
        raise typer.BadParameter(f"diurnal: trough {trough:g} is above peak {peak:g}", param_hint="--traffic")
    try:
        noise, seed = float(fields.get("noise", 0)), int(fields.get("seed", 0))
    except ValueError:
        raise typer.BadParameter(f"diurnal: noise must be a number and seed an integer, found "
                                 f"{fields.get('noise')!r}, {fields.get('seed')!r}", param_hint="--traffic") from None
    if noise < 0:
        raise typer.BadParameter(f"diurnal: noise must be >= 0, found {noise:g}", param_hint="--traffic")
    period = _minutes_arg(fields["period"], "period")
    duration = round(_minutes_arg(fields["duration"], "duration")) if "duration" in fields else None
    if period < 1 or (duration is not None and duration < 1):
        raise typer.BadParameter("diurnal: period and duration must be at least 1 minute", param_hint="--traffic")
    return diurnal_traffic(peak, trough, period, duration, noise=noise, seed=seed)


def _traffic(spec: str, source):
    """The traffic profile named by ``--traffic`` (``run:`` runs from ``source``, a RunSource)."""
    from planner.ingest.traffic import traffic_from_csv
    from planner.scenarios.autoscaling import run_traffic

    if spec.startswith("diurnal:"):
        return _diurnal(spec.removeprefix("diurnal:"))
    if spec.startswith("run:"):
        return run_traffic(source, spec.removeprefix("run:").strip())
    path = Path(spec)
    if not path.is_file():
        raise typer.BadParameter(f"expected a CSV file, run:RUN_ID or diurnal:..., found {spec!r}",
                                 param_hint="--traffic")
    return traffic_from_csv(path)


def _target_tps(text: str) -> float | None:
    return None if text.strip().lower() == "auto" else count_arg(text, "--target-tps-per-instance")


@app.command()
@step_rule_options
@price_options
def autoscale(
    traffic: Annotated[str, typer.Option("--traffic", help=_TRAFFIC_HELP)],
    target_tps_per_instance: Annotated[str, typer.Option(
        help="Max TPS per instance the target is derived from: 'auto' (the fitted model's capacity at the SLA) "
             "or a number.")] = "auto",
    p99: Annotated[str, typer.Option("--p99", help="Latency target at p99, e.g. 200ms.")] = "200ms",
    instance_type: Annotated[str | None, typer.Option(
        help="Instance type (default: the cheapest feasible at the profile's peak).")] = None,
    min_capacity: Annotated[int | None, typer.Option(
        min=1, help="Minimum instances (default: the policy's count at the trough).")] = None,
    max_capacity: Annotated[int | None, typer.Option(
        min=1, help="Maximum instances (default: the best of a few tried, from the static count at the peak "
                    "to the policy's count at the peak).")] = None,
    safety_factor: Annotated[float, typer.Option(
        min=0.01, max=1.0, help="Target = max TPS per instance × this × 60 (AWS advises starting at 0.5).")] = 0.5,
    startup_s: StartupOpt = 300.0,
    scale_in_cooldown_s: ScaleInCooldownOpt = 300,
    scale_out_cooldown_s: ScaleOutCooldownOpt = 300,
    scale_out_minutes: ScaleOutMinutesOpt = 3,
    scale_in_minutes: ScaleInMinutesOpt = 15,
    scale_in_ratio: ScaleInRatioOpt = 0.9,
    disable_scale_in: DisableScaleInOpt = False,
    metric_delay_minutes: MetricDelayOpt = 2,
    max_utilization: Annotated[float, typer.Option(
        min=0.05, max=1.0, help="Utilisation cap of the capacity at the SLA (as in `planner recommend`).")]
    = DEFAULT_MAX_UTILIZATION,
    store: StoreOpt = None,
    run: Annotated[list[str] | None, typer.Option("--run", help="Fit only these runs (repeatable).")] = None,
    export_policy: Annotated[Path | None, typer.Option(
        help="Write the TargetTrackingScalingPolicyConfiguration JSON (for put-scaling-policy) to this file.")]
    = None,
    endpoint_name: Annotated[str, typer.Option(help="Endpoint named in the Apply commands.")] = "ENDPOINT_NAME",
    variant_name: Annotated[str, typer.Option(help="Production variant named in the Apply commands.")] = "AllTraffic",
    policy_name: Annotated[str, typer.Option(help="Scaling policy name in the Apply commands.")]
    = "planner-target-tracking",
    plot: Annotated[Path | None, typer.Option(help="Write the timeline chart to FILE.html or FILE.png.")] = None,
    as_json: JsonOpt = False,
    rules: StepRulesArg = None,
    prices: PriceArgsArg = None,
) -> None:
    """Simulate target tracking on InvocationsPerInstance over a traffic profile: SLA-breach minutes, cost
    against static provisioning at the peak, and the recommended policy."""
    from planner.recommend.autoscale import apply_commands
    from planner.scenarios.autoscaling import AutoscaleScenario, plan_autoscale

    if min_capacity is not None and max_capacity is not None and min_capacity > max_capacity:
        raise typer.BadParameter(f"--min-capacity {min_capacity} is above --max-capacity {max_capacity}",
                                 param_hint="--min-capacity")
    scenario = AutoscaleScenario(
        latency_target_ms=duration_ms_arg(p99, "--p99"), target_tps_per_instance=_target_tps(target_tps_per_instance),
        instance_type=instance_type, min_capacity=min_capacity, max_capacity=max_capacity,
        safety_factor=safety_factor, max_utilization=max_utilization, startup_s=startup_s,
        scale_in_cooldown_s=scale_in_cooldown_s, scale_out_cooldown_s=scale_out_cooldown_s,
        scale_out_minutes=scale_out_minutes, scale_in_minutes=scale_in_minutes, scale_in_ratio=scale_in_ratio,
        disable_scale_in=disable_scale_in, metric_delay_minutes=metric_delay_minutes, run_ids=tuple(run or ()))
    source = open_source(store) if traffic.startswith("run:") else None  # else after a traffic file's errors
    profile = _traffic(traffic, source)
    catalog = prices.catalog()
    with progress("fitting", total=None):
        plan = plan_autoscale(source or open_source(store), catalog, profile, scenario, rules)
    commands = apply_commands(plan.policy, endpoint_name, variant_name, policy_name, export_policy)
    if export_policy:
        export_policy.write_text(json.dumps(plan.policy.scaling_policy_configuration(), indent=2) + "\n")
        err.print(f"policy written to {export_policy}", style="dim")
    if plot:
        from planner.charts import autoscale_chart, save_chart

        save_chart(autoscale_chart(plan), plot)
    if as_json:
        emit_json({**plan.to_dict(), "apply_commands": list(commands)})
    else:
        _print_plan(plan, commands)


def _worst(outcome) -> str:
    if outcome.max_latency_ms is None:
        return f"overloaded for {outcome.overloaded_minutes} min"
    return f"{outcome.max_latency_ms:.0f}"


def _print_plan(plan, commands: tuple[str, str]) -> None:
    from planner.recommend.autoscale import simulation_differences

    p, auto, static = plan.policy, plan.autoscaled, plan.static
    hours = plan.traffic.minutes / 60
    table = Table("", "instances", "instance-hours", f"$ over {hours:g} h", "$/month", "SLA-breach minutes",
                  "overloaded minutes", f"worst {plan.percentile} ms",
                  title=f"{plan.label}: {plan.percentile} ≤ {plan.latency_target_ms:g} ms over {plan.traffic.source}")
    for o in (auto, static):
        table.add_row(o.name, f"{o.min_instances}–{o.max_instances}", f"{o.instance_hours:,.1f}", f"{o.usd:,.2f}",
                      f"{o.usd_per_month:,.0f}", str(o.breach_minutes), str(o.overloaded_minutes), _worst(o))
    out.print(table)
    saving = plan.savings_usd / static.usd if static.usd else 0.0
    out.print(f"Savings against static provisioning at the peak: ${plan.savings_usd:,.2f} ({saving:.0%}); "
              f"{auto.breach_minutes} SLA-breach minutes autoscaled ({auto.scale_out_events} scale-outs, "
              f"{auto.scale_in_events} scale-ins).")
    out.print(f"Policy: TargetValue {p.target_invocations_per_instance_per_minute:,.0f} invocations per instance per "
              f"minute; min {p.min_capacity}, max {p.max_capacity}; cooldowns in {p.scale_in_cooldown_s} s / out "
              f"{p.scale_out_cooldown_s} s; start-up {p.startup_s:g} s; metric delay {p.metric_delay_minutes} min.")
    out.print(f"  {plan.target_value_derivation}.")
    m = plan.model
    err_text = f"{m['heldout_error']:.0%}" if m["heldout_error"] is not None else "n/a"
    out.print(f"Model: {m['latency_model']} fit of {m['label']} ({m['origin']}), held-out error {err_text}"
              + (", extrapolated beyond the measured load" if m["extrapolated"] else "") + ".", style="dim")
    out.print(f"Prices: {plan.price_catalog.text}.", style="dim")
    for note in plan.notes:
        out.print(f"  {note}", style="dim")
    out.print("Differs from AWS:", style="dim")
    for difference in simulation_differences(p):
        out.print(f"  {difference}", style="dim")
    out.print(f"Apply: {commands[0]}")
    out.print(f"       {commands[1]}")


@llm_app.command("autoscale")
@price_options
def llm_autoscale(
    traffic: Annotated[str, typer.Option("--traffic", help=_TRAFFIC_HELP + " Load in requests/s.")],
    input_tokens: Annotated[str, typer.Option("--input-tokens", help="Mean input (prompt) tokens per request.")],
    output_tokens: Annotated[str, typer.Option("--output-tokens", help="Mean output tokens per request.")],
    ttft_p99: Annotated[str | None, typer.Option("--ttft-p99", help="Time to first token target (at --percentile).")]
    = None,
    itl_p99: Annotated[str | None, typer.Option("--itl-p99", help="Inter-token latency target (at --percentile).")]
    = None,
    e2e_p99: Annotated[str | None, typer.Option("--e2e-p99", help="End-to-end latency target (at --percentile).")]
    = None,
    percentile: Annotated[str, typer.Option(help="Percentile the SLOs apply at: p50, p90, p95 or p99.")] = "p99",
    configuration: Annotated[str | None, typer.Option(
        help="Configuration label or instance type (default: the cheapest meeting the SLOs at the peak).")] = None,
    target_concurrency: Annotated[str, typer.Option(
        help="TargetValue in concurrent requests per copy: 'auto' (the highest concurrency per copy meeting every "
             "SLO × --safety-factor) or a number.")] = "auto",
    safety_factor: Annotated[float, typer.Option(
        min=0.01, max=1.0, help="Target = concurrency per copy at the SLOs × this.")] = 0.5,
    min_copies: Annotated[int | None, typer.Option(
        min=1, help="Minimum copies (default: the policy's copies at the trough).")] = None,
    max_copies: Annotated[int | None, typer.Option(
        min=1, help="Maximum copies (default: the policy's copies at the peak, at least the static count).")] = None,
    startup_s: StartupOpt = 300.0,
    scale_in_cooldown_s: ScaleInCooldownOpt = 300,
    scale_out_cooldown_s: ScaleOutCooldownOpt = 300,
    scale_out_minutes: ScaleOutMinutesOpt = 3,
    scale_in_minutes: ScaleInMinutesOpt = 15,
    scale_in_ratio: ScaleInRatioOpt = 0.9,
    disable_scale_in: DisableScaleInOpt = False,
    metric_delay_minutes: MetricDelayOpt = 2,
    extrapolate: Annotated[bool, typer.Option("--extrapolate", help="Model up to 2× the highest measured "
                                                                    "concurrency (flagged).")] = False,
    store: StoreOpt = None,
    export_policy: Annotated[Path | None, typer.Option(
        help="Write the TargetTrackingScalingPolicyConfiguration JSON (for put-scaling-policy) to this file.")]
    = None,
    inference_component_name: Annotated[str, typer.Option(help="Inference component named in the Apply commands.")]
    = "INFERENCE_COMPONENT_NAME",
    policy_name: Annotated[str, typer.Option(help="Scaling policy name in the Apply commands.")]
    = "planner-target-tracking",
    as_json: JsonOpt = False,
    prices: PriceArgsArg = None,
) -> None:
    """Simulate target tracking of an inference component's copies on ConcurrentRequestsPerCopy over a traffic
    profile (requests/s): SLO-breach minutes, cost against static copies at the peak, and the recommended policy."""
    from planner.recommend.autoscale import copy_apply_commands
    from planner.scenarios.llm import LLM_PERCENTILES, LlmAutoscaleScenario, plan_llm_autoscale

    if percentile not in LLM_PERCENTILES:
        raise typer.BadParameter(f"expected one of {', '.join(LLM_PERCENTILES)}, found {percentile!r}",
                                 param_hint="--percentile")
    if min_copies is not None and max_copies is not None and min_copies > max_copies:
        raise typer.BadParameter(f"--min-copies {min_copies} is above --max-copies {max_copies}",
                                 param_hint="--min-copies")
    slos = {f"{m}_ms": duration_ms_arg(v, f"--{m}-p99") if v is not None else None
            for m, v in (("ttft", ttft_p99), ("itl", itl_p99), ("e2e", e2e_p99))}
    scenario = LlmAutoscaleScenario(
        input_tokens=count_arg(input_tokens, "--input-tokens"), output_tokens=count_arg(output_tokens, "--output-tokens"),
        percentile=percentile, configuration=configuration, safety_factor=safety_factor,
        target_concurrency_per_copy=(None if target_concurrency.strip().lower() == "auto"
                                     else count_arg(target_concurrency, "--target-concurrency")),
        min_capacity=min_copies, max_capacity=max_copies, extrapolate=extrapolate, startup_s=startup_s,
        scale_in_cooldown_s=scale_in_cooldown_s, scale_out_cooldown_s=scale_out_cooldown_s,
        scale_out_minutes=scale_out_minutes, scale_in_minutes=scale_in_minutes, scale_in_ratio=scale_in_ratio,
        disable_scale_in=disable_scale_in, metric_delay_minutes=metric_delay_minutes, **slos)
    source = open_source(store) if traffic.startswith("run:") else None  # else after a traffic file's errors
    profile = _traffic(traffic, source)
    plan = plan_llm_autoscale(source or open_source(store), prices.catalog(), profile, scenario)
    commands = copy_apply_commands(plan.policy, inference_component_name, policy_name, export_policy)
    if export_policy:
        export_policy.write_text(json.dumps(plan.policy.scaling_policy_configuration(), indent=2) + "\n")
        err.print(f"policy written to {export_policy}", style="dim")
    if as_json:
        emit_json({**plan.to_dict(), "apply_commands": list(commands)})
    else:
        _print_copy_plan(plan, commands)


def _print_copy_plan(plan, commands: tuple[str, str]) -> None:
    from planner.recommend.llm_autoscale import copy_simulation_differences

    p, auto, static = plan.policy, plan.autoscaled, plan.static
    hours = plan.traffic.minutes / 60
    slo = ", ".join(f"{s.metric} ≤ {s.target_ms:g} ms" for s in plan.slos) or "no SLO"
    table = Table("", "copies", "instances", "instance-hours", f"$ over {hours:g} h", "$/month", "SLO-breach minutes",
                  "overloaded minutes", "max conc/copy",
                  title=f"{plan.option.label}: {slo} at {plan.percentile}, {plan.input_tokens:g}→"
                        f"{plan.output_tokens:g} tokens, over {plan.traffic.source}")
    for o in (auto, static):
        worst = "unbounded" if o.max_concurrency_per_copy is None else f"{o.max_concurrency_per_copy:.1f}"
        table.add_row(o.name, f"{o.min_copies}–{o.max_copies}", f"{o.min_instances}–{o.max_instances}",
                      f"{o.instance_hours:,.1f}", f"{o.usd:,.2f}", f"{o.usd_per_month:,.0f}", str(o.breach_minutes),
                      str(o.overloaded_minutes), worst)
    out.print(table)
    saving = plan.savings_usd / static.usd if static.usd else 0.0
    out.print(f"Savings against static copies at the peak: ${plan.savings_usd:,.2f} ({saving:.0%}); "
              f"{auto.breach_minutes} SLO-breach minutes autoscaled ({auto.scale_out_events} scale-outs, "
              f"{auto.scale_in_events} scale-ins).")
    out.print(f"Policy: ConcurrentRequestsPerCopy TargetValue {p.target_concurrent_requests_per_copy:g}; min "
              f"{p.min_capacity}, max {p.max_capacity} copies ({plan.option.copies_per_instance} per instance); "
              f"cooldowns in {p.scale_in_cooldown_s} s / out {p.scale_out_cooldown_s} s; start-up {p.startup_s:g} s.")
    out.print(f"  {plan.target_value_derivation}.")
    for note in plan.notes:
        out.print(f"  {note}", style="dim")
    out.print("Differs from AWS:", style="dim")
    for difference in copy_simulation_differences(p):
        out.print(f"  {difference}", style="dim")
    out.print(f"Apply: {commands[0]}")
    out.print(f"       {commands[1]}")
