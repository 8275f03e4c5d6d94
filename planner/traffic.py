"""Traffic a sizing is for: load per minute (:class:`TrafficProfile`) and request shares over the
models of a multi-model endpoint (:class:`Popularity`). Parsers of traffic files live in
:mod:`planner.ingest.traffic`; the decisions in :mod:`planner.recommend` read these types only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.errors import InputError
from planner.queueing import zipf_popularity


@dataclass(frozen=True)
class TrafficProfile:
    """Offered load per minute (mean requests per second in each minute), and where it came from."""

    tps: np.ndarray = field(repr=False, compare=False)
    source: str
    start: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def minutes(self) -> int:
        return int(self.tps.size)

    @property
    def invocations_per_minute(self) -> np.ndarray:
        return self.tps * 60.0

    def to_dict(self) -> dict[str, Any]:
        """Summary (not the series): minutes, peak/trough/mean TPS, total invocations."""
        return {"source": self.source, "start": self.start, "minutes": self.minutes,
                "peak_tps": float(self.tps.max()), "trough_tps": float(self.tps.min()),
                "mean_tps": float(self.tps.mean()), "total_invocations": float(self.tps.sum() * 60.0),
                "notes": list(self.notes)}


def traffic_profile(tps, source: str, start: str | None = None, notes: Sequence[str] = ()) -> TrafficProfile:
    """A profile of ``tps`` (requests/s per minute) from ``source``; InputError unless finite, >= 0, peak > 0."""
    values = np.asarray(tps, dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)) or values.min() < 0 or values.max() <= 0:
        raise InputError(source, "traffic", "at least one minute of finite, non-negative load with a peak > 0",
                         f"{values.size} minutes, peak {values.max() if values.size else None!r}")
    return TrafficProfile(values, source, start, tuple(notes))


def diurnal_traffic(peak_tps: float, trough_tps: float, period_minutes: float, duration_minutes: int | None = None,
                    noise: float = 0.0, seed: int = 0) -> TrafficProfile:
    """A sinusoid between ``trough_tps`` (at minute 0) and ``peak_tps`` (half a period later), for
    ``duration_minutes`` (default: one period). ``noise`` > 0 multiplies each minute by
    ``max(0, 1 + noise·N(0, 1))`` drawn with ``seed``."""
    if not (0 <= trough_tps <= peak_tps and peak_tps > 0 and period_minutes >= 1 and noise >= 0):
        raise ValueError("need 0 <= trough_tps <= peak_tps, peak_tps > 0, period_minutes >= 1 and noise >= 0")
    minutes = int(round(period_minutes)) if duration_minutes is None else int(duration_minutes)
    if minutes < 1:
        raise ValueError(f"duration_minutes must be >= 1, got {duration_minutes!r}")
    phase = 2.0 * np.pi * np.arange(minutes) / period_minutes
    tps = trough_tps + (peak_tps - trough_tps) * (1.0 - np.cos(phase)) / 2.0
    if noise > 0:
        tps = tps * np.maximum(0.0, 1.0 + noise * np.random.default_rng(seed).standard_normal(minutes))
    source = (f"diurnal: peak {peak_tps:g} TPS, trough {trough_tps:g} TPS, period {period_minutes:g} min, "
              f"{minutes} min" + (f", noise {noise:g} (seed {seed})" if noise > 0 else ""))
    return traffic_profile(tps, source)


@dataclass(frozen=True)
class Popularity:
    """Request shares of the models (sum 1), and where they came from."""

    description: str
    shares: tuple[float, ...]

    @property
    def models(self) -> int:
        return len(self.shares)

    @classmethod
    def zipf(cls, models: int, exponent: float, description: str) -> Popularity:
        """Zipf shares with ``exponent`` (0: uniform) over ``models`` models."""
        return cls(description, tuple(zipf_popularity(models, exponent)))
