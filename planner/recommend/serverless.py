"""Serverless endpoint sizing: memory size, MaxConcurrency and provisioned concurrency, with costs.

Inputs: per-memory-size latency (:class:`MemoryLatency`, e.g. :func:`memory_latencies` over the steps
of sm-serverless-benchmarking results, CloudWatch exports or Locust runs ingested with a memory size),
traffic (invocations per month, peak TPS), payload bytes and a p99 target. Limits (DESIGN §7): memory
1024–6144 MB in 1024 MB steps, MaxConcurrency 1–200, provisioned concurrency 1..MaxConcurrency.

- Cost per invocation = price per second(memory) × billed duration (the mean latency, rounded up to
  1 ms) + (bytes in + bytes out) × data price; per month and per 1M invocations from it.
- Memory by strategy, as AWS Lambda Power Tuning defines them: ``cost`` (cheapest, ties to the
  fastest), ``speed`` (fastest, ties to the cheapest), ``balanced`` (least
  ``w·cost/max cost + (1−w)·latency/max latency``; w = 1 is cost, 0 is speed), among the sizes that
  meet the SLA. Each option says whether it is on the Pareto front of (p99 latency, cost).
- MaxConcurrency: the smallest c in 1..200 whose Erlang B blocking ``B(A, c)`` at the peak offered
  load ``A = λ·S`` (λ peak TPS, S mean latency in s) is ≤ the throttle target. Erlang B depends on
  the service time only through its mean, so the mean is the right statistic here.
- Provisioned concurrency: the smallest p in 1..MaxConcurrency whose spill-over probability is ≤ the
  target, with spill-over = Erlang B with the p provisioned slots as servers (the standard choice: a
  request that finds every provisioned slot busy does not wait, it goes to on-demand capacity and
  risks a cold start). Cold starts per day ≤ spill-over × invocations per day (every spilled request
  counted cold, the peak spill-over applied to all traffic: an upper bound).
- Break-even against a real-time option: its USD/month ÷ the on-demand serverless USD per invocation.

Where this deliberately differs from the sagemaker-serverless-inference-benchmarking toolkit (whose
MobileNetV2 table it reproduces given the toolkit's prices, its average latency and payload, 720 h
months and unrounded durations): the SLA and the speed/balanced strategies use the p99, not the
average (estimated from the mean by the shifted-exponential service model of
:mod:`planner.queueing` when no percentile was measured, and said so); billed durations are rounded
up to 1 ms; months are 730 h; memory is chosen by an explicit strategy under the SLA instead of the
toolkit's positional discount (latency × cost × [1, .9, …, .5]); the real-time comparison is sized
for the same peak and SLA instead of one hard-coded instance; prices carry their region and date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from planner.capacity import ConfigurationFit
from planner.catalog import HOURS_PER_MONTH, SERVERLESS_MEMORY_SIZES_MB, PriceCatalog, PriceProvenance
from planner.costs import (
    GIB_BYTES,
    ServerlessMonthlyCost,
    billed_duration_ms,
    break_even_monthly_invocations,
    serverless_usd_per_invocation,
    serverless_usd_per_month,
)
from planner.errors import InfeasibleError
from planner.jsonable import finite
from planner.queueing import erlang_b, servers_for_blocking, service_quantile_s
from planner.recommend import DEFAULT_MAX_UTILIZATION
from planner.recommend.realtime import RealtimeRecommendation, recommend_realtime
from planner.resampling import percentile_interval
from planner.variability import MEAN_ONLY_SERVICE_SCV, SCV_BRACKET_FACTOR

MAX_CONCURRENCY = 200
STRATEGIES = ("cost", "speed", "balanced")
PERCENTILES = (50.0, 90.0, 95.0, 99.0)


@dataclass(frozen=True)
class MemoryLatency:
    """Measured latency of one memory size (ms): the mean and, when measured, percentiles {99.0: ms}."""

    memory_mb: int
    latency_mean_ms: float
    latency_percentiles_ms: Mapping[float, float] = field(default_factory=dict)
    origin: str = "measured"
    run_ids: tuple[str, ...] = ()
    latency_p99_ci_ms: tuple[float, float] | None = None  # 95 % bootstrap of the median over >= 3 steps


@dataclass(frozen=True)
class MemoryOption:
    """One memory size priced for the traffic; ``usd_per_month`` is on-demand."""

    memory_mb: int
    latency_mean_ms: float
    latency_p50_ms: float | None
    latency_p90_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float
    latency_percentiles_source: str  # "measured" or "estimated-from-mean"
    latency_p99_ci_lower_ms: float | None  # see latency_p99_interval; None for a p99 measured in < 3 steps
    latency_p99_ci_upper_ms: float | None
    latency_p99_interval: str | None  # what the bracket is: a bootstrap CI, or the p99 over an assumed Cs² range
    billed_duration_ms: float
    usd_per_invocation: float
    usd_per_million_invocations: float
    usd_per_month: float
    meets_sla: bool
    pareto: bool
    origin: str
    run_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "run_ids": list(self.run_ids)}


@dataclass(frozen=True)
class RealtimeBaseline:
    """The real-time option serverless is compared with: ``instance_count`` × ``instance_type``."""

    instance_type: str
    instance_count: int
    usd_per_month: float
    label: str | None = None
    origin: str = "given"  # the recommended option's data origin (measured / emulated / published), or given

    @classmethod
    def from_recommendation(cls, rec: RealtimeRecommendation) -> RealtimeBaseline | None:
        """The cheapest option of a real-time recommendation; ``None`` when it has none."""
        if not rec.options:
            return None
        best = rec.options[0]
        return cls(best.instance_type, best.instance_count, best.usd_per_month, best.label, best.origin)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ServerlessRecommendation:
    """Memory size, MaxConcurrency and provisioned concurrency for one traffic profile, with costs."""

    strategy: str
    balanced_weight: float
    latency_target_ms: float
    monthly_invocations: float
    peak_tps: float
    request_bytes: float
    response_bytes: float
    throttle_target: float
    spillover_target: float
    hours_per_month: float
    memory_options: tuple[MemoryOption, ...]
    recommended_memory_mb: int
    offered_load_erlang: float
    max_concurrency: int
    throttle_probability: float
    provisioned_concurrency: int
    spillover_probability: float
    cold_starts_per_day: float
    on_demand_cost: ServerlessMonthlyCost
    provisioned_cost: ServerlessMonthlyCost
    break_even_monthly_invocations: float | None
    realtime_option: RealtimeBaseline | None
    price_catalog: PriceProvenance
    latency_provenance: dict[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def recommended(self) -> MemoryOption:
        return next(o for o in self.memory_options if o.memory_mb == self.recommended_memory_mb)

    @property
    def feasible(self) -> bool:
        """The chosen memory meets the SLA and MaxConcurrency 200 or less meets the throttle target."""
        return self.recommended.meets_sla and self.throttle_probability <= self.throttle_target

    def to_dict(self) -> dict[str, Any]:
        """The ``planner serverless --json`` shape (keys documented in the README)."""
        out = {k: getattr(self, k) for k in (
            "strategy", "balanced_weight", "latency_target_ms", "monthly_invocations", "peak_tps", "request_bytes",
            "response_bytes", "throttle_target", "spillover_target", "hours_per_month")}
        out |= {"percentile": "p99", "feasible": self.feasible,
                "memory_options": [o.to_dict() for o in self.memory_options],
                "recommended_memory_mb": self.recommended_memory_mb,
                "offered_load_erlang": self.offered_load_erlang, "max_concurrency": self.max_concurrency,
                "throttle_probability": self.throttle_probability,
                "provisioned_concurrency": self.provisioned_concurrency,
                "spillover_probability": self.spillover_probability, "cold_starts_per_day": self.cold_starts_per_day,
                "usd_per_month": {"on_demand": self.on_demand_cost.usd_per_month,
                                  "with_provisioned": self.provisioned_cost.usd_per_month},
                "monthly_cost": {"on_demand": self.on_demand_cost.to_dict(),
                                 "with_provisioned": self.provisioned_cost.to_dict()},
                "break_even_monthly_invocations": self.break_even_monthly_invocations,
                "realtime_option": self.realtime_option.to_dict() if self.realtime_option else None,
                "price_catalog": self.price_catalog.to_dict(), "latency_provenance": self.latency_provenance,
                "notes": list(self.notes)}
        return finite(out)


# ---------------------------------------------------------------- latencies from steps


def memory_latencies(steps: pd.DataFrame) -> tuple[tuple[MemoryLatency, ...], tuple[str, ...]]:
    """Per-memory-size latency from steps (:func:`planner.steps.for_collection`) that carry ``memory_mb``.

    Steps flagged ``errors`` or ``too_short`` are left out. The mean is request-weighted over a
    size's steps; each percentile is the median of its per-step values (serverless latency barely
    depends on load below MaxConcurrency, so the steps are repeated measurements). Sizes outside the
    serverless limits are skipped; the notes say which.
    """
    if steps.empty or "memory_mb" not in steps or "latency_mean_ms" not in steps:
        return (), ()
    rows = steps[pd.to_numeric(steps["memory_mb"], errors="coerce").notna()]
    for flag in ("errors", "too_short"):
        if flag in rows:
            rows = rows[~rows[flag].fillna(False).astype(bool)]
    found, notes = [], []
    for memory, group in rows.groupby(pd.to_numeric(rows["memory_mb"]).astype(float)):
        if memory not in SERVERLESS_MEMORY_SIZES_MB:
            notes.append(f"{memory:g} MB is not a serverless memory size (1024–6144 MB in 1024 MB steps): skipped")
            continue
        mean = pd.to_numeric(group["latency_mean_ms"], errors="coerce").astype(float)
        weights = pd.to_numeric(group.get("request_count", pd.Series(1.0, index=group.index)),
                                errors="coerce").astype(float).fillna(1.0)
        usable = mean.notna() & (weights > 0)
        if not usable.any():
            notes.append(f"{memory:g} MB: no mean latency in its steps: skipped")
            continue
        percentiles, p99_ci = {}, None
        for pct in PERCENTILES:
            column = f"latency_p{pct:g}_ms"
            values = pd.to_numeric(group.get(column, pd.Series()), errors="coerce").dropna()
            if len(values):
                percentiles[pct] = float(values.median())
            if pct == 99.0 and len(values) >= 3:
                p99_ci = _median_interval(values.to_numpy(float))
        found.append(MemoryLatency(
            memory_mb=int(memory), latency_mean_ms=float(np.average(mean[usable], weights=weights[usable])),
            latency_percentiles_ms=percentiles, origin="+".join(sorted(set(group.get("origin", pd.Series()).dropna().astype(str))))
            or "measured", run_ids=tuple(sorted(set(group["run_id"].astype(str)))) if "run_id" in group else (),
            latency_p99_ci_ms=p99_ci))
    return tuple(found), tuple(notes)


def _median_interval(values: np.ndarray, n_resamples: int = 400, level: float = 0.95,
                     seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval (ms) of the median of per-step values (the steps resampled)."""
    rng = np.random.default_rng(seed)
    medians = np.median(values[rng.integers(0, values.size, (n_resamples, values.size))], axis=1)
    lower, upper = percentile_interval(medians[:, None], level)
    return float(lower[0]), float(upper[0])


