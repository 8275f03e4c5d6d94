"""Size serverless inference: ``planner serverless`` (memory size, MaxConcurrency, provisioned
concurrency and the break-even with a comparable real-time option)."""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog import PriceCatalog
from planner.costs import realtime_cost
from planner.recommend import DEFAULT_MAX_UTILIZATION
from planner.recommend.serverless import (
    RealtimeBaseline,
    ServerlessRecommendation,
    comparable_realtime,
    memory_latencies,
    recommend_serverless,
)
from planner.scenarios.realtime import sizing_fits
from planner.scenarios.source import RunSource, with_notes
from planner.steps import StepRules
from planner.variability import MEAN_ONLY_SERVICE_SCV


@dataclass(frozen=True)
class ServerlessScenario:
    """A serverless sizing question: traffic, p99 target (ms), payloads (bytes), the throttling and
    spill-over a user accepts, and the real-time option to compare with (given, or sized from the
    collection at ``max_utilization``)."""

    monthly_invocations: float
    peak_tps: float
    latency_target_ms: float
    strategy: str = "cost"
    balanced_weight: float = 0.5
    request_bytes: float = 0.0
    response_bytes: float = 0.0
    throttle_target: float = 0.001
    spillover_target: float = 0.01
    latency_scv: float = MEAN_ONLY_SERVICE_SCV
    max_utilization: float = DEFAULT_MAX_UTILIZATION
    compare_instance: str | None = None
    compare_count: int = 1
    run_ids: tuple[str, ...] = ()  # only these runs' latencies (all runs when empty)


def size_serverless(runs: RunSource, catalog: PriceCatalog, scenario: ServerlessScenario,
                    rules: StepRules | None = None) -> ServerlessRecommendation:
    """Latency per memory size from the scenario's runs, the real-time baseline, then
    :func:`~planner.recommend.serverless.recommend_serverless`; its notes start with the memory sizes
    skipped and the baseline's caveats."""
    steps = runs.steps(runs.resolve(scenario.run_ids), rules)
    latencies, skipped = memory_latencies(steps)
    baseline: RealtimeBaseline | None
    extra: list[str]
    if scenario.compare_instance:
        cost = realtime_cost(catalog, scenario.compare_instance, scenario.compare_count, scenario.peak_tps)
        baseline, extra = RealtimeBaseline(scenario.compare_instance, scenario.compare_count, cost.usd_per_month), []
    else:
        baseline, extra = comparable_realtime(sizing_fits(runs, rules=rules), steps, latencies, catalog,
                                              scenario.peak_tps, scenario.latency_target_ms, scenario.max_utilization)
    rec = recommend_serverless(latencies, catalog, monthly_invocations=scenario.monthly_invocations,
                               peak_tps=scenario.peak_tps, latency_target_ms=scenario.latency_target_ms,
                               strategy=scenario.strategy, balanced_weight=scenario.balanced_weight,
                               request_bytes=scenario.request_bytes, response_bytes=scenario.response_bytes,
                               throttle_target=scenario.throttle_target, spillover_target=scenario.spillover_target,
                               realtime=baseline, latency_scv=scenario.latency_scv)
    return with_notes(rec, *skipped, *extra)
