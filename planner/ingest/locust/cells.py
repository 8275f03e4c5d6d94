"""Cell types and text decoding shared by the Locust CSV and ``--json`` readers.

Text cells are read as bytes and decoded afterwards: UTF-8, else GB18030, else latin-1 (the widest
encoding used is the run's ``notes["encoding"]``). Timestamps are UTC.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from planner import schema

_ENCODINGS = ("utf-8", "gb18030", "latin-1")
_I, _F, _B = pa.int64(), pa.float64(), pa.binary()
_ARROW_TYPES = {"string": pa.string(), "bool": pa.bool_(), "Int64": _I, "Float64": _F}
_DATETIME_DTYPE = re.compile(r"^datetime64\[(\w+), UTC\]$")
_PANDAS_TYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.string(): pd.StringDtype(),
}


class _Decoder:
    """Decodes byte cells as UTF-8, else GB18030, else latin-1; ``encoding`` is the widest used."""

    def __init__(self) -> None:
        self.encoding = _ENCODINGS[0]

    def decode(self, column: pa.Array) -> pa.Array:
        if self.encoding == "utf-8":
            try:
                return column.cast(pa.string())
            except pa.ArrowInvalid:
                pass
        encoded = pc.dictionary_encode(column)
        texts = self._decode_all(encoded.dictionary.to_pylist())
        return pc.take(pa.array(texts, pa.string()), encoded.indices)

    def _decode_all(self, values: list[bytes]) -> list[str]:
        for encoding in _ENCODINGS[_ENCODINGS.index(self.encoding) :]:
            try:
                texts = [v.decode(encoding) for v in values]
            except UnicodeDecodeError:
                continue
            self.encoding = encoding
            return texts
        raise AssertionError("latin-1 decodes any bytes")


def _widest(*encodings: str) -> str:
    return max(encodings, key=_ENCODINGS.index)


def _arrow_type(dtype: str) -> pa.DataType:
    """The arrow type of a canonical pandas dtype name (``datetime64[<unit>, UTC]`` included)."""
    when = _DATETIME_DTYPE.match(dtype)
    return pa.timestamp(when.group(1), tz="UTC") if when else _ARROW_TYPES[dtype]


_TIMESTAMP = _arrow_type(schema.TABLES["history"].required["timestamp"])
_TICKS_PER_S = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[_TIMESTAMP.unit]


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _to_frame(table: pa.Table, name: str) -> pd.DataFrame:
    return schema.coerce(name, table.to_pandas(types_mapper=_PANDAS_TYPES.get))


def _note_all_failed(notes: dict[str, Any], totals: tuple[int, int] | None) -> None:
    """``notes["all_requests_failed"]`` when every request failed: Locust >= 1.0 counts failures among
    the requests (failures == requests), 0.x apart from them (no request succeeded: requests == 0)."""
    requests, failures = totals or (0, 0)
    if failures > 0 and (failures == requests or requests == 0):
        notes["all_requests_failed"] = f"every request failed ({failures:,} failures, no success)"