# ---------------------------------------------------------------- memory options and strategies


def _percentiles_ms(latency: MemoryLatency,
                    latency_scv: float) -> tuple[Mapping[float, float | None], float, str]:
    """(each of PERCENTILES in ms, None when a measured one is missing; the p99 in ms; their source)."""
    measured = latency.latency_percentiles_ms
    if 99.0 in measured:
        return {p: measured.get(p) for p in PERCENTILES}, measured[99.0], "measured"
    seconds = service_quantile_s(np.array(PERCENTILES) / 100, latency.latency_mean_ms / 1000, latency_scv)
    estimated = {p: float(s) * 1000 for p, s in zip(PERCENTILES, seconds, strict=True)}
    return estimated, estimated[99.0], "estimated-from-mean"


def _p99_interval(latency: MemoryLatency, source: str,
                  latency_scv: float) -> tuple[float | None, float | None, str | None]:
    """(lower ms, upper ms, what it is) of a memory size's p99."""
    if source == "measured":
        if latency.latency_p99_ci_ms is None:
            return None, None, None
        return (*latency.latency_p99_ci_ms, "95% bootstrap CI of the median over the steps")
    scvs = np.array([latency_scv / SCV_BRACKET_FACTOR, latency_scv * SCV_BRACKET_FACTOR])
    lower_s, upper_s = service_quantile_s(0.99, latency.latency_mean_ms / 1000, scvs)
    return (float(lower_s) * 1000, float(upper_s) * 1000,
            f"p99 for an assumed latency Cs² of {scvs[0]:g}–{scvs[1]:g} (not a confidence interval)")


