"""Throughput vs concurrency: the Universal Scalability Law, fitted to steady-state load steps.

``X(N) = λN / (1 + σ(N−1) + κN(N−1))`` (Gunther): λ the single-user throughput (rps), σ contention,
κ coherency. Estimator shape as in :mod:`planner.fit`: ``fit() -> self``, fitted attributes end in
``_``, ``predict()``, ``bootstrap()`` and ``summary()``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special
from scipy.optimize import least_squares

from planner import queueing as q
from planner.errors import FitError, InputError
from planner.resampling import STEPS, heldout_split, percentile_interval, positive, select_steps


@dataclass(frozen=True)
class USLSummary:
    """A fitted Universal Scalability Law curve ``X(N) = lambda*N/(1 + sigma(N-1) + kappa N(N-1))``.

    ``*_ci_lower/upper`` are the interval named by ``interval`` ('wald', 'usl-r' or
    'bootstrap-percentile'); derived quantities get intervals only from the bootstrap.
    ``heldout_error`` is the median absolute percentage error (a fraction) of the throughput
    predicted at the top concurrency levels by a fit to the others; None with too few levels.
    """

    lambda_rps: float
    sigma: float
    kappa: float
    lambda_se: float
    sigma_se: float
    kappa_se: float
    lambda_ci_lower: float
    lambda_ci_upper: float
    sigma_ci_lower: float
    sigma_ci_upper: float
    kappa_ci_lower: float
    kappa_ci_upper: float
    interval: str
    level: float
    peak_concurrency: float
    peak_throughput_rps: float
    amdahl_ceiling_rps: float
    optimal_concurrency: float
    residual_std_error_rps: float
    df_residual: int
    rows_used: int
    rows_excluded: int
    excluded_by_flag: dict = field(default_factory=dict)
    peak_concurrency_ci_lower: float | None = None
    peak_concurrency_ci_upper: float | None = None
    peak_throughput_rps_ci_lower: float | None = None
    peak_throughput_rps_ci_upper: float | None = None
    amdahl_ceiling_rps_ci_lower: float | None = None
    amdahl_ceiling_rps_ci_upper: float | None = None
    optimal_concurrency_ci_lower: float | None = None
    optimal_concurrency_ci_upper: float | None = None
    bootstrap_resamples: int = 0
    heldout_error: float | None = None
    heldout_points: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


_AT_ZERO = 1e-12
_MIN_TRAIN_LEVELS = 3  # the USL has three parameters
_DERIVED = ("peak_concurrency", "peak_throughput_rps", "amdahl_ceiling_rps", "optimal_concurrency")  # bootstrap CIs


class USLFit:
    """Universal Scalability Law by bounded non-linear least squares (``scipy.optimize.least_squares``).

    Start values: ``lambda = max(X/N)``, ``sigma = 0.01``, ``kappa = 1e-4``. Standard errors are
    nls-style, ``cov = inv(J'J) * RSS/(n - 3)`` with the analytic Jacobian at the optimum.
    Intervals (``interval``): ``'wald'`` = ``coef +/- SE * t(0.5 + level/2, n - 3)`` (textbook);
    ``'usl-r'`` = ``coef +/- SE * t(level, n - 1)``, the formula of R package ``usl``'s ``confint``,
    kept only to prove parity with its published numbers. ``bootstrap()`` replaces them by
    percentile intervals from resampled steps.

    Held-out validation: a second fit on all but the top ``holdout_fraction`` of the concurrency
    levels predicts the throughput of the steps held out; the median absolute percentage error of
    those predictions is ``heldout_error_`` (a fraction; None with fewer than 4 levels).
    """

    def __init__(self, interval: Literal["wald", "usl-r"] = "wald", level: float = 0.95,
                 holdout_fraction: float = 0.3,
                 lambda_bounds: tuple[float, float] = (0.0, math.inf),
                 sigma_bounds: tuple[float, float] = (0.0, 1.0),
                 kappa_bounds: tuple[float, float] = (0.0, 1.0)) -> None:
        if interval not in ("wald", "usl-r"):
            raise ValueError(f"interval must be 'wald' or 'usl-r', got {interval!r}")
        if not 0 < holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction!r}")
        self.interval = interval
        self.level = level
        self.holdout_fraction = holdout_fraction
        self.bounds = tuple(zip(lambda_bounds, sigma_bounds, kappa_bounds, strict=True))
        self.excluded_by_flag_: dict = {}
        self.rows_excluded_ = 0

    # -- fitting

    @staticmethod
    def _residuals(x, n, y):
        return q.usl_throughput(n, *x) - y

    @staticmethod
    def _jacobian(x, n, y):
        lam, sigma, kappa = x
        denom = 1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)
        return np.column_stack([n / denom, -lam * n * (n - 1.0) / denom**2, -lam * n * n * (n - 1.0) / denom**2])

    def _solve(self, n, y, x0, tol):
        res = least_squares(self._residuals, x0, jac=self._jacobian, bounds=self.bounds, args=(n, y),
                            method="trf", x_scale="jac", xtol=tol, ftol=tol, gtol=tol, max_nfev=2000)
        x = res.x.copy()
        x[1:][x[1:] < _AT_ZERO] = 0.0  # solver dust at the sigma/kappa >= 0 bound: report the bound itself
        return x

    def fit(self, concurrency, throughput_rps) -> USLFit:
        """Fit to arrays of concurrency (users) and throughput (rps); needs >= 3 distinct levels."""
        n = positive(concurrency, "concurrency")
        y = positive(throughput_rps, "throughput_rps")
        if n.size != y.size:
            raise InputError(STEPS, "concurrency/throughput_rps", "arrays of equal length", f"{n.size} and {y.size}")
        if np.unique(n).size < 3:
            raise FitError(f"USL needs at least 3 distinct concurrency levels, got {np.unique(n).size}")
        self.concurrency_, self.throughput_rps_ = n, y
        self.lambda_, self.sigma_, self.kappa_ = self._solve(n, y, self._start(n, y), 1e-15)
        self._set_derived()
        self._heldout()
        self.rows_used_ = int(n.size)
        self.interval_: Literal["wald", "usl-r", "bootstrap-percentile"] = self.interval
        self._set_intervals(self.confint(self.level, self.interval))
        self.bootstrap_resamples_ = 0
        self._boot_derived: dict[str, tuple[float, float]] = {}
        return self

    def _start(self, n: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.clip(np.array([np.max(y / n), 0.01, 1e-4]), self.bounds[0], self.bounds[1])

    def _heldout(self) -> None:
        """Fit the lower concurrency levels, predict the rest: ``heldout_error_`` and ``heldout_points_``."""
        n, y = self.concurrency_, self.throughput_rps_
        cut = heldout_split(n, self.holdout_fraction, _MIN_TRAIN_LEVELS)
        self.heldout_error_, self.heldout_points_ = None, pd.DataFrame(
            columns=["concurrency", "observed_rps", "predicted_rps", "abs_pct_error"])
        if cut is None:
            return
        train, test = n < cut, n >= cut
        params = self._solve(n[train], y[train], self._start(n[train], y[train]), 1e-15)
        predicted = q.usl_throughput(n[test], *params)
        error = np.abs(predicted - y[test]) / y[test]
        self.heldout_points_ = pd.DataFrame({"concurrency": n[test], "observed_rps": y[test],
                                             "predicted_rps": predicted, "abs_pct_error": error})
        self.heldout_error_ = float(np.median(error))

    def fit_steps(self, steps: pd.DataFrame, exclude: Sequence[str] = ()) -> USLFit:
        """Fit to a steps frame (``concurrency``, ``throughput_rps``), dropping rows flagged in ``exclude``."""
        used, excluded = select_steps(steps, exclude, ("concurrency", "throughput_rps"))
        self.fit(used["concurrency"], used["throughput_rps"])
        self.excluded_by_flag_, self.rows_excluded_ = excluded, len(steps) - len(used)
        return self

    def _set_intervals(self, table: dict[str, tuple[float, float]]) -> None:
        """Store ``{name: (lower, upper)}`` as ``<name>_ci_lower_`` / ``<name>_ci_upper_``."""
        self._ci = table
        for name, (lower, upper) in table.items():
            setattr(self, f"{name}_ci_lower_", lower)
            setattr(self, f"{name}_ci_upper_", upper)

    def _set_derived(self) -> None:
        n, y, x = self.concurrency_, self.throughput_rps_, self.params_
        resid = self._residuals(x, n, y)
        self.df_residual_ = int(n.size - 3)
        rss = float(resid @ resid)
        self.residual_std_error_ = math.sqrt(rss / self.df_residual_) if self.df_residual_ > 0 else math.nan
        jac = self._jacobian(x, n, y)
        scale = np.linalg.norm(jac, axis=0)
        scale[scale == 0] = 1.0
        js = jac / scale
        cov = np.linalg.inv(js.T @ js) / np.outer(scale, scale) * self.residual_std_error_**2
        self.lambda_se_, self.sigma_se_, self.kappa_se_ = np.sqrt(np.diag(cov))
        self.peak_concurrency_ = q.usl_peak_concurrency(self.sigma_, self.kappa_)
        self.peak_throughput_rps_ = q.usl_peak_throughput(*x)
        self.amdahl_ceiling_rps_ = q.usl_amdahl_ceiling(self.lambda_, self.sigma_)
        self.optimal_concurrency_ = q.usl_optimal_concurrency(self.sigma_)

    @property
    def params_(self) -> np.ndarray:
        return np.array([self.lambda_, self.sigma_, self.kappa_])

    def confint(self, level: float = 0.95, interval: Literal["wald", "usl-r"] = "wald") -> dict[str, tuple[float, float]]:
        """Analytic intervals ``{'lambda': (lo, hi), 'sigma': ..., 'kappa': ...}`` (see class doc)."""
        n = self.concurrency_.size
        if interval == "wald":
            t = special.stdtrit(n - 3, 0.5 + level / 2.0) if n > 3 else math.nan
        elif interval == "usl-r":
            t = special.stdtrit(n - 1, level)
        else:
            raise ValueError(f"interval must be 'wald' or 'usl-r', got {interval!r}")
        ses = (self.lambda_se_, self.sigma_se_, self.kappa_se_)
        return {name: (float(c - t * se), float(c + t * se))
                for name, c, se in zip(("lambda", "sigma", "kappa"), self.params_, ses, strict=True)}

    def bootstrap(self, n_resamples: int = 200, seed: int = 0, level: float | None = None) -> USLFit:
        """Resample steps with replacement, refit (warm start), and set percentile intervals.

        Sets ``lambda_ci_lower_`` ... ``kappa_ci_upper_`` and the intervals of the derived
        quantities (peak concurrency and throughput, Amdahl ceiling, optimal concurrency); resamples with fewer than 3 distinct levels are redrawn.
        ``bootstrap_samples_`` keeps every refit (columns lambda, sigma, kappa, peak_*).
        """
        level = self.level if level is None else level
        rng = np.random.default_rng(seed)
        n, y = self.concurrency_, self.throughput_rps_
        fits: list[np.ndarray] = []
        while len(fits) < n_resamples:
            idx = rng.integers(0, n.size, n.size)
            if np.unique(n[idx]).size < 3:
                continue
            fits.append(self._solve(n[idx], y[idx], self.params_, 1e-8))
        params = np.array(fits)
        lam, sigma, kappa = params.T
        samples = pd.DataFrame({
            "lambda": lam, "sigma": sigma, "kappa": kappa,
            "peak_concurrency": q.usl_peak_concurrency(sigma, kappa),
            "peak_throughput_rps": q.usl_peak_throughput(lam, sigma, kappa),
            "amdahl_ceiling_rps": q.usl_amdahl_ceiling(lam, sigma),
            "optimal_concurrency": q.usl_optimal_concurrency(sigma),
        })
        lower, upper = percentile_interval(samples.to_numpy(), level)
        self._set_intervals({name: (float(lo), float(hi))
                             for name, lo, hi in zip(samples.columns, lower, upper, strict=True)})
        self._boot_derived = {k: self._ci[k] for k in _DERIVED}
        self.bootstrap_samples_ = samples
        self.bootstrap_resamples_ = n_resamples
        self.interval_ = "bootstrap-percentile"
        self.level = level
        return self

    def predict(self, concurrency):
        """Fitted throughput (rps) at ``concurrency``."""
        return q.usl_throughput(concurrency, *self.params_)

    def summary(self) -> USLSummary:
        ci = self._ci
        boot = self._boot_derived
        return USLSummary(
            lambda_rps=float(self.lambda_), sigma=float(self.sigma_), kappa=float(self.kappa_),
            lambda_se=float(self.lambda_se_), sigma_se=float(self.sigma_se_), kappa_se=float(self.kappa_se_),
            lambda_ci_lower=ci["lambda"][0], lambda_ci_upper=ci["lambda"][1],
            sigma_ci_lower=ci["sigma"][0], sigma_ci_upper=ci["sigma"][1],
            kappa_ci_lower=ci["kappa"][0], kappa_ci_upper=ci["kappa"][1],
            interval=self.interval_, level=self.level,
            peak_concurrency=float(self.peak_concurrency_), peak_throughput_rps=float(self.peak_throughput_rps_),
            amdahl_ceiling_rps=float(self.amdahl_ceiling_rps_), optimal_concurrency=float(self.optimal_concurrency_),
            residual_std_error_rps=float(self.residual_std_error_), df_residual=self.df_residual_,
            rows_used=self.rows_used_, rows_excluded=self.rows_excluded_,
            excluded_by_flag=dict(self.excluded_by_flag_),
            **{f"{name}_ci_{end}": boot.get(name, (None, None))[i] for name in _DERIVED
               for i, end in enumerate(("lower", "upper"))},
            bootstrap_resamples=self.bootstrap_resamples_,
            heldout_error=self.heldout_error_, heldout_points=len(self.heldout_points_),
        )

