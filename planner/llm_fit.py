"""LLM latency and throughput against concurrency, per configuration (rows of the ``llm_steps`` table).

A configuration is (instance_type, instance_count, model, framework, labels other than run bookkeeping),
measured at one token mix (mean input and output tokens per request). Its load axis is the concurrency in
flight per instance: set by the tool for closed-loop levels, and for rate-driven (open-loop) levels
recovered by Little's law as ``concurrency = throughput_rps × e2e_mean_s``.

Curves, each fitted per statistic (mean, p50, p90, p95, p99) where the data has it, all in ms:

- ITL(c) = a + b·c: decode time per token grows with the batch it shares (b >= 0). TPOT stands in when
  ITL is not measured; with neither, the mean ITL is derived per level as
  (e2e_mean − ttft_mean) / (output_tokens − 1).
- TTFT(c) = p + q·c^γ: the prefill time p of a request alone plus a queueing term for the prefills and
  decode steps it waits behind, growing with the requests in flight (q >= 0, γ in [0.25, 3] by grid
  search; with fewer than 4 levels γ = 1).
- e2e(c): fitted directly, with TTFT's form, when measured; otherwise TTFT(c) + (n − 1)·ITL(c) for n
  output tokens (for percentiles a sum of percentiles: an upper bound, said in the notes).

Requests/s per instance is c / e2e_mean(c) (closed loop; the median stands in when the mean is not
measured, and a note says so). The held-out error is the mean absolute relative error of e2e (and
TTFT) predicted at each measured level by a fit to the other levels (leave one level out), against a
straight least-squares line through the other levels and the "max measured throughput" rule (every
level runs at the best throughput measured elsewhere, so e2e = c / max rps by Little's law).
Fewer than 3 levels: no fit, and the reason is stated. Each curve also keeps the smallest and largest
ratio of measured to predicted at a left-out level (``heldout_ratio_min`` / ``_max``): the band
:meth:`LlmLatencyFit.predict_band_ms` puts around a prediction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypedDict, overload

import numpy as np
import pandas as pd

from planner.errors import FitError
from planner.jsonable import finite

STATISTICS = ("mean", "p50", "p90", "p95", "p99")
METRICS = ("ttft", "itl", "e2e")
MIN_LEVELS = 3
TOKEN_MIX_TOLERANCE = 0.25  # relative distance from the measured mean tokens that is flagged
BOOKKEEPING_LABELS = frozenset({"timestamp", "endpoint", "run", "run_name", "date", "file", "source_file",
                                "experiment_name", "region"})
"""Labels that name a run rather than a configuration: runs differing only in them are pooled."""
_EXPONENTS = np.round(np.linspace(0.25, 3.0, 45), 4)
_FAILURE_SHARE_NOTED = 0.05
MIX_LABELS = frozenset({"use_case", "dataset", "random_input_len", "random_output_len", "random_range_ratio"})
"""Labels that name the request mix rather than the hardware and engine: configurations differing only in
them are one *family* measured at several token mixes (:func:`validate_across_mixes`)."""
MIX_ASSUMPTION = ("per token: TTFT ∝ input tokens (prefill), each output token one ITL at the same concurrency "
                  "(e2e scaled by output tokens where ITL is not measured), independent of the mix otherwise")
_RATE_GRID = 256  # concurrencies scanned for the first one whose requests/s reaches an arrival rate


@dataclass(frozen=True)
class LlmConfiguration:
    """What was measured: the hardware, model and engine, and labels other than run bookkeeping."""

    instance_type: str | None
    instance_count: int
    model: str | None
    framework: str | None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """One readable name: ``ml.g5.12xlarge qwen3 vllm use_case=chat``."""
        parts = [self.instance_type or "instance not recorded"]
        if self.instance_count != 1:
            parts[0] += f" ×{self.instance_count}"
        parts += [p for p in (self.model, self.framework) if p]
        parts += [f"{k}={v}" for k, v in self.labels]
        return " ".join(parts)

    def label_value(self, key: str) -> str | None:
        return dict(self.labels).get(key)


@dataclass(frozen=True)
class LlmCurve:
    """One fitted curve ``y_ms = intercept_ms + slope_ms · c^exponent``; ``composed`` when built from
    TTFT and ITL instead of fitted to the metric itself. ``heldout_ratio_min`` / ``_max``: the smallest and
    largest ratio of the measured value to the value predicted at a level left out of the fit (leave one
    level out; for a curve composed of TTFT and ITL, the extremes of theirs); None without them."""

    metric: str
    statistic: str
    intercept_ms: float
    slope_ms: float
    exponent: float
    levels: int
    composed: bool = False
    heldout_ratio_min: float | None = None
    heldout_ratio_max: float | None = None

    @overload
    def predict_ms(self, concurrency: float) -> float: ...
    @overload
    def predict_ms(self, concurrency: np.ndarray) -> np.ndarray: ...
    def predict_ms(self, concurrency: float | np.ndarray) -> float | np.ndarray:
        """ms at ``concurrency`` (one level or an array of them)."""
        return self.intercept_ms + self.slope_ms * concurrency ** self.exponent


@dataclass(frozen=True)
class LlmFitSummary:
    """What ``planner llm fit --json`` shows for one configuration."""

    label: str
    instance_type: str | None
    instance_count: int
    model: str | None
    framework: str | None
    labels: dict[str, str]
    origin: str
    run_ids: tuple[str, ...]
    fitted: bool
    reason: str | None
    levels: int
    load_kind: str | None
    concurrency_min: float | None
    concurrency_max: float | None
    input_tokens_mean: float | None
    output_tokens_mean: float | None
    curves: tuple[LlmCurve, ...]
    heldout_error: float | None
    heldout_error_line: float | None
    heldout_error_max_throughput: float | None
    ttft_heldout_error: float | None
    ttft_heldout_error_line: float | None
    notes: tuple[str, ...] = field(default=())
    mix_validations: tuple[MixValidation, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["run_ids"] = list(self.run_ids)
        out["curves"] = [asdict(c) for c in self.curves]
        out["mix_validations"] = [v.to_dict() for v in self.mix_validations]
        out["notes"] = list(self.notes)
        return finite(out)


@dataclass(frozen=True)
class MixValidation:
    """A configuration's curves moved per token (:data:`MIX_ASSUMPTION`) to the token mix of another
    configuration of its family, against that one's measured levels: the held-out error across mixes.
    Errors are (predicted − measured) / measured per level, and their mean absolute value; rate-driven
    levels are predicted at the concurrency the curves keep in flight at the measured rate (Little's law),
    and counted in ``levels_beyond_range`` when no measured concurrency serves that rate."""

    fitted: str
    heldout: str
    fitted_input_tokens: float | None
    fitted_output_tokens: float | None
    heldout_input_tokens: float | None
    heldout_output_tokens: float | None
    statistic: str
    levels: int
    levels_beyond_range: int
    e2e_heldout_error: float | None
    e2e_errors: tuple[float, ...]
    e2e_heldout_error_unmoved: float | None  # the fitted curves used as they are, at the other mix
    ttft_statistic: str | None
    ttft_heldout_error: float | None
    assumption: str = MIX_ASSUMPTION

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["e2e_errors"] = list(self.e2e_errors)
        return finite(out)


def _power_fit(c: np.ndarray, y: np.ndarray, exponents) -> tuple[float, float, float]:
    """Least squares ``y = a + b·c^γ`` with b >= 0 over the exponents given; (a, b, γ)."""
    best = None
    for g in exponents:
        x = c ** g
        if np.ptp(x) == 0:
            continue
        b, a = np.polyfit(x, y, 1)
        if b < 0:
            a, b = float(np.mean(y)), 0.0
        sse = float(np.sum((a + b * x - y) ** 2))
        if best is None or sse < best[0] - 1e-12:
            best = (sse, float(a), float(b), float(g))
    if best is None:  # one distinct concurrency: a constant
        return float(np.mean(y)), 0.0, 1.0
    return best[1], best[2], best[3]


def _exponents(metric: str, points: int):
    return (1.0,) if metric == "itl" or points < 4 else _EXPONENTS


def _line(c: np.ndarray, y: np.ndarray, at: float) -> float:
    slope, intercept = np.polyfit(c, y, 1)
    return float(intercept + slope * at)


def _loo(c: np.ndarray, y: np.ndarray, metric: str) -> tuple[float, float]:
    """Leave-one-level-out mean absolute relative error of the model and of a straight line."""
    model, line = [], []
    for i in range(len(c)):
        keep = np.arange(len(c)) != i
        a, b, g = _power_fit(c[keep], y[keep], _exponents(metric, int(keep.sum())))
        model.append(abs(a + b * c[i] ** g - y[i]) / y[i])
        line.append(abs(_line(c[keep], y[keep], c[i]) - y[i]) / y[i])
    return float(np.mean(model)), float(np.mean(line))


def _heldout_ratios(c: np.ndarray, y: np.ndarray, metric: str) -> tuple[float | None, float | None]:
    """Smallest and largest measured ÷ predicted at each level left out of a fit to the others (levels
    predicted at or below 0 ms left out); (None, None) without any."""
    ratios = []
    for i in range(len(c)):
        keep = np.arange(len(c)) != i
        a, b, g = _power_fit(c[keep], y[keep], _exponents(metric, int(keep.sum())))
        predicted = a + b * c[i] ** g
        if np.isfinite(predicted) and predicted > 0:
            ratios.append(y[i] / predicted)
    return (float(min(ratios)), float(max(ratios))) if ratios else (None, None)


class _HeldoutRatios(TypedDict):
    heldout_ratio_min: float | None
    heldout_ratio_max: float | None


def _extreme_ratios(curves: list[LlmCurve]) -> _HeldoutRatios:
    """The smallest ``heldout_ratio_min`` and largest ``heldout_ratio_max`` of ``curves`` (None if one lacks them)."""
    lows = [c.heldout_ratio_min for c in curves if c.heldout_ratio_min is not None]
    highs = [c.heldout_ratio_max for c in curves if c.heldout_ratio_max is not None]
    if len(lows) < len(curves) or len(highs) < len(curves):
        return {"heldout_ratio_min": None, "heldout_ratio_max": None}
    return {"heldout_ratio_min": min(lows), "heldout_ratio_max": max(highs)}


def _max_throughput_loo(c: np.ndarray, e2e_ms: np.ndarray, rps: np.ndarray) -> float:
    """The rule "an instance serves its best measured throughput": e2e at a held-out level = c / max rps
    of the other levels (Little's law); its mean absolute relative error."""
    errors = []
    for i in range(len(c)):
        best = np.max(np.delete(rps, i))
        errors.append(abs(c[i] / best * 1000.0 - e2e_ms[i]) / e2e_ms[i])
    return float(np.mean(errors))


def _column(steps: pd.DataFrame, name: str) -> np.ndarray:
    if name not in steps.columns:
        return np.full(len(steps), np.nan)
    return pd.to_numeric(steps[name], errors="coerce").astype("float64").to_numpy(na_value=np.nan)


class LlmLatencyFit:
    """Fit the TTFT, ITL and e2e curves of one configuration's ``llm_steps`` rows (see the module doc).

    Fitted attributes: ``fitted_``, ``reason_`` (why not, else None), ``concurrency_`` (per instance, by
    level), ``curves_`` {(metric, statistic): LlmCurve}, ``input_tokens_mean_``, ``output_tokens_mean_``,
    ``heldout_error_`` (e2e), ``heldout_error_line_``, ``heldout_error_max_throughput_``,
    ``ttft_heldout_error_``, ``ttft_heldout_error_line_``, ``notes_``.
    """

    def __init__(self, config: LlmConfiguration, *, origin: str = "measured", run_ids: tuple[str, ...] = (),
                 min_levels: int = MIN_LEVELS) -> None:
        self.config = config
        self.origin = origin
        self.run_ids = tuple(run_ids)
        self.min_levels = min_levels

    def fit(self, steps: pd.DataFrame) -> LlmLatencyFit:
        self.notes_: list[str] = []
        self.curves_: dict[tuple[str, str], LlmCurve] = {}
        self.heldout_error_: float | None = None
        self.heldout_error_line_: float | None = None
        self.heldout_error_max_throughput_: float | None = None
        self.ttft_heldout_error_: float | None = None
        self.ttft_heldout_error_line_: float | None = None
        self.load_kind_: str | None = None
        self.concurrency_ = np.array([])
        self.input_tokens_mean_: float | None = None
        self.output_tokens_mean_: float | None = None
        self.fitted_ = False
        self.reason_: str | None = None
        self.mix_validations_: list[MixValidation] = []
        if steps.empty:
            self.reason_ = "no load levels"
            return self
        kinds = sorted(set(steps["load_kind"].dropna().astype(str)))
        self.load_kind_ = "+".join(kinds) or None
        self._levels(steps)
        if len(self.concurrency_) < self.min_levels:
            self.reason_ = (f"{len(self.concurrency_)} load level(s) with a known concurrency; a fit needs at "
                            f"least {self.min_levels}")
            return self
        self._fit_curves()
        if not any(m == "e2e" for m, _ in self.curves_):
            self.reason_ = "no end-to-end latency, nor TTFT and ITL to build it from, at 3 or more levels"
            return self
        self._heldout()
        self.fitted_ = True
        return self

    def _levels(self, steps: pd.DataFrame) -> None:
        count = max(int(self.config.instance_count or 1), 1)
        steps = steps.reset_index(drop=True)
        conc = _column(steps, "concurrency")
        rps = _column(steps, "throughput_rps")
        e2e_mean = _column(steps, "e2e_mean_ms")
        itl_mean = _column(steps, "itl_mean_ms")
        itl_mean = np.where(np.isfinite(itl_mean), itl_mean, _column(steps, "tpot_mean_ms"))
        parts = _column(steps, "ttft_mean_ms") + (_column(steps, "output_tokens_mean") - 1) * itl_mean
        e2e_mean = np.where(np.isfinite(e2e_mean), e2e_mean, parts)
        rate = np.array([str(k) == "request_rate" for k in steps["load_kind"]])
        if rate.any():
            little = rps * e2e_mean / 1000.0
            conc = np.where(rate, little, conc)
            self.notes_.append("rate-driven levels: concurrency in flight = throughput_rps × e2e_mean_s "
                               "(Little's law; e2e_mean = ttft_mean + (output tokens − 1) × itl_mean where "
                               "not measured)")
        usable = np.isfinite(conc) & (conc > 0)
        if (~usable).any():
            self.notes_.append(f"{int((~usable).sum())} level(s) without a known concurrency left out")
        steps = steps[usable].reset_index(drop=True)
        order = np.argsort(conc[usable], kind="stable")
        self._steps = steps.iloc[order].reset_index(drop=True)
        self.concurrency_ = conc[usable][order] / count
        self.throughput_rps_ = rps[usable][order] / count
        if count > 1:
            self.notes_.append(f"measured on {count} instances: concurrency and requests/s divided by {count}")
        if "throughput_derived" in self._steps.columns and self._steps["throughput_derived"].fillna(False).any():
            self.notes_.append("requests/s as the tool derived it (concurrency / mean latency), not counted")
        requests = _column(self._steps, "request_count")
        failures = _column(self._steps, "failure_count")
        with np.errstate(invalid="ignore", divide="ignore"):
            share = failures / (requests + failures)
        high = np.nan_to_num(share) > _FAILURE_SHARE_NOTED
        if high.any():
            self.notes_.append(f"{int(high.sum())} level(s) with more than {_FAILURE_SHARE_NOTED:.0%} failed "
                               f"requests (up to {np.nanmax(share):.0%}): latencies cover successful requests only")
        self.input_tokens_mean_ = self._token_mean("input_tokens_mean", "input")
        self.output_tokens_mean_ = self._token_mean("output_tokens_mean", "output")

    def _token_mean(self, column: str, what: str) -> float | None:
        values = _column(self._steps, column)
        values = values[np.isfinite(values) & (values > 0)]
        if values.size == 0:
            self.notes_.append(f"{what} tokens per request not recorded: the token mix cannot be checked")
            return None
        return float(np.mean(values))

    def _series(self, metric: str, stat: str) -> np.ndarray:
        return _column(self._steps, f"{metric}_{stat}_ms")

    def _fit_one(self, metric: str, stat: str, y: np.ndarray, composed: bool = False) -> None:
        ok = np.isfinite(y) & (y > 0)
        if ok.sum() < self.min_levels:
            return
        c = self.concurrency_[ok]
        a, b, g = _power_fit(c, y[ok], _exponents(metric, int(ok.sum())))
        low, high = _heldout_ratios(c, y[ok], metric)
        self.curves_[(metric, stat)] = LlmCurve(metric=metric, statistic=stat, intercept_ms=a, slope_ms=b,
                                                exponent=g, levels=int(ok.sum()), composed=composed,
                                                heldout_ratio_min=low, heldout_ratio_max=high)

    def _fit_curves(self) -> None:
        n = self.output_tokens_mean_
        for stat in STATISTICS:
            self._fit_one("ttft", stat, self._series("ttft", stat))
            itl = self._series("itl", stat)
            if not np.isfinite(itl).any():
                itl = self._series("tpot", stat)
                if np.isfinite(itl).any():
                    self.notes_.append(f"ITL {stat}: time per output token stands in for inter-token latency")
            if not np.isfinite(itl).any() and stat == "mean" and n and n > 1:
                derived = (self._series("e2e", "mean") - self._series("ttft", "mean")) / (n - 1)
                if np.isfinite(derived).sum() >= self.min_levels:
                    itl = derived
                    self.notes_.append("ITL mean derived per level as (e2e_mean − ttft_mean) / (output tokens − 1)")
            self._fit_one("itl", stat, itl)
            e2e = self._series("e2e", stat)
            if stat == "mean" and not np.isfinite(e2e).any() and self.load_kind_ == "concurrency":
                with np.errstate(divide="ignore", invalid="ignore"):
                    little = self.concurrency_ / self.throughput_rps_ * 1000.0
                if np.isfinite(little).sum() >= self.min_levels:
                    self._fit_one("e2e", stat, little, composed=True)
                    self.notes_.append("e2e mean = concurrency / measured throughput_rps (Little's law, closed loop)")
                    continue
            self._fit_one("e2e", stat, e2e)
            if ("e2e", stat) not in self.curves_ and n and {("ttft", stat), ("itl", stat)} <= set(self.curves_):
                ttft, itl_c = self.curves_[("ttft", stat)], self.curves_[("itl", stat)]
                composed = ttft.predict_ms(self.concurrency_) + (n - 1) * itl_c.predict_ms(self.concurrency_)
                self._fit_one("e2e", stat, composed, composed=True)
                if ("e2e", stat) in self.curves_:  # the fitted parts' held-out ratios, not the composed values'
                    self.curves_[("e2e", stat)] = replace(self.curves_[("e2e", stat)],
                                                          **_extreme_ratios([ttft, itl_c]))
                self.notes_.append(f"e2e {stat} = TTFT {stat} + (output tokens − 1) × ITL {stat}"
                                   + ("" if stat == "mean" else " (a sum of percentiles: an upper bound)"))
        if ("e2e", "mean") not in self.curves_ and ("e2e", "p50") in self.curves_:
            self.notes_.append("requests/s per instance = c / e2e p50 (mean e2e not measured)")

    def _heldout(self) -> None:
        stat = next((s for s in STATISTICS if self.has("e2e", s) and not self.curves_[("e2e", s)].composed), None)
        if stat is not None:
            y = self._series("e2e", stat)
            ok = np.isfinite(y) & (y > 0)
            if ok.sum() >= self.min_levels:
                self.heldout_error_, self.heldout_error_line_ = _loo(self.concurrency_[ok], y[ok], "e2e")
                rps = self.throughput_rps_[ok]
                if np.isfinite(rps).all():
                    self.heldout_error_max_throughput_ = _max_throughput_loo(self.concurrency_[ok], y[ok], rps)
        for stat in STATISTICS:
            y = self._series("ttft", stat)
            ok = np.isfinite(y) & (y > 0)
            if ok.sum() >= self.min_levels:
                self.ttft_heldout_error_, self.ttft_heldout_error_line_ = _loo(self.concurrency_[ok], y[ok], "ttft")
                break

    # ------------------------------------------------------------ prediction

    def _check(self) -> None:
        if not getattr(self, "fitted_", False):
            raise FitError(f"{self.config.label}: not fitted ({getattr(self, 'reason_', 'fit() not called')})")

    def has(self, metric: str, statistic: str) -> bool:
        return (metric, statistic) in self.curves_

    def predict_ms(self, metric: str, statistic: str, concurrency: float, output_tokens: float | None = None,
                   input_tokens: float | None = None) -> float | None:
        """``metric`` (ttft, itl, e2e) at ``statistic`` for ``concurrency`` per instance, ms; None when not
        measured. Another token mix is moved per token (:data:`MIX_ASSUMPTION`): TTFT scales by I / i (prefill
        grows with the input tokens; i measured); e2e adds (O − n)·ITL when ITL is known, else scales by O / n
        (n measured), and adds TTFT's change."""
        self._check()
        return (self.measured_ms(metric, statistic, concurrency, output_tokens, input_tokens)
                if self.has(metric, statistic) else None)

    def measured_ms(self, metric: str, statistic: str, concurrency: float, output_tokens: float | None = None,
                    input_tokens: float | None = None) -> float:
        """:meth:`predict_ms` of a measured ``metric`` and ``statistic`` (:meth:`has`), ms; KeyError otherwise."""
        self._check()
        value = self.curves_[(metric, statistic)].predict_ms(concurrency)
        n, i = self.output_tokens_mean_, self.input_tokens_mean_
        prefill = input_tokens / i if input_tokens is not None and i else 1.0
        if metric == "ttft":
            return value * prefill
        if metric == "e2e" and output_tokens is not None and n and output_tokens != n:
            itl = self.curves_.get(("itl", statistic))
            value = value + (output_tokens - n) * itl.predict_ms(concurrency) if itl else value * output_tokens / n
        if metric == "e2e" and prefill != 1.0 and ("ttft", statistic) in self.curves_:
            value += (prefill - 1.0) * self.curves_[("ttft", statistic)].predict_ms(concurrency)
        return value

    def predict_band_ms(self, metric: str, statistic: str, concurrency: float, output_tokens: float | None = None,
                        input_tokens: float | None = None) -> tuple[float, float] | None:
        """(lower, upper) ms around :meth:`predict_ms`: the prediction × the smallest and the largest
        held-out ratio (measured ÷ predicted at a level left out of the fit) of the curves it uses (with
        the ITL curve's when e2e is moved to another output length), never excluding the prediction;
        None when not measured or without held-out ratios."""
        value = self.predict_ms(metric, statistic, concurrency, output_tokens, input_tokens)
        if value is None:
            return None
        curves = [self.curves_[(metric, statistic)]]
        n = self.output_tokens_mean_
        if metric == "e2e" and output_tokens is not None and n and output_tokens != n \
                and ("itl", statistic) in self.curves_:
            curves.append(self.curves_[("itl", statistic)])
        ratios = _extreme_ratios(curves)
        if ratios["heldout_ratio_min"] is None or ratios["heldout_ratio_max"] is None:
            return None
        return value * min(1.0, ratios["heldout_ratio_min"]), value * max(1.0, ratios["heldout_ratio_max"])

    def requests_per_s(self, concurrency: float, output_tokens: float | None = None,
                       input_tokens: float | None = None) -> float:
        """Closed-loop requests/s per instance at ``concurrency``: c / e2e_mean(c) (p50 without a mean)."""
        stat = "mean" if self.has("e2e", "mean") else "p50" if self.has("e2e", "p50") else next(
            s for s in STATISTICS if self.has("e2e", s))
        return concurrency / (self.measured_ms("e2e", stat, concurrency, output_tokens, input_tokens) / 1000.0)

    def concurrency_at_rate(self, rps: float, concurrency_limit: float, output_tokens: float | None = None,
                            input_tokens: float | None = None) -> float:
        """Requests in flight per copy when ``rps`` requests/s arrive at it (open loop): the fixed point
        c = rps × e2e_mean(c) of Little's law, with e2e rising with the batch, i.e. the smallest c whose
        :meth:`requests_per_s` reaches ``rps``; ``inf`` when no c up to ``concurrency_limit`` serves it."""
        if rps <= 0:
            return 0.0
        grid = np.linspace(concurrency_limit / _RATE_GRID, concurrency_limit, _RATE_GRID)
        served = np.array([self.requests_per_s(float(c), output_tokens, input_tokens) for c in grid])
        reached = np.flatnonzero(np.isfinite(served) & (served >= rps))
        if reached.size == 0:
            return math.inf
        high = float(grid[reached[0]])
        low = 0.0 if reached[0] == 0 else float(grid[reached[0] - 1])
        for _ in range(40):  # bisection between the last grid point short of rps and the first reaching it
            mid = (low + high) / 2
            low, high = (mid, high) if self.requests_per_s(mid, output_tokens, input_tokens) < rps else (low, mid)
        return high

    def token_mix_notes(self, input_tokens: float | None, output_tokens: float | None) -> list[str]:
        """Notes flagging a token mix more than 25 % from the measured one (never silent; an unrecorded
        measured mix is already in ``notes_``)."""
        notes: list[str] = []
        for what, asked, measured in (("input", input_tokens, self.input_tokens_mean_),
                                      ("output", output_tokens, self.output_tokens_mean_)):
            if asked is None or measured is None:
                continue
            if abs(asked - measured) > TOKEN_MIX_TOLERANCE * measured:
                notes.append(f"extrapolated to {asked:g} {what} tokens per request (measured at {measured:.0f}, "
                             f"beyond ±{TOKEN_MIX_TOLERANCE:.0%})")
        return notes

    @property
    def concurrency_max(self) -> float:
        return float(self.concurrency_.max())

    def summary(self) -> LlmFitSummary:
        conc = self.concurrency_
        return LlmFitSummary(
            label=self.config.label, instance_type=self.config.instance_type,
            instance_count=self.config.instance_count, model=self.config.model, framework=self.config.framework,
            labels=dict(self.config.labels), origin=self.origin, run_ids=self.run_ids, fitted=self.fitted_,
            reason=self.reason_, levels=len(conc), load_kind=self.load_kind_,
            concurrency_min=float(conc.min()) if conc.size else None,
            concurrency_max=float(conc.max()) if conc.size else None,
            input_tokens_mean=self.input_tokens_mean_, output_tokens_mean=self.output_tokens_mean_,
            curves=tuple(self.curves_[k] for k in sorted(self.curves_, key=lambda k: (METRICS.index(k[0]),
                                                                                     STATISTICS.index(k[1])))),
            heldout_error=self.heldout_error_, heldout_error_line=self.heldout_error_line_,
            heldout_error_max_throughput=self.heldout_error_max_throughput_,
            ttft_heldout_error=self.ttft_heldout_error_, ttft_heldout_error_line=self.ttft_heldout_error_line_,
            notes=tuple(self.notes_), mix_validations=tuple(self.mix_validations_))


def _labels(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "" else str(value)


def configuration_of(run: Mapping[str, Any]) -> LlmConfiguration:
    """The configuration a ``runs`` row measured (bookkeeping labels dropped)."""
    labels = {k: v for k, v in _labels(run.get("labels")).items() if k not in BOOKKEEPING_LABELS}
    count = run.get("instance_count")
    return LlmConfiguration(instance_type=_text(run.get("instance_type")),
                            instance_count=1 if count is None or pd.isna(count) else int(count),
                            model=_text(run.get("model")), framework=_text(run.get("framework")),
                            labels=tuple(sorted(labels.items())))


def mix_family(config: LlmConfiguration) -> LlmConfiguration:
    """``config`` without its request-mix labels (:data:`MIX_LABELS`)."""
    return replace(config, labels=tuple((k, v) for k, v in config.labels if k not in MIX_LABELS))


def _mix_validation(source: LlmLatencyFit, target: LlmLatencyFit) -> MixValidation | None:
    """``source`` moved to ``target``'s mix and checked on its levels; None without a common e2e statistic."""
    stat = next((s for s in STATISTICS if source.has("e2e", s) and np.isfinite(target._series("e2e", s)).any()),
                None)
    if stat is None or target.output_tokens_mean_ is None:
        return None
    measured = target._series("e2e", stat)
    rate = np.array([str(k) == "request_rate" for k in target._steps["load_kind"]])
    inputs, outputs = target.input_tokens_mean_, target.output_tokens_mean_
    ttft_stat = next((s for s in STATISTICS if source.has("ttft", s) and np.isfinite(target._series("ttft", s)).any()),
                     None)
    errors, unmoved, ttft_errors, beyond = [], [], [], 0
    for level in range(len(target.concurrency_)):
        if not (np.isfinite(measured[level]) and measured[level] > 0):
            continue
        c = c_unmoved = float(target.concurrency_[level])
        if rate[level]:  # open loop: the concurrency the curves keep in flight at the measured rate
            rps = float(target.throughput_rps_[level])
            c = source.concurrency_at_rate(rps, source.concurrency_max, outputs, inputs)
            c_unmoved = source.concurrency_at_rate(rps, source.concurrency_max)
        if not (np.isfinite(c) and np.isfinite(c_unmoved)):
            beyond += 1
            continue
        errors.append(source.measured_ms("e2e", stat, c, outputs, inputs) / measured[level] - 1.0)
        unmoved.append(source.measured_ms("e2e", stat, c_unmoved) / measured[level] - 1.0)
        ttft = target._series("ttft", ttft_stat)[level] if ttft_stat else np.nan
        if ttft_stat and np.isfinite(ttft) and ttft > 0:
            ttft_errors.append(source.measured_ms("ttft", ttft_stat, c, outputs, inputs) / ttft - 1.0)
    return MixValidation(
        fitted=source.config.label, heldout=target.config.label, fitted_input_tokens=source.input_tokens_mean_,
        fitted_output_tokens=source.output_tokens_mean_, heldout_input_tokens=inputs, heldout_output_tokens=outputs,
        statistic=stat, levels=len(errors), levels_beyond_range=beyond,
        e2e_heldout_error=float(np.mean(np.abs(errors))) if errors else None,
        e2e_errors=tuple(float(e) for e in errors),
        e2e_heldout_error_unmoved=float(np.mean(np.abs(unmoved))) if unmoved else None,
        ttft_statistic=ttft_stat if ttft_errors else None,
        ttft_heldout_error=float(np.mean(np.abs(ttft_errors))) if ttft_errors else None)


def validate_across_mixes(fits: list[LlmLatencyFit]) -> None:
    """For every fitted configuration whose family (:func:`mix_family`) was measured at another token mix
    too, set ``mix_validations_``: its curves moved per token to each other mix, against that mix's levels."""
    families: dict[LlmConfiguration, list[LlmLatencyFit]] = {}
    for fit in fits:
        families.setdefault(mix_family(fit.config), []).append(fit)
    for members in families.values():
        for source in members:
            if source.fitted_:
                found = (_mix_validation(source, other) for other in members if other is not source)
                source.mix_validations_ = [v for v in found if v is not None and v.levels]


def fit_llm_configurations(runs: pd.DataFrame, steps: pd.DataFrame,
                           min_levels: int = MIN_LEVELS) -> list[LlmLatencyFit]:
    """One fit per configuration over the ``llm_steps`` rows of ``runs`` (the ``runs`` table), fitted or
    not (``reason_``), in label order, each checked across token mixes (:func:`validate_across_mixes`).
    Runs of one configuration are pooled."""
    if steps.empty or runs.empty:
        return []
    groups: dict[LlmConfiguration, list[dict[str, Any]]] = {}
    measured = set(steps["run_id"])
    records: list[dict[str, Any]] = runs.to_dict("records", into=dict)  # the runs table's columns are names
    for run in records:
        if run["run_id"] in measured:
            groups.setdefault(configuration_of(run), []).append(run)
    fits = []
    for config, members in groups.items():
        ids = tuple(sorted(r["run_id"] for r in members))
        origins = sorted({str(r.get("origin") or "measured") for r in members})
        fits.append(LlmLatencyFit(config, origin="+".join(origins), run_ids=ids, min_levels=min_levels)
                    .fit(steps[steps["run_id"].isin(ids)]))
    validate_across_mixes(fits)
    return sorted(fits, key=lambda f: f.config.label)
