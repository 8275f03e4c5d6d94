"""Real-time endpoint sizing: instance type and count for a target throughput and latency percentile.

For each fitted configuration, the instance count is the smallest n whose per-instance load
``target / n`` keeps utilisation within the cap and the predicted percentile within the target.
Routing changes the prediction: ``random`` splits traffic into n independent queues (the fitted
per-instance curve as measured); ``least-outstanding`` behaves close to one pooled queue of n·c
workers, predicted as the fitted light-load latency plus the closed-form pooled M/G/c wait, and
never above the independent-queue prediction.

With ``ha``, there are at least two instances and the SLA still holds, unsaturated, with one lost.

``confidence`` above 0.5 sizes on the one-sided bootstrap quantile of the prediction instead of the
estimate: the count whose predicted percentile stays within the target in that share of the
resampled fits (0.95: the upper end of a 90 % band). The model's uncertainty is then paid for in
instances; options say when the estimate alone would have chosen fewer.

Options serving different models (:func:`served_model`) answer different questions: they are
ranked within each model (``top`` options per model), and a note says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from planner.capacity import ALL_FAILED, Configuration, ConfigurationFit, CurveFit, RecommenderFit
from planner.catalog import PriceCatalog, PriceProvenance
from planner.costs import realtime_cost
from planner.errors import PriceError
from planner.fit import CapacityEstimate, LatencyModel
from planner.jsonable import finite
from planner.queueing import allen_cunneen_factor, erlang_c, mgc_mean_response_s
from planner.recommend import DEFAULT_CONFIDENCE, DEFAULT_MAX_UTILIZATION

ROUTINGS = ("least-outstanding", "random")
MAX_INSTANCES = 10_000
HA_MAX_UTILIZATION = 0.95  # with one instance lost, the rest may run hot but not saturated
ESTIMATE_CONFIDENCE = 0.5  # size on the fitted estimate itself (the bootstrap band's middle)
UNPRICED = "unpriced"  # the reason of a rejection whose instance type the price catalog lacks


@dataclass(frozen=True)
class RealtimeOption:
    """One feasible answer: ``instance_count`` × ``instance_type`` at the target, with its evidence."""

    instance_type: str
    instance_count: int
    label: str
    predicted_latency_ms: float
    predicted_latency_ci_lower_ms: float | None
    predicted_latency_ci_upper_ms: float | None
    capacity_tps_per_instance: float
    capacity_tps_per_instance_ci_lower: float | None
    capacity_tps_per_instance_ci_upper: float | None
    load_tps_per_instance: float
    utilization: float
    saturation_tps_per_instance: float
    usd_per_hour: float
    usd_per_month: float
    usd_per_million_requests: float
    heldout_error: float | None
    origin: str
    extrapolated: bool
    model: str
    run_ids: tuple[str, ...]
    naive_instance_count: int
    naive_predicted_latency_ms: float
    one_lost_predicted_latency_ms: float | None
    notes: tuple[str, ...] = ()
    served_model: str | None = None  # what the instances serve (:func:`served_model`); ``model`` is the curve's
    estimate_instance_count: int | None = None  # the count on the estimate alone (differs at confidence > 0.5)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["run_ids"] = list(self.run_ids)
        out["notes"] = list(self.notes)
        return finite(out)


@dataclass(frozen=True)
class Rejection:
    """A configuration that cannot meet the target at any count, and why."""

    label: str
    instance_type: str | None
    reason: str
    best_latency_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RealtimeRecommendation:
    """Ranked options (cheapest first) and rejections for one target; ``models``: the served models the
    options are ranked within (:func:`served_model`, the one with the cheapest option first), or the one
    recorded model (none) when they are ranked together."""

    target_tps: float
    percentile: str
    latency_target_ms: float
    max_utilization: float
    ha: bool
    routing: str
    price_catalog: PriceProvenance
    options: tuple[RealtimeOption, ...]
    rejected: tuple[Rejection, ...]
    hours_per_month: float = 730.0
    notes: tuple[str, ...] = field(default=())
    models: tuple[str | None, ...] = ()
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def feasible(self) -> bool:
        return bool(self.options)

    def by_model(self) -> list[tuple[str | None, tuple[RealtimeOption, ...]]]:
        """The options grouped by served model, in the order of ``models`` (cheapest first within each);
        one group of every option when they are not ranked by model (fewer than two models)."""
        if len(self.models) < 2:
            return [(self.models[0] if self.models else None, self.options)]
        return [(m, tuple(o for o in self.options if o.served_model == m)) for m in self.models]

    def to_dict(self) -> dict[str, Any]:
        """The ``planner recommend --json`` shape (keys documented in the README)."""
        return {"target_tps": self.target_tps, "percentile": self.percentile,
                "latency_target_ms": self.latency_target_ms, "max_utilization": self.max_utilization,
                "ha": self.ha, "routing": self.routing, "confidence": self.confidence,
                "hours_per_month": self.hours_per_month,
                "price_catalog": self.price_catalog.to_dict(), "feasible": self.feasible,
                "options": [o.to_dict() for o in self.options], "models": list(self.models),
                "rejected": [r.to_dict() for r in self.rejected], "notes": list(self.notes)}


def _percentile_label(percentile: float | str) -> str:
    return "mean" if str(percentile) == "mean" else "p" + f"{float(str(percentile).lstrip('p')):g}"


class _Curve:
    """Predicted latency (ms) of one fitted configuration at n instances sharing a total load."""

    def __init__(self, fit: CurveFit, model: LatencyModel, percentile: float | str, routing: str,
                 confidence: float = ESTIMATE_CONFIDENCE) -> None:
        self.fit, self.model, self.routing = fit, model, routing
        self.confidence = confidence if model.bootstrap_resamples_ > 0 else ESTIMATE_CONFIDENCE
        self.stat = percentile
        self.queue = self.model.queue_
        self.saturation_rps = fit.saturation_rps
        self.p = None if percentile == "mean" else float(percentile) / 100
        self.light_ms = float(self.model.predict_table(1e-9 * self.saturation_rps, percentile))
        self._memo: dict[tuple[float, int], float] = {}

    def _pooled_ms(self, total_rps: float, n: int) -> float:
        """One pooled queue of n·c workers (least-outstanding): the fitted light-load latency plus
        the closed-form pooled wait (Erlang C wait quantile ``ln(C/(1−p)) / (n·c/S − λ)``, or the
        mean wait, scaled by Allen–Cunneen). Both terms fall as n grows."""
        q = self.queue
        servers = n * q.servers
        if self.p is None:  # the mean
            wait_s = mgc_mean_response_s(total_rps, q.service_time_s, servers, q.service_scv,
                                         q.arrival_scv) - q.service_time_s
        else:
            rate = servers / q.service_time_s - total_rps
            if rate <= 0:
                return math.inf
            waiting = float(erlang_c(total_rps * q.service_time_s, servers))
            wait_s = max(0.0, math.log(waiting / (1 - self.p))) / rate if waiting > 0 else 0.0
            wait_s *= float(allen_cunneen_factor(q.arrival_scv, q.service_scv))
        return self.light_ms + 1000.0 * max(0.0, float(wait_s))

    def _independent_ms(self, total_rps: float, n: int) -> float:
        key = (total_rps, n)
        if key not in self._memo:
            self._memo[key] = float(self.model.predict_table(total_rps / n, self.stat))
        return self._memo[key]

    def latency_ms(self, total_rps: float, n: int) -> float:
        """Independent queues: the fitted curve at the per-instance load. Pooled: the smaller of that
        and :meth:`_pooled_ms` (pooling never hurts), so the prediction falls monotonically in n."""
        independent = self._independent_ms(total_rps, n)
        if self.routing == "random" or n == 1:
            return independent
        return min(independent, self._pooled_ms(total_rps, n))

    def interval_ms(self, total_rps: float, n: int) -> tuple[float | None, float | None]:
        low, high = (float(v[0]) for v in self.band_ms(np.array([total_rps], dtype=float), n))
        return (low if math.isfinite(low) else None, high if math.isfinite(high) else None)

    def band_ms(self, total_rps: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The fitted model's bootstrap band at each per-instance load ``total / n``, scaled by the prediction
        over the independent-queue one (1 for random routing: pooling only lowers the curve)."""
        low, high = self.model.predict_interval(total_rps / n, self.stat)
        factor = np.array([self._pooling_factor(float(x), n) for x in total_rps])
        return np.asarray(low, dtype=float) * factor, np.asarray(high, dtype=float) * factor

    def _pooling_factor(self, total_rps: float, n: int) -> float:
        independent = self._independent_ms(total_rps, n)
        return self.latency_ms(total_rps, n) / independent if math.isfinite(independent) and independent > 0 else 1.0

    def sizing_ms(self, total_rps: float, n: int) -> float:
        """The latency (ms) a count is judged by: the estimate, or at ``confidence`` > 0.5 the larger of it
        and the resampled fits' one-sided ``confidence`` quantile (as the band, scaled for pooling)."""
        point = self.latency_ms(total_rps, n)
        if self.confidence <= ESTIMATE_CONFIDENCE:
            return point
        _, high = self.model.predict_interval(total_rps / n, self.stat, level=2 * self.confidence - 1)
        return max(point, float(high) * self._pooling_factor(total_rps, n))

    def ok(self, total_rps: float, n: int, target_ms: float, max_utilization: float) -> bool:
        return total_rps / n <= max_utilization * self.saturation_rps and self.sizing_ms(total_rps, n) <= target_ms

    def smallest_count(self, total_rps: float, target_ms: float, max_utilization: float,
                       cap: CapacityEstimate) -> int | None:
        """Smallest n meeting both limits; None if none up to MAX_INSTANCES.

        ``cap`` is the per-instance capacity at this target on the estimate (independent queues): for random
        routing n below ``total / cap`` misses; pooling under least-outstanding routing can only lower the
        latency, so there only the utilisation cap bounds n from below. Galloping up from ``total / cap``
        then bisecting (the judged latency falls monotonically as n grows).
        """
        if not cap.feasible or cap.capacity_rps <= 0:
            return None
        start = max(1, math.ceil(total_rps / cap.capacity_rps - 1e-9))
        low = start if self.routing == "random" else max(
            1, math.ceil(total_rps / (max_utilization * self.saturation_rps) - 1e-9))
        high, step = start, 1
        while not self.ok(total_rps, high, target_ms, max_utilization):
            if high >= MAX_INSTANCES:
                return None
            low, high, step = high + 1, min(MAX_INSTANCES, high + step), 2 * step
        while low < high:
            mid = (low + high) // 2
            if self.ok(total_rps, mid, target_ms, max_utilization):
                high = mid
            else:
                low = mid + 1
        return high