def memory_options(latencies: Sequence[MemoryLatency], catalog: PriceCatalog, *, monthly_invocations: float,
                   latency_target_ms: float, request_bytes: float = 0.0, response_bytes: float = 0.0,
                   latency_scv: float = MEAN_ONLY_SERVICE_SCV, billing_granularity_ms: float | None = 1,
                   bytes_per_gb: float = GIB_BYTES) -> tuple[MemoryOption, ...]:
    """Each memory size priced (on-demand) for ``monthly_invocations``, checked against p99 ≤ target, by memory."""
    options = []
    for latency in sorted(latencies, key=lambda m: m.memory_mb):
        pct, p99_ms, source = _percentiles_ms(latency, latency_scv)
        p99_lower_ms, p99_upper_ms, p99_interval = _p99_interval(latency, source, latency_scv)
        usd = serverless_usd_per_invocation(latency.memory_mb, latency.latency_mean_ms, request_bytes,
                                            response_bytes, catalog, billing_granularity_ms, bytes_per_gb)
        options.append(MemoryOption(
            memory_mb=latency.memory_mb, latency_mean_ms=latency.latency_mean_ms, latency_p50_ms=pct[50.0],
            latency_p90_ms=pct[90.0], latency_p95_ms=pct[95.0], latency_p99_ms=p99_ms,
            latency_percentiles_source=source,
            latency_p99_ci_lower_ms=p99_lower_ms, latency_p99_ci_upper_ms=p99_upper_ms,
            latency_p99_interval=p99_interval,
            billed_duration_ms=billed_duration_ms(latency.latency_mean_ms, billing_granularity_ms),
            usd_per_invocation=usd, usd_per_million_invocations=usd * 1e6, usd_per_month=usd * monthly_invocations,
            meets_sla=p99_ms <= latency_target_ms, pareto=False, origin=latency.origin,
            run_ids=latency.run_ids))
    return tuple(replace(o, pareto=not any(_dominates(q, o) for q in options)) for o in options)


