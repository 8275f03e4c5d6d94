"""Autoscaling an LLM inference component on ``ConcurrentRequestsPerCopy``: a target-tracking policy on
the model copies, simulated minute by minute over a traffic profile (requests/s), against static
provisioning at the peak.

- **metric**: SageMaker's predefined ``SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution``
  (requests in flight per copy, queued ones included, emitted every 10 s), scaling the component's
  ``sagemaker:inference-component:DesiredCopyCount`` (both from Application Auto Scaling's API model,
  botocore ``application-autoscaling/2016-02-06``; SageMaker's "Define a scaling policy" page,
  https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-add-code-define.html).
- **concurrency per copy** in a minute: λ requests/s spread over n copies keep c = (λ / n) × e2e(c) in
  flight (Little's law), where e2e(c) is the configuration's fitted mean end-to-end latency, which rises
  with the batch: the fixed point :meth:`~planner.llm_fit.LlmLatencyFit.concurrency_at_rate`. A minute
  whose per-copy rate no concurrency up to the modelled limit (the highest measured, 2× with
  ``extrapolate``) serves is *overloaded*: its metric and latencies are ``inf`` and it breaches.
- **policy mechanics**: those of :func:`~planner.recommend.autoscale.simulate_target_tracking` (alarms,
  cooldowns, start-up, metric delay), in copies. Desired copies = ceil(copies × datapoint / target).
- **instances**: copies are packed ⌊accelerators ÷ accelerators per copy⌋ to an instance (as ``planner llm
  recommend``); instances billed = ceil(copies billed / copies per instance), as managed instance scaling
  keeps them.
- **latency**: each SLO metric (TTFT, ITL, e2e) at the scenario's percentile, predicted at the minute's
  concurrency per copy for the scenario's output tokens.

Pure and deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from planner.catalog import HOURS_PER_MONTH, PriceCatalog, PriceProvenance
from planner.errors import InfeasibleError
from planner.jsonable import finite
from planner.llm_fit import LlmLatencyFit
from planner.recommend.autoscale import (
    CopyConcurrencyPolicy,
    MinuteMetric,
    ScalingBehaviour,
    ScalingTimeline,
    simulate_target_tracking,
    simulation_differences,
)
from planner.recommend.llm import EXTRAPOLATION_FACTOR, LlmOption, LlmSlo, recommend_llm
from planner.traffic import TrafficProfile

SLO_METRICS = ("ttft", "itl", "e2e")
REVERSAL_MINUTES = 30  # a scale-in followed this soon by a scale-out is reported as undone


def copy_concurrency_metric(fit: LlmLatencyFit, concurrency_limit: float, output_tokens: float | None = None,
                            input_tokens: float | None = None) -> MinuteMetric:
    """ConcurrentRequestsPerCopy for a minute of ``rps`` requests/s over ``copies`` copies (Little's law
    fixed point; ``inf`` past ``concurrency_limit``)."""
    def metric(rps: float, copies: int) -> float:
        return fit.concurrency_at_rate(rps / copies, concurrency_limit, output_tokens, input_tokens)
    return metric


def latency_by_minute(fit: LlmLatencyFit, concurrency_per_copy: np.ndarray, statistic: str,
                      output_tokens: float | None = None, input_tokens: float | None = None) -> dict[str, np.ndarray]:
    """Predicted ms per measured SLO metric (ttft, itl, e2e) at ``statistic`` for each minute's
    concurrency per copy; ``inf`` where the minute is overloaded."""
    out = {}
    for metric in SLO_METRICS:
        if not fit.has(metric, statistic):
            continue
        out[metric] = np.array([fit.measured_ms(metric, statistic, float(c), output_tokens, input_tokens)
                                if math.isfinite(c)
                                else math.inf for c in concurrency_per_copy])
    return out


def _breached(latency_ms: dict[str, np.ndarray], slos: Sequence[LlmSlo], minutes: int) -> np.ndarray:
    breach = np.zeros(minutes, dtype=bool)
    for slo in slos:
        breach |= latency_ms[slo.metric] > slo.target_ms * (1 + 1e-9)
    return breach


@dataclass(frozen=True)
class CopyProvisioningOutcome:
    """How one way of provisioning copies fares over the profile: SLO breaches, copy- and instance-hours,
    cost (USD). Minimums are of copies in service, maximums of copies (instances) billed."""

    name: str
    min_copies: int
    max_copies: int
    min_instances: int
    max_instances: int
    breach_minutes: int
    overloaded_minutes: int
    copy_hours: float
    instance_hours: float
    usd: float
    usd_per_month: float
    max_concurrency_per_copy: float | None  # None (unbounded) when any minute is overloaded
    scale_out_events: int
    scale_in_events: int
    first_breach_minute: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _instances(copies: np.ndarray, copies_per_instance: int) -> np.ndarray:
    return -(-np.asarray(copies, dtype=int) // copies_per_instance)


def _outcome(name: str, timeline: ScalingTimeline, latency_ms: dict[str, np.ndarray], slos: Sequence[LlmSlo],
             copies_per_instance: int, usd_per_hour: float, minutes: int) -> CopyProvisioningOutcome:
    breach = _breached(latency_ms, slos, minutes)
    concurrency = timeline.invocations_per_instance
    instances = _instances(timeline.billed, copies_per_instance)
    hours = float(instances.sum()) / 60.0
    actions = [e.action for e in timeline.events]
    return CopyProvisioningOutcome(
        name=name, min_copies=int(timeline.in_service.min()), max_copies=int(timeline.billed.max()),
        min_instances=int(_instances(timeline.in_service, copies_per_instance).min()),
        max_instances=int(instances.max()), breach_minutes=int(breach.sum()),
        overloaded_minutes=int(np.isinf(concurrency).sum()), copy_hours=timeline.instance_hours,
        instance_hours=hours, usd=hours * usd_per_hour,
        usd_per_month=hours * usd_per_hour * HOURS_PER_MONTH * 60.0 / minutes,
        max_concurrency_per_copy=float(concurrency.max()) if np.isfinite(concurrency).all() else None,
        scale_out_events=actions.count("scale-out"), scale_in_events=actions.count("scale-in"),
        first_breach_minute=int(np.argmax(breach)) if breach.any() else None)


@dataclass(frozen=True)
class LlmAutoscalePlan:
    """A recommended ``ConcurrentRequestsPerCopy`` policy for one LLM configuration, simulated over a
    traffic profile against static provisioning at the peak (``planner llm recommend``'s copies for it)."""

    option: LlmOption
    slos: tuple[LlmSlo, ...]
    percentile: str
    input_tokens: float
    output_tokens: float
    traffic: TrafficProfile
    concurrency_limit_per_copy: float
    concurrency_at_slo_per_copy: float
    requests_per_s_per_copy_at_slo: float
    target_source: str
    target_value_derivation: str
    safety_factor: float
    policy: CopyConcurrencyPolicy
    autoscaled: CopyProvisioningOutcome
    static: CopyProvisioningOutcome
    usd_per_hour_per_instance: float
    price_catalog: PriceProvenance
    notes: tuple[str, ...]
    timeline: ScalingTimeline = field(repr=False, compare=False)
    fit: LlmLatencyFit = field(repr=False, compare=False)

    @property
    def savings_usd(self) -> float:
        return self.static.usd - self.autoscaled.usd

    def _latency(self, concurrency: np.ndarray) -> dict[str, np.ndarray]:
        return latency_by_minute(self.fit, concurrency, self.percentile, self.output_tokens, self.input_tokens)

    def timeline_frame(self) -> pd.DataFrame:
        """Per minute: traffic (requests/s), copies in service and billed, instances billed, the metric
        (concurrent requests per copy; ``inf`` when overloaded), predicted ``<metric>_ms`` at the
        percentile, and whether an SLO is breached."""
        concurrency = self.timeline.invocations_per_instance
        latency = self._latency(concurrency)
        k = self.option.copies_per_instance
        return pd.DataFrame({
            "minute": np.arange(self.traffic.minutes), "rps": self.traffic.tps,
            "copies_in_service": self.timeline.in_service, "copies_billed": self.timeline.billed,
            "instances_billed": _instances(self.timeline.billed, k), "concurrent_requests_per_copy": concurrency,
            **{f"{m}_ms": v for m, v in latency.items()},
            "breach": _breached(latency, self.slos, self.traffic.minutes),
            "static_copies": self.static.max_copies})

    def to_dict(self) -> dict[str, Any]:
        """The ``planner llm autoscale --json`` shape (keys documented in the README)."""
        o = self.option
        return finite({
            "instance_type": o.instance_type, "configuration": o.label, "model": o.model,
            "metric": self.policy.scaling_policy_configuration()["PredefinedMetricSpecification"][
                "PredefinedMetricType"],
            "percentile": self.percentile, "slos": {f"{s.metric}_ms": s.target_ms for s in self.slos},
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "traffic": self.traffic.to_dict(), "copies_per_instance": o.copies_per_instance,
            "breach_minutes": self.autoscaled.breach_minutes,
            "usd": {"autoscaled": self.autoscaled.usd, "static_at_peak": self.static.usd, "savings": self.savings_usd,
                    "savings_fraction": self.savings_usd / self.static.usd if self.static.usd else None,
                    "autoscaled_per_month": self.autoscaled.usd_per_month,
                    "static_at_peak_per_month": self.static.usd_per_month,
                    "usd_per_hour_per_instance": self.usd_per_hour_per_instance},
            "target_value_concurrent_requests_per_copy": self.policy.target_concurrent_requests_per_copy,
            "target_source": self.target_source, "target_value_derivation": self.target_value_derivation,
            "concurrency_at_slo_per_copy": self.concurrency_at_slo_per_copy,
            "requests_per_s_per_copy_at_slo": self.requests_per_s_per_copy_at_slo,
            "concurrency_limit_per_copy": self.concurrency_limit_per_copy, "safety_factor": self.safety_factor,
            "min_capacity_copies": self.policy.min_capacity, "max_capacity_copies": self.policy.max_capacity,
            "policy": self.policy.to_dict(), "scaling_policy_configuration": self.policy.scaling_policy_configuration(),
            "autoscaled": self.autoscaled.to_dict(), "static_at_peak": self.static.to_dict(),
            "timeline": {"minutes": self.traffic.minutes, "overloaded": "metric and latency inf (null in JSON)",
                         "events": [e.to_dict() for e in self.timeline.events]},
            "fit": {"label": o.label, "run_ids": list(o.run_ids), "origin": o.origin, "heldout_error": o.heldout_error,
                    "extrapolated": o.extrapolated},
            "price_catalog": self.price_catalog.to_dict(), "notes": list(self.notes),
            "simulation_differences": list(copy_simulation_differences(self.policy))})


def copy_simulation_differences(policy: CopyConcurrencyPolicy) -> tuple[str, ...]:
    """Where the copy simulation departs from AWS: those of the instance simulation, and its own."""
    return (
        *simulation_differences(policy)[:-1],
        f"ConcurrentRequestsPerCopy is a high-resolution metric (10 s); simulated per minute with alarms of "
        f"{policy.scale_out_minutes} and {policy.scale_in_minutes} one-minute datapoints (AWS reacts faster on "
        "high-resolution metrics: lower --scale-out-minutes / --metric-delay-minutes to see it)",
        "traffic is uniform within each minute and spread evenly over the copies; each copy's concurrency is the "
        "Little's law fixed point of its fitted mean e2e latency (steady state within the minute, no queue carried "
        "over from one minute to the next)",
        "instances follow copies (ceil(copies ÷ copies per instance), billed with the copies); SageMaker's managed "
        "instance scaling adds an instance's own start-up when a new copy has no room",
    )


def _reversed_scale_ins(timeline: ScalingTimeline) -> int:
    """Scale-ins whose next activity is a scale-out decided within :data:`REVERSAL_MINUTES`."""
    events = timeline.events
    return sum(1 for e, nxt in zip(events, events[1:], strict=False)
               if e.action == "scale-in" and nxt.action == "scale-out" and nxt.minute - e.minute <= REVERSAL_MINUTES)


def _chosen(fits: Sequence[LlmLatencyFit], catalog: PriceCatalog, peak_rps: float, input_tokens: float,
            output_tokens: float, slos: Sequence[LlmSlo], statistic: str, extrapolate: bool,
            configuration: str | None) -> tuple[LlmOption, LlmLatencyFit]:
    """The cheapest option at the peak (whose label or instance type is ``configuration``, when given)."""
    rec = recommend_llm(fits, catalog, target_rps=peak_rps, input_tokens=input_tokens, output_tokens=output_tokens,
                        slos=slos, statistic=statistic, extrapolate=extrapolate)
    options = [o for o in rec.options if configuration in (None, o.label, o.instance_type)]
    if not options:
        reasons = [f"{r.label}: {r.reason}" for r in rec.rejected if configuration in (None, r.label, r.instance_type)]
        raise InfeasibleError(f"no LLM configuration{f' {configuration!r}' if configuration else ''} meets the SLOs "
                              f"at the peak {peak_rps:g} requests/s" + (f" ({'; '.join(reasons[:3])})" if reasons else ""))
    best = options[0]
    return best, next(f for f in fits if f.config.label == best.label and f.run_ids == best.run_ids)


def plan_copy_autoscaling(fits: Sequence[LlmLatencyFit], catalog: PriceCatalog, traffic: TrafficProfile, *,
                          input_tokens: float, output_tokens: float, slos: Sequence[LlmSlo] = (),
                          statistic: str = "p99", configuration: str | None = None,
                          target_concurrency_per_copy: float | None = None, safety_factor: float = 0.5,
                          min_capacity: int | None = None, max_capacity: int | None = None,
                          extrapolate: bool = False, **behaviour: Any) -> LlmAutoscalePlan:
    """Recommend and simulate a ``ConcurrentRequestsPerCopy`` policy for ``traffic`` (requests/s per minute).

    The configuration is the cheapest :func:`~planner.recommend.llm.recommend_llm` option at the peak (of
    ``configuration``, a label or instance type, when given); its copies at the peak are the static
    provisioning. The target is ``target_concurrency_per_copy``, or the highest concurrency per copy that
    meets every SLO × ``safety_factor`` (the headroom for the scaling lag). ``min_capacity`` defaults to the
    policy's copies at the trough, ``max_capacity`` to its copies at the peak (at least the static count).
    ``behaviour``: :class:`~planner.recommend.autoscale.ScalingBehaviour` fields.
    """
    reaction = ScalingBehaviour(**behaviour)
    if not 0 < safety_factor <= 1:
        raise ValueError(f"safety_factor must be in (0, 1], got {safety_factor!r}")
    peak = float(traffic.tps.max())
    option, fit = _chosen(fits, catalog, peak, input_tokens, output_tokens, slos, statistic, extrapolate,
                          configuration)
    k = option.copies_per_instance
    c_slo = option.concurrency_per_instance / k
    rps_slo = option.requests_per_s_per_instance / k
    limit = fit.concurrency_max * (EXTRAPOLATION_FACTOR if extrapolate else 1.0)
    given = target_concurrency_per_copy is not None
    target = (float(target_concurrency_per_copy) if target_concurrency_per_copy is not None
              else round(c_slo * safety_factor, 2))
    if not target > 0:
        raise ValueError(f"target_concurrency_per_copy must be > 0, got {target!r}")
    source = "given" if given else "model: highest concurrency per copy meeting every SLO × safety factor"
    derivation = (f"TargetValue {target:g} concurrent requests per copy" + (
        " (given)" if given else f" = {c_slo:g} (the highest meeting every SLO at {statistic}, "
        f"{rps_slo:.3g} requests/s per copy) × {safety_factor:g}"))
    metric = copy_concurrency_metric(fit, limit, output_tokens, input_tokens)
    static_copies = max(1, math.ceil(peak / rps_slo - 1e-9))
    rps_at_target = fit.requests_per_s(min(target, limit), output_tokens, input_tokens)  # c / e2e(c) rises with c up to the SLO's
    at_peak, at_trough = (max(1, math.ceil(rps / rps_at_target - 1e-9)) for rps in (peak, float(traffic.tps.min())))
    low = min_capacity if min_capacity is not None else min(at_trough, max_capacity or at_trough)
    policy = CopyConcurrencyPolicy(target, low, max_capacity or max(at_peak, static_copies, low), **asdict(reaction))
    timeline = simulate_target_tracking(traffic.tps, policy, metric=metric)
    static_timeline = simulate_target_tracking(traffic.tps, replace(policy, min_capacity=static_copies,
                                                                    max_capacity=static_copies), metric=metric)
    usd_per_hour = catalog.price(option.instance_type)

    def outcome(name: str, line: ScalingTimeline) -> CopyProvisioningOutcome:
        latency = latency_by_minute(fit, line.invocations_per_instance, statistic, output_tokens, input_tokens)
        return _outcome(name, line, latency, slos, k, usd_per_hour, traffic.minutes)

    notes = [*traffic.notes, *option.notes,
             "overloaded minutes (a rate no concurrency up to the modelled limit serves) count as breaches",
             "starting copies are billed from the scaling decision"]
    if not slos:
        notes.append("no SLO given: the target derives from the highest measured concurrency")
    reversed_ins = _reversed_scale_ins(timeline)
    if reversed_ins:
        notes.append(f"{reversed_ins} scale-in(s) undone by a scale-out within {REVERSAL_MINUTES} min: concurrency per "
                     "copy falls faster than 1 / copies (latency drops with the batch), so target tracking's "
                     "proportional step overshoots; a lower scale-in ratio or a longer scale-in window damps it")
    return LlmAutoscalePlan(
        option=option, slos=tuple(slos), percentile=statistic, input_tokens=input_tokens,
        output_tokens=output_tokens, traffic=traffic, concurrency_limit_per_copy=limit,
        concurrency_at_slo_per_copy=c_slo, requests_per_s_per_copy_at_slo=rps_slo, target_source=source,
        target_value_derivation=derivation, safety_factor=safety_factor, policy=policy,
        autoscaled=outcome("autoscaled", timeline), static=outcome("static at peak", static_timeline),
        usd_per_hour_per_instance=usd_per_hour,
        price_catalog=catalog.price_provenance(),
        notes=tuple(notes), timeline=timeline, fit=fit)
