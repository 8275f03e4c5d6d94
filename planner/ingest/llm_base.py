"""What the LLM benchmark parsers share: the ``llm_steps`` frame, exact statistics of per-request
samples, checked number reading, JSON loading, and the provenance of known public result files.

Every LLM parser returns runs with one ``llm_steps`` row per load level (see the table's doc in
:mod:`planner.schema`). ``request_count`` counts the requests the latency and token statistics cover
(the successful ones); ``failure_count`` the failed ones (null where the tool does not say).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner import schema
from planner.errors import InputError
from planner.ingest.llm_published import PUBLISHED

PERCENTILES = (50.0, 90.0, 95.0, 99.0)
"""The percentiles computed from per-request samples."""

MS_PER_S = 1000.0


def latency_column(metric: str, statistic: str | float) -> str:
    """``('ttft', 99)`` -> ``'ttft_p99_ms'``; ``('e2e', 'mean')`` -> ``'e2e_mean_ms'``."""
    if isinstance(statistic, str) and not statistic[:1].isdigit():
        return f"{metric}_{statistic}_ms"
    return schema.percentile_column(statistic, prefix=metric)


def sample_stats_ms(metric: str, samples_ms: Sequence[float]) -> dict[str, float | None]:
    """Mean and p50/p90/p95/p99 (linear interpolation, numpy's default) of ``samples_ms``, as
    ``<metric>_mean_ms``, ``<metric>_p<pct>_ms``; all None for no samples."""
    values = np.asarray(samples_ms, dtype=float)
    stats: dict[str, float | None] = {latency_column(metric, "mean"): float(values.mean()) if values.size else None}
    for pct in PERCENTILES:
        stats[latency_column(metric, pct)] = float(np.percentile(values, pct)) if values.size else None
    return stats


def steps_frame(levels: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The coerced ``llm_steps`` table of ``levels`` (dicts of column -> value): required columns
    first (missing ones null), then the others in first-seen order; latency columns Float64."""
    rows = list(levels)
    required = schema.TABLES["llm_steps"].required
    extra = list(dict.fromkeys(k for row in rows for k in row if k not in required))
    frame = pd.DataFrame({col: [row.get(col) for row in rows] for col in (*required, *extra)})
    for col in extra:
        values = [v for v in frame[col] if v is not None]
        if values and all(isinstance(v, bool) for v in values):
            frame[col] = frame[col].astype("boolean")
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            frame[col] = frame[col].astype("Int64" if col.endswith("_count") else "Float64")
        else:
            frame[col] = frame[col].astype("string")
    return schema.coerce("llm_steps", frame)


def number(path: Path, where: str, value: Any, *, minimum: float | None = 0.0, allow_inf: bool = False,
           whole: bool = False) -> float:
    """``value`` (a JSON number or a numeric string such as ``"550"``) as a float, else InputError."""
    expected = "a whole number >= 0" if whole else "a number" + (f" >= {minimum:g}" if minimum is not None else "")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(path, where, expected, _shown(value))
    try:
        out = float(value)
    except ValueError:
        raise InputError(path, where, expected, _shown(value)) from None
    if math.isnan(out) or (math.isinf(out) and not (allow_inf and out > 0)) or (minimum is not None and out < minimum):
        raise InputError(path, where, expected, _shown(value))
    if whole and out != round(out):
        raise InputError(path, where, expected, _shown(value))
    return out


def optional_number(path: Path, where: str, value: Any, **kwargs: Any) -> float | None:
    """:func:`number`, or None for a missing (None) value."""
    return None if value is None else number(path, where, value, **kwargs)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_json(path: Path) -> Any:
    """The JSON document in ``path`` (UTF-8), or one InputError naming the line and column."""
    raw = Path(path).read_bytes()
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise InputError(path, f"byte {e.start}", "UTF-8 text", repr(raw[e.start:e.start + 8])) from None
    except json.JSONDecodeError as e:
        raise InputError(path, f"line {e.lineno}, column {e.colno}", "valid JSON", e.msg) from None


def field(path: Path, obj: Any, key: str, where: str = "") -> Any:
    """``obj[key]``, or InputError when ``obj`` is not an object holding ``key``."""
    place = f"{where}.{key}" if where else key
    if not isinstance(obj, Mapping):
        raise InputError(path, where or "top level", "a JSON object", type(obj).__name__)
    if key not in obj:
        raise InputError(path, place, f"key {key!r}", "none")
    return obj[key]


def provenance(paths: Sequence[Path]) -> dict[str, Any]:
    """``{'origin': 'published', 'source_ref': ...}`` when every input is a known public result file
    (matched by SHA-256 of its bytes), else ``{}``."""
    refs = [PUBLISHED.get(hashlib.sha256(Path(p).read_bytes()).hexdigest()) for p in paths]
    known = [r for r in refs if r is not None]
    if not refs or len(known) < len(refs):
        return {}
    return {"origin": "published", "source_ref": "; ".join(dict.fromkeys(known))}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, None when either is unknown or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
