"""Multi-model endpoints on GPU: models per instance, cache hit ratio, cold loads, instances and cost.

**Memory.** GPU memory utilisation grows linearly with the models loaded (the OLS line of
:mod:`planner.gpu_memory_fit`); max models per instance is the largest n with ``u(n) ≤ 100·threshold``,
the benchmark's own rule (it stops before a model would cross 90 %).

**Cache.** MME routes a model's requests to an instance that has it loaded, so the endpoint acts as
one LRU cache of ``instances × max_models`` slots: hit ratio by Che's approximation over the model
popularity. Optimistic, as hot models replicated on several instances are ignored;
``hit_ratio_no_affinity`` is the other extreme (each instance an independent cache of max_models).

**Cold loads.** A request for a model that is not loaded waits for the load (CloudWatch
``ModelLoadingWaitTime``). Rule: when the miss ratio exceeds 1 % (the requests beyond the p99), the
p99 includes a cold load, ``p99 = warm p99 + cold-load time``; otherwise it is the warm p99.

**Sizing.** ``instances_for_memory``: fewest instances whose miss ratio ≤ ``max_miss_ratio`` (default
1 %, so cold loads stay out of the p99; 0 keeps every model resident). ``instances_for_throughput``:
ceil(target / per-instance capacity). ``instances`` is the larger; cost = price × instances × 730 h.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.capacity import KEY_FIELDS, ConfigurationFit, CurveFit
from planner.catalog import HOURS_PER_MONTH, PriceCatalog, PriceProvenance
from planner.costs import usd_per_month
from planner.errors import FitError, InfeasibleError, PriceError
from planner.gpu_memory_fit import (
    DEFAULT_MEMORY_THRESHOLD,
    DEFAULT_SATURATED_PCT,
    GpuMemoryFit,
    GpuMemorySummary,
)
from planner.jsonable import finite
from planner.queueing import che_hit_ratio
from planner.recommend import DEFAULT_MAX_UTILIZATION
from planner.traffic import Popularity

DEFAULT_MAX_MISS_RATIO = 0.01
P99_TAIL = 0.01  # share of requests beyond the p99: a miss ratio above it puts a cold load in the p99
_MEMORY_METRICS = ("GPUMemoryUtilization", "LoadedModelCount")
_KEY = tuple(f for f in KEY_FIELDS if f != "memory_mb")  # a GPU memory series: no serverless memory size
NOTES = ("hit ratio: one LRU cache of instances × models per instance (MME routes a model's requests to an "
         "instance that has it loaded; hot models replicated for throughput are ignored, so it is optimistic)",
         "p99 includes a cold load (ModelLoadingWaitTime) when the miss ratio exceeds 1 %",
         "GPU memory per model is in MiB as nvidia-smi reports it (the fitted percent × the GPU's total memory)")


# --------------------------------------------------------------------------- series of a collection


@dataclass(frozen=True)
class MemorySeries:
    """One models-loaded vs GPU-memory series (``source`` gpu_memory | cloudwatch) and its run."""

    run_id: str
    source: str
    origin: str
    instance_type: str | None
    framework: str | None
    model: str | None
    endpoint: str | None
    models_loaded: tuple[float, ...]
    gpu_memory_utilization_pct: tuple[float, ...]
    gpu_total_memory_mb: float | None = None
    max_models_reported: int | None = None
    cold_load_ms: float | None = None  # measured ModelLoadingWaitTime of this configuration's runs

    @property
    def key(self) -> tuple[str | None, ...]:
        return tuple(getattr(self, k) for k in _KEY)

    @property
    def label(self) -> str:
        parts = (self.instance_type or "unknown instance", self.framework, self.model or self.endpoint)
        return " / ".join(p for p in parts if p) + f" ({self.source} {self.run_id[:8]})"


def _text(value: Any) -> str | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else str(value)


def memory_series(runs: pd.DataFrame, gpu_memory: pd.DataFrame, metrics: pd.DataFrame) -> list[MemorySeries]:
    """Every series in a collection: the ``gpu_memory`` table, and CloudWatch ``GPUMemoryUtilization``
    (Average) paired with ``LoadedModelCount`` (Average) by timestamp and dimensions in ``metrics``."""
    info = {str(row["run_id"]): row for _, row in runs.iterrows()}
    found: list[tuple[str, str, pd.Series, pd.Series, float | None]] = []
    for run_id, rows in gpu_memory.groupby("run_id", sort=True) if len(gpu_memory) else ():
        totals = rows["gpu_total_memory_mb"].dropna() if "gpu_total_memory_mb" in rows else pd.Series()
        found.append((str(run_id), "gpu_memory", rows["models_loaded"], rows["gpu_memory_utilization_pct"],
                      float(totals.median()) if len(totals) else None))
    pairs = _cloudwatch_pairs(metrics)
    for run_id, rows in pairs.groupby("run_id", sort=True) if len(pairs) else ():
        found.append((str(run_id), "cloudwatch", rows["LoadedModelCount"], rows["GPUMemoryUtilization"], None))
    out = []
    for run_id, source, models, pct, total in found:
        run = info[run_id]
        notes = json.loads(run["notes"]) if _text(run.get("notes")) else {}
        key = _run_key(run)
        same = {i for i, row in info.items() if _run_key(row) == key}
        instance_type, framework, model, endpoint = key  # _KEY's order
        out.append(MemorySeries(
            run_id=run_id, source=source, origin=_text(run.get("origin")) or "measured",
            instance_type=instance_type, framework=framework, model=model, endpoint=endpoint,
            models_loaded=tuple(float(v) for v in models), gpu_memory_utilization_pct=tuple(float(v) for v in pct),
            gpu_total_memory_mb=total, max_models_reported=notes.get("max_models_reported"),
            cold_load_ms=_cold_load_ms(metrics, same)))
    return out


def _run_key(run: pd.Series) -> tuple[str | None, ...]:
    return tuple(_text(run.get(k)) for k in _KEY)


def throughput_run_ids(runs: pd.DataFrame, series: Sequence[MemorySeries]) -> list[str]:
    """Runs of the same configuration (instance type, framework, model, endpoint) as a series, but not
    the series' own: where per-instance throughput comes from."""
    keys, own = {s.key for s in series}, {s.run_id for s in series}
    return [str(row["run_id"]) for _, row in runs.iterrows() if _run_key(row) in keys and row["run_id"] not in own]


