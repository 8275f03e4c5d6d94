"""Size real-time endpoints: ``planner fit`` (the fitted curves) and ``planner recommend`` (instance
type and count for a target TPS and latency)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from planner.capacity import ConfigurationFit, CurveFit
from planner.catalog import PriceCatalog
from planner.fit import CapacityEstimate
from planner.recommend import DEFAULT_CONFIDENCE, DEFAULT_MAX_UTILIZATION
from planner.recommend.realtime import RealtimeRecommendation, recommend_realtime
from planner.scenarios.source import RunSource
from planner.steps import StepRules


@dataclass(frozen=True)
class FitScenario:
    """Which fits ``planner fit`` shows and the SLA their capacity column is at (None: no capacity)."""

    run_ids: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()
    percentile: float = 99.0
    latency_target_ms: float | None = None
    max_utilization: float = DEFAULT_MAX_UTILIZATION


@dataclass(frozen=True)
class FittedConfiguration:
    """One configuration's fit and its capacity (requests/s per instance) at the scenario's SLA: None
    without a target or a latency model."""

    fit: ConfigurationFit
    capacity: CapacityEstimate | None

    def to_dict(self) -> dict[str, Any]:
        """The ``planner fit --json`` shape of one configuration."""
        return self.fit.to_dict(self.capacity)


def fit_configurations(runs: RunSource, scenario: FitScenario = FitScenario(),
                       rules: StepRules | None = None) -> list[FittedConfiguration]:
    """Full fits (USL and latency model, with intervals) of the scenario's runs and configurations, each
    with its capacity at the scenario's SLA."""
    fits = runs.fits(runs.resolve(scenario.run_ids), configs=scenario.configs, rules=rules)
    target = scenario.latency_target_ms
    return [FittedConfiguration(f, f.capacity_at_sla(target, scenario.percentile, scenario.max_utilization)
                                if target is not None and isinstance(f, CurveFit) and f.latency is not None else None)
            for f in fits]


@dataclass(frozen=True)
class RealtimeScenario:
    """A real-time sizing question: peak TPS at a latency percentile (ms), and how to meet it."""

    target_tps: float
    latency_target_ms: float
    percentile: float | str = 99.0
    max_utilization: float = DEFAULT_MAX_UTILIZATION
    ha: bool = False
    routing: str = "least-outstanding"
    top: int | None = None
    confidence: float = DEFAULT_CONFIDENCE  # the prediction quantile a count is judged by (0.5: the estimate)


def sizing_fits(runs: RunSource | Sequence[ConfigurationFit], run_ids: Sequence[str] = (),
                rules: StepRules | None = None) -> Sequence[ConfigurationFit]:
    """``runs``' fits for sizing (latency models of configurations with an instance type, no USL), or
    ``runs`` itself when it is already a list of fits."""
    if isinstance(runs, RunSource):
        return runs.fits(runs.resolve(run_ids), for_sizing=True, rules=rules)
    return runs


def size_realtime(runs: RunSource | Sequence[ConfigurationFit], catalog: PriceCatalog, scenario: RealtimeScenario,
                  rules: StepRules | None = None) -> RealtimeRecommendation:
    """``planner recommend``: every configuration's cheapest instance count meeting the scenario, ranked."""
    return recommend_realtime(sizing_fits(runs, rules=rules), catalog, target_tps=scenario.target_tps,
                              latency_target_ms=scenario.latency_target_ms, percentile=scenario.percentile,
                              max_utilization=scenario.max_utilization, ha=scenario.ha, routing=scenario.routing,
                              top=scenario.top, confidence=scenario.confidence)
