"""Plain CSV of ready-made load levels -> table ``points``.

Format ``points-csv``: the first column is the load, the second the throughput, then any of
the optional columns below (header names are matched case-insensitively)::

    concurrency,throughput_rps[,latency_mean_ms,latency_p50_ms,...,latency_p99_ms,error_rate,...]

Accepted aliases:

- first column (-> ``concurrency``, > 0): ``concurrency``, ``load``, ``processors``, ``users``,
  ``user_count``, ``N``;
- second column (-> ``throughput_rps``, >= 0, per second): ``throughput_rps``, ``throughput``,
  ``tput``, ``X``, ``rps``, ``tps``;
- latency columns name a statistic (``p<pct>``, ``mean``/``avg``/``average``, ``median``, ``min``,
  ``max``, optionally with ``latency_`` / ``_latency``) AND a unit: ``latency_p99_ms``, ``p99_ms``,
  ``p99 (ms)``, ``p99_us``, ``p99 (us)``, ``p99_s``, ``p99.9_ms`` ... -> ``latency_p99_ms`` etc., in ms.
  A latency column without a unit is an error: units are never guessed;
- ``error_rate``: a fraction in [0, 1];
- any other column is kept under its snake_case name (numbers as Float64, else text).

This covers the USL data sets (``load,throughput``, ``processors,throughput``, ``load,tput``).
Rows are sorted by concurrency (stable: repeated measurements of one level keep their order).

The module also holds :class:`CsvTable`, the line-numbered CSV reader the other CSV parsers share.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import pandas as pd

from planner import schema
from planner.errors import InputError
from planner.ingest.base import ParsedRun, csv_errors

FORMATS = ("points-csv",)

CONCURRENCY_ALIASES = frozenset({"concurrency", "load", "processors", "users", "user_count", "n"})
THROUGHPUT_ALIASES = frozenset({"throughput_rps", "throughput", "tput", "x", "rps", "tps"})

_MS_PER_UNIT = {"ms": 1.0, "us": 1e-3, "µs": 1e-3, "s": 1000.0}
_LATENCY_HEADER = re.compile(
    r"^(?:(?:latency|response[ _]time)[ _]?)?"
    r"(?P<stat>p\d+(?:[._]\d+)?|mean|avg|average|median|min|max)"
    r"(?:[ _]?(?:latency|response[ _]time))?"
    r"(?:[ _]*\(\s*(?P<unit_paren>ms|us|µs|s)\s*\)|_(?P<unit_suffix>ms|us|µs|s))?$"
)
_STAT_COLUMN = {"mean": "latency_mean_ms", "avg": "latency_mean_ms", "average": "latency_mean_ms",
                "median": "latency_median_ms", "min": "latency_min_ms", "max": "latency_max_ms"}
_LATENCY_EXAMPLES = "a latency column naming its statistic and unit, e.g. latency_p99_ms, p99_ms, 'p99 (us)', p99_s"


@dataclass(frozen=True)
class CsvTable:
    """A CSV file read as text: stripped header, data rows, and each row's 1-based file line."""

    path: Path
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lines: tuple[int, ...]

    @classmethod
    def read(cls, path: Path) -> CsvTable:
        """Read ``path`` (UTF-8, optional BOM, any line ending); blank lines are skipped."""
        raw = Path(path).read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise InputError(path, f"byte {e.start}", "UTF-8 text", repr(raw[e.start:e.start + 8])) from None
        reader = csv.reader(io.StringIO(text, newline=""))
        with csv_errors(path, reader):
            records = [(reader.line_num, [c.strip() for c in rec]) for rec in reader if any(c.strip() for c in rec)]
        if not records:
            raise InputError(path, "line 1", "a CSV header", "an empty file")
        (_, header), body = records[0], records[1:]
        for line, cells in body:
            if len(cells) != len(header):
                raise InputError(path, f"line {line}", f"{len(header)} fields like the header", f"{len(cells)}")
        return cls(Path(path), tuple(header), tuple(tuple(c) for _, c in body), tuple(n for n, _ in body))

    def require(self, columns: Iterable[str]) -> None:
        """Raise InputError naming the columns of ``columns`` the header lacks."""
        missing = [c for c in columns if c not in self.header]
        if missing:
            raise InputError(self.path, "header", f"column(s) {', '.join(map(repr, missing))}",
                             f"columns {list(self.header)}")

    def where(self, i: int, column: str) -> str:
        """``'line 7, column 'p99 latency''`` for data row ``i``."""
        return f"line {self.lines[i]}, column {column!r}"

    def text(self, column: str) -> list[str]:
        """The cells of ``column`` as stripped strings."""
        j = self.header.index(column)
        return [row[j] for row in self.rows]

    @overload
    def floats(self, column: str, *, empty_ok: Literal[False] = False, minimum: float | None = None,
               positive: bool = False, maximum: float | None = None) -> list[float]: ...
    @overload
    def floats(self, column: str, *, empty_ok: bool, minimum: float | None = None,
               positive: bool = False, maximum: float | None = None) -> list[float | None]: ...
    def floats(self, column: str, *, empty_ok: bool = False, minimum: float | None = None,
               positive: bool = False, maximum: float | None = None) -> list[float] | list[float | None]:
        """The cells of ``column`` as finite floats; empty cells are None when ``empty_ok``.

        Raises InputError naming the line and column for text, NaN, infinities and values outside
        ``[minimum, maximum]`` (``positive``: > 0).
        """
        out: list[float | None] = []
        for i, cell in enumerate(self.text(column)):
            if cell == "" and empty_ok:
                out.append(None)
                continue
            out.append(_checked_float(self, i, column, cell, minimum, positive, maximum))
        return out

    def counts(self, column: str, *, positive: bool = False) -> list[int]:
        """The cells of ``column`` as whole numbers >= 0 (> 0 when ``positive``); ``'12.0'`` is 12."""
        values = self.floats(column, minimum=0.0, positive=positive)
        for i, value in enumerate(values):
            if value != round(value):
                raise InputError(self.path, self.where(i, column), "a whole number", repr(self.text(column)[i]))
        return [int(v) for v in values]

    def as_is(self, column: str) -> pd.api.extensions.ExtensionArray:
        """``column`` unconverted: Float64 when every non-empty cell is a number, else string."""
        cells = self.text(column)
        try:
            return pd.array([float(c) if c else None for c in cells], dtype="Float64")
        except ValueError:
            return pd.array(cells, dtype="string")