def _averages(metrics: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The ``Average`` rows of metrics ``names`` (values as floats, dimensions '' when none)."""
    if not len(metrics) or "metric_name" not in metrics:
        return pd.DataFrame(columns=["run_id", "timestamp", "dimensions", "metric_name", "value"])
    rows = metrics[metrics["metric_name"].isin(names) & (metrics["statistic"] == "Average")]
    return rows.assign(dimensions=rows["dimensions"].fillna(""), value=rows["value"].astype(float))


def _cloudwatch_pairs(metrics: pd.DataFrame) -> pd.DataFrame:
    rows = _averages(metrics, _MEMORY_METRICS)
    wide = rows.pivot_table(index=["run_id", "timestamp", "dimensions"], columns="metric_name", values="value",
                            aggfunc="mean")
    if not set(_MEMORY_METRICS) <= set(wide.columns):
        return pd.DataFrame()
    return wide.dropna(subset=list(_MEMORY_METRICS)).reset_index()


def _cold_load_ms(metrics: pd.DataFrame, run_ids: set[str]) -> float | None:
    """Median of the per-period Average ``ModelLoadingWaitTime`` (ms, > 0) of ``run_ids``, if any."""
    rows = _averages(metrics, ["ModelLoadingWaitTime"])
    values = rows.loc[rows["run_id"].isin(run_ids) & (rows["value"] > 0), "value"]
    return float(values.median()) if len(values) else None


# --------------------------------------------------------------------------- cache


def cache_hit_ratio(shares: Sequence[float], instances: int, models_per_instance: int) -> float:
    """LRU hit ratio (Che) of an endpoint caching ``instances × models_per_instance`` models."""
    return che_hit_ratio(np.asarray(shares, dtype=float), instances * models_per_instance)


def instances_for_miss_ratio(shares: Sequence[float], models_per_instance: int, max_miss_ratio: float) -> int:
    """Fewest instances whose miss ratio is ≤ ``max_miss_ratio`` (every model resident at worst)."""
    if models_per_instance < 1:
        raise ValueError("models_per_instance must be >= 1")
    low, high = 1, max(1, math.ceil(len(shares) / models_per_instance))
    while low < high:
        mid = (low + high) // 2
        if 1.0 - cache_hit_ratio(shares, mid, models_per_instance) <= max_miss_ratio + 1e-12:
            high = mid
        else:
            low = mid + 1
    return high


# --------------------------------------------------------------------------- sizing


@dataclass(frozen=True, kw_only=True)
class MmeVariant:
    """One measured series (e.g. PyTorch or TensorRT on one instance type) sized for the target."""

    label: str
    instance_type: str
    framework: str | None
    model: str | None
    memory: GpuMemorySummary
    max_models_per_instance: int
    max_models_per_instance_ci_lower: int
    max_models_per_instance_ci_upper: int
    max_models_reported: int | None
    tps_per_instance: float
    tps_per_instance_source: str
    instances: int
    instances_for_memory: int
    instances_for_throughput: int
    instances_all_models_resident: int
    hit_ratio: float
    hit_ratio_no_affinity: float
    miss_ratio: float
    latency_p99_warm_ms: float | None
    cold_load_ms: float | None
    cold_load_source: str | None
    cold_load_in_p99: bool
    latency_p99_ms: float | None
    usd_per_hour: float
    usd_per_month: float
    origin: str
    throughput_origin: str
    run_ids: tuple[str, ...]
    notes: tuple[str, ...] = ()
    extrapolated: bool = False  # models per instance or TPS per instance beyond what was measured (see notes)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "memory"}
        out.update(self.memory.to_dict(), run_ids=list(self.run_ids), notes=list(self.notes))
        return finite(out)


@dataclass(frozen=True)
class MmeRecommendation:
    """Variants sized for ``models`` models at ``target_tps``, cheapest first; unsized ones in ``rejected``."""

    models: int
    popularity: str
    target_tps: float
    memory_threshold: float
    max_miss_ratio: float
    max_utilization: float
    latency_target_ms: float | None
    price_catalog: PriceProvenance
    variants: tuple[MmeVariant, ...]
    rejected: tuple[tuple[str, str], ...] = ()
    hours_per_month: float = HOURS_PER_MONTH
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``planner mme --json`` shape: the settings, the best variant's keys, then every variant."""
        return {"models": self.models, "popularity": self.popularity, "target_tps": self.target_tps,
                "percentile": "p99", "memory_threshold": self.memory_threshold, "max_miss_ratio": self.max_miss_ratio,
                "max_utilization": self.max_utilization, "latency_target_ms": self.latency_target_ms,
                "hours_per_month": self.hours_per_month, "price_catalog": self.price_catalog.to_dict(),
                **self.variants[0].to_dict(), "variants": [v.to_dict() for v in self.variants],
                "rejected": [{"label": label, "reason": reason} for label, reason in self.rejected],
                "notes": [*self.notes, *self.variants[0].notes]}


def _matching_fit(series: MemorySeries, fits: Sequence[ConfigurationFit]) -> CurveFit | None:
    same = [f for f in fits if isinstance(f, CurveFit) and f.latency is not None
            and tuple(getattr(f.config, k) for k in _KEY) == series.key]
    return max(same, key=lambda f: f.n_steps, default=None)


def _throughput(series: MemorySeries, fits: Sequence[ConfigurationFit], tps_per_instance: float | None,
                latency_target_ms: float | None, max_utilization: float):
    """(TPS per instance, how it was obtained, origin, the fit or None); TPS None when unknown."""
    if tps_per_instance is not None:
        return tps_per_instance, "--tps-per-instance", "option", None
    fit = _matching_fit(series, fits)
    if fit is None:
        return None, "no fitted throughput curve for this configuration (pass --tps-per-instance)", "", None
    if latency_target_ms is None:
        how = f"{max_utilization:.0%} of the {fit.saturation_rps:.0f} TPS saturation of {fit.config.label}"
        return max_utilization * fit.saturation_rps, how, fit.origin, fit
    cap = fit.capacity_at_sla(latency_target_ms, 99.0, max_utilization)
    if not cap.feasible:
        return None, f"p99 at light load is {cap.min_latency_ms:.0f} ms, above {latency_target_ms:g} ms", "", fit
    return cap.capacity_rps, f"capacity at p99 ≤ {latency_target_ms:g} ms ({cap.binding}) of {fit.config.label}", \
        fit.origin, fit


def fit_gpu_memory(series: MemorySeries, catalog: PriceCatalog,
                   saturated_pct: float = DEFAULT_SATURATED_PCT) -> tuple[GpuMemoryFit, list[str]]:
    """The series' GPU memory line, and notes. CloudWatch's GPUMemoryUtilization is 0-100 % per GPU
    summed over the GPUs: divided by the instance's GPU count, against its total GPU memory.
    :class:`InfeasibleError` without an instance type."""
    spec = catalog.spec(_instance_type(series))
    notes = []
    pct = np.asarray(series.gpu_memory_utilization_pct, dtype=float)
    total_mb = series.gpu_total_memory_mb
    if series.source == "cloudwatch":
        if spec.accelerator_count > 1:
            pct = pct / spec.accelerator_count
            notes.append(f"GPUMemoryUtilization divided by the {spec.accelerator_count} GPUs of {spec.instance_type}")
        total_mb = spec.total_accelerator_memory_gib * 1024 or None
    return GpuMemoryFit(saturated_pct).fit(series.models_loaded, pct, total_mb), notes


def _instance_type(series: MemorySeries) -> str:
    """The series' instance type; :class:`InfeasibleError` when none was recorded."""
    if not series.instance_type:
        raise InfeasibleError("no instance type recorded for this series (ingest with --instance-type)")
    return series.instance_type


@dataclass(frozen=True)
class MmeDensity:
    """How many models of one series fit on one instance at ``memory_threshold`` (no traffic needed)."""

    label: str
    instance_type: str
    framework: str | None
    model: str | None
    origin: str
    memory_threshold: float
    memory: GpuMemorySummary
    max_models_per_instance: int
    max_models_per_instance_ci_lower: int
    max_models_per_instance_ci_upper: int
    max_models_reported: int | None
    max_models_loaded: int
    extrapolated: bool
    run_id: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "memory"}
        out.update(self.memory.to_dict(), notes=list(self.notes))
        return finite(out)


