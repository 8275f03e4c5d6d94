"""Tail latency vs throughput over steady-state load steps: an M/G/c queue against a monotone curve.

Input: a *steps* frame (one row per load level; see ``planner.steps``) with ``throughput_rps``,
``latency_mean_ms``, optional ``latency_p<pct>_ms`` columns and boolean flags (``too_short``,
``errors``, ``cumulative_percentiles``, ``generator_saturated``). Flagged rows are dropped only
when named in ``exclude``; every summary says how many rows were used and excluded. Throughput vs
concurrency (the Universal Scalability Law) is :mod:`planner.usl`.

Estimators follow one shape: ``fit() -> self``, fitted attributes end in ``_``, ``predict()``,
``bootstrap(n_resamples, seed)`` (resampling steps, percentile intervals) and ``summary()``
returning a frozen dataclass with ``to_dict()``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special
from scipy.optimize import elementwise, isotonic_regression, least_squares

from planner import queueing as q
from planner.closed_loop import ClosedLoop
from planner.errors import FitError
from planner.resampling import heldout_split, percentile_interval, positive, select_steps
from planner.schema import column_percentile, percentile_column, percentile_columns
from planner.variability import ServiceVariability, assumed, from_maximum

Statistic = float | Literal["mean"]

# --------------------------------------------------------------------------- latency vs throughput

_UTIL_GRID = np.concatenate([np.linspace(0.0, 0.95, 760), 1.0 - np.geomspace(0.05, 1e-4, 120)[1:]])
_UTIL_GRID_BOOT = np.concatenate([np.linspace(0.0, 0.9, 46), 1.0 - np.geomspace(0.1, 1e-3, 19)[1:]])
_SCV_RANGE = (1e-3, 50.0)
_LOG_SCV_RANGE = (math.log(_SCV_RANGE[0]), math.log(_SCV_RANGE[1]))
# A closed-loop step's mean is its throughput (Little), exact from counters, and exact MVA predicts it
# for any service distribution near enough; its percentiles rest on the approximate wait distribution.
# Weights (on residuals) chosen on simulated closed loops (c 1-16, service CV 0.3-2), none of them the
# bench's emulated instances: with equal weights a lognormal service's shape pulls c and S away.
RELAXATION_TIMES = 3.0
"""An open-loop step's percentiles are fitted only if the step lasted this many relaxation times of the
fitted queue at its load (:func:`planner.queueing.relaxation_time_s`)."""
_CLOSED_MEAN_WEIGHT = 3.0
_CLOSED_PCT_WEIGHT = 0.3
_DELAY_START = 0.05  # start the fixed delay at 5% of its bound (the smallest latency observed)


def _statistic(percentile) -> Statistic:
    if isinstance(percentile, str):
        if percentile == "mean":
            return "mean"
        percentile = float(percentile.strip().lstrip("p").rstrip("%"))
    value = float(percentile)
    if not 0 < value < 100:
        raise ValueError(f"percentile must be in (0, 100) or 'mean', got {percentile!r}")
    return value


def _label(stat: Statistic) -> str:
    return "mean" if stat == "mean" else f"p{stat:g}"


def _queue_latency_ms(stat: Statistic, throughput_rps, servers, service_time_s, service_scv, arrival_scv,
                      family: str = "phase"):
    """Latency (ms) of statistic ``stat`` of the M/G/c model (vectorised over every argument)."""
    if stat == "mean":
        value = q.mgc_mean_response_s(throughput_rps, service_time_s, servers, service_scv, arrival_scv)
    else:
        value = q.mgc_response_quantile_s(stat / 100.0, throughput_rps, service_time_s, servers,
                                          service_scv, arrival_scv, family)
    return np.asarray(value) * 1000.0


@dataclass(frozen=True)
class QueueModel:
    """One instance as an M/G/c queue: ``servers`` workers, mean service time, service-time SCV,
    plus ``delay_ms`` spent outside the queue (network, client, serialisation: it adds to every
    latency but occupies no worker, so it does not lower the saturation throughput ``c/S``).

    Percentiles come from :func:`planner.queueing.mgc_response_quantile_s` (exact for M/M/c;
    Allen–Cunneen-scaled waiting otherwise); means from the Allen–Cunneen formula.
    """

    servers: int
    service_time_s: float
    service_scv: float = 1.0
    arrival_scv: float = 1.0
    delay_ms: float = 0.0
    service_family: str = "phase"

    @property
    def saturation_rps(self) -> float:
        """Throughput at which utilisation reaches 1: ``c/S``."""
        return float(self.servers / self.service_time_s)

    def latency_ms(self, throughput_rps, stat: Statistic = 99.0) -> np.ndarray:
        """Latency (ms) under open arrivals at ``throughput_rps``."""
        return self.delay_ms + _queue_latency_ms(stat, throughput_rps, self.servers, self.service_time_s,
                                                 self.service_scv, self.arrival_scv, self.service_family)

    def closed_latency_ms(self, users, think_s, stat: Statistic = 99.0) -> np.ndarray:
        """Latency (ms) in a closed loop of ``users`` per instance thinking ``think_s`` (s) between
        requests (:mod:`planner.closed_loop`); a fractional user count blends its two neighbours."""
        loops = _closed_pair(users, think_s, self.service_time_s, self.servers, self.delay_ms / 1e3, self.service_scv)
        if stat == "mean":
            value = sum(w * loop.station_mean_s for w, loop in loops)
        else:
            value = sum(w * loop.quantile_s(stat / 100.0, self.service_time_s, self.service_scv, self.service_family)
                        for w, loop in loops)
        return self.delay_ms + np.asarray(value) * 1000.0

    def closed_throughput_rps(self, users, think_s) -> np.ndarray:
        """Throughput (rps) of a closed loop of ``users`` per instance thinking ``think_s`` (s)."""
        loops = _closed_pair(users, think_s, self.service_time_s, self.servers, self.delay_ms / 1e3, self.service_scv)
        return np.asarray(sum(w * loop.throughput_rps for w, loop in loops))


def _closed_pair(users, think_s, service_s, servers: int, delay_s, scv) -> list[tuple[np.ndarray, ClosedLoop]]:
    """Closed loops at ``floor`` and ``ceil`` of ``users`` (at least 1) with their linear weights."""
    n = np.maximum(np.asarray(users, dtype=float), 1.0)
    lo = np.floor(n)
    frac = n - lo
    cycle = np.asarray(think_s, dtype=float) + delay_s
    pair = [(1.0 - frac, ClosedLoop.solve(lo, service_s, servers, cycle, scv))]
    if (frac > 0).any():
        pair.append((frac, ClosedLoop.solve(lo + (frac > 0), service_s, servers, cycle, scv)))
    return pair


@dataclass(frozen=True)
class _Observations:
    """Long-format latency observations: one per (step, statistic); ``percentile`` NaN for the mean.

    Closed-loop steps carry their ``users`` (per instance) and ``think_s`` (the step's own
    ``N/X − R``: time between a response and the next request); both are NaN for open-loop steps.
    ``past_knee``: closed-loop steps beyond the throughput knee (the monotone curve skips them);
    ``load``: the step's in-flight requests (X·R), the axis of the held-out split.
    """

    step: np.ndarray
    throughput_rps: np.ndarray
    percentile: np.ndarray
    latency_ms: np.ndarray
    users: np.ndarray
    think_s: np.ndarray
    past_knee: np.ndarray
    load: np.ndarray

    def take(self, index) -> _Observations:
        return _Observations(*(getattr(self, f.name)[index] for f in fields(self)))

    @property
    def closed(self) -> np.ndarray:
        return ~np.isnan(self.users)

    @property
    def arrivals(self) -> str:
        closed = self.closed
        return "closed" if closed.all() else "open" if not closed.any() else "mixed"

    @property
    def statistics(self) -> list[Statistic]:
        pcts = sorted(set(self.percentile[~np.isnan(self.percentile)].tolist()))
        return (["mean"] if np.isnan(self.percentile).any() else []) + pcts

    @property
    def level(self) -> np.ndarray:
        """Each observation's load level: its users in a closed loop (negated, apart from rates), else its rate."""
        return np.where(self.closed, -self.users, self.throughput_rps)

    def of(self, stat: Statistic) -> np.ndarray:
        return np.isnan(self.percentile) if stat == "mean" else self.percentile == stat


