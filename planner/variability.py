"""The one assumption about service-time variability where only mean latency was measured.

A percentile cannot be read from a mean: it needs the spread of service times, the squared
coefficient of variation Cs² (variance / mean²). Where per-step percentiles exist the fits measure
it; where only means exist (CloudWatch averages, published tables, short Locust steps) every page and
command uses this module's value: derived from a step's maximum when one was published (the largest
of n requests sits near the service-time quantile 1 − 1/(n+1)), else a documented default, and always
shown with its bracket (the p99s at Cs² ÷ and × ``SCV_BRACKET_FACTOR``: an assumption range, not a
confidence interval).

Default: Cs² = 0.1 (CV ≈ 0.32), the spread of inference service times on a warm instance that the
bundled emulated profiles and the published multi-model runs show; exponential service (Cs² = 1) would
put a light-load p99 at 4.6 × the mean, which no measured inference endpoint here shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.queueing import service_quantile_s

MEAN_ONLY_SERVICE_SCV = 0.1
SCV_BRACKET_FACTOR = 4.0
_SCV_GRID = np.geomspace(1e-3, 16.0, 200)


@dataclass(frozen=True)
class ServiceVariability:
    """Cs² used for tail latency and where it came from: ``measured`` (fitted to percentiles),
    ``max/mean`` (from a published maximum) or ``default``; the bracket when it is assumed."""

    scv: float
    source: str
    scv_lower: float | None = None
    scv_upper: float | None = None

    @property
    def assumed(self) -> bool:
        return self.source != "measured"


def assumed(scv: float = MEAN_ONLY_SERVICE_SCV, source: str = "default") -> ServiceVariability:
    """An assumed Cs² with its bracket (÷ and × :data:`SCV_BRACKET_FACTOR`)."""
    return ServiceVariability(scv, source, scv / SCV_BRACKET_FACTOR, scv * SCV_BRACKET_FACTOR)


def from_maximum(max_over_mean: float, requests: float) -> ServiceVariability:
    """Cs² whose service quantile ``1 − 1/(requests + 1)`` is ``max_over_mean`` × the mean (the
    light-load step's maximum over its mean latency); the default when the ratio says nothing."""
    if not (np.isfinite(max_over_mean) and max_over_mean > 1.0 and requests >= 20):
        return assumed()
    p = 1.0 - 1.0 / (requests + 1.0)
    ratios = np.maximum.accumulate(np.asarray(service_quantile_s(p, 1.0, _SCV_GRID)))
    scv = float(np.exp(np.interp(max_over_mean, ratios, np.log(_SCV_GRID))))
    return assumed(scv, "max/mean")
