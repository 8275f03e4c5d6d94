"""Size LLM endpoints: ``planner llm fit`` (TTFT / ITL / e2e curves per configuration) and ``planner llm
recommend`` (instance type, count and copies per instance for a load, token mix and SLOs, with $ per
million tokens), over the ``llm_steps`` of a run collection (and the bundled sample beside it, marked)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import pandas as pd

from planner.catalog import PriceCatalog
from planner.errors import InputError
from planner.llm_fit import LlmLatencyFit, fit_llm_configurations
from planner.recommend.autoscale import ScalingBehaviour
from planner.recommend.llm import EXTRAPOLATION_FACTOR, LlmRecommendation, LlmSlo, recommend_llm
from planner.recommend.llm_autoscale import LlmAutoscalePlan, plan_copy_autoscaling
from planner.scenarios.source import SAMPLE_NOTE, SAMPLE_ORIGIN, RunSource, with_notes
from planner.traffic import TrafficProfile

LLM_PERCENTILES = ("p50", "p90", "p95", "p99")
SLO_METRICS = ("ttft", "itl", "e2e")


@dataclass(frozen=True)
class LlmScenario:
    """An LLM sizing question: the load (``target_rps`` requests/s, or ``target_output_tokens_per_s``), the
    token mix (mean input and output tokens per request), the SLOs (ms, None: none) at ``percentile``
    (p50 … p99), one instance more with ``ha``, and up to 2× the measured concurrency with ``extrapolate``."""

    input_tokens: float
    output_tokens: float
    target_rps: float | None = None
    target_output_tokens_per_s: float | None = None
    ttft_ms: float | None = None
    itl_ms: float | None = None
    e2e_ms: float | None = None
    percentile: str = "p99"
    ha: bool = False
    extrapolate: bool = False

    def __post_init__(self) -> None:
        if (self.target_rps is None) == (self.target_output_tokens_per_s is None):
            raise InputError("LLM scenario", "load", "exactly one of target_rps and target_output_tokens_per_s",
                             f"{self.target_rps!r} and {self.target_output_tokens_per_s!r}")
        if self.percentile not in LLM_PERCENTILES:
            raise InputError("LLM scenario", "percentile", f"one of {', '.join(LLM_PERCENTILES)}",
                             repr(self.percentile))
        for name in ("input_tokens", "output_tokens", "target_rps", "target_output_tokens_per_s",
                     "ttft_ms", "itl_ms", "e2e_ms"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise InputError("LLM scenario", name, "a positive number", repr(value))

    @property
    def requests_per_s(self) -> float:
        """The load in requests/s (output tokens/s ÷ output tokens per request when given so)."""
        if self.target_rps is not None:
            return self.target_rps
        return (self.target_output_tokens_per_s or 0.0) / self.output_tokens

    @property
    def slos(self) -> tuple[LlmSlo, ...]:
        return _slos(self)


def _slos(scenario: LlmScenario | LlmAutoscaleScenario) -> tuple[LlmSlo, ...]:
    return tuple(LlmSlo(metric=m, statistic=scenario.percentile, target_ms=target)
                 for m in SLO_METRICS if (target := getattr(scenario, f"{m}_ms")) is not None)


def llm_fits(runs: RunSource) -> list[LlmLatencyFit]:
    """One :class:`~planner.llm_fit.LlmLatencyFit` per LLM configuration of every collection ``runs`` reads
    (fitted or not: ``reason_``); those from the bundled sample read beside are marked. Kept in ``runs``."""
    key = ("llm_fits",)
    if key not in runs.memo:
        fits = []
        for store, marked in ((runs.store, False), (runs.sample, True)):
            if store is None:
                continue
            steps = store.table("llm_steps")
            if "load_kind" not in steps.columns:  # no LLM run in this collection
                continue
            found = fit_llm_configurations(store.runs(), steps)
            if marked:
                for fit in found:
                    fit.origin = f"{fit.origin}, {SAMPLE_ORIGIN}"
                    fit.notes_.append(SAMPLE_NOTE)
            fits += found
        runs.memo[key] = fits
    return runs.memo[key]


def size_llm(runs: RunSource | Sequence[LlmLatencyFit], catalog: PriceCatalog,
             scenario: LlmScenario) -> LlmRecommendation:
    """``planner llm recommend``: every LLM configuration sized for the scenario, cheapest first
    (:func:`~planner.recommend.llm.recommend_llm`), its notes led by what the collection lacks and how
    the load was given."""
    fits = llm_fits(runs) if isinstance(runs, RunSource) else list(runs)
    rec = recommend_llm(fits, catalog, target_rps=scenario.requests_per_s, input_tokens=scenario.input_tokens,
                        output_tokens=scenario.output_tokens, slos=scenario.slos, statistic=scenario.percentile,
                        ha=scenario.ha, extrapolate=scenario.extrapolate)
    notes = []
    if not fits:
        where = f" in {runs.store.root}" if isinstance(runs, RunSource) else ""
        notes.append(f"no LLM load levels{where}: ingest LLM benchmark results (GuideLLM, AIPerf, vLLM, "
                     "SGLang, LLMPerf, FMBench, the SageMaker benchmark suite) first")
    if scenario.target_output_tokens_per_s is not None:
        notes.append(f"load given as {scenario.target_output_tokens_per_s:g} output tokens/s = "
                     f"{scenario.requests_per_s:g} requests/s at {scenario.output_tokens:g} output tokens each")
    return with_notes(rec, *notes)


CURVE_COLUMNS = ("label", "metric", "concurrency", "predicted_ms", "lower_ms", "upper_ms", "slo_ms", "measured")


def latency_curves(runs: RunSource | Sequence[LlmLatencyFit], scenario: LlmScenario,
                   labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Predicted latency against concurrency per copy, as :func:`size_llm` searches it: per fitted
    configuration (of ``labels`` only, when given, in that order) and per SLO metric of the scenario (e2e
    without SLOs), at the scenario's percentile and output tokens, concurrency 1, 2, … up to the highest
    measured (2× with ``extrapolate``). Columns :data:`CURVE_COLUMNS`: ``predicted_ms`` with its band
    ``lower_ms`` / ``upper_ms`` (:meth:`~planner.llm_fit.LlmLatencyFit.predict_band_ms`; NaN without
    one), ``slo_ms`` (NaN: no SLO) and ``measured`` (False past the measured concurrency)."""
    fits = [f for f in (llm_fits(runs) if isinstance(runs, RunSource) else runs) if f.fitted_]
    if labels is not None:
        by_label = {f.config.label: f for f in fits}
        fits = [by_label[label] for label in labels if label in by_label]
    targets = {s.metric: s.target_ms for s in scenario.slos} or {"e2e": math.nan}
    rows = []
    for fit in fits:
        limit = fit.concurrency_max * (EXTRAPOLATION_FACTOR if scenario.extrapolate else 1.0)
        for metric, target in targets.items():
            if not fit.has(metric, scenario.percentile):
                continue
            for c in range(1, max(math.floor(limit), 1) + 1):
                value = fit.predict_ms(metric, scenario.percentile, c, scenario.output_tokens, scenario.input_tokens)
                low, high = fit.predict_band_ms(metric, scenario.percentile, c, scenario.output_tokens,
                                                scenario.input_tokens) or (math.nan, math.nan)
                rows.append((fit.config.label, metric, float(c), value, low, high, target,
                             c <= fit.concurrency_max + 1e-9))
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


