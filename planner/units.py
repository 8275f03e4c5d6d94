"""Parse and format quantities with units: ``200ms``, ``1.5s``, ``1k``, ``3M``, ``40KB``, ``2048MB``, ``$0.23``.

Canonical units inside planner: milliseconds, requests per second, bytes (payload sizes: ``KB``/``MB``/``GB``
are powers of 1000, ``KiB``/``MiB``/``GiB`` of 1024), megabytes (serverless memory sizes, as AWS names
them: 1 GB = 1024 MB), US dollars.
"""

from __future__ import annotations

import math
import re

from planner.errors import PlannerError

_NUMBER = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
_DURATION_MS = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0, "sec": 1000.0, "m": 60_000.0, "min": 60_000.0,
                "h": 3_600_000.0}
_COUNT = {"": 1.0, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "b": 1e9, "B": 1e9, "G": 1e9}
_BYTES = {"": 1.0, "b": 1.0, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
          "kib": 2.0**10, "mib": 2.0**20, "gib": 2.0**30, "tib": 2.0**40}
_MEMORY_MB = {"mb": 1.0, "m": 1.0, "gb": 1024.0, "g": 1024.0, "mib": 1.0, "gib": 1024.0}


class UnitError(PlannerError):
    """A quantity could not be parsed."""


def _split(text: str, what: str) -> tuple[float, str]:
    m = re.fullmatch(_NUMBER + r"\s*([A-Za-zµ/]*)", str(text).strip())
    if not m:
        raise UnitError(f"expected a {what} such as {_EXAMPLES[what]}, found {text!r}")
    return _finite(float(m.group(1)), what, text), m.group(2)


def _finite(value: float, what: str, text: str) -> float:
    if not math.isfinite(value):
        raise UnitError(f"expected a finite {what}, found {text!r}")
    return value


_EXAMPLES = {"duration": "'200ms', '1.5s' or '250' (ms)", "count": "'1000', '1k' or '3M'",
             "size": "'512B', '40KB', '1MiB' or '1000' (bytes)",
             "memory size": "'2048MB', '2GB' or '2048'"}


def parse_duration_ms(text: str | float) -> float:
    """Parse a duration (``200ms``, ``1.5s``, ``500us``; a bare number is ms) into milliseconds."""
    if isinstance(text, int | float):
        return float(text)
    value, unit = _split(text, "duration")
    factor = _DURATION_MS.get(unit if unit else "ms")
    if factor is None:
        raise UnitError(f"expected a duration unit (us, ms, s, min, h), found {unit!r} in {text!r}")
    return value * factor


def parse_count(text: str | float) -> float:
    """Parse a count or rate (``1000``, ``1k``, ``3M``, ``2.5k``) into a plain number."""
    if isinstance(text, int | float):
        return float(text)
    value, unit = _split(text, "count")
    factor = _COUNT.get(unit)
    if factor is None:
        raise UnitError(f"expected a count suffix (k, M, B), found {unit!r} in {text!r}")
    return _finite(value * factor, "count", text)


def parse_bytes(text: str | float) -> float:
    """Parse a size (``512B``, ``40KB`` = 40,000, ``1KiB`` = 1,024, ``2GB``; any case; a bare number is
    bytes) into bytes. ``B`` is bytes here, never a billion as in :func:`parse_count`."""
    if isinstance(text, int | float):
        return float(text)
    value, unit = _split(text, "size")
    factor = _BYTES.get(unit.lower())
    if factor is None:
        raise UnitError(f"expected a size unit (B, KB, MB, GB: 1000; KiB, MiB, GiB: 1024), found {unit!r} in {text!r}")
    return _finite(value * factor, "size", text)


def parse_memory_mb(text: str | float) -> float:
    """Parse a memory size (``2048MB``, ``2GB``; a bare number is MB) into MB."""
    if isinstance(text, int | float):
        return float(text)
    value, unit = _split(text, "memory size")
    factor = _MEMORY_MB.get(unit.lower() if unit else "mb")
    if factor is None:
        raise UnitError(f"expected a memory unit (MB, GB), found {unit!r} in {text!r}")
    return value * factor


def parse_percentile(text: str | float) -> float:
    """Parse ``p99``, ``p99.9``, ``99%``, ``0.99`` or ``99`` into a percentile in (0, 100]."""
    s = str(text).strip().lower().removeprefix("p").removesuffix("%")
    try:
        value = float(s)
    except ValueError:
        raise UnitError(f"expected a percentile such as 'p99' or '95%', found {text!r}") from None
    if 0 < value < 1 and not str(text).strip().lower().startswith("p"):
        value *= 100
    if not 0 < value <= 100:
        raise UnitError(f"expected a percentile in (0, 100], found {text!r}")
    return value


def percentile_label(pct: float) -> str:
    """``99.0 -> 'p99'``, ``99.9 -> 'p99.9'``."""
    return "p" + f"{pct:g}"


def format_ms(ms: float) -> str:
    """Human duration: ``85 ms``, ``1.25 s``."""
    if ms is None or not math.isfinite(ms):
        return "n/a"
    return f"{ms / 1000:.3g} s" if ms >= 10_000 else f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"


def format_usd(usd: float) -> str:
    """Human money: ``$0.23``, ``$1,234``, ``$0.0000052``."""
    if usd is None or not math.isfinite(usd):
        return "n/a"
    if abs(usd) >= 100:
        return f"${usd:,.0f}"
    if abs(usd) >= 0.01:
        return f"${usd:,.2f}"
    return f"${usd:.2g}"