def predicted_latency_ms(fit: CurveFit, total_tps: float, instance_count: int,
                         percentile: float | str = 99.0, routing: str = "least-outstanding") -> float:
    """Predicted latency (ms) of ``percentile`` when ``instance_count`` instances share ``total_tps``."""
    if fit.latency is None:
        raise ValueError(f"{fit.config.label}: no fitted latency model")
    return _Curve(fit, fit.latency, percentile, routing).latency_ms(total_tps, instance_count)


def predicted_latency_interval_ms(fit: CurveFit, total_tps, instance_count: int,
                                  percentile: float | str = 99.0,
                                  routing: str = "least-outstanding") -> tuple[np.ndarray, np.ndarray]:
    """95 % bootstrap band (lower, upper; ms) of :func:`predicted_latency_ms` at each total load (requests/s):
    the fitted model's band at the per-instance load, scaled as the prediction is under pooled routing.
    Arrays shaped like ``total_tps``; ``inf`` at or beyond saturation. Recommendations report this band."""
    if fit.latency is None:
        raise ValueError(f"{fit.config.label}: no fitted latency model")
    loads = np.asarray(total_tps, dtype=float)
    low, high = _Curve(fit, fit.latency, percentile, routing).band_ms(loads.reshape(-1), instance_count)
    return low.reshape(loads.shape), high.reshape(loads.shape)