@dataclass(frozen=True)
class LlmAutoscaleScenario(ScalingBehaviour):
    """Autoscaling an LLM inference component on ConcurrentRequestsPerCopy: the token mix, the SLOs (ms,
    None: none) at ``percentile``, the configuration (a label or instance type; None: the cheapest at the
    peak), the policy's knobs left to choose (None: recommended) and the simulated behaviour
    (:class:`~planner.recommend.autoscale.ScalingBehaviour`, keyword only)."""

    input_tokens: float
    output_tokens: float
    ttft_ms: float | None = None
    itl_ms: float | None = None
    e2e_ms: float | None = None
    percentile: str = "p99"
    configuration: str | None = None
    target_concurrency_per_copy: float | None = None
    safety_factor: float = 0.5
    min_capacity: int | None = None
    max_capacity: int | None = None
    extrapolate: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.percentile not in LLM_PERCENTILES:
            raise InputError("LLM autoscale scenario", "percentile", f"one of {', '.join(LLM_PERCENTILES)}",
                             repr(self.percentile))

    @property
    def slos(self) -> tuple[LlmSlo, ...]:
        return _slos(self)


def plan_llm_autoscale(runs: RunSource | Sequence[LlmLatencyFit], catalog: PriceCatalog, traffic: TrafficProfile,
                       scenario: LlmAutoscaleScenario) -> LlmAutoscalePlan:
    """``planner llm autoscale``: the recommended ConcurrentRequestsPerCopy policy for ``traffic`` and its
    simulation (:func:`~planner.recommend.llm_autoscale.plan_copy_autoscaling`)."""
    fits = llm_fits(runs) if isinstance(runs, RunSource) else list(runs)
    behaviour = {f.name: getattr(scenario, f.name) for f in fields(ScalingBehaviour)}
    return plan_copy_autoscaling(
        fits, catalog, traffic, input_tokens=scenario.input_tokens, output_tokens=scenario.output_tokens,
        slos=scenario.slos, statistic=scenario.percentile, configuration=scenario.configuration,
        target_concurrency_per_copy=scenario.target_concurrency_per_copy, safety_factor=scenario.safety_factor,
        min_capacity=scenario.min_capacity, max_capacity=scenario.max_capacity, extrapolate=scenario.extrapolate,
        **behaviour)
