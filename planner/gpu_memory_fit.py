"""GPU memory vs models loaded: a straight line fitted by OLS, for multi-model endpoints.

GPU memory utilisation (percent of the instance's GPU memory) grows linearly with the models loaded,
``u(n) = baseline + slope·n`` (statsmodels OLS with t intervals). The intercept is not the idle GPU:
it is what the serving runtime holds once any model of that framework is loaded (CUDA context,
framework kernels), so the first model costs ``baseline + slope`` and each further one ``slope``.
Left out of the fit (:func:`usable_points`): points with no model loaded (the idle server, below the
line), and points at the cap: utilisation ≥ ``saturated_pct`` (95 %) or a trailing run rising by
less than half the typical step (memory full, the server evicting). Max models per instance is the
largest n with ``u(n) ≤ 100·threshold``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS
from statsmodels.tools.tools import add_constant

from planner.errors import FitError

DEFAULT_MEMORY_THRESHOLD = 0.9
DEFAULT_SATURATED_PCT = 95.0


def usable_points(models_loaded, utilization_pct, saturated_pct: float = DEFAULT_SATURATED_PCT
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(models, median utilisation %) per models-loaded count > 0, below ``saturated_pct``, without the
    trailing plateau: end points rising by less than half the typical step (median over the lower half)."""
    frame = pd.DataFrame({"n": np.asarray(models_loaded, dtype=float),
                          "u": np.asarray(utilization_pct, dtype=float)}).dropna()
    by_n = frame[frame["n"] > 0].groupby("n")["u"].median()
    by_n = by_n[by_n < saturated_pct]
    x, y = by_n.index.to_numpy(dtype=float), by_n.to_numpy(dtype=float)
    if y.size > 3:
        steps = np.diff(y) / np.diff(x)
        typical = float(np.median(steps[: max(1, steps.size // 2)]))
        while y.size > 3 and (y[-1] - y[-2]) / (x[-1] - x[-2]) < 0.5 * typical:
            x, y = x[:-1], y[:-1]
    return x, y


@dataclass(frozen=True)
class GpuMemorySummary:
    """A fitted GPU memory line: % of GPU memory per model and at zero models, MiB per model."""

    slope_pct_per_model: float
    slope_pct_per_model_ci_lower: float
    slope_pct_per_model_ci_upper: float
    baseline_pct: float
    baseline_pct_ci_lower: float
    baseline_pct_ci_upper: float
    gpu_memory_per_model_mb: float | None
    gpu_memory_per_model_mb_ci_lower: float | None
    gpu_memory_per_model_mb_ci_upper: float | None
    gpu_total_memory_mb: float | None
    n_points: int
    n_points_excluded: int
    r_squared: float
    residual_std_pct: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class GpuMemoryFit:
    """GPU memory utilisation (%) vs models loaded, fitted by OLS; see the module docstring."""

    def __init__(self, saturated_pct: float = DEFAULT_SATURATED_PCT, confidence: float = 0.95) -> None:
        self.saturated_pct = saturated_pct
        self.confidence = confidence

    def fit(self, models_loaded, gpu_memory_utilization_pct,
            gpu_total_memory_mb: float | None = None) -> GpuMemoryFit:
        """Fit on the usable points; ``gpu_total_memory_mb`` (MiB) turns percent into MiB per model."""
        x, y = usable_points(models_loaded, gpu_memory_utilization_pct, self.saturated_pct)
        if x.size < 3:
            raise FitError(f"a GPU memory fit needs >= 3 models-loaded counts (> 0, below {self.saturated_pct:g} % "
                           f"and still rising), found {x.size}")
        self.ols_ = OLS(y, add_constant(x)).fit()
        (b_lo, b_hi), (s_lo, s_hi) = self.ols_.conf_int(1 - self.confidence)
        self.baseline_pct_, self.slope_pct_per_model_ = (float(v) for v in self.ols_.params)
        if not self.slope_pct_per_model_ > 0:
            raise FitError(f"GPU memory does not grow with models loaded (slope {self.slope_pct_per_model_:.3g} "
                           "%/model)")
        self.baseline_pct_ci_lower_, self.baseline_pct_ci_upper_ = float(b_lo), float(b_hi)
        self.slope_pct_per_model_ci_lower_, self.slope_pct_per_model_ci_upper_ = float(s_lo), float(s_hi)
        self.gpu_total_memory_mb_ = gpu_total_memory_mb
        to_mb = (lambda pct: pct / 100.0 * gpu_total_memory_mb) if gpu_total_memory_mb else (lambda pct: None)
        self.gpu_memory_per_model_mb_ = to_mb(self.slope_pct_per_model_)
        self.gpu_memory_per_model_mb_ci_lower_ = to_mb(self.slope_pct_per_model_ci_lower_)
        self.gpu_memory_per_model_mb_ci_upper_ = to_mb(self.slope_pct_per_model_ci_upper_)
        counts = pd.Series(np.asarray(models_loaded, dtype=float)).dropna().nunique()
        self.n_points_, self.n_points_excluded_ = int(x.size), int(counts - x.size)
        self.r_squared_ = float(self.ols_.rsquared)
        self.residual_std_pct_ = float(math.sqrt(self.ols_.scale))
        return self

    def predict(self, models):
        """Predicted GPU memory utilisation (%) with ``models`` loaded."""
        return self.baseline_pct_ + self.slope_pct_per_model_ * np.asarray(models, dtype=float)

    def predict_interval(self, models) -> tuple[np.ndarray, np.ndarray]:
        """Confidence band (%) of the mean utilisation at ``models``."""
        n = np.atleast_1d(np.asarray(models, dtype=float))
        band = self.ols_.get_prediction(np.column_stack([np.ones_like(n), n])).conf_int(alpha=1 - self.confidence)
        return band[:, 0], band[:, 1]

    def max_models(self, memory_threshold: float = DEFAULT_MEMORY_THRESHOLD) -> int:
        """Largest n whose predicted utilisation is ≤ 100 × ``memory_threshold`` (0 if not even one)."""
        limit = 100.0 * _threshold(memory_threshold)
        return max(0, math.floor((limit - self.baseline_pct_) / self.slope_pct_per_model_ + 1e-9))

    def max_models_interval(self, memory_threshold: float = DEFAULT_MEMORY_THRESHOLD) -> tuple[int, int]:
        """(lower, upper): the largest n whose upper / lower confidence band stays under the threshold
        (searched up to 4 × the point estimate)."""
        limit = 100.0 * _threshold(memory_threshold)
        n = np.arange(1, 4 * self.max_models(memory_threshold) + 20)
        low, high = self.predict_interval(n)
        return int(n[high <= limit].max(initial=0)), int(n[low <= limit].max(initial=0))

    def summary(self) -> GpuMemorySummary:
        fitted = {f.name: getattr(self, f.name + "_") for f in fields(GpuMemorySummary) if f.name != "confidence"}
        return GpuMemorySummary(**fitted, confidence=self.confidence)


def _threshold(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"memory_threshold must be a fraction in (0, 1], got {value!r}")
    return float(value)
