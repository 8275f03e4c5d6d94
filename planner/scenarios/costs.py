"""Compare costs: ``planner export costs`` and the explorer's Compare page (every deployment option
priced side by side with its assumptions, as :mod:`planner.export` writes it for finance)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from planner.catalog import PriceCatalog
from planner.errors import InfeasibleError
from planner.export import (
    Assumption,
    CostComparison,
    CostLine,
    Traffic,
    cost_comparison,
    llm_assumptions,
    llm_lines,
    mme_lines,
    price_assumptions,
    serverless_lines,
)
from planner.recommend import DEFAULT_MAX_UTILIZATION
from planner.recommend.llm import LlmRecommendation
from planner.recommend.mme import MmeRecommendation
from planner.recommend.realtime import RealtimeRecommendation
from planner.recommend.serverless import (
    MemoryLatency,
    RealtimeBaseline,
    memory_latencies,
    recommend_serverless,
)
from planner.scenarios.llm import LlmScenario, llm_fits, size_llm
from planner.scenarios.multi_model import MultiModelScenario, size_multi_model
from planner.scenarios.realtime import RealtimeScenario, size_realtime
from planner.scenarios.source import RunSource
from planner.steps import StepRules
from planner.traffic import Popularity


@dataclass(frozen=True)
class CostScenario:
    """What to price: the traffic, the p99 target (ms) and utilisation cap of real-time options,
    ``popularity`` over the models of a multi-model endpoint to price too (None: not priced), and ``llm``
    the LLM endpoint question of the collection's LLM configurations (None: not priced)."""

    traffic: Traffic
    latency_target_ms: float
    max_utilization: float = DEFAULT_MAX_UTILIZATION
    popularity: Popularity | None = None
    name: str | None = None  # shown on the Assumptions sheet
    llm: LlmScenario | None = None


def compare_costs(runs: RunSource, catalog: PriceCatalog, scenario: CostScenario,
                  rules: StepRules | None = None) -> CostComparison:
    """Real-time without and with HA, serverless (when the collection has latencies per memory size),
    multi-model (with ``popularity``) and LLM endpoints (with ``llm``, in their own section; when the
    collection has LLM load levels but no ``llm`` is given, an assumption row says they were not priced),
    priced by :func:`compare_options`."""
    traffic = scenario.traffic
    recs = [size_realtime(runs, catalog, RealtimeScenario(target_tps=traffic.peak_tps,
                                                          latency_target_ms=scenario.latency_target_ms,
                                                          max_utilization=scenario.max_utilization, ha=ha), rules)
            for ha in (False, True)]
    latencies, _ = memory_latencies(runs.steps(rules=rules))
    popularity = scenario.popularity

    def multi_model(popularity: Popularity) -> MmeRecommendation:
        return size_multi_model(runs, catalog, MultiModelScenario(
            traffic.peak_tps, popularity, latency_target_ms=scenario.latency_target_ms,
            max_utilization=scenario.max_utilization), rules)

    has_llm = bool(llm_fits(runs))
    return compare_options(recs, traffic, catalog, latency_target_ms=scenario.latency_target_ms,
                           serverless_latencies=latencies,
                           multi_model=partial(multi_model, popularity) if popularity else None,
                           scenario=scenario.name,
                           llm=size_llm(runs, catalog, scenario.llm) if has_llm and scenario.llm else None,
                           llm_unpriced=has_llm and scenario.llm is None)


def compare_options(realtime: Sequence[RealtimeRecommendation], traffic: Traffic, catalog: PriceCatalog, *,
                    latency_target_ms: float, serverless_latencies: Sequence[MemoryLatency] = (),
                    multi_model: Callable[[], MmeRecommendation] | None = None,
                    scenario: str | None = None, llm: LlmRecommendation | None = None,
                    llm_unpriced: bool = False) -> CostComparison:
    """What ``planner export costs`` (and the explorer's Compare page) price: the real-time answers
    (e.g. without and with HA), serverless on demand and provisioned when latencies per memory size
    are given (compared with the first real-time answer's best option), and multi-model
    consolidation when ``multi_model`` is given (called here; an infeasible sizing becomes an
    assumption row saying why, not an error), and the ``llm`` answer as the LLM section
    (``llm_unpriced``: an assumption row says the collection's LLM configurations were not priced), with
    every price used listed as an assumption."""
    extra: list[CostLine] = []
    notes: list[Assumption] = [Assumption("scenario", scenario, "", "given")] if scenario else []
    sizes: list[int] = []
    if serverless_latencies:
        baseline = RealtimeBaseline.from_recommendation(realtime[0]) if realtime else None
        serverless = recommend_serverless(serverless_latencies, catalog,
                                          monthly_invocations=traffic.monthly_invocations, peak_tps=traffic.peak_tps,
                                          latency_target_ms=latency_target_ms, request_bytes=traffic.request_bytes,
                                          response_bytes=traffic.response_bytes, realtime=baseline)
        extra += serverless_lines(serverless)
        sizes.append(serverless.recommended_memory_mb)
    if multi_model is not None:
        try:
            extra += mme_lines(multi_model(), traffic, catalog)
        except InfeasibleError as exc:
            notes.append(Assumption("multi-model", "not an option", "", str(exc)))
    if llm is not None:
        notes += llm_assumptions(llm)
    if llm_unpriced:
        notes.append(Assumption("LLM endpoints", "not priced", "", "the collection has LLM load levels: give "
                                "their token mix (planner export costs --llm-input-tokens, --llm-output-tokens)"))
    types = [line.instance_type for line in extra if line.instance_type]
    types += [o.instance_type for rec in realtime for o in rec.options]
    types += [o.instance_type for o in (llm.options if llm else ())]
    return cost_comparison(realtime, traffic, catalog, extra_lines=extra,
                           extra_assumptions=[*notes, *price_assumptions(catalog, types, sizes)],
                           llm=llm_lines(llm) if llm else ())
