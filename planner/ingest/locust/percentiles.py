"""Locust's percentile arithmetic: its response-time buckets (:func:`locust_round`), percentiles and
medians of a histogram, and whether a history's percentile columns are windowed or cumulative."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from planner.ingest.locust.cells import _TICKS_PER_S

PERCENTILE_WINDOW_S = 10
"""Locust's sliding window for "current" percentiles (CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW)."""


@dataclass
class HistoryPercentiles:
    """Decides whether a history's percentile columns are a ~10 s window or cumulative since start.

    Rule, in order:

    1. A ``99.999%`` column means Locust < 1.2, whose history percentiles are always a window
       -> ``"window"``.
    2. Without a ``100%`` and a ``Total Max Response Time`` column nothing can be told -> ``"unknown"``.
    3. Cumulative percentiles come from all requests since start, so their ``100%`` is the
       all-time maximum rounded to Locust's buckets (< 100 ms: 1 ms; < 1 s: 10 ms; < 10 s: 100 ms;
       else 1 s), i.e. equals ``locust_round(Total Max Response Time)``. A window's ``100%`` is the
       largest time of the last ~10 s, at most that. So one row with requests where they differ
       -> ``"window"``.
    4. They agree on every row with requests: if those rows span more than the window
       (:data:`PERCENTILE_WINDOW_S`), a window would have dropped the early requests by then
       -> ``"cumulative"``; a shorter span (or no row with requests) cannot tell -> ``"unknown"``.
       (A window whose maximum keeps rising for the whole run would be misread as cumulative:
       that is the rare case this rule gets wrong, and it errs on the safe side.)
    """

    names: list[str]
    rows_with_requests: int = 0
    disagree: bool = False
    first_s: float = math.inf
    last_s: float = -math.inf
    _judgeable: bool = field(init=False)

    def __post_init__(self) -> None:
        self._judgeable = {"latency_p100_ms", "total_latency_max_ms"} <= set(self.names)

    def update(self, batch: pa.RecordBatch) -> None:
        """Take in one canonical history batch (in file order)."""
        if not self._judgeable or self.disagree:
            return
        p100 = batch.column("latency_p100_ms").to_numpy(zero_copy_only=False).astype(float)
        tmax = batch.column("total_latency_max_ms").to_numpy(zero_copy_only=False).astype(float)
        count = batch.column("total_request_count").to_numpy(zero_copy_only=False).astype(float)
        rows = (count > 0) & np.isfinite(p100) & np.isfinite(tmax)
        if not rows.any():
            return
        self.rows_with_requests += int(rows.sum())
        self.disagree = bool((p100[rows] != locust_round(tmax[rows])).any())
        ticks = batch.column("timestamp").cast(pa.int64()).to_numpy(zero_copy_only=False)[rows]
        seconds = ticks / _TICKS_PER_S
        self.first_s = min(self.first_s, float(seconds.min()))
        self.last_s = max(self.last_s, float(seconds.max()))

    def result(self) -> str:
        """``"window"``, ``"cumulative"`` or ``"unknown"`` for the batches seen so far."""
        if "latency_p99_999_ms" in self.names or self.disagree:
            return "window"
        if self.rows_with_requests and self.last_s - self.first_s > PERCENTILE_WINDOW_S:
            return "cumulative"
        return "unknown"


def locust_round(ms: np.ndarray) -> np.ndarray:
    """Response times (ms) rounded to Locust's histogram buckets (~2 significant figures)."""
    ms = np.asarray(ms, dtype=float)
    step = np.select([ms < 100, ms < 1000, ms < 10000], [1.0, 10.0, 100.0], 1000.0)
    return np.round(ms / step) * step


def histogram_percentile(histogram: Mapping[float, int], num_requests: int, fraction: float) -> float | None:
    """Locust's percentile of a response-time histogram {bucket_ms: count} (fraction in 0..1).

    Walking buckets from the slowest down, the answer is the first bucket at which at most
    ``int(num_requests * fraction)`` requests remain below it. None for an empty histogram.
    """
    allowed_below = int(num_requests * fraction)
    seen = 0
    for bucket in sorted(histogram, reverse=True):
        seen += histogram[bucket]
        if num_requests - seen <= allowed_below:
            return float(bucket)
    return None


def histogram_median(histogram: Mapping[float, int], timed_requests: int) -> float | None:
    """Locust's median of a histogram: the bucket holding request (n-1)/2 in time order."""
    position = (timed_requests - 1) / 2
    for bucket in sorted(histogram):
        if position < histogram[bucket]:
            return float(bucket)
        position -= histogram[bucket]
    return None