def _dominates(a: MemoryOption, b: MemoryOption) -> bool:
    no_worse = a.latency_p99_ms <= b.latency_p99_ms and a.usd_per_invocation <= b.usd_per_invocation
    return no_worse and (a.latency_p99_ms < b.latency_p99_ms or a.usd_per_invocation < b.usd_per_invocation)


def choose_memory(options: Sequence[MemoryOption], strategy: str = "cost",
                  balanced_weight: float = 0.5) -> MemoryOption:
    """The option a Power Tuning strategy picks (``duration`` = p99 latency here, not the average)."""
    if strategy not in STRATEGIES or not options or not 0 <= balanced_weight <= 1:
        raise ValueError(f"need options, a strategy in {STRATEGIES} and a weight in [0, 1], got {strategy!r}, "
                         f"{balanced_weight!r}")
    if strategy == "cost":
        return min(options, key=lambda o: (o.usd_per_invocation, o.latency_p99_ms))
    if strategy == "speed":
        return min(options, key=lambda o: (o.latency_p99_ms, o.usd_per_invocation))
    max_usd = max(o.usd_per_invocation for o in options) or 1.0
    max_ms = max(o.latency_p99_ms for o in options) or 1.0
    return min(options, key=lambda o: (balanced_weight * o.usd_per_invocation / max_usd
                                       + (1 - balanced_weight) * o.latency_p99_ms / max_ms, o.usd_per_invocation,
                                       o.latency_p99_ms))