def served_model(config: Configuration) -> str | None:
    """What a configuration's instances serve: its recorded model (None when not recorded). An endpoint
    name or a framework does not say which model is served, so neither splits the ranking."""
    return config.model


def _ranked_by_model(options: Sequence[RealtimeOption],
                     top: int | None) -> tuple[list[RealtimeOption], tuple[str | None, ...], tuple[str, ...]]:
    """``options`` (cheapest first) cut to the ``top`` cheapest of each served model; the models, the
    one with the cheapest option first; the note saying they differ. Options with no recorded model are
    one more group only beside two or more recorded models: beside one (or none) they may serve it, so
    they are ranked with it, and a note says so."""
    recorded = tuple(dict.fromkeys(o.served_model for o in options if o.served_model is not None))
    unrecorded = sum(o.served_model is None for o in options)
    if len(recorded) < 2:
        note = (f"{unrecorded} of {len(options)} options have no recorded model (ingest with --model): ranked "
                f"together with {recorded[0]}" if recorded and unrecorded else "")
        return list(options[:top] if top else options), recorded, (note,) if note else ()
    models = tuple(dict.fromkeys(o.served_model for o in options))
    seen: dict[str | None, int] = {}
    kept = []
    for option in options:
        seen[option.served_model] = seen.get(option.served_model, 0) + 1
        if not top or seen[option.served_model] <= top:
            kept.append(option)
    names = ", ".join(m if m is not None else "model not recorded" for m in models)
    return kept, models, (f"options serve {len(models)} different models: {names}; ranked within each model",)