@dataclass(frozen=True)
class _MonotoneCurve:
    """Isotonic fit of one statistic: knots (throughput, latency), linear in between.

    Below the first knot it stays at the first value; beyond the last it follows the queueing
    model's shape, ``y_last * queue(x)/queue(x_last)`` (extrapolation).
    """

    throughput_rps: np.ndarray
    latency_ms: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> _MonotoneCurve:
        """Weighted isotonic regression of ``y`` on ``x`` (ties in ``x`` pooled first)."""
        levels, inverse = np.unique(x, return_inverse=True)
        total = np.bincount(inverse, weights=weights)
        means = np.bincount(inverse, weights=weights * y) / total
        return cls(levels, isotonic_regression(means, weights=total).x)

    def predict(self, x, queue_ms, anchor_ms: float) -> np.ndarray:
        inside = np.interp(x, self.throughput_rps, self.latency_ms)
        with np.errstate(invalid="ignore", divide="ignore"):
            beyond = self.latency_ms[-1] * np.maximum(queue_ms / anchor_ms, 1.0)
        return np.where(np.asarray(x) > self.throughput_rps[-1], beyond, inside)


def _fit_curves(obs: _Observations, weights: np.ndarray | None = None) -> dict:
    """Isotonic curve per statistic seen at >= 2 throughput levels (observations weighted)."""
    weights = np.ones(obs.latency_ms.size) if weights is None else weights
    curves = {}
    for stat in obs.statistics:
        sel = obs.of(stat) & (weights > 0) & ~obs.past_knee
        if np.unique(obs.throughput_rps[sel]).size >= 2:
            curves[stat] = _MonotoneCurve.fit(obs.throughput_rps[sel], obs.latency_ms[sel], weights[sel])
    return curves