# ---------------------------------------------------------------- concurrency


def max_concurrency_for(offered_load_erlang: float, throttle_target: float) -> tuple[int, float]:
    """Smallest MaxConcurrency in 1..200 with Erlang B throttle probability ≤ target, and that probability.

    When even 200 is not enough: (200, B(A, 200)), a probability above the target.
    """
    servers = min(servers_for_blocking(offered_load_erlang, throttle_target), MAX_CONCURRENCY)
    return servers, float(erlang_b(offered_load_erlang, servers))


def provisioned_concurrency_for(offered_load_erlang: float, spillover_target: float,
                                max_concurrency: int) -> tuple[int, float]:
    """Smallest provisioned concurrency in 1..``max_concurrency`` whose spill-over B(A, p) ≤ target, and B(A, p)."""
    slots = min(servers_for_blocking(offered_load_erlang, spillover_target), max_concurrency)
    return slots, float(erlang_b(offered_load_erlang, slots))


# ---------------------------------------------------------------- the recommendation


def recommend_serverless(latencies: Sequence[MemoryLatency], catalog: PriceCatalog, *, monthly_invocations: float,
                         peak_tps: float, latency_target_ms: float, strategy: str = "cost",
                         balanced_weight: float = 0.5, request_bytes: float = 0.0, response_bytes: float = 0.0,
                         throttle_target: float = 0.001, spillover_target: float = 0.01,
                         realtime: RealtimeBaseline | None = None, latency_scv: float = MEAN_ONLY_SERVICE_SCV,
                         hours_per_month: float = HOURS_PER_MONTH, billing_granularity_ms: float | None = 1,
                         bytes_per_gb: float = GIB_BYTES) -> ServerlessRecommendation:
    """Memory (by ``strategy`` among sizes with p99 ≤ target), MaxConcurrency, provisioned concurrency, costs.

    When no size meets the target, the fastest is shown and the result is not ``feasible``.
    """
    if not (monthly_invocations > 0 and peak_tps > 0 and latency_target_ms > 0 and hours_per_month > 0):
        raise ValueError("monthly_invocations, peak_tps, latency_target_ms and hours_per_month must be > 0")
    if not (0 < throttle_target < 1 and 0 < spillover_target < 1):
        raise ValueError("throttle_target and spillover_target must be in (0, 1)")
    if not latencies:
        raise InfeasibleError("no latency per serverless memory size: ingest sm-serverless-benchmarking results, "
                              "CloudWatch metrics or Locust runs with --memory-mb")
    options = memory_options(latencies, catalog, monthly_invocations=monthly_invocations,
                             latency_target_ms=latency_target_ms, request_bytes=request_bytes,
                             response_bytes=response_bytes, latency_scv=latency_scv,
                             billing_granularity_ms=billing_granularity_ms, bytes_per_gb=bytes_per_gb)
    meeting = [o for o in options if o.meets_sla]
    chosen = (choose_memory(meeting, strategy, balanced_weight) if meeting
              else choose_memory(options, "speed"))
    load = peak_tps * chosen.latency_mean_ms / 1000
    max_conc, throttle = max_concurrency_for(load, throttle_target)
    provisioned, spill = provisioned_concurrency_for(load, spillover_target, max_conc)
    cost_args = (chosen.memory_mb, chosen.latency_mean_ms, request_bytes, response_bytes, catalog,
                 monthly_invocations)
    on_demand = serverless_usd_per_month(*cost_args, billing_granularity_ms=billing_granularity_ms,
                                         bytes_per_gb=bytes_per_gb)
    with_provisioned = serverless_usd_per_month(*cost_args, provisioned_concurrency=provisioned,
                                                provisioned_hours=hours_per_month,
                                                provisioned_served_fraction=1 - spill,
                                                billing_granularity_ms=billing_granularity_ms,
                                                bytes_per_gb=bytes_per_gb)
    break_even = (break_even_monthly_invocations(realtime.usd_per_month, chosen.usd_per_invocation)
                  if realtime else None)
    estimated = [o.memory_mb for o in options if o.latency_percentiles_source != "measured"]
    rec = ServerlessRecommendation(
        strategy=strategy, balanced_weight=balanced_weight, latency_target_ms=float(latency_target_ms),
        monthly_invocations=float(monthly_invocations), peak_tps=float(peak_tps),
        request_bytes=float(request_bytes), response_bytes=float(response_bytes), throttle_target=throttle_target,
        spillover_target=spillover_target, hours_per_month=float(hours_per_month), memory_options=options,
        recommended_memory_mb=chosen.memory_mb, offered_load_erlang=load, max_concurrency=max_conc,
        throttle_probability=throttle, provisioned_concurrency=provisioned, spillover_probability=spill,
        cold_starts_per_day=spill * monthly_invocations / (hours_per_month / 24), on_demand_cost=on_demand,
        provisioned_cost=with_provisioned, break_even_monthly_invocations=break_even, realtime_option=realtime,
        price_catalog=catalog.price_provenance(),
        latency_provenance={
            "origins": sorted({part for o in options for part in o.origin.split("+")}),
            "percentiles": "measured" if not estimated else "estimated-from-mean" if len(estimated) == len(options)
            else "mixed", "latency_scv_assumed": latency_scv if estimated else None,
            "run_ids": sorted({r for o in options for r in o.run_ids})})
    return replace(rec, notes=_notes(rec, estimated, latency_scv))