def _rejection(fit: ConfigurationFit, reason: str, best: float | None = None) -> Rejection:
    return Rejection(fit.config.label, fit.config.instance_type, reason, best)


def _curve_option(fit: CurveFit, model: LatencyModel, instance_type: str, catalog: PriceCatalog,
                  target_tps: float, target_ms: float, percentile: float | str, max_utilization: float, ha: bool,
                  routing: str, confidence: float) -> RealtimeOption | Rejection:
    curve = _Curve(fit, model, percentile, routing, confidence)
    label = _percentile_label(percentile)
    cap = fit.capacity_at_sla(target_ms, percentile, max_utilization)
    n = curve.smallest_count(target_tps, target_ms, max_utilization, cap)
    if n is None:
        best = cap.min_latency_ms
        if cap.feasible:
            light = curve.sizing_ms(1e-9 * curve.saturation_rps, 1)
            return _rejection(fit, f"the {curve.confidence:.0%} upper bound of the predicted {label} at light load is "
                                   f"{light:.0f} ms, above the {target_ms:g} ms target (the estimate, {best:.0f} ms, "
                                   "meets it: measure more steps or lower --confidence)", best)
        return _rejection(fit, f"predicted {label} at light load is {best:.0f} ms, above the {target_ms:g} ms "
                               "target: no instance count meets it", best)
    estimate_count: int | None = n
    if curve.confidence > ESTIMATE_CONFIDENCE:
        estimate_count = _Curve(fit, model, percentile, routing).smallest_count(target_tps, target_ms, max_utilization,
                                                                                 cap)
    one_lost = None
    if ha:
        n = max(n, 2)
        while n <= MAX_INSTANCES and not curve.ok(target_tps, n - 1, target_ms, HA_MAX_UTILIZATION):
            n += 1
        one_lost = curve.latency_ms(target_tps, n - 1)
    cost = realtime_cost(catalog, instance_type, n, target_tps)
    low, high = curve.interval_ms(target_tps, n)
    measured_peak = float(model.max_measured_rps_)
    naive = max(1, math.ceil(target_tps / measured_peak - 1e-9))
    per_instance = target_tps / n
    notes = list(fit.notes)
    if estimate_count is not None and estimate_count < n:
        notes.append(f"sized at {curve.confidence:.0%} confidence: the estimate alone says {estimate_count} "
                     f"(predicted {label} {curve.latency_ms(target_tps, estimate_count):,.0f} ms, "
                     f"{curve.confidence:.0%} bound {curve.sizing_ms(target_tps, estimate_count):,.0f} ms against "
                     f"{target_ms:g} ms)")
    bracket = model.variability_bracket_ms(per_instance, percentile)
    v = model.variability_
    if bracket is not None and v is not None:
        notes.append(f"no per-step {label} was measured: it is predicted from mean latency by the queueing model "
                     f"with service Cs² {v.scv:.3g} assumed ({v.source}); at Cs² {v.scv_lower:.3g}–{v.scv_upper:.3g} "
                     f"one instance's {label} at {per_instance:,.0f} TPS would be {bracket[0]:,.0f}–{bracket[1]:,.0f} ms")
    return RealtimeOption(
        instance_type=instance_type, instance_count=n, label=fit.config.label,
        predicted_latency_ms=curve.latency_ms(target_tps, n), predicted_latency_ci_lower_ms=low,
        predicted_latency_ci_upper_ms=high, capacity_tps_per_instance=cap.capacity_rps,
        capacity_tps_per_instance_ci_lower=cap.capacity_rps_ci_lower,
        capacity_tps_per_instance_ci_upper=cap.capacity_rps_ci_upper, load_tps_per_instance=per_instance,
        utilization=per_instance / curve.saturation_rps, saturation_tps_per_instance=curve.saturation_rps,
        usd_per_hour=cost.usd_per_hour, usd_per_month=cost.usd_per_month,
        usd_per_million_requests=cost.usd_per_million_requests, heldout_error=fit.heldout_error,
        origin=fit.origin, extrapolated=per_instance > measured_peak * 1.0001, model=model.model_,
        run_ids=fit.run_ids, naive_instance_count=naive, naive_predicted_latency_ms=curve.latency_ms(target_tps, naive),
        one_lost_predicted_latency_ms=one_lost, notes=tuple(notes), served_model=served_model(fit.config),
        estimate_instance_count=estimate_count)


