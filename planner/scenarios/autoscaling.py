"""Plan autoscaling: ``planner autoscale`` (a target-tracking policy simulated over a traffic profile,
against static provisioning at the peak)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from planner.catalog import PriceCatalog
from planner.ingest.traffic import traffic_from_metrics
from planner.recommend import DEFAULT_MAX_UTILIZATION
from planner.recommend.autoscale import AutoscalePlan, ScalingBehaviour, plan_autoscaling
from planner.scenarios.source import RunSource
from planner.steps import StepRules
from planner.traffic import TrafficProfile


@dataclass(frozen=True)
class AutoscaleScenario(ScalingBehaviour):
    """The SLA (p99, ms) and the policy's knobs left to choose (None: recommended); the simulated
    behaviour around it is :class:`~planner.recommend.autoscale.ScalingBehaviour` (keyword only, its
    defaults); see :func:`planner.recommend.autoscale.plan_autoscaling`."""

    latency_target_ms: float
    target_tps_per_instance: float | None = None
    instance_type: str | None = None
    min_capacity: int | None = None
    max_capacity: int | None = None
    safety_factor: float = 0.5
    max_utilization: float = DEFAULT_MAX_UTILIZATION
    run_ids: tuple[str, ...] = ()  # fit only these runs (all when empty)


def run_traffic(runs: RunSource, run_id: str) -> TrafficProfile:
    """The ingested CloudWatch ``Invocations`` series of one run as a traffic profile."""
    return traffic_from_metrics(*runs.run_metrics(run_id))


def plan_autoscale(runs: RunSource, catalog: PriceCatalog, traffic: TrafficProfile, scenario: AutoscaleScenario,
                   rules: StepRules | None = None) -> AutoscalePlan:
    """The recommended policy for ``traffic`` and its simulation, from the sizing fits of the scenario's runs."""
    fits = runs.fits(runs.resolve(scenario.run_ids), for_sizing=True, rules=rules)
    knobs = {f.name: getattr(scenario, f.name) for f in fields(scenario) if f.name != "run_ids"}
    return plan_autoscaling(fits, catalog, traffic, **knobs)