def _checked_float(table: CsvTable, i: int, column: str, cell: str, minimum: float | None,
                   positive: bool, maximum: float | None) -> float:
    expected = _expected_range(minimum, positive, maximum)
    try:
        value = float(cell)
    except ValueError:
        raise InputError(table.path, table.where(i, column), expected, repr(cell)) from None
    too_low = (positive and value <= 0) or (minimum is not None and value < minimum)
    too_high = maximum is not None and value > maximum
    if not math.isfinite(value) or too_low or too_high:
        raise InputError(table.path, table.where(i, column), expected, repr(cell))
    return value


def _expected_range(minimum: float | None, positive: bool, maximum: float | None) -> str:
    if positive:
        return "a number > 0"
    if minimum is not None and maximum is not None:
        return f"a number in [{minimum:g}, {maximum:g}]"
    return f"a number >= {minimum:g}" if minimum is not None else "a finite number"


def snake_case(name: str) -> str:
    """``'Server Compute Infer'`` -> ``'server_compute_infer'``."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def sniff(path: Path, head: bytes) -> str | None:
    """``'points-csv'`` when the header's first two columns are a load and a throughput alias."""
    header = first_record(head)
    if len(header) >= 2 and header[0].lower() in CONCURRENCY_ALIASES and header[1].lower() in THROUGHPUT_ALIASES:
        return FORMATS[0]
    return None


def first_record(head: bytes) -> list[str]:
    """The first non-blank CSV record of a file's first bytes, cells stripped (for sniffing; [] if none)."""
    text = head.decode("utf-8-sig", errors="replace")
    for record in csv.reader(io.StringIO(text, newline="")):
        if any(c.strip() for c in record):
            return [c.strip() for c in record]
    return []


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """One run per file, table ``points`` (see the module docstring)."""
    return [_parse_one(Path(p), fmt) for p in paths]


def _parse_one(path: Path, fmt: str) -> ParsedRun:
    table = CsvTable.read(path)
    _check_load_columns(table)
    load, tput = table.header[:2]
    columns = {"concurrency": _float64(table.floats(load, positive=True)),
               "throughput_rps": _float64(table.floats(tput, minimum=0.0))}
    for source, (target, factor) in _optional_columns(table).items():
        columns[target] = _optional_values(table, source, target, factor)
    frame = pd.DataFrame(columns)
    frame = frame.sort_values("concurrency", kind="stable", ignore_index=True)
    return ParsedRun(source="points", format=fmt, inputs=(path,), tables={"points": schema.coerce("points", frame)},
                     notes={"load_column": load, "throughput_column": tput})


def _check_load_columns(table: CsvTable) -> None:
    head = [h.lower() for h in table.header[:2]]
    if len(head) < 2 or head[0] not in CONCURRENCY_ALIASES or head[1] not in THROUGHPUT_ALIASES:
        raise InputError(table.path, "header", "first columns concurrency (or load, processors, users, N) and "
                         "throughput_rps (or throughput, tput, X, rps, tps)", f"{list(table.header[:2])}")
    if not table.rows:
        raise InputError(table.path, "line 2", "at least one data row", "none")


def _optional_columns(table: CsvTable) -> dict[str, tuple[str, float | None]]:
    """Map each further header to (canonical column, ms factor or None for a non-latency column)."""
    mapped: dict[str, tuple[str, float | None]] = {}
    seen: dict[str, str] = {"concurrency": table.header[0], "throughput_rps": table.header[1]}
    for name in table.header[2:]:
        target, factor = _target_column(table.path, name)
        if target in seen:
            raise InputError(table.path, "header", "each quantity in one column",
                             f"{seen[target]!r} and {name!r} both meaning {target}")
        seen[target] = name
        mapped[name] = (target, factor)
    return mapped


def _target_column(path: Path, name: str) -> tuple[str, float | None]:
    lowered = name.lower()
    m = _LATENCY_HEADER.match(lowered)
    if m:
        unit = m.group("unit_paren") or m.group("unit_suffix")
        if unit is None:
            raise InputError(path, f"header column {name!r}", _LATENCY_EXAMPLES, "no unit")
        stat = m.group("stat")
        column = schema.percentile_column(stat[1:].replace("_", ".")) if stat.startswith("p") else _STAT_COLUMN[stat]
        return column, _MS_PER_UNIT[unit]
    if "latency" in lowered or "response time" in lowered:
        raise InputError(path, f"header column {name!r}", _LATENCY_EXAMPLES, repr(name))
    return snake_case(name), None


def _optional_values(table: CsvTable, source: str, target: str,
                     factor: float | None) -> pd.api.extensions.ExtensionArray:
    if factor is not None:
        return _float64([None if v is None else v * factor for v in table.floats(source, empty_ok=True, minimum=0.0)])
    if target == "error_rate":
        return _float64(table.floats(source, empty_ok=True, minimum=0.0, maximum=1.0))
    return table.as_is(source)


def _float64(values: Sequence[float | None]) -> pd.api.extensions.ExtensionArray:
    return pd.array(values, dtype="Float64")
