"""Size multi-model GPU endpoints: ``planner mme`` (models per instance, and with traffic the
instances, cache hit ratio, cold loads and cost)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from planner.catalog import PriceCatalog
from planner.errors import InfeasibleError
from planner.gpu_memory_fit import DEFAULT_MEMORY_THRESHOLD
from planner.recommend import DEFAULT_MAX_UTILIZATION
from planner.recommend.mme import (
    DEFAULT_MAX_MISS_RATIO,
    MmeDensity,
    MmeRecommendation,
    densities,
    recommend_mme,
)
from planner.scenarios.source import RunSource
from planner.steps import StepRules
from planner.traffic import Popularity


@dataclass(frozen=True)
class MultiModelScenario:
    """A multi-model sizing question: peak TPS over ``popularity``'s models, and the limits kept.

    ``tps_per_instance`` replaces the fitted per-instance capacity; without it, that capacity comes
    from fits of the series' configurations (at the p99 ``latency_target_ms`` when given, else
    ``max_utilization`` of saturation)."""

    target_tps: float
    popularity: Popularity
    tps_per_instance: float | None = None
    latency_target_ms: float | None = None
    max_utilization: float = DEFAULT_MAX_UTILIZATION
    memory_threshold: float = DEFAULT_MEMORY_THRESHOLD
    max_miss_ratio: float = DEFAULT_MAX_MISS_RATIO
    cold_load_ms: float | None = None
    run_ids: tuple[str, ...] = ()  # only these GPU memory series' runs (all when empty)


def size_multi_model(runs: RunSource, catalog: PriceCatalog, scenario: MultiModelScenario,
                     rules: StepRules | None = None) -> MmeRecommendation:
    """:func:`~planner.recommend.mme.recommend_mme` over the collection's GPU memory series, with the
    throughput fits of the same configurations unless the scenario gives ``tps_per_instance``."""
    series = runs.memory_series(runs.resolve(scenario.run_ids))
    fits = runs.throughput_fits(series, rules) if scenario.tps_per_instance is None else []
    return recommend_mme(series, catalog, scenario.popularity, scenario.target_tps, fits=fits,
                         tps_per_instance=scenario.tps_per_instance, max_utilization=scenario.max_utilization,
                         latency_target_ms=scenario.latency_target_ms, memory_threshold=scenario.memory_threshold,
                         max_miss_ratio=scenario.max_miss_ratio, cold_load_ms=scenario.cold_load_ms)


def multi_model_density(runs: RunSource, catalog: PriceCatalog, memory_threshold: float = DEFAULT_MEMORY_THRESHOLD,
                        run_ids: Sequence[str] = ()) -> tuple[list[MmeDensity], list[tuple[str, str]]]:
    """Models per instance of every GPU memory series (no traffic needed), and (label, reason) of the
    series that give none; InfeasibleError when none does."""
    rows, rejected = densities(runs.memory_series(runs.resolve(run_ids)), catalog, memory_threshold)
    if not rows:
        raise InfeasibleError("no series gives a density: " + "; ".join(f"{label}: {why}" for label, why in rejected))
    return rows, rejected