def _notes(rec: ServerlessRecommendation, estimated: list[int], latency_scv: float) -> tuple[str, ...]:
    best, notes = rec.recommended, []
    if not best.meets_sla:
        notes.append(f"no memory size meets p99 ≤ {rec.latency_target_ms:g} ms: the fastest ({best.memory_mb} MB, "
                     f"p99 {best.latency_p99_ms:.0f} ms) is shown")
    upper_ms = best.latency_p99_ci_upper_ms
    if best.meets_sla and upper_ms is not None and upper_ms > rec.latency_target_ms:
        notes.append(f"{best.memory_mb} MB meets p99 ≤ {rec.latency_target_ms:g} ms at its estimate "
                     f"({best.latency_p99_ms:.0f} ms) but not across its bracket ({best.latency_p99_ci_lower_ms:.0f}–"
                     f"{upper_ms:.0f} ms, {best.latency_p99_interval}): a larger size or measured "
                     "percentiles would settle it")
    if estimated:
        notes.append(f"p99 not measured for {', '.join(map(str, estimated))} MB: estimated from the mean latency "
                     f"(shifted-exponential service model, Cs² = {latency_scv:g}; bracketed by Cs² "
                     f"{latency_scv / SCV_BRACKET_FACTOR:g}–{latency_scv * SCV_BRACKET_FACTOR:g}); measure percentiles to "
                     "replace this assumption")
    average_tps = rec.monthly_invocations / (rec.hours_per_month * 3600)
    if average_tps > rec.peak_tps:
        notes.append(f"the monthly invocations average {average_tps:.1f} TPS, above the {rec.peak_tps:g} TPS peak")
    if rec.throttle_probability > rec.throttle_target:
        notes.append(f"even MaxConcurrency {MAX_CONCURRENCY} throttles {rec.throttle_probability:.2%} of requests at "
                     f"the peak (A = {rec.offered_load_erlang:.1f} erlang), above the {rec.throttle_target:g} target: "
                     "split the traffic over several endpoints or use real-time hosting")
    if rec.spillover_probability > rec.spillover_target:
        notes.append(f"the spill-over target {rec.spillover_target:g} needs more provisioned slots than "
                     f"MaxConcurrency {rec.max_concurrency}: {rec.max_concurrency} spill "
                     f"{rec.spillover_probability:.2%} over")
    if not rec.request_bytes + rec.response_bytes:
        notes.append("no payload sizes given: data processing is not priced")
    if rec.realtime_option is None:
        notes.append("no real-time option to compare with: no break-even")
    notes.append("throttling and spill-over by Erlang B: Poisson arrivals at the peak rate, each request holding "
                 "a slot for the mean latency, throttled or spilled requests not queued; cold starts per day are "
                 "an upper bound (every spilled request counted cold)")
    notes.append("differs from sm-serverless-benchmarking: p99 (not the average) for the SLA and the strategy, "
                 "durations billed rounded up to 1 ms, 730 h months, real-time option sized for the same peak "
                 "and SLA")
    return tuple(notes)