def _interp_rows(x: np.ndarray, grid: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise ``np.interp(x[b], grid, y[b], right=inf)`` for one shared increasing ``grid``, vectorised."""
    idx = np.clip(np.searchsorted(grid, x, side="right"), 1, grid.size - 1)
    x0, x1 = grid[idx - 1], grid[idx]
    y0, y1 = np.take_along_axis(y, idx - 1, axis=1), np.take_along_axis(y, idx, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip((x - x0) / (x1 - x0), 0.0, 1.0)
        value = y0 + frac * (y1 - y0)
    value = np.where(np.isinf(y0) | np.isinf(y1), np.where(frac >= 1.0, y1, np.where(frac <= 0, y0, np.inf)), value)
    value = np.where(x < grid[0], y[:, :1], value)
    return np.where(x > grid[-1], np.inf, value)


def _load_axis(utilization) -> np.ndarray:
    """Tables are interpolated in (-ln(1-u), ln latency): near-linear for queues, so coarse grids stay accurate."""
    return -np.log1p(-np.asarray(utilization, dtype=float))


def _largest_below(x: np.ndarray, y: np.ndarray, target: float) -> np.ndarray:
    """Per row, the largest ``x`` with ``y(x) <= target`` on a non-decreasing piecewise-linear ``y``
    (0 when even ``y[0]`` exceeds the target; the last ``x`` when no point does)."""
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    k = (y <= target).sum(axis=1)
    rows = np.arange(y.shape[0])
    lo, hi = np.clip(k - 1, 0, y.shape[1] - 1), np.clip(k, 0, y.shape[1] - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip((target - y[rows, lo]) / (y[rows, hi] - y[rows, lo]), 0.0, 1.0)
    frac = np.where(np.isfinite(frac), frac, 0.0)
    value = x[rows, lo] + frac * (x[rows, hi] - x[rows, lo])
    return np.where(k == 0, 0.0, np.where(k == y.shape[1], x[:, -1], value))


@dataclass(frozen=True)
class CapacityEstimate:
    """Per-instance capacity at an SLA: the largest throughput whose predicted percentile is within
    the target and whose utilisation is within the cap. ``binding`` says which limit decided it;
    ``extrapolated`` that it lies beyond the highest measured throughput."""

    capacity_rps: float
    capacity_rps_ci_lower: float | None
    capacity_rps_ci_upper: float | None
    binding: str
    extrapolated: bool
    feasible: bool
    latency_target_ms: float
    percentile: str
    max_utilization: float
    predicted_latency_ms: float
    min_latency_ms: float
    utilization: float
    saturation_rps: float
    max_measured_rps: float
    model: str
    heldout_error: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LatencySummary:
    """A fitted latency-vs-throughput model with its measured held-out error (a fraction)."""

    model: str
    heldout_error: float
    heldout_error_queueing: float
    heldout_error_isotonic: float
    heldout_points: int
    servers: int
    service_time_ms: float
    service_scv: float
    arrival_scv: float
    saturation_rps: float
    max_measured_rps: float
    statistics: tuple[str, ...]
    percentile_source: str
    low_load_latency_ms: float
    low_load_latency_ms_ci_lower: float | None
    low_load_latency_ms_ci_upper: float | None
    service_time_ms_ci_lower: float | None
    service_time_ms_ci_upper: float | None
    saturation_rps_ci_lower: float | None
    saturation_rps_ci_upper: float | None
    bootstrap_resamples: int
    rows_used: int
    rows_excluded: int
    excluded_by_flag: dict
    notes: tuple[str, ...]
    delay_ms: float = 0.0
    arrivals: str = "open"
    method: str = ""
    service_family: str = "phase"
    service_scv_source: str = "measured"
    service_scv_lower: float | None = None
    service_scv_upper: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


_METHODS = {
    "open": "M/G/c at each step's throughput (Allen–Cunneen waiting)",
    "closed": "closed loop at each step's users: exact MVA of a c-server station (machine-repairman product form)",
    "mixed": "closed-loop steps by exact MVA at their users, open-loop steps by M/G/c at their throughput",
}


def _observations(frame: pd.DataFrame) -> tuple[_Observations, list[str]]:
    """Observations of a used steps frame; cumulative percentiles are never taken as per-step values."""
    notes = []
    lam = positive(frame["throughput_rps"], "throughput_rps")
    small = _small_bins(frame)
    if small.any() and not small.all():  # whole-second timestamps: a bin of a second or two can overshoot
        lam = np.where(small, np.minimum(lam, lam[~small].max()), lam)
    if small.any():
        notes.append(f"{int(small.sum())} step(s) are finer bins of a ramp too fast for the step rules (small_bin): "
                     "their rates are capped at the steady steps' highest and their think time is the steady steps'")
    mean = pd.to_numeric(frame.get("latency_mean_ms", pd.Series(np.nan, index=frame.index)),
                         errors="coerce").astype("float64").to_numpy(dtype=float, na_value=np.nan)
    missing = np.isnan(mean)
    if missing.any() and "concurrency" in frame:
        think = frame["think_time_s"].astype("float64").fillna(0.0).to_numpy() if "think_time_s" in frame else 0.0
        little = np.asarray(q.littles_latency_s(frame["concurrency"].astype("float64").to_numpy(), lam, think)) * 1e3
        fill = missing & (little > 0)
        mean = np.where(fill, little, mean)
        if fill.any():
            notes.append(f"mean latency of {int(fill.sum())} step(s) from Little's law R = N/X - Z")
    cumulative = (frame["cumulative_percentiles"].astype("boolean").fillna(False).to_numpy(dtype=bool)
                  if "cumulative_percentiles" in frame else np.zeros(len(frame), dtype=bool))
    if cumulative.any():
        notes.append(f"percentiles of {int(cumulative.sum())} step(s) are cumulative since start: not used")
    parts = [(np.arange(len(frame)), np.full(len(frame), np.nan), mean)]
    for column in percentile_columns(frame.columns):
        values = pd.to_numeric(frame[column], errors="coerce").astype("float64").to_numpy(dtype=float, na_value=np.nan)
        values = np.where(cumulative, np.nan, values)
        parts.append((np.arange(len(frame)), np.full(len(frame), column_percentile(column)), values))
    step, pct, y = (np.concatenate(p) for p in zip(*parts, strict=True))
    keep = np.isfinite(y) & (y > 0)
    if not keep.any():
        raise FitError("no usable latency: every step lacks mean latency and per-step percentiles")
    users, think_s = _closed_loop_users(frame, lam, mean)
    typical_ms = pd.Series(y[keep]).groupby(step[keep]).median().reindex(range(len(frame))).to_numpy()
    load = lam * np.where(np.isfinite(mean), mean, typical_ms) / 1e3
    past_knee = (frame["saturated"].astype("boolean").fillna(False).to_numpy(dtype=bool)
                 if "saturated" in frame else np.zeros(len(frame), dtype=bool))
    at = step[keep]
    obs = _Observations(at, lam[at], pct[keep], y[keep], users[at], think_s[at], past_knee[at] & ~np.isnan(users[at]),
                        load[at])
    return obs, notes


def _small_bins(frame: pd.DataFrame) -> np.ndarray:
    """Steps cut finer than the step rules (flag ``small_bin``: a ramp too fast for them)."""
    if "small_bin" not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame["small_bin"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _closed_loop_users(frame: pd.DataFrame, throughput_rps: np.ndarray, mean_ms: np.ndarray):
    """Per step: users (per instance) and think time (s) of closed-loop steps (``arrivals`` =
    closed, with a concurrency), NaN for open-loop ones. The think time is the step's own
    ``N/X − R`` (exact from Locust's counters), else the ``think_time_s`` column, else 0."""
    n = len(frame)
    closed = (frame["arrivals"].astype(str).to_numpy() == "closed") if "arrivals" in frame else np.zeros(n, bool)
    users = pd.to_numeric(frame.get("concurrency", pd.Series(np.nan, index=frame.index)),
                          errors="coerce").astype("float64").to_numpy(dtype=float, na_value=np.nan)
    closed &= np.isfinite(users) & (users > 0)
    given = (frame["think_time_s"].astype("float64").fillna(0.0).to_numpy() if "think_time_s" in frame
             else np.zeros(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        think = np.where(np.isfinite(mean_ms), np.maximum(users / throughput_rps - mean_ms / 1e3, 0.0), given)
    small = _small_bins(frame)
    steady = closed & ~small & np.isfinite(think)
    if steady.any():  # a small bin's own N/X - R is only as good as its rate
        think = np.where(closed & small, float(np.median(think[steady])), think)
    return np.where(closed, users, np.nan), np.where(closed, think, np.nan)


def _variability(steps: pd.DataFrame) -> ServiceVariability:
    """The mean-only Cs^2 assumption: from the lowest-throughput step's ``latency_max_ms`` over its mean
    when a maximum was published (with ``request_count``), else the default (:mod:`planner.variability`)."""
    if not {"latency_max_ms", "latency_mean_ms", "request_count"} <= set(steps):
        return assumed()
    lowest = steps.iloc[int(np.nanargmin(pd.to_numeric(steps["throughput_rps"], errors="coerce").to_numpy(float)))]
    ratio = float(lowest["latency_max_ms"]) / float(lowest["latency_mean_ms"])
    return from_maximum(ratio, float(lowest["request_count"]))


def _known_delay_ms(steps: pd.DataFrame) -> float | None:
    """The median measured fixed delay (``fixed_delay_ms``, e.g. SageMaker's OverheadLatency), if any."""
    if "fixed_delay_ms" not in steps:
        return None
    values = pd.to_numeric(steps["fixed_delay_ms"], errors="coerce").dropna()
    return float(values.median()) if len(values) else None


def _scv_from_ratio(ratio: float, p_high: float, family: str = "phase") -> float:
    """Service SCV whose p_high/p50 service-quantile ratio equals ``ratio`` (clipped to the model range)."""
    grid = np.geomspace(*_SCV_RANGE, 160)
    ratios = (np.asarray(q.service_quantile_s(p_high / 100.0, 1.0, grid, family))
              / np.asarray(q.service_quantile_s(0.5, 1.0, grid, family)))
    ratios = np.maximum.accumulate(ratios)
    return float(np.exp(np.interp(ratio, ratios, np.log(grid))))


def _settled(obs: _Observations, used: pd.DataFrame, queue: QueueModel, notes: list[str]) -> _Observations:
    """``obs`` without the percentiles of open-loop steps that lasted less than :data:`RELAXATION_TIMES`
    relaxation times of ``queue`` at their load (their tail had not reached its steady state; the
    means stay). Steps without a known ``duration_s`` are kept."""
    if "duration_s" not in used:
        return obs
    duration = pd.to_numeric(used["duration_s"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)[obs.step]
    tau = np.asarray(q.relaxation_time_s(obs.throughput_rps, queue.service_time_s, queue.servers,
                                         queue.service_scv, queue.arrival_scv), dtype=float)
    drop = ~obs.closed & ~np.isnan(obs.percentile) & (duration < RELAXATION_TIMES * tau)
    if not drop.any():
        return obs
    rps, secs = obs.throughput_rps[drop], tau[drop]
    notes.append(f"percentiles of {np.unique(obs.step[drop]).size} open-loop step(s) at {rps.min():.3g}-{rps.max():.3g} "
                 f"rps not fitted: each lasted less than {RELAXATION_TIMES:g} relaxation times of the queue at its "
                 f"load ({secs.min():.3g}-{secs.max():.3g} s each), so its tail had not settled; their means are fitted")
    return obs.take(~drop)


@dataclass(frozen=True)
class _Start:
    service_time_s: float
    service_scv: float
    low_load_ms: float
    low_load_ci_ms: tuple[float, float] | None


def _start(obs: _Observations, family: str = "phase") -> _Start:
    """Start values from the low-load steps (throughput <= 60% of the maximum; at least the lowest):
    S from an OLS intercept (statsmodels, with its 95% interval) of mean latency (else p50) on
    throughput when there are >= 3 such levels, clamped to [0.3, 1] x the lowest latency; Cs^2 from
    the p_high/p50 ratio of the lowest step."""
    levels = np.unique(obs.throughput_rps)
    low = (obs.throughput_rps <= 0.6 * levels[-1]) | (obs.throughput_rps == levels[0])
    stat: Statistic = "mean" if obs.of("mean")[low].any() else min(
        (s for s in obs.statistics if s != "mean"), key=lambda s: abs(float(s) - 50.0))
    sel = low & obs.of(stat)
    x, y = obs.throughput_rps[sel], obs.latency_ms[sel]
    floor_ms = float(y.min())
    ci = None
    low_load = floor_ms
    if np.unique(x).size >= 3:
        from statsmodels.regression.linear_model import OLS  # deferred: seconds of import a cached fit skips
        from statsmodels.tools.tools import add_constant

        ols = OLS(y, add_constant(x)).fit()
        low_load = float(ols.params[0])
        lower_ms, upper_ms = (float(v) for v in ols.conf_int(0.05)[0])
        ci = (lower_ms, upper_ms)
    service_ms = min(max(low_load, 0.3 * floor_ms), floor_ms)
    scv = 1.0
    pcts = [s for s in obs.statistics if s != "mean"]
    if 50.0 in pcts and max(pcts) > 50.0:
        lowest = obs.step[obs.throughput_rps == obs.throughput_rps[obs.of(max(pcts))].min()][0]
        at = obs.step == lowest
        p50, high = obs.latency_ms[at & obs.of(50.0)], obs.latency_ms[at & obs.of(max(pcts))]
        if p50.size and high.size:
            scv = _scv_from_ratio(float(high[0] / p50[0]), max(pcts), family)
    return _Start(service_ms / 1e3, scv, low_load, ci)


@dataclass(frozen=True)
class _QueueFit:
    model: QueueModel
    cost: float


def _residuals(obs: _Observations, service_s, servers: int, scv: float, arrival_scv: float,
               delay_s=0.0, family: str = "phase") -> np.ndarray:
    """Residuals of the M/G/c model plus a fixed delay (broadcast over ``service_s``): percentiles
    on the probit scale, ``Phi^-1(F_model(y_obs - delay)) - Phi^-1(p)`` (a calibration residual that
    needs no quantile inversion; ~1-2x the log-latency error), means as ``ln(model/observed)``."""
    pct = ~np.isnan(obs.percentile)
    t_s = obs.latency_ms / 1e3
    wait_s = np.maximum(t_s - delay_s, 1e-12)
    dist = q.MGcResponse(obs.throughput_rps, service_s, servers, scv, arrival_scv, family)
    exceed, mean_s = dist.exceedance(wait_s), dist.mean_s
    closed = obs.closed
    if closed.any():  # closed-loop steps: the model at their user count, not at their throughput
        exceed, mean_s = (np.broadcast_to(x, np.broadcast_shapes(np.shape(service_s), closed.shape)).copy()
                          for x in (exceed, mean_s))  # S: a scalar, or one per bootstrap resample (B, 1)
        means, tails = closed & ~pct, closed & pct
        if means.any():
            loops = _closed_pair(obs.users[means], obs.think_s[means], service_s, servers, delay_s, scv)
            mean_s[..., means] = sum(w * loop.station_mean_s for w, loop in loops)
        if tails.any():
            loops = _closed_pair(obs.users[tails], obs.think_s[tails], service_s, servers, delay_s, scv)
            exceed[..., tails] = sum(w * loop.exceedance(wait_s[tails], service_s, scv, family) for w, loop in loops)
    exceed = np.clip(exceed, 1e-15, 1.0 - 1e-15)
    with np.errstate(divide="ignore"):
        by_mean = np.log((mean_s + delay_s) / t_s)
    by_pct = -special.ndtri(exceed) - special.ndtri(np.where(pct, obs.percentile / 100.0, 0.5))
    return np.where(pct, by_pct * np.where(closed, _CLOSED_PCT_WEIGHT, 1.0),
                    by_mean * np.where(closed, _CLOSED_MEAN_WEIGHT, 1.0))


def _fit_queue(obs: _Observations, servers: int, start: tuple[float, float], fit_scv: bool,
               arrival_scv: float, fit_delay: bool = False, known_delay_s: float | None = None,
               family: str = "phase") -> _QueueFit:
    """Least squares (Levenberg–Marquardt) on :func:`_residuals` for (S[, Cs^2][, delay]) at fixed
    ``servers``. Cs^2 only when percentiles were measured; the delay when percentiles were measured
    or closed-loop steps were (the mean alone cannot tell a delay from S under open arrivals, but a
    closed loop's plateau ``c/S`` and light-load ``S + D`` can); ``known_delay_s`` holds it fixed
    (SageMaker's OverheadLatency).

    Parameters are unconstrained transforms: ``S = S_max*logistic(a)`` with ``S_max = c/X_max``
    keeps the highest measured load stable; ``Cs^2 = exp(b)`` clipped to [1e-3, 50];
    ``delay = D_max*logistic(g)`` with ``D_max`` = 90% of the smallest latency observed.
    """
    s_max = servers / obs.throughput_rps.max()
    d_max = 0.9 * float(obs.latency_ms.min()) / 1e3
    fit_delay = fit_delay and known_delay_s is None and (fit_scv or bool(obs.closed.any()))
    fixed_delay_s = known_delay_s or 0.0
    d0 = _DELAY_START * d_max if fit_delay else fixed_delay_s
    x0 = [special.logit(min(max(start[0] - d0, 1e-9) / s_max, 0.98))]
    x0 += [math.log(start[1])] if fit_scv else []
    x0 += [special.logit(_DELAY_START)] if fit_delay else []

    def params(x) -> tuple[float, float, float]:
        scv = float(np.exp(np.clip(x[1], *_LOG_SCV_RANGE))) if fit_scv else start[1]
        delay_s = float(d_max * special.expit(x[-1])) if fit_delay else fixed_delay_s
        return float(s_max * special.expit(x[0])), scv, delay_s

    def residuals(x):
        service_s, scv, delay_s = params(x)
        return _residuals(obs, service_s, servers, scv, arrival_scv, delay_s, family)

    res = least_squares(residuals, x0, method="lm", xtol=1e-8, ftol=1e-8, gtol=1e-8, x_scale="jac")
    service_s, scv, delay_s = params(res.x)
    return _QueueFit(QueueModel(servers, service_s, scv, arrival_scv, delay_s * 1e3, family), float(res.cost))


def _boot_service_times(obs: _Observations, weights: np.ndarray, queue: QueueModel) -> np.ndarray:
    """Refit S for every resample at once (rows of observation ``weights``), with c and Cs^2 held:
    one vectorised call of scipy's elementwise ``bracket_minimum``/``find_minimum`` on the weighted
    sum of squared :func:`_residuals`, over ``a`` with ``S = (c/X_max of the resample)*logistic(a)``."""
    lam_max = np.max(np.where(weights > 0, obs.throughput_rps, 0.0), axis=1)
    s_max = queue.servers / lam_max
    rows = np.arange(weights.shape[0])

    def objective(a, row):
        row = row.astype(int)
        service_s = (s_max[row] * special.expit(a))[:, None]
        r = _residuals(obs, service_s, queue.servers, queue.service_scv, queue.arrival_scv, queue.delay_ms / 1e3,
                       queue.service_family)
        r = np.where(weights[row] > 0, r, 0.0)  # observations outside the resample may be unstable
        return (weights[row] * r * r).sum(axis=1)

    a0 = special.logit(np.minimum(queue.service_time_s / s_max, 0.98))
    bracket = elementwise.bracket_minimum(objective, a0, xmin=-40.0, xmax=40.0, args=(rows,))
    best = elementwise.find_minimum(objective, bracket.bracket, args=(rows,))
    return s_max * special.expit(best.x)


def _fit_queue_profile(obs: _Observations, arrival_scv: float, known_delay_s: float | None = None,
                       mean_only_scv: float | None = None) -> tuple[_QueueFit, _Start]:
    """The queue without and (when percentiles or closed-loop steps were measured) with a fixed
    delay, each profiled over ``c`` (:func:`_profile_servers`); the delay is kept only when it pays
    for its parameter by the Bayesian information criterion, ``n·ln(RSS/n) + k·ln(n)``: a delay that
    merely trades places with service time on data that hardly queued would overstate the
    saturation throughput. A ``known_delay_s`` is held, not fitted; without percentiles Cs^2 is
    held at ``mean_only_scv`` (default: :data:`planner.variability.MEAN_ONLY_SERVICE_SCV`) and the
    service family is the phase one; with percentiles both service families are fitted and the one
    with the smaller cost (same parameter count) is kept."""
    fit_scv = bool((~np.isnan(obs.percentile)).any())
    fits = [_fit_family(obs, arrival_scv, known_delay_s, mean_only_scv, fit_scv, family)
            for family in (q.SERVICE_FAMILIES if fit_scv else ("phase",))]
    return min(fits, key=lambda pair: pair[0].cost)


def _fit_family(obs: _Observations, arrival_scv: float, known_delay_s: float | None, mean_only_scv: float | None,
                fit_scv: bool, family: str) -> tuple[_QueueFit, _Start]:
    """:func:`_fit_queue_profile` for one service family."""
    start = _start(obs, family)
    if not fit_scv:
        start = replace(start, service_scv=mean_only_scv or assumed().scv)
    plain = _profile_servers(obs, start, fit_scv, arrival_scv, fit_delay=False, known_delay_s=known_delay_s,
                             family=family)
    if known_delay_s is not None or not (fit_scv or obs.closed.any()):
        return plain, start
    delayed = _profile_servers(obs, start, fit_scv, arrival_scv, fit_delay=True, family=family)
    n = obs.latency_ms.size

    def bic(fit: _QueueFit, k: int) -> float:
        return n * math.log(max(2.0 * fit.cost, 1e-300) / n) + k * math.log(n)

    return (delayed if bic(delayed, 3 + fit_scv) < bic(plain, 2 + fit_scv) else plain), start


def _profile_servers(obs: _Observations, start: _Start, fit_scv: bool, arrival_scv: float,
                     fit_delay: bool, known_delay_s: float | None = None, family: str = "phase") -> _QueueFit:
    """Profile the integer server count ``c``: start at ``ceil(X_max*S0/0.95)`` (the throughput
    ceiling), walk down by 1 and up by max(1, 10%) while the least-squares cost improves by > 0.1%.
    The smallest ``c`` reaching the best cost is kept (interpretable; a test that never queued
    only bounds c from below)."""
    x_max = float(obs.throughput_rps.max())
    cache: dict[int, _QueueFit] = {}

    def at(c: int) -> _QueueFit:
        if c not in cache:
            cache[c] = _fit_queue(obs, c, (start.service_time_s, start.service_scv), fit_scv, arrival_scv,
                                  fit_delay, known_delay_s, family)
        return cache[c]

    def better(a: int, b: int) -> bool:
        return at(a).cost < at(b).cost * (1.0 - 1e-3) - 1e-12

    best = max(1, math.ceil(x_max * start.service_time_s / 0.95))
    while best > 1 and better(best - 1, best):
        best -= 1
    while True:
        nxt = max(best + 1, math.ceil(best * 1.1))
        if nxt > 4096 or not better(nxt, best):
            break
        best = nxt
    return at(best)


class LatencyModel:
    """Latency (mean or percentile, ms) of one instance against its offered throughput (rps).

    Two candidates, chosen per configuration by held-out error:

    * ``'queueing'``: an M/G/c queue (:class:`QueueModel`) whose service time S and SCV Cs^2 come
      from the lowest-load steps (statsmodels OLS intercept; p_high/p50 spread), whose server count
      ``c`` starts from the throughput ceiling ``X_max*S`` and is profiled over integers, and whose
      (S, Cs^2) are refined by least squares over all measured statistics (see ``_fit_queue``);
    * ``'isotonic'``: per statistic, isotonic regression of latency on throughput with linear
      interpolation inside the measured range and the queueing shape beyond it (flagged).

    Selection: both are fitted on the lowest ``1 - holdout_fraction`` of the load levels (by
    throughput) and predict the rest; the median absolute percentage error over all held-out
    (step, statistic) points decides, and is reported as ``heldout_error_`` (a fraction). The winner
    is then refitted on all steps. Steps whose percentiles are cumulative contribute only their
    mean; without any per-step percentile the tail comes from the queueing model calibrated on
    mean latency with exponential service (Cs^2 = 1), and the summary says so.
    """

    def __init__(self, holdout_fraction: float = 0.3, arrival_scv: float = 1.0, level: float = 0.95) -> None:
        if not 0 < holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction!r}")
        self.holdout_fraction = holdout_fraction
        self.arrival_scv = arrival_scv
        self.level = level

    # -- fitting

    @classmethod
    def from_arrays(cls, throughput_rps, latency_ms: dict, exclude: Sequence[str] = (), **params) -> LatencyModel:
        """Fit from ``throughput_rps`` and ``{statistic: latencies}`` (statistic 'mean' or a percentile)."""
        frame = pd.DataFrame({"throughput_rps": np.asarray(throughput_rps, dtype=float)})
        for stat, values in latency_ms.items():
            key = _statistic(stat)
            frame["latency_mean_ms" if key == "mean" else percentile_column(key)] = np.asarray(values, dtype=float)
        return cls(**params).fit(frame, exclude=exclude)

    def fit(self, steps: pd.DataFrame, exclude: Sequence[str] = ()) -> LatencyModel:
        """Fit to a steps frame, dropping rows flagged by any column named in ``exclude``."""
        used, self.excluded_by_flag_ = select_steps(steps, exclude, ("throughput_rps",))
        self.rows_excluded_ = len(steps) - len(used)
        self.rows_used_ = len(used)
        obs, notes = _observations(used)
        if np.unique(obs.level).size < 2:
            raise FitError("a latency model needs at least 2 distinct load levels (throughputs, or closed-loop users)")
        self.observations_ = obs
        self.statistics_ = obs.statistics
        self.percentile_source_ = "per-step" if any(s != "mean" for s in self.statistics_) else "mean-only"
        self.variability_ = _variability(used) if self.percentile_source_ == "mean-only" else None
        if self.variability_ is not None:
            v = self.variability_
            notes.append(f"no per-step percentiles: tail latency is predicted by the queueing model calibrated on "
                         f"mean latency, with service Cs^2 = {v.scv:.3g} assumed ({v.source}; bracket "
                         f"{v.scv_lower:.3g}-{v.scv_upper:.3g})")
        self.arrivals_ = obs.arrivals
        self.known_delay_ms_ = _known_delay_ms(used)
        known_delay_s = None if self.known_delay_ms_ is None else self.known_delay_ms_ / 1e3
        mean_only_scv = self.variability_.scv if self.variability_ is not None else None
        if self.percentile_source_ == "per-step" and not obs.closed.all():
            obs = _settled(obs, used, _fit_queue_profile(obs, self.arrival_scv, known_delay_s)[0].model, notes)
            self.observations_ = obs
        self._heldout(obs, notes, known_delay_s, mean_only_scv)
        fitted, self.start_ = _fit_queue_profile(obs, self.arrival_scv, known_delay_s, mean_only_scv)
        self.queue_, self.queue_cost_ = fitted.model, fitted.cost
        self.curves_ = _fit_curves(obs) if self.model_ == "isotonic" else {}
        self.max_measured_rps_ = float(obs.throughput_rps.max())
        self.notes_ = tuple(notes)
        self._tables: dict = {}
        self._boot: dict | None = None
        self.bootstrap_resamples_ = 0
        for stat in {*self.statistics_, 99.0}:
            self._table(stat)
        return self

    def _heldout(self, obs: _Observations, notes: list[str], known_delay_s: float | None,
                 mean_only_scv: float | None) -> None:
        """Fit both candidates on the lower load levels, score them on the top ``holdout_fraction``.

        Load is throughput under open arrivals; with closed-loop steps it is the in-flight count
        X·R (past the knee throughput no longer orders the load). The queue predicts a closed-loop
        step at its user count, the monotone curve at its measured throughput."""
        axis = obs.load if obs.closed.any() else obs.throughput_rps
        cut = heldout_split(axis, self.holdout_fraction, 3)
        self.heldout_errors_ = {"queueing": math.nan, "isotonic": math.nan}
        self.heldout_points_ = pd.DataFrame(columns=["model", "step", "throughput_rps", "statistic",
                                                     "observed_ms", "predicted_ms", "abs_pct_error"])
        if cut is None:
            self.model_ = "queueing"
            self.heldout_error_ = math.nan
            notes.append(f"only {np.unique(obs.level).size} load levels: no held-out check (needs >= 4); "
                         "queueing model used")
            return
        train, test = obs.take(axis < cut), obs.take(axis >= cut)
        queue = _fit_queue_profile(train, self.arrival_scv, known_delay_s, mean_only_scv)[0].model
        curves = _fit_curves(train)
        rows = []
        for stat in test.statistics:
            sel = test.of(stat)
            lam, observed = test.throughput_rps[sel], test.latency_ms[sel]
            closed = test.closed[sel]
            by_queue = queue.latency_ms(lam, stat)
            if closed.any():
                by_queue[closed] = queue.closed_latency_ms(test.users[sel][closed], test.think_s[sel][closed], stat)
            by_curve = self._predict_with(lam, stat, queue, curves)
            for model, predicted in (("queueing", by_queue), ("isotonic", by_curve)):
                rows.append(pd.DataFrame({
                    "model": model, "step": test.step[sel], "throughput_rps": lam, "statistic": _label(stat),
                    "observed_ms": observed, "predicted_ms": predicted,
                    "abs_pct_error": np.abs(predicted - observed) / observed}))
        points = pd.concat(rows, ignore_index=True)
        self.heldout_errors_ = {m: float(points.loc[points["model"] == m, "abs_pct_error"].median())
                                for m in ("queueing", "isotonic")}
        # a numerical tie (e.g. exact data) goes to the interpretable queueing model
        better = self.heldout_errors_["isotonic"] < self.heldout_errors_["queueing"] - 1e-6
        self.model_ = "isotonic" if better else "queueing"
        self.heldout_error_ = self.heldout_errors_[self.model_]
        self.heldout_points_ = points

    # -- prediction

    def _predict_with(self, lam, stat: Statistic, queue: QueueModel, curves: dict) -> np.ndarray:
        by_queue = queue.latency_ms(lam, stat)
        curve = curves.get(stat)
        if curve is None:
            return by_queue
        return curve.predict(lam, by_queue, float(queue.latency_ms(curve.throughput_rps[-1], stat)))

    def predict(self, throughput_rps, percentile: float | str = 99.0):
        """Predicted latency (ms) of ``percentile`` (or 'mean') at per-instance ``throughput_rps``;
        ``inf`` at or beyond saturation. Statistics the isotonic model never saw come from the queue."""
        stat = _statistic(percentile)
        value = self._predict_with(np.asarray(throughput_rps, dtype=float), stat, self.queue_, self.curves_)
        return float(value) if np.ndim(value) == 0 else value

    def predict_table(self, throughput_rps, percentile: float | str = 99.0):
        """:meth:`predict` read from the cached utilisation-grid table (interpolated in
        (−ln(1−u), ln latency), as :meth:`capacity_at_sla` does): microseconds per call instead of a
        quantile solve per point; ``inf`` at or beyond saturation."""
        stat = _statistic(percentile)
        axis, log_lat = self._table(stat)
        util = np.minimum(np.asarray(throughput_rps, dtype=float) / self.queue_.saturation_rps, 1.0)
        with np.errstate(divide="ignore"):
            value = np.exp(np.interp(_load_axis(util), axis, log_lat, right=np.inf))
        value = np.where(util >= 1.0, np.inf, value)
        return float(value) if np.ndim(value) == 0 else value

    def variability_bracket_ms(self, throughput_rps: float, percentile: float | str = 99.0) -> tuple[float, float] | None:
        """The open-arrival ``percentile`` (ms) at ``throughput_rps`` with Cs^2 at the ends of the
        assumption's bracket (S, c and delay held); None when Cs^2 was measured."""
        v = self.variability_
        if v is None or v.scv_lower is None or v.scv_upper is None:
            return None
        stat = _statistic(percentile)
        low, high = (float(replace(self.queue_, service_scv=scv).latency_ms(throughput_rps, stat))
                     for scv in (v.scv_lower, v.scv_upper))
        return low, high

    def utilization(self, throughput_rps):
        """``throughput / saturation throughput`` of the fitted queue (``c/S``)."""
        return np.asarray(throughput_rps, dtype=float) / self.queue_.saturation_rps

    def _table(self, stat: Statistic) -> tuple[np.ndarray, np.ndarray]:
        """Load axis of a utilisation grid (to just below saturation, plus the measured levels) and
        ln of the predicted latency there."""
        if stat not in self._tables:
            sat = self.queue_.saturation_rps
            knots = np.unique(self.observations_.throughput_rps) / sat
            util = np.union1d(_UTIL_GRID, knots[knots < 1.0])
            lat = np.maximum.accumulate(self._predict_with(util * sat, stat, self.queue_, self.curves_))
            with np.errstate(divide="ignore"):
                self._tables[stat] = (_load_axis(util), np.log(lat))
        return self._tables[stat]

    # -- bootstrap

    def bootstrap(self, n_resamples: int = 200, seed: int = 0) -> LatencyModel:
        """Resample steps with replacement and refit: S of the queue for all resamples at once
        (:func:`_boot_service_times`; ``c`` and Cs^2 held at their fitted values, so the intervals
        carry the service-time uncertainty), and the isotonic curves afresh when that model was chosen.
        Sets ``service_time_ms_ci_*`` and ``saturation_rps_ci_*`` and enables the intervals of
        :meth:`capacity_at_sla` and :meth:`predict_interval`. Deterministic for a given ``seed``."""
        rng = np.random.default_rng(seed)
        obs, n = self.observations_, self.rows_used_
        step_level = np.zeros(n)
        step_level[obs.step] = obs.level
        counts = np.zeros((0, n))
        while counts.shape[0] < n_resamples:  # redraw resamples holding a single load level
            draw = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(n_resamples)])
            distinct = [np.unique(step_level[row > 0]).size >= 2 for row in draw]
            counts = np.vstack([counts, draw[distinct]])[:n_resamples]
        weights = counts[:, obs.step]
        service_s = _boot_service_times(obs, weights, self.queue_)
        curves = [_fit_curves(obs, w) if self.model_ == "isotonic" else {} for w in weights]
        self._boot = {"service_s": service_s, "scv": np.full(n_resamples, self.queue_.service_scv),
                      "curves": curves, "tables": {}}
        lower, upper = percentile_interval(np.column_stack([service_s * 1e3, self.queue_.servers / service_s]), self.level)
        self.service_time_ms_ci_lower_, self.saturation_rps_ci_lower_ = (float(v) for v in lower)
        self.service_time_ms_ci_upper_, self.saturation_rps_ci_upper_ = (float(v) for v in upper)
        self.bootstrap_resamples_ = n_resamples
        for stat in {*self.statistics_, 99.0}:
            self._boot_table(stat)
        return self

    def _resamples(self) -> dict[str, Any]:
        """What :meth:`bootstrap` kept (resampled S, Cs^2, curves and tables); FitError before it ran."""
        if self._boot is None:
            raise FitError("call bootstrap() before asking for intervals")
        return self._boot

    def _boot_table(self, stat: Statistic) -> tuple[np.ndarray, np.ndarray]:
        """Per resample (rows): load axis of a utilisation grid up to its own saturation, ln latency."""
        boot = self._resamples()
        if stat not in boot["tables"]:
            c = self.queue_.servers
            sat = c / boot["service_s"]
            lam = _UTIL_GRID_BOOT[None, :] * sat[:, None]
            anchors = np.array([cv[stat].throughput_rps[-1] if stat in cv else 0.0 for cv in boot["curves"]])
            grid = np.column_stack([lam, anchors])
            by_queue = self.queue_.delay_ms + _queue_latency_ms(stat, grid, c, boot["service_s"][:, None],
                                                                boot["scv"][:, None], self.arrival_scv,
                                                                self.queue_.service_family)
            lat = by_queue[:, :-1].copy()
            for b, cv in enumerate(boot["curves"]):
                if stat in cv:
                    lat[b] = cv[stat].predict(lam[b], by_queue[b, :-1], by_queue[b, -1])
            with np.errstate(divide="ignore"):
                boot["tables"][stat] = (np.broadcast_to(_load_axis(_UTIL_GRID_BOOT), lat.shape),
                                        np.log(np.maximum.accumulate(lat, axis=1)))
        return boot["tables"][stat]

    def predict_interval(self, throughput_rps, percentile: float | str = 99.0, level: float | None = None):
        """Bootstrap percentile band ``(lower, upper)`` (ms) of :meth:`predict` at ``throughput_rps``,
        widened where needed to contain the estimate itself (a percentile band can miss a biased
        estimator's value, e.g. the monotone curve's extrapolation; a band that excludes the number
        it is shown with would be misread)."""
        stat = _statistic(percentile)
        axis, log_lat = self._boot_table(stat)
        loads = np.atleast_1d(np.asarray(throughput_rps, dtype=float))
        service_s = self._resamples()["service_s"]
        util = _load_axis(np.minimum(loads[None, :] * service_s[:, None] / self.queue_.servers, 1.0))
        band = np.exp(_interp_rows(util, axis[0], log_lat))
        lower, upper = percentile_interval(band, self.level if level is None else level)
        point = np.atleast_1d(self.predict_table(loads, stat))
        lower, upper = np.minimum(lower, point), np.maximum(upper, point)
        if np.ndim(throughput_rps) == 0:
            return float(lower[0]), float(upper[0])
        return lower, upper

    # -- capacity

    def capacity_at_sla(self, latency_target_ms: float, percentile: float | str,
                        max_utilization: float) -> CapacityEstimate:
        """Largest per-instance throughput (rps) with predicted ``percentile`` <= ``latency_target_ms``
        and utilisation (throughput / ``c/S``) <= ``max_utilization``; bootstrap interval when
        :meth:`bootstrap` ran. An unreachable target gives capacity 0 with ``feasible=False``."""
        if not 0 < max_utilization <= 1:
            raise ValueError(f"max_utilization must be in (0, 1], got {max_utilization!r}")
        stat = _statistic(percentile)
        axis, log_lat = self._table(stat)
        sat = self.queue_.saturation_rps
        log_target = math.log(latency_target_ms) if latency_target_ms > 0 else -math.inf
        by_latency = float(-np.expm1(-_largest_below(axis, log_lat, log_target)[0])) * sat
        capacity = float(min(by_latency, max_utilization * sat))
        ci_lower = ci_upper = None
        if self._boot is not None:
            boot_axis, boot_log_lat = self._boot_table(stat)
            boot_util = np.minimum(-np.expm1(-_largest_below(boot_axis, boot_log_lat, log_target)), max_utilization)
            lower, upper = percentile_interval(boot_util * self.queue_.servers / self._boot["service_s"], self.level)
            ci_lower, ci_upper = float(lower), float(upper)
        return CapacityEstimate(
            capacity_rps=capacity, capacity_rps_ci_lower=ci_lower, capacity_rps_ci_upper=ci_upper,
            binding="latency" if by_latency < max_utilization * sat else "utilization",
            extrapolated=bool(capacity > self.max_measured_rps_ * (1 + 1e-9)), feasible=capacity > 0,
            latency_target_ms=float(latency_target_ms), percentile=_label(stat), max_utilization=max_utilization,
            predicted_latency_ms=float(np.exp(np.interp(_load_axis(capacity / sat), axis, log_lat))),
            min_latency_ms=float(np.exp(log_lat[0])),
            utilization=capacity / sat, saturation_rps=float(sat), max_measured_rps=self.max_measured_rps_,
            model=self.model_, heldout_error=self.heldout_error_,
        )

    def summary(self) -> LatencySummary:
        start, boot = self.start_, self.bootstrap_resamples_ > 0
        ci = start.low_load_ci_ms or (None, None)
        return LatencySummary(
            model=self.model_, heldout_error=self.heldout_error_,
            heldout_error_queueing=self.heldout_errors_["queueing"],
            heldout_error_isotonic=self.heldout_errors_["isotonic"],
            heldout_points=int((self.heldout_points_["model"] == self.model_).sum()),
            servers=self.queue_.servers, service_time_ms=self.queue_.service_time_s * 1e3,
            service_scv=self.queue_.service_scv, arrival_scv=self.arrival_scv,
            saturation_rps=self.queue_.saturation_rps, max_measured_rps=self.max_measured_rps_,
            statistics=tuple(_label(s) for s in self.statistics_), percentile_source=self.percentile_source_,
            low_load_latency_ms=start.low_load_ms, low_load_latency_ms_ci_lower=ci[0],
            low_load_latency_ms_ci_upper=ci[1],
            service_time_ms_ci_lower=self.service_time_ms_ci_lower_ if boot else None,
            service_time_ms_ci_upper=self.service_time_ms_ci_upper_ if boot else None,
            saturation_rps_ci_lower=self.saturation_rps_ci_lower_ if boot else None,
            saturation_rps_ci_upper=self.saturation_rps_ci_upper_ if boot else None,
            bootstrap_resamples=self.bootstrap_resamples_, rows_used=self.rows_used_,
            rows_excluded=self.rows_excluded_, excluded_by_flag=dict(self.excluded_by_flag_), notes=self.notes_,
            delay_ms=self.queue_.delay_ms, arrivals=self.arrivals_, service_family=self.queue_.service_family,
            service_scv_source=self.variability_.source if self.variability_ else "measured",
            service_scv_lower=self.variability_.scv_lower if self.variability_ else None,
            service_scv_upper=self.variability_.scv_upper if self.variability_ else None,
            method=(f"{_METHODS[self.arrivals_]}; c, S, Cs^2 and delay fitted jointly by least squares "
                    + ("(delay held at the measured fixed delay); " if self.known_delay_ms_ is not None else "; ")
                    + "production traffic predicted as open arrivals (M/G/c)"),
        )
