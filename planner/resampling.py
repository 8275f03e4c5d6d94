"""What every estimator over steps shares: choosing the steps to fit, checking values, bootstrap intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from planner.errors import InputError

STEPS = "<steps>"


def select_steps(steps: pd.DataFrame, exclude: Sequence[str], needed: Sequence[str]) -> tuple[pd.DataFrame, dict]:
    """Rows of ``steps`` not flagged by any column in ``exclude``, and the flagged count per flag
    (a row may carry several flags: the rows excluded are ``len(steps) - len(used)``)."""
    for column in needed:
        if column not in steps.columns:
            raise InputError(STEPS, f"column {column!r}", "a steps frame column", f"columns {list(steps.columns)}")
    drop = np.zeros(len(steps), dtype=bool)
    excluded = {}
    for flag in exclude:
        if flag not in steps.columns:
            excluded[flag] = 0
            continue
        hit = steps[flag].astype("boolean").fillna(False).to_numpy(dtype=bool)
        excluded[flag] = int(hit.sum())
        drop |= hit
    return steps.loc[~drop].reset_index(drop=True), excluded


def positive(values, name: str) -> np.ndarray:
    arr = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce").astype("float64"), dtype=float)
    bad = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
    if bad.size:
        raise InputError(STEPS, f"row {int(bad[0])} field {name!r}", "a finite value > 0", repr(arr[bad[0]]))
    return arr


def percentile_interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval per column (no interpolation, so infinite samples stay safe)."""
    alpha = (1.0 - level) / 2.0
    lower, upper = np.quantile(samples, [alpha, 1.0 - alpha], axis=0, method="inverted_cdf")
    return lower, upper


def heldout_split(levels, holdout_fraction: float, min_train_levels: int) -> float | None:
    """The lowest held-out load level: the top ``round(holdout_fraction * n_levels)`` (at least 1)
    distinct ``levels`` are held out; None when fewer than ``min_train_levels`` would be left to fit."""
    levels = np.unique(levels)
    n_test = max(1, round(holdout_fraction * levels.size))
    return None if levels.size - n_test < min_train_levels else float(levels[levels.size - n_test])