def density(series: MemorySeries, catalog: PriceCatalog,
            memory_threshold: float = DEFAULT_MEMORY_THRESHOLD) -> MmeDensity:
    """Models per instance of ``series`` at ``memory_threshold`` (the first question of a multi-model
    endpoint, before any traffic); ``extrapolated`` when more than the series loaded."""
    memory, notes = fit_gpu_memory(series, catalog)
    per_instance = memory.max_models(memory_threshold)
    loaded = int(max(series.models_loaded, default=0))
    return MmeDensity(series.label, _instance_type(series), series.framework, series.model, series.origin,
                      memory_threshold, memory.summary(), per_instance, *memory.max_models_interval(memory_threshold),
                      series.max_models_reported, loaded, per_instance > loaded, series.run_id, tuple(notes))


def size_variant(series: MemorySeries, catalog: PriceCatalog, popularity: Popularity, target_tps: float, *,
                 fits: Sequence[ConfigurationFit] = (), tps_per_instance: float | None = None,
                 memory_threshold: float = DEFAULT_MEMORY_THRESHOLD, max_miss_ratio: float = DEFAULT_MAX_MISS_RATIO,
                 max_utilization: float = DEFAULT_MAX_UTILIZATION, latency_target_ms: float | None = None,
                 cold_load_ms: float | None = None, saturated_pct: float = DEFAULT_SATURATED_PCT) -> MmeVariant:
    """Size one series; :class:`InfeasibleError` when it cannot be (no capacity, no model fits, no price)."""
    memory, notes = fit_gpu_memory(series, catalog, saturated_pct)
    instance_type = _instance_type(series)
    spec = catalog.spec(instance_type)
    per_instance = memory.max_models(memory_threshold)
    if per_instance < 1:
        raise InfeasibleError(f"one model needs {float(memory.predict(1)):.1f} % of GPU memory, above the "
                              f"{memory_threshold:.0%} threshold")
    tps, tps_how, tps_origin, fit = _throughput(series, fits, tps_per_instance, latency_target_ms, max_utilization)
    if tps is None:
        raise InfeasibleError(tps_how)
    shares = popularity.shares
    for_memory = instances_for_miss_ratio(shares, per_instance, max_miss_ratio)
    for_throughput = max(1, math.ceil(target_tps / tps - 1e-9))
    instances = max(for_memory, for_throughput)
    hit = cache_hit_ratio(shares, instances, per_instance)
    cold_source = "--cold-load-ms" if cold_load_ms is not None else (
        "measured ModelLoadingWaitTime (median of per-minute averages)" if series.cold_load_ms else None)
    cold = cold_load_ms if cold_load_ms is not None else series.cold_load_ms
    in_p99 = 1.0 - hit > P99_TAIL
    warm = float(fit.latency.predict_table(target_tps / instances, 99.0)) if fit is not None else None
    cold_in_p99 = cold if in_p99 else 0.0  # None: a cold load of unknown duration
    p99 = None if warm is None or cold_in_p99 is None else warm + cold_in_p99
    if in_p99 and cold is None:
        notes.append("the miss ratio exceeds 1 %: p99 includes a cold load of unknown duration (pass --cold-load-ms)")
    if p99 is not None and latency_target_ms is not None and p99 > latency_target_ms:
        notes.append(f"predicted p99 {p99:.0f} ms exceeds the {latency_target_ms:g} ms target (lower --max-miss-ratio)")
    if memory.n_points_excluded_:
        notes.append(f"{memory.n_points_excluded_} models-loaded count(s) left out of the memory fit (none loaded, "
                     f"or at the {saturated_pct:g} % cap / plateau)")
    beyond = _beyond_measured(series, per_instance, tps, fit)
    if beyond:
        notes.append("extrapolated beyond the measurements: " + "; ".join(beyond))
    ci_lower, ci_upper = memory.max_models_interval(memory_threshold)
    return MmeVariant(
        label=series.label, instance_type=instance_type, framework=series.framework, model=series.model,
        memory=memory.summary(), max_models_per_instance=per_instance, max_models_per_instance_ci_lower=ci_lower,
        max_models_per_instance_ci_upper=ci_upper, max_models_reported=series.max_models_reported,
        tps_per_instance=tps, tps_per_instance_source=tps_how, instances=instances, instances_for_memory=for_memory,
        instances_for_throughput=for_throughput,
        instances_all_models_resident=math.ceil(popularity.models / per_instance), hit_ratio=hit,
        hit_ratio_no_affinity=cache_hit_ratio(shares, 1, per_instance), miss_ratio=1.0 - hit,
        latency_p99_warm_ms=warm, cold_load_ms=cold, cold_load_source=cold_source, cold_load_in_p99=in_p99,
        latency_p99_ms=p99, usd_per_hour=spec.usd_per_hour * instances,
        usd_per_month=usd_per_month(spec.usd_per_hour, instances), origin=series.origin, throughput_origin=tps_origin,
        run_ids=(series.run_id, *(fit.run_ids if fit is not None else ())), notes=tuple(notes),
        extrapolated=bool(beyond))


