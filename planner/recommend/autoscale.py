"""Autoscaling: simulate SageMaker target tracking on ``InvocationsPerInstance`` over a traffic profile.

The simulation runs minute by minute (minute ``t`` covers seconds ``[60t, 60t + 60)``), following
Application Auto Scaling's documented target tracking where it is documented:

- **metric**: ``InvocationsPerInstance[t]`` = invocations in minute ``t`` / instances in service
  (CloudWatch's 1-minute sum). Its datapoint reaches the alarms ``metric_delay_minutes`` (2) after
  the minute ends: at the end of minute ``t`` they see datapoints up to ``t - delay``.
- **alarms** (evaluated every minute; an alarm that stays in ALARM invokes the policy again each
  minute): scale out when the last ``scale_out_minutes`` (3) datapoints are above the target; scale
  in when the last ``scale_in_minutes`` (15) are below ``scale_in_ratio`` (0.9) × target. AWS
  documents that scale-in waits for the metric to be "sufficiently below" the target, typically
  more than 10%; the 15 datapoints are observed, not documented.
- **desired count** = ceil(capacity × datapoint / target), clamped to [min, max]. Outside the
  scale-out cooldown the capacity is the current one. During it, the capacity added by the previous
  scale-out counts as part of the desired count: the datapoint is applied to the instances it was
  measured over (= ceil(invocations / target)), and a further scale-out happens only if that
  exceeds the count already set. So the cooldown never blocks a needed scale-out; it stops a
  delayed datapoint, measured before the added instances served, from being applied to them.
- **scale-out**: the new instances are billed from the decision and serve from ``startup_s`` later
  (rounded up to a whole minute). While they start (the endpoint is ``Updating``) no other activity
  starts; the scale-out cooldown runs from when they are in service ("after the activity completes").
- **scale-in**: removed instances stop serving and billing at the decision; the scale-in cooldown
  blocks further scale-ins (never scale-outs) and a scale-out ends it.
- **latency**: SageMaker's default ``RANDOM`` routing gives each in-service instance 1/n of the
  traffic, an independent queue; its p99 comes from the fitted per-instance latency model. A minute
  whose per-instance load exceeds the saturation throughput is *overloaded*: its p99 is ``inf``
  (``null`` in JSON), and like every minute with p99 above the target, an SLA breach.

Sources: "How target tracking scaling for Application Auto Scaling works" (cooldowns, scale-in
threshold), https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html,
and ``ScaleOutCooldown`` / ``ScaleInCooldown`` in
https://docs.aws.amazon.com/autoscaling/application/APIReference/API_TargetTrackingScalingPolicyConfiguration.html.
:func:`simulation_differences` lists where the simulation departs from AWS.

The behaviour knobs are :class:`ScalingBehaviour`, shared by every policy. The same simulation runs on
another per-minute metric (:data:`MinuteMetric`): :mod:`planner.recommend.llm_autoscale` scales the copies
of an LLM inference component on ``ConcurrentRequestsPerCopy`` (:class:`CopyConcurrencyPolicy`).

Pure and deterministic: same inputs, same timeline.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.capacity import ConfigurationFit, CurveFit
from planner.catalog import HOURS_PER_MONTH, PriceCatalog, PriceProvenance
from planner.errors import InfeasibleError
from planner.recommend import DEFAULT_MAX_UTILIZATION
from planner.recommend.realtime import RealtimeOption, recommend_realtime
from planner.traffic import TrafficProfile

PREDEFINED_METRIC = "SageMakerVariantInvocationsPerInstance"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
COPY_PREDEFINED_METRIC = "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
COPY_SCALABLE_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"
MAX_CAPACITY_CANDIDATES = 6  # max capacities tried between the static count and the policy's count at peak
_IR_MODEL = "inference-recommender-point"


# --------------------------------------------------------------------------- policy and simulation


@dataclass(frozen=True, kw_only=True)
class ScalingBehaviour:
    """How a target-tracking policy reacts and what is simulated around it, defined once for every metric:
    cooldowns and start-up in seconds, alarm windows in minutes (``scale_in_ratio`` × target is "low"),
    and ``metric_delay_minutes``, how late datapoints reach the alarms (simulated, not part of the policy)."""

    scale_out_cooldown_s: int = 300
    scale_in_cooldown_s: int = 300
    startup_s: float = 300.0
    scale_out_minutes: int = 3
    scale_in_minutes: int = 15
    scale_in_ratio: float = 0.9
    disable_scale_in: bool = False
    metric_delay_minutes: int = 2

    def __post_init__(self) -> None:
        if min(self.scale_out_cooldown_s, self.scale_in_cooldown_s, self.startup_s, self.metric_delay_minutes) < 0 \
                or min(self.scale_out_minutes, self.scale_in_minutes) < 1 or not 0 < self.scale_in_ratio <= 1:
            raise ValueError("cooldowns, start-up and metric delay must be >= 0, alarm windows >= 1 minute, "
                             "scale_in_ratio in (0, 1]")


def _check_capacity(target: float, min_capacity: int, max_capacity: int) -> None:
    if not (target > 0 and 1 <= min_capacity <= max_capacity):
        raise ValueError(f"need a target > 0 and 1 <= min_capacity <= max_capacity, got {target!r}, "
                         f"{min_capacity!r}, {max_capacity!r}")


@dataclass(frozen=True)
class TargetTrackingPolicy(ScalingBehaviour):
    """A target-tracking policy on ``InvocationsPerInstance`` and the behaviour simulated around it.

    ``target_invocations_per_instance_per_minute`` is the policy's ``TargetValue``; capacities are
    instance counts; the rest is :class:`ScalingBehaviour` (keyword only).
    """

    target_invocations_per_instance_per_minute: float
    min_capacity: int
    max_capacity: int

    def __post_init__(self) -> None:
        _check_capacity(self.target_invocations_per_instance_per_minute, self.min_capacity, self.max_capacity)
        super().__post_init__()

    @property
    def target_value(self) -> float:
        return self.target_invocations_per_instance_per_minute

    def scaling_policy_configuration(self) -> dict[str, Any]:
        """``TargetTrackingScalingPolicyConfiguration`` as Application Auto Scaling's
        ``put_scaling_policy`` takes it (min/max capacity belong to ``register_scalable_target``)."""
        return {"TargetValue": float(self.target_invocations_per_instance_per_minute),
                "PredefinedMetricSpecification": {"PredefinedMetricType": PREDEFINED_METRIC},
                "ScaleOutCooldown": int(self.scale_out_cooldown_s), "ScaleInCooldown": int(self.scale_in_cooldown_s),
                "DisableScaleIn": bool(self.disable_scale_in)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CopyConcurrencyPolicy(ScalingBehaviour):
    """A target-tracking policy of an inference component on ``ConcurrentRequestsPerCopy``: its
    ``TargetValue`` is requests in flight per model copy (queued ones included), capacities are copies.
    The rest is :class:`ScalingBehaviour` (keyword only)."""

    target_concurrent_requests_per_copy: float
    min_capacity: int
    max_capacity: int

    def __post_init__(self) -> None:
        _check_capacity(self.target_concurrent_requests_per_copy, self.min_capacity, self.max_capacity)
        super().__post_init__()

    @property
    def target_value(self) -> float:
        return self.target_concurrent_requests_per_copy

    def scaling_policy_configuration(self) -> dict[str, Any]:
        """``TargetTrackingScalingPolicyConfiguration`` for ``put_scaling_policy`` on the component's
        ``DesiredCopyCount``."""
        return {"TargetValue": float(self.target_concurrent_requests_per_copy),
                "PredefinedMetricSpecification": {"PredefinedMetricType": COPY_PREDEFINED_METRIC},
                "ScaleOutCooldown": int(self.scale_out_cooldown_s), "ScaleInCooldown": int(self.scale_in_cooldown_s),
                "DisableScaleIn": bool(self.disable_scale_in)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScalingEvent:
    """One scaling activity, decided at the end of ``minute`` on the datapoint of ``datapoint_minute``
    (``invocations_per_instance``: the metric's value, concurrent requests per copy for a copy policy);
    the new count serves from ``effective_minute``."""

    minute: int
    action: str  # "scale-out" | "scale-in"
    from_count: int
    to_count: int
    effective_minute: int
    datapoint_minute: int
    invocations_per_instance: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScalingTimeline:
    """Per minute: instances (or copies) in service, billed (in service + starting) and the metric
    (``invocations_per_instance``, or concurrent requests per copy for a copy policy)."""

    in_service: np.ndarray = field(repr=False, compare=False)
    billed: np.ndarray = field(repr=False, compare=False)
    invocations_per_instance: np.ndarray = field(repr=False, compare=False)
    events: tuple[ScalingEvent, ...] = ()

    @property
    def instance_hours(self) -> float:
        return float(self.billed.sum()) / 60.0


def _desired(invocations: float, target: float) -> int:
    """ceil(``invocations`` / ``target``): the count that brings a proportional metric to its target
    (an unbounded datapoint, an overloaded copy's, asks for as many as allowed)."""
    if not math.isfinite(invocations):
        return sys.maxsize
    return math.ceil(round(invocations / target, 9))


MinuteMetric = Callable[[float, int], float]
"""A per-minute metric: (mean requests/s in the minute, count in service) -> the datapoint."""


def _invocations_per_instance(tps: float, in_service: int) -> float:
    return tps * 60.0 / in_service


def _first_count(metric: MinuteMetric, tps: float, target: float, max_capacity: int) -> int:
    """The smallest count (at most ``max_capacity``) whose datapoint is at or below ``target``."""
    return next((n for n in range(1, max_capacity + 1) if metric(tps, n) <= target * (1 + 1e-9)), max_capacity)


def simulate_target_tracking(tps: Sequence[float] | np.ndarray, policy: TargetTrackingPolicy | CopyConcurrencyPolicy,
                             initial_capacity: int | None = None, metric: MinuteMetric | None = None) -> ScalingTimeline:
    """Instances (or copies) minute by minute under ``policy`` for traffic ``tps`` (mean requests/s per minute).

    ``metric`` gives each minute's datapoint from its traffic and the count in service (default:
    InvocationsPerInstance, tps × 60 / count). ``initial_capacity`` defaults to what the policy wants for
    minute 0; it is clamped to [min, max]. See the module docstring for the rules.
    """
    load = np.asarray(tps, dtype=float).tolist()
    if not load:
        raise ValueError("no traffic to simulate")
    target, p = policy.target_value, policy
    if initial_capacity is not None:
        start = int(initial_capacity)
    else:
        start = (_desired(load[0] * 60.0, target) if metric is None
                 else _first_count(metric, load[0], target, p.max_capacity))
    datapoint = metric or _invocations_per_instance
    serving = min(max(start, p.min_capacity), p.max_capacity)
    pending, ready_minute, ready_s = 0, 0, 0.0
    out_cooldown_until_s = scale_in_from_s = -math.inf
    above = below = 0
    in_service, billed, values = [], [], []
    events: list[ScalingEvent] = []
    for t, rate in enumerate(load):
        if pending and t >= ready_minute:
            serving, pending = serving + pending, 0
            out_cooldown_until_s = ready_s + p.scale_out_cooldown_s
        in_service.append(serving)
        billed.append(serving + pending)
        values.append(datapoint(rate, serving))
        seen = t - p.metric_delay_minutes  # the newest datapoint the alarms have at the end of minute t
        if seen < 0:
            continue
        value = values[seen]
        above = above + 1 if value > target else 0
        below = below + 1 if value < p.scale_in_ratio * target else 0
        if pending:
            continue  # the endpoint is Updating: no other activity starts
        now_s = 60.0 * (t + 1)
        if above >= p.scale_out_minutes:
            # in the cooldown, capacity already added counts: the datapoint applies to the instances it measured
            measured_over = in_service[seen] if now_s < out_cooldown_until_s else serving
            wanted = min(_desired(measured_over * value, target), p.max_capacity)
            if wanted > serving:
                pending = wanted - serving
                ready_s = now_s + p.startup_s
                ready_minute = math.ceil(round(ready_s / 60.0, 9))
                scale_in_from_s = now_s  # a scale-out ends a scale-in cooldown
                events.append(ScalingEvent(t, "scale-out", serving, wanted, ready_minute, seen, value))
        elif not p.disable_scale_in and below >= p.scale_in_minutes and now_s >= scale_in_from_s:
            wanted = max(_desired(serving * value, target), p.min_capacity)
            if wanted < serving:
                events.append(ScalingEvent(t, "scale-in", serving, wanted, t + 1, seen, value))
                serving = wanted
                scale_in_from_s = now_s + p.scale_in_cooldown_s
    return ScalingTimeline(np.array(in_service), np.array(billed), np.array(values), tuple(events))


def simulation_differences(policy: ScalingBehaviour) -> tuple[str, ...]:
    """Where :func:`simulate_target_tracking` (and the latency read off it) departs from AWS."""
    p = policy
    return (
        f"start-up: new instances serve a fixed {p.startup_s:g} s after the decision (rounded up to whole minutes); "
        "SageMaker's real start-up varies with instance type, container image and model size",
        f"metric delay {p.metric_delay_minutes} min, fixed: CloudWatch datapoints arrive about 1–2 min late, and the "
        "alarms are evaluated on their own schedule rather than at the end of each simulated minute",
        f"alarm evaluation simplified: {p.scale_out_minutes} of {p.scale_out_minutes} datapoints above the target "
        f"to scale out, {p.scale_in_minutes} of {p.scale_in_minutes} below {p.scale_in_ratio:g} × target to scale in "
        "(the scale-in figures are observed, not documented); missing datapoints are not modelled",
        "desired count = ceil(instances × newest datapoint / target), with the instances the datapoint measured "
        "during the scale-out cooldown and the current ones outside it: our reading of the documented cooldown "
        "rule, as AWS does not publish its exact calculation",
        "no scaling activity starts while instances start (the endpoint is Updating); AWS would retry it later",
        "scale-in removes instances at the decision, with no draining of requests in flight",
        "traffic is uniform within each minute; routing RANDOM: each in-service instance an independent queue with "
        "1/n of it, latency from the fitted per-instance model",
    )


def apply_commands(policy: TargetTrackingPolicy, endpoint_name: str, variant_name: str = "AllTraffic",
                   policy_name: str = "planner-target-tracking",
                   configuration_file: str | Path | None = None) -> tuple[str, str]:
    """The AWS CLI commands that apply ``policy`` to a SageMaker variant: ``register-scalable-target``
    (min/max capacity) and ``put-scaling-policy``, whose configuration is ``file://configuration_file``
    when given, else the JSON inline. Shell-quoted, ready to run."""
    return _commands(policy, f"endpoint/{endpoint_name}/variant/{variant_name}", SCALABLE_DIMENSION, policy_name,
                     configuration_file)


def copy_apply_commands(policy: CopyConcurrencyPolicy, inference_component_name: str,
                        policy_name: str = "planner-target-tracking",
                        configuration_file: str | Path | None = None) -> tuple[str, str]:
    """:func:`apply_commands` for an inference component's copy count (``inference-component/NAME``)."""
    return _commands(policy, f"inference-component/{inference_component_name}", COPY_SCALABLE_DIMENSION,
                     policy_name, configuration_file)


def _commands(policy: TargetTrackingPolicy | CopyConcurrencyPolicy, resource_id: str, dimension: str,
              policy_name: str, configuration_file: str | Path | None) -> tuple[str, str]:
    target = ["--service-namespace", "sagemaker", "--resource-id", resource_id, "--scalable-dimension", dimension]
    config = (f"file://{configuration_file}" if configuration_file is not None
              else json.dumps(policy.scaling_policy_configuration(), separators=(",", ":")))
    register = ["aws", "application-autoscaling", "register-scalable-target", *target,
                "--min-capacity", str(policy.min_capacity), "--max-capacity", str(policy.max_capacity)]
    put = ["aws", "application-autoscaling", "put-scaling-policy", "--policy-name", policy_name, *target,
           "--policy-type", "TargetTrackingScaling", "--target-tracking-scaling-policy-configuration", config]
    return shlex.join(register), shlex.join(put)


def latency_by_minute(fit: CurveFit, tps: np.ndarray, in_service: np.ndarray,
                      percentile: float | str = 99.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-instance load (rps) and predicted latency (ms) per minute: ``inf`` where the load
    exceeds the configuration's saturation throughput (overloaded)."""
    if fit.latency is None:
        raise ValueError(f"{fit.config.label}: no fitted latency model")
    load = np.asarray(tps, dtype=float) / np.asarray(in_service, dtype=float)
    latency = np.asarray(fit.latency.predict_table(load, percentile), dtype=float)
    return load, np.where(load > fit.saturation_rps, np.inf, latency)


def _breached(latency_ms: np.ndarray, latency_target_ms: float) -> np.ndarray:
    """Minutes whose predicted latency exceeds the target (beyond float rounding at the capacity)."""
    return latency_ms > latency_target_ms * (1 + 1e-9)


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class ProvisioningOutcome:
    """How one way of provisioning fares over the profile: SLA breaches, instance-hours, cost (USD).
    ``min_instances`` is the fewest in service, ``max_instances`` the most billed."""

    name: str
    min_instances: int
    max_instances: int
    breach_minutes: int
    overloaded_minutes: int
    instance_hours: float
    usd: float
    usd_per_month: float
    max_latency_ms: float | None  # worst prediction; None (unbounded) when any minute is overloaded
    scale_out_events: int
    scale_in_events: int
    first_breach_minute: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _outcome(name: str, fit: CurveFit, traffic: TrafficProfile, timeline: ScalingTimeline,
             latency_target_ms: float, percentile: float | str, usd_per_hour: float) -> ProvisioningOutcome:
    _, latency = latency_by_minute(fit, traffic.tps, timeline.in_service, percentile)
    breach = _breached(latency, latency_target_ms)
    hours = timeline.instance_hours
    actions = [e.action for e in timeline.events]
    return ProvisioningOutcome(
        name=name, min_instances=int(timeline.in_service.min()), max_instances=int(timeline.billed.max()),
        breach_minutes=int(breach.sum()), overloaded_minutes=int(np.isinf(latency).sum()), instance_hours=hours,
        usd=hours * usd_per_hour, usd_per_month=hours * usd_per_hour * HOURS_PER_MONTH * 60.0 / traffic.minutes,
        max_latency_ms=float(latency.max()) if np.isfinite(latency).all() else None,
        scale_out_events=actions.count("scale-out"), scale_in_events=actions.count("scale-in"),
        first_breach_minute=int(np.argmax(breach)) if breach.any() else None)


@dataclass(frozen=True)
class AutoscalePlan:
    """A recommended target-tracking policy for one configuration, simulated over a traffic profile
    against static provisioning at the peak (``planner recommend``'s count for the peak TPS)."""

    instance_type: str
    label: str
    percentile: str
    latency_target_ms: float
    traffic: TrafficProfile
    capacity_tps_per_instance: float
    capacity_binding: str
    saturation_tps_per_instance: float
    target_tps_per_instance: float
    target_tps_per_instance_source: str
    target_value_derivation: str
    safety_factor: float
    policy: TargetTrackingPolicy
    autoscaled: ProvisioningOutcome
    static: ProvisioningOutcome
    usd_per_hour_per_instance: float
    price_catalog: PriceProvenance
    model: dict[str, Any]
    max_capacity_search: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]
    timeline: ScalingTimeline = field(repr=False, compare=False)
    fit: CurveFit = field(repr=False, compare=False)

    @property
    def savings_usd(self) -> float:
        return self.static.usd - self.autoscaled.usd

    def timeline_frame(self) -> pd.DataFrame:
        """Per minute: traffic (TPS), instances in service and billed, the metric, per-instance load
        (rps), predicted latency (ms; ``inf`` when overloaded) and whether the SLA is breached."""
        load, latency = latency_by_minute(self.fit, self.traffic.tps, self.timeline.in_service, self.percentile)
        return pd.DataFrame({
            "minute": np.arange(self.traffic.minutes), "tps": self.traffic.tps,
            "in_service": self.timeline.in_service, "billed": self.timeline.billed,
            "invocations_per_instance": self.timeline.invocations_per_instance, "load_tps_per_instance": load,
            "latency_ms": latency, "breach": _breached(latency, self.latency_target_ms),
            "static_instances": self.static.max_instances})

    def to_dict(self) -> dict[str, Any]:
        """The ``planner autoscale --json`` shape (keys documented in the README)."""
        return {
            "instance_type": self.instance_type, "configuration": self.label, "percentile": self.percentile,
            "latency_target_ms": self.latency_target_ms, "traffic": self.traffic.to_dict(),
            "breach_minutes": self.autoscaled.breach_minutes, "instance_hours": self.autoscaled.instance_hours,
            "usd": {"autoscaled": self.autoscaled.usd, "static_at_peak": self.static.usd,
                    "savings": self.savings_usd,
                    "savings_fraction": self.savings_usd / self.static.usd if self.static.usd else None,
                    "autoscaled_per_month": self.autoscaled.usd_per_month,
                    "static_at_peak_per_month": self.static.usd_per_month,
                    "usd_per_hour_per_instance": self.usd_per_hour_per_instance},
            "target_value_invocations_per_instance_per_minute": self.policy.target_invocations_per_instance_per_minute,
            "target_tps_per_instance": self.target_tps_per_instance,
            "target_tps_per_instance_source": self.target_tps_per_instance_source,
            "target_value_derivation": self.target_value_derivation,
            "capacity_tps_per_instance": self.capacity_tps_per_instance, "capacity_binding": self.capacity_binding,
            "saturation_tps_per_instance": self.saturation_tps_per_instance, "safety_factor": self.safety_factor,
            "min_capacity": self.policy.min_capacity, "max_capacity": self.policy.max_capacity,
            "policy": self.policy.to_dict(), "scaling_policy_configuration": self.policy.scaling_policy_configuration(),
            "autoscaled": self.autoscaled.to_dict(), "static_at_peak": self.static.to_dict(),
            "timeline": {"minutes": self.traffic.minutes, "min_in_service": self.autoscaled.min_instances,
                         "max_billed": self.autoscaled.max_instances, "first_breach_minute":
                         self.autoscaled.first_breach_minute, "overloaded_minutes": self.autoscaled.overloaded_minutes,
                         "overloaded_latency": "inf (null in JSON)", "max_latency_ms": self.autoscaled.max_latency_ms,
                         "events": [e.to_dict() for e in self.timeline.events]},
            "max_capacity_search": list(self.max_capacity_search), "price_catalog": self.price_catalog.to_dict(),
            "model": self.model, "notes": list(self.notes),
            "simulation_differences": list(simulation_differences(self.policy))}


def _option_at_peak(fits: Sequence[ConfigurationFit], catalog: PriceCatalog, peak_tps: float,
                    latency_target_ms: float, percentile: float | str, max_utilization: float,
                    instance_type: str | None) -> tuple[RealtimeOption, CurveFit]:
    """The cheapest option with a latency curve at the peak (of ``instance_type`` when given), and its fit."""
    rec = recommend_realtime(fits, catalog, target_tps=peak_tps, latency_target_ms=latency_target_ms,
                             percentile=percentile, max_utilization=max_utilization, routing="random")
    options = [o for o in rec.options if o.model != _IR_MODEL
               and (instance_type is None or o.instance_type == instance_type)]
    if not options:
        what = instance_type or "any measured instance type"
        reasons = [f"{r.label}: {r.reason}" for r in rec.rejected if instance_type in (None, r.instance_type)]
        reasons += [f"{o.label}: an Inference Recommender point, no curve to simulate" for o in rec.options
                    if o.model == _IR_MODEL and instance_type in (None, o.instance_type)]
        raise InfeasibleError(f"no fitted latency curve of {what} meets {rec.percentile} <= {latency_target_ms:g} ms "
                              f"at the peak {peak_tps:g} TPS" + (f" ({'; '.join(reasons[:3])})" if reasons else ""))
    best = options[0]
    fit = next(f for f in fits if isinstance(f, CurveFit) and f.config.label == best.label and f.run_ids == best.run_ids)
    return best, fit


def _model_provenance(option: RealtimeOption, fit: CurveFit, max_load_tps: float) -> dict[str, Any]:
    summary, latency = fit.latency_summary, fit.latency
    assert latency is not None, "plan_autoscaling simulated this fit (latency_by_minute needs its curve)"
    return {"label": option.label, "run_ids": list(option.run_ids), "origin": option.origin,
            "latency_model": option.model, "heldout_error": option.heldout_error,
            "percentile_source": summary.percentile_source if summary else None,
            "max_measured_tps_per_instance": float(latency.max_measured_rps_),
            "max_load_tps_per_instance": max_load_tps,
            "extrapolated": bool(max_load_tps > latency.max_measured_rps_ * 1.0001)}


def _search_max_capacity(fit: CurveFit, traffic: TrafficProfile, policy: TargetTrackingPolicy,
                         static_count: int, latency_target_ms: float, percentile: float | str,
                         usd_per_hour: float) -> tuple[TargetTrackingPolicy, tuple[dict[str, Any], ...]]:
    """Try max capacities from the static count at the peak to the policy's own count at the peak;
    keep the one with the fewest breach minutes, then the fewest instance-hours."""
    at_peak = _desired(float(traffic.invocations_per_minute.max()), policy.target_invocations_per_instance_per_minute)
    low, high = sorted((max(static_count, policy.min_capacity), max(at_peak, policy.min_capacity)))
    candidates = sorted({int(round(v)) for v in np.linspace(low, high, MAX_CAPACITY_CANDIDATES)})
    tried: list[dict[str, Any]] = []
    for cap in candidates:
        trial = replace(policy, max_capacity=cap)
        outcome = _outcome("autoscaled", fit, traffic, simulate_target_tracking(traffic.tps, trial),
                           latency_target_ms, percentile, usd_per_hour)
        tried.append({"max_capacity": cap, "breach_minutes": outcome.breach_minutes,
                      "instance_hours": outcome.instance_hours})
    best = min(tried, key=lambda r: (r["breach_minutes"], r["instance_hours"], r["max_capacity"]))
    return replace(policy, max_capacity=best["max_capacity"]), tuple(tried)


def plan_autoscaling(fits: Sequence[ConfigurationFit], catalog: PriceCatalog, traffic: TrafficProfile, *,
                     latency_target_ms: float, percentile: float | str = 99.0, instance_type: str | None = None,
                     target_tps_per_instance: float | None = None, safety_factor: float = 0.5,
                     min_capacity: int | None = None, max_capacity: int | None = None,
                     max_utilization: float = DEFAULT_MAX_UTILIZATION, **behaviour: Any) -> AutoscalePlan:
    """Recommend and simulate a target-tracking policy for ``traffic``.

    The instance type is the cheapest option of :func:`recommend_realtime` at the peak TPS (random
    routing, as the simulation assumes), or the cheapest of ``instance_type``; that option's count
    is the static provisioning compared against (its capacity is capped at ``max_utilization``, as
    in ``planner recommend``). The target value is AWS's sizing rule, max TPS per instance ×
    ``safety_factor`` × 60, with the max TPS ``target_tps_per_instance`` or else the load at which
    the fitted percentile reaches the SLA (at most the saturation): the safety factor is the only
    headroom, not applied on top of the utilisation cap. ``min_capacity`` defaults to the policy's
    count at the trough, ``max_capacity`` to the best of a few tried (:func:`_search_max_capacity`).
    ``behaviour``: :class:`ScalingBehaviour` fields (their defaults otherwise).
    """
    reaction = ScalingBehaviour(**behaviour)
    if not (0 < safety_factor <= 1):
        raise ValueError(f"safety_factor must be in (0, 1], got {safety_factor!r}")
    option, fit = _option_at_peak(fits, catalog, float(traffic.tps.max()), latency_target_ms, percentile,
                                  max_utilization, instance_type)
    capacity = fit.capacity_at_sla(latency_target_ms, percentile, max_utilization)
    at_sla = fit.capacity_at_sla(latency_target_ms, percentile, 1.0)  # no utilisation cap: headroom comes once
    given = target_tps_per_instance is not None
    max_tps = float(target_tps_per_instance) if target_tps_per_instance is not None else at_sla.capacity_rps
    if max_tps <= 0:
        raise ValueError(f"target_tps_per_instance must be > 0, got {max_tps!r}")
    target = round(max_tps * safety_factor * 60.0, 2)  # the TargetValue exported
    source = ("given" if given else f"model: {at_sla.percentile} reaches {latency_target_ms:g} ms"
              if at_sla.binding == "latency" else "model: saturation, below the SLA up to it")
    derivation = (f"TargetValue {target:,.2f} = {max_tps:.1f} TPS per instance ({source}) × {safety_factor:g} × 60: "
                  f"{target / 60 / fit.saturation_rps:.0%} of the {fit.saturation_rps:.1f} TPS saturation; the safety "
                  f"factor is the headroom, applied once (not on top of the {max_utilization:g} utilisation cap "
                  "that sizes the static fleet)")
    if min_capacity is None:
        min_capacity = max(1, _desired(float(traffic.invocations_per_minute.min()), target))
        min_capacity = min(min_capacity, max_capacity or min_capacity)
    policy = TargetTrackingPolicy(target, min_capacity, max_capacity or min_capacity, **asdict(reaction))
    usd_per_hour = catalog.price(option.instance_type)
    search: tuple[dict[str, Any], ...] = ()
    if max_capacity is None:
        policy, search = _search_max_capacity(fit, traffic, policy, option.instance_count, latency_target_ms,
                                              percentile, usd_per_hour)
    timeline = simulate_target_tracking(traffic.tps, policy)
    static_timeline = simulate_target_tracking(traffic.tps, replace(policy, min_capacity=option.instance_count,
                                                                    max_capacity=option.instance_count))
    autoscaled = _outcome("autoscaled", fit, traffic, timeline, latency_target_ms, percentile, usd_per_hour)
    static = _outcome("static at peak", fit, traffic, static_timeline, latency_target_ms, percentile, usd_per_hour)
    notes = [*traffic.notes, "overloaded minutes (per-instance load above saturation) count as breaches with latency inf",
             "starting instances are billed from the scaling decision"]
    if given:
        notes.append(f"target from the given {max_tps:g} TPS per instance; the model's {at_sla.percentile} reaches the SLA at "
                     f"{at_sla.capacity_rps:.1f} TPS")
    return AutoscalePlan(
        instance_type=option.instance_type, label=option.label, percentile=capacity.percentile,
        latency_target_ms=float(latency_target_ms), traffic=traffic, capacity_tps_per_instance=capacity.capacity_rps,
        capacity_binding=capacity.binding, saturation_tps_per_instance=float(fit.saturation_rps),
        target_tps_per_instance=max_tps, target_tps_per_instance_source=source, target_value_derivation=derivation,
        safety_factor=safety_factor, policy=policy, autoscaled=autoscaled, static=static,
        usd_per_hour_per_instance=usd_per_hour,
        price_catalog=catalog.price_provenance(),
        model=_model_provenance(option, fit, float(np.max(traffic.tps / timeline.in_service))),
        max_capacity_search=search,
        notes=tuple(notes), timeline=timeline, fit=fit)