def _recommender_option(fit: RecommenderFit, instance_type: str, catalog: PriceCatalog, target_tps: float,
                        target_ms: float, max_utilization: float, ha: bool) -> RealtimeOption | Rejection:
    point = fit.recommender
    latency = point.model_latency_ms
    if latency > target_ms:
        return _rejection(fit, f"Inference Recommender measured ModelLatency {latency:.0f} ms at its plateau, above "
                               f"the {target_ms:g} ms target; with one point there is no curve to tell the latency "
                               "at lower load", latency)
    capacity = point.throughput_rps_per_instance * max_utilization
    n = max(2 if ha else 1, math.ceil(target_tps / capacity - 1e-9))
    if ha:
        n = max(n, math.ceil(target_tps / (point.throughput_rps_per_instance * HA_MAX_UTILIZATION)) + 1)
    cost = realtime_cost(catalog, instance_type, n, target_tps)
    per_instance = target_tps / n
    return RealtimeOption(
        instance_type=instance_type, instance_count=n, label=fit.config.label,
        predicted_latency_ms=latency, predicted_latency_ci_lower_ms=None, predicted_latency_ci_upper_ms=None,
        capacity_tps_per_instance=capacity, capacity_tps_per_instance_ci_lower=None,
        capacity_tps_per_instance_ci_upper=None, load_tps_per_instance=per_instance,
        utilization=per_instance / point.throughput_rps_per_instance,
        saturation_tps_per_instance=point.throughput_rps_per_instance, usd_per_hour=cost.usd_per_hour,
        usd_per_month=cost.usd_per_month, usd_per_million_requests=cost.usd_per_million_requests,
        heldout_error=None, origin=fit.origin, extrapolated=False, model="inference-recommender-point",
        run_ids=fit.run_ids, naive_instance_count=max(1, math.ceil(target_tps / point.throughput_rps_per_instance)),
        naive_predicted_latency_ms=latency, one_lost_predicted_latency_ms=None,
        notes=(*fit.notes, "predicted latency is Inference Recommender's ModelLatency at its plateau (an upper "
                           "bound below it), not the requested percentile"), served_model=served_model(fit.config))