def _beyond_measured(series: MemorySeries, models_per_instance: int, tps_per_instance: float,
                     fit: CurveFit | None) -> list[str]:
    """What a sizing takes past its measurements: more models per instance than the series loaded,
    more TPS per instance than the fitted configuration was measured at."""
    beyond = []
    loaded = max(series.models_loaded, default=0)
    if models_per_instance > loaded:
        beyond.append(f"{models_per_instance} models per instance, {loaded:g} loaded in the series")
    measured_rps = fit.latency.max_measured_rps_ if fit is not None and fit.latency is not None else None
    if measured_rps is not None and tps_per_instance > measured_rps:
        beyond.append(f"{tps_per_instance:.0f} TPS per instance, {measured_rps:.0f} measured")
    return beyond


def recommend_mme(series: Sequence[MemorySeries], catalog: PriceCatalog, popularity: Popularity,
                  target_tps: float, **options: Any) -> MmeRecommendation:
    """Size every series (options as :func:`size_variant`), cheapest first; InfeasibleError if none can be."""
    if not target_tps > 0:
        raise ValueError(f"target_tps must be > 0, got {target_tps!r}")
    variants, rejected = [], []
    for s in series:
        try:
            variants.append(size_variant(s, catalog, popularity, target_tps, **options))
        except (InfeasibleError, FitError, PriceError) as exc:
            rejected.append((s.label, str(exc)))
    if not variants:
        reasons = "; ".join(f"{label}: {why}" for label, why in rejected) or "no GPU memory series in the collection"
        raise InfeasibleError(f"no multi-model endpoint variant can be sized: {reasons}")
    variants.sort(key=lambda v: (v.usd_per_month, v.latency_p99_ms or 0.0))
    return MmeRecommendation(popularity.models, popularity.description, float(target_tps),
                             options.get("memory_threshold", DEFAULT_MEMORY_THRESHOLD),
                             options.get("max_miss_ratio", DEFAULT_MAX_MISS_RATIO), options.get("max_utilization", DEFAULT_MAX_UTILIZATION),
                             options.get("latency_target_ms"), catalog.price_provenance(), tuple(variants), tuple(rejected),
                             notes=NOTES)


