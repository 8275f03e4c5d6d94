"""Strict JSON values: the one place where an unbounded or undefined number (inf, NaN) becomes null.

Every ``to_dict()`` that can hold such a number, and ``--json`` output, pass through :func:`finite`,
so JSON (``allow_nan=False``), spreadsheets and parquet never see ``Infinity`` or ``NaN``.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by None, inside dicts, lists and tuples
    (tuples become lists, as JSON has them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Strict, indented JSON of ``value`` (see :func:`finite`); what it cannot encode is written as text."""
    return json.dumps(finite(value), indent=2, default=str, allow_nan=False)