def rationale(rec: ServerlessRecommendation) -> str:
    """One paragraph: the chosen memory and why, concurrency settings, and the break-even."""
    best = rec.recommended
    why = {"cost": "the cheapest", "speed": "the fastest",
           "balanced": f"the best balance (weight {rec.balanced_weight:g} on cost)"}[rec.strategy]
    text = (f"{best.memory_mb} MB is {why} of the sizes meeting p99 ≤ {rec.latency_target_ms:g} ms "
            f"(p99 {best.latency_p99_ms:.0f} ms, {best.latency_percentiles_source}; "
            f"${best.usd_per_million_invocations:.2f} per 1M invocations)." if best.meets_sla else
            f"No memory size meets p99 ≤ {rec.latency_target_ms:g} ms; the fastest, {best.memory_mb} MB, has p99 "
            f"{best.latency_p99_ms:.0f} ms.")
    text += (f" At {rec.peak_tps:g} TPS peak the offered load is {rec.offered_load_erlang:.2f} erlang: MaxConcurrency "
             f"{rec.max_concurrency} throttles {rec.throttle_probability:.2g} of requests (target "
             f"{rec.throttle_target:g}); {rec.provisioned_concurrency} provisioned slots spill "
             f"{rec.spillover_probability:.2g} over (≤ {rec.cold_starts_per_day:,.0f} cold starts/day). "
             f"{rec.monthly_invocations:,.0f} invocations cost ${rec.on_demand_cost.usd_per_month:,.2f}/month on "
             f"demand, ${rec.provisioned_cost.usd_per_month:,.2f} with provisioned concurrency.")
    if rec.realtime_option and rec.break_even_monthly_invocations is not None:
        rt = rec.realtime_option
        cheaper = "serverless" if rec.monthly_invocations < rec.break_even_monthly_invocations else "real-time"
        text += (f" Against {rt.instance_type} × {rt.instance_count} (${rt.usd_per_month:,.0f}/month) serverless "
                 f"breaks even at {rec.break_even_monthly_invocations:,.0f} invocations/month: {cheaper} is cheaper "
                 "here.")
    return text


def comparable_realtime(fits: Sequence[ConfigurationFit], steps: pd.DataFrame, latencies: Sequence[MemoryLatency],
                        catalog: PriceCatalog, peak_tps: float, latency_target_ms: float,
                        max_utilization: float = DEFAULT_MAX_UTILIZATION) -> tuple[RealtimeBaseline | None, list[str]]:
    """The cheapest real-time option for the same peak and p99 target, from fits of the serverless
    runs' model when there are any (else any model, with a note saying so)."""
    fits = [f for f in fits if f.config.instance_type]
    run_ids = {r for m in latencies for r in m.run_ids}
    models = set(steps.loc[steps["run_id"].isin(run_ids), "model"].dropna()) if run_ids else set()
    same_model = [f for f in fits if f.config.model in models]
    rec = recommend_realtime(same_model or fits, catalog, target_tps=peak_tps, latency_target_ms=latency_target_ms,
                             max_utilization=max_utilization)
    baseline = RealtimeBaseline.from_recommendation(rec)
    notes = []
    if baseline and not same_model and models:
        notes.append(f"no real-time runs of {', '.join(sorted(models))}: the real-time option ({baseline.label}) "
                     "was measured with another model")
    return baseline, notes