def rationale(rec: MmeRecommendation) -> str:
    """A short paragraph: the cheapest variant, what drives its count, and how the others compare."""
    best = rec.variants[0]
    driver = "throughput" if best.instances_for_throughput >= best.instances_for_memory else "memory (cache misses)"
    mib = f", {best.memory.gpu_memory_per_model_mb:.0f} MiB per model" if best.memory.gpu_memory_per_model_mb else ""
    text = (f"{best.instance_type} × {best.instances} ({best.framework or best.label}): {best.max_models_per_instance} "
            f"models per instance at {rec.memory_threshold:.0%} GPU memory{mib}; {best.tps_per_instance:.0f} TPS per "
            f"instance; the count is set by {driver}; hit ratio {best.hit_ratio:.1%} for {rec.models} models "
            f"({rec.popularity}){_p99_text(best)}; ${best.usd_per_month:,.0f}/month.")
    for other in rec.variants[1:]:
        text += (f" {other.framework or other.label}: {other.max_models_per_instance} models and "
                 f"{other.tps_per_instance:.0f} TPS per instance -> {other.instances} instances, "
                 f"${other.usd_per_month:,.0f}/month.")
    return text


def _p99_text(v: MmeVariant) -> str:
    if not v.cold_load_in_p99:
        return f"; misses {v.miss_ratio:.1%} ≤ 1 %, so cold loads stay beyond the p99"
    cold = f"{v.cold_load_ms:.0f} ms" if v.cold_load_ms is not None else "an unknown time"
    return f"; misses {v.miss_ratio:.1%} > 1 %, so the p99 includes a cold load ({cold})"


def densities(series: Sequence[MemorySeries], catalog: PriceCatalog,
              memory_threshold: float = DEFAULT_MEMORY_THRESHOLD) -> tuple[list[MmeDensity], list[tuple[str, str]]]:
    """:func:`density` of every series, most models per instance first; (label, reason) for those that fail."""
    found, rejected = [], []
    for s in series:
        try:
            found.append(density(s, catalog, memory_threshold))
        except (InfeasibleError, FitError, PriceError) as exc:
            rejected.append((s.label, str(exc)))
    return sorted(found, key=lambda d: -d.max_models_per_instance), rejected