def recommend_realtime(fits: Sequence[ConfigurationFit], catalog: PriceCatalog, *, target_tps: float,
                       latency_target_ms: float, percentile: float | str = 99.0, max_utilization: float = DEFAULT_MAX_UTILIZATION,
                       ha: bool = False, routing: str = "least-outstanding",
                       top: int | None = None, confidence: float = DEFAULT_CONFIDENCE) -> RealtimeRecommendation:
    """Rank every fitted configuration's cheapest count meeting the target (USD/month, 730 h); ``top``
    options per served model (see the module docstring)."""
    if routing not in ROUTINGS:
        raise ValueError(f"routing must be one of {ROUTINGS}, got {routing!r}")
    if not (target_tps > 0 and latency_target_ms > 0 and 0 < max_utilization <= 1):
        raise ValueError("target_tps and latency_target_ms must be > 0 and max_utilization in (0, 1]")
    if not ESTIMATE_CONFIDENCE <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence!r}")
    options: list[RealtimeOption] = []
    rejected: list[Rejection] = []
    for fit in fits:
        if ALL_FAILED in fit.notes:
            rejected.append(_rejection(fit, f"{ALL_FAILED}: its runs measured errors, not capacity"))
            continue
        instance_type = fit.config.instance_type
        if not instance_type:
            rejected.append(_rejection(fit, "no instance type recorded for these runs (ingest with --instance-type)"))
            continue
        result: RealtimeOption | Rejection
        try:
            if isinstance(fit, RecommenderFit):
                result = _recommender_option(fit, instance_type, catalog, target_tps, latency_target_ms,
                                             max_utilization, ha)
            elif fit.latency is not None:
                result = _curve_option(fit, fit.latency, instance_type, catalog, target_tps, latency_target_ms,
                                       percentile, max_utilization, ha, routing, confidence)
            else:
                result = _rejection(fit, "no latency curve: " + ("; ".join(fit.notes) or "not enough steady steps"))
        except PriceError as exc:
            result = _rejection(fit, f"{UNPRICED}: {exc}")
        if isinstance(result, RealtimeOption):
            options.append(result)
        else:
            rejected.append(result)
    options.sort(key=lambda o: (o.usd_per_month, o.predicted_latency_ms))
    options, models, notes = _ranked_by_model(options, top)
    return RealtimeRecommendation(
        target_tps=float(target_tps), percentile=_percentile_label(percentile), latency_target_ms=float(latency_target_ms),
        max_utilization=max_utilization, ha=ha, routing=routing, price_catalog=catalog.price_provenance(),
        options=tuple(options), rejected=tuple(rejected), notes=notes, models=models, confidence=confidence)


def rationale(rec: RealtimeRecommendation) -> str:
    """One paragraph: the best option, why its count, and what the divide-by-saturation rule gets wrong."""
    if not rec.options:
        closest = min((r for r in rec.rejected if r.best_latency_ms is not None), key=lambda r: r.best_latency_ms or 0.0,
                      default=None)
        unpriced = [r for r in rec.rejected if r.reason.startswith(UNPRICED)]
        text = (f"No {'priced' if unpriced else 'measured'} configuration meets {rec.percentile} ≤ "
                f"{rec.latency_target_ms:g} ms at {rec.target_tps:g} TPS.")
        if unpriced:  # the headline: a price is missing, not capacity
            names = ", ".join(sorted({r.instance_type or "" for r in unpriced}))
            text = (f"no price for {names} in {rec.price_catalog.region} (add it with --price-file or "
                    f"`planner prices refresh`).{' ' + text if len(unpriced) < len(rec.rejected) else ''}")
        if closest:
            text += f" Closest: {closest.label}, {closest.best_latency_ms:.0f} ms at light load."
        return text
    best = rec.options[0]
    err = f"{best.heldout_error:.0%}" if best.heldout_error is not None else "not measured"
    band = (f" [{best.predicted_latency_ci_lower_ms:.0f}–{best.predicted_latency_ci_upper_ms:.0f}]"
            if best.predicted_latency_ci_lower_ms is not None and best.predicted_latency_ci_upper_ms is not None else "")
    text = (f"{best.instance_type} × {best.instance_count}: each instance takes {best.load_tps_per_instance:.0f} TPS "
            f"({best.utilization:.0%} of its {best.saturation_tps_per_instance:.0f} TPS saturation), predicted "
            f"{rec.percentile} {best.predicted_latency_ms:.0f} ms{band} against {rec.latency_target_ms:g} ms "
            f"(model held-out error {err}; data {best.origin}), ${best.usd_per_month:,.0f}/month.")
    if best.estimate_instance_count is not None and best.estimate_instance_count < best.instance_count:
        text += (f" Sized at {rec.confidence:.0%} confidence: on the estimate alone {best.estimate_instance_count} "
                 "would do.")
    if best.naive_instance_count < best.instance_count:
        naive = best.naive_predicted_latency_ms
        naive_text = "saturated (unbounded queue)" if not math.isfinite(naive) else f"{naive:.0f} ms"
        text += (f" Dividing {rec.target_tps:g} TPS by the highest measured throughput per instance would give "
                 f"{best.naive_instance_count} instances, each near saturation: predicted {rec.percentile} "
                 f"{naive_text}")
        text += (f", over the {rec.latency_target_ms:g} ms target." if naive > rec.latency_target_ms else
                 f", within the target only with no headroom: above the {rec.max_utilization:.0%} utilisation cap.")
    if best.extrapolated:
        text += " The per-instance load lies beyond the highest measured load: extrapolated."
    return text
