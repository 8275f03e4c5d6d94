"""Locust inputs: ``*_stats.csv``, ``*_stats_history.csv``, ``*_failures.csv``, ``*_exceptions.csv``
(Locust 0.13 to 2.x) and ``locust --json`` output.

Formats are recognised from the header line, never from the file name. File names only group the
CSV files of one run: ``foo_stats.csv``, ``foo_stats_history.csv``, ``foo_failures.csv`` and
``foo_exceptions.csv`` form the run with prefix ``foo``.

All CSV files go through one pyarrow reader: the header is parsed here and mapped to canonical
columns (:mod:`planner.schema`), cells are converted with explicit types (``N/A`` -> null), text
cells are read as bytes and decoded afterwards (UTF-8, else GB18030, else latin-1; the widest
encoding used is ``notes["encoding"]``). Blank lines (CR CR LF endings), a UTF-8 BOM and quoting of
any cell are handled by the reader. Times are ms; timestamps are UTC.

Bad input raises :class:`~planner.errors.InputError`; ``where`` is ``"header"``,
``"row N"`` or ``"row N, column 'X'"`` with N the 1-based data row (the header and blank lines not
counted), or ``"entry N ..."`` for ``--json`` files.

A ``_stats_history.csv`` above :data:`STREAM_THRESHOLD_BYTES` is returned as a zero-argument
callable streaming pyarrow RecordBatches of the canonical history schema. Such a run's ``notes``
(``history_percentiles``, ``encoding``) are completed while the stream is consumed: read them after
consuming the stream (until then ``history_percentiles`` is ``"unknown"``).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from planner import schema
from planner.errors import InputError
from planner.ingest.base import ParsedRun, TableSource

FORMATS = ("locust-stats", "locust-history", "locust-failures", "locust-exceptions", "locust-json")

STREAM_THRESHOLD_BYTES = 32 * 2**20
"""History files larger than this (bytes) are streamed instead of materialised."""

CHUNK_BYTES = 8 * 2**20
"""Bytes of history CSV text parsed at a time (one RecordBatch each): bounds memory when streaming."""

PERCENTILE_WINDOW_S = 10
"""Locust's sliding window for "current" percentiles (CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW)."""

JSON_PERCENTILES = (0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0)
"""Fractions reported for ``--json`` entries (Locust's PERCENTILES_TO_REPORT)."""

_HEAD_BYTES = 64 * 2**10
_ENCODINGS = ("utf-8", "gb18030", "latin-1")
_PCT_HEADER = re.compile(r"^\d+(\.\d+)?%$")
_AGGREGATE_NAMES = ("Aggregated", "Total")
_AGGREGATE_TYPES = ("", "None")
_NULL_TOKENS = ("N/A", "")
_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")

_I, _F, _B = pa.int64(), pa.float64(), pa.binary()
_ARROW_TYPES = {"string": pa.string(), "bool": pa.bool_(), "Int64": _I, "Float64": _F}
_DATETIME_DTYPE = re.compile(r"^datetime64\[(\w+), UTC\]$")
_PANDAS_TYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.string(): pd.StringDtype(),
}


@dataclass(frozen=True)
class _Kind:
    """One Locust CSV file kind: its header vocabulary (lower-cased) and where it goes."""

    fmt: str
    table: str
    columns: Mapping[str, tuple[str, pa.DataType]]
    required: tuple[str, ...]
    suffixes: tuple[str, ...]
    label: str
    forbidden: tuple[str, ...] = ()
    percentiles: bool = False
    when_columns: tuple[str, ...] = ()


def _aliases(*pairs: tuple[tuple[str, ...], str, pa.DataType]) -> dict[str, tuple[str, pa.DataType]]:
    return {alias: (name, kind) for aliases, name, kind in pairs for alias in aliases}


_REQUEST_IDENTITY = (
    (("type", "method"), "request_type", _B),
    (("name",), "name", _B),
)

_KINDS: dict[str, _Kind] = {
    k.fmt: k
    for k in (
        _Kind(
            "locust-stats",
            "requests",
            _aliases(
                *_REQUEST_IDENTITY,
                (("request count", "# requests"), "request_count", _I),
                (("failure count", "# failures"), "failure_count", _I),
                (("median response time",), "latency_median_ms", _F),
                (("average response time",), "latency_mean_ms", _F),
                (("min response time",), "latency_min_ms", _F),
                (("max response time",), "latency_max_ms", _F),
                (("average content size",), "content_size_mean_bytes", _F),
                (("requests/s",), "throughput_rps", _F),
                (("failures/s", "requests failed/s"), "failures_per_s", _F),
            ),
            ("request_type", "name", "request_count"),
            ("_stats.csv", "_requests.csv"),
            "a Locust _stats.csv header (Type, Name, Request Count, ...)",
            forbidden=("timestamp",),
            percentiles=True,
        ),
        _Kind(
            "locust-history",
            "history",
            _aliases(
                (("timestamp",), "timestamp", _I),
                (("user count",), "user_count", _I),
                *_REQUEST_IDENTITY,
                (("requests/s",), "throughput_rps", _F),
                (("failures/s", "requests failed/s"), "failures_per_s", _F),
                (("total request count", "# requests"), "total_request_count", _I),
                (("total failure count", "# failures"), "total_failure_count", _I),
                (("total median response time", "median response time"), "total_latency_median_ms", _F),
                (("total average response time", "average response time"), "total_latency_mean_ms", _F),
                (("total min response time", "min response time"), "total_latency_min_ms", _F),
                (("total max response time", "max response time"), "total_latency_max_ms", _F),
                (("total average content size", "average content size"), "total_content_size_mean_bytes", _F),
            ),
            ("timestamp", "request_type", "name", "total_request_count"),
            ("_stats_history.csv",),
            "a Locust _stats_history.csv header (Timestamp, User Count, Type, Name, ...)",
            percentiles=True,
        ),
        _Kind(
            "locust-failures",
            "failures",
            _aliases(
                (("method", "type"), "method", _B),
                (("name",), "name", _B),
                (("error",), "error", _B),
                (("occurrences",), "occurrences", _I),
                (("first seen",), "first_seen", _B),
                (("last seen",), "last_seen", _B),
            ),
            ("method", "name", "error", "occurrences"),
            ("_failures.csv",),
            "a Locust _failures.csv header (Method, Name, Error, Occurrences)",
            when_columns=("first_seen", "last_seen"),
        ),
        _Kind(
            "locust-exceptions",
            "exceptions",
            _aliases(
                (("count",), "count", _I),
                (("message",), "message", _B),
                (("traceback",), "traceback", _B),
                (("nodes",), "nodes", _B),
            ),
            ("count", "message", "traceback", "nodes"),
            ("_exceptions.csv",),
            "a Locust _exceptions.csv header (Count, Message, Traceback, Nodes)",
        ),
    )
}
_CSV_ORDER = ("locust-stats", "locust-history", "locust-failures", "locust-exceptions")


# ---------------------------------------------------------------- sniffing


def sniff(path: Path, head: bytes) -> str | None:
    """The Locust per-file format of ``head`` (the file's first bytes), or None."""
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if body.startswith(b"["):
        return "locust-json" if b'"num_requests"' in body and b'"response_times"' in body else None
    fields = _header_fields(head)
    for kind in _KINDS.values():
        if not _header_problem(kind, fields):
            return kind.fmt
    return None


def _header_fields(head: bytes) -> list[str]:
    """The header line's cells (quotes removed); header names are ASCII in every Locust version."""
    text = head.removeprefix(b"\xef\xbb\xbf")
    line = re.split(rb"[\r\n]", text, maxsplit=1)[0]
    return next(csv.reader([line.decode("latin-1")]), [])


def _header_targets(kind: _Kind, fields: list[str]) -> list[tuple[str, pa.DataType] | None]:
    """Canonical (column, arrow type) of each header cell; None for a column we do not read."""
    targets: list[tuple[str, pa.DataType] | None] = []
    for cell in fields:
        text = cell.strip()
        if kind.percentiles and _PCT_HEADER.match(text):
            targets.append((schema.percentile_column(text), _F))
        else:
            targets.append(kind.columns.get(text.lower()))
    return targets


def _header_problem(kind: _Kind, fields: list[str]) -> str | None:
    """Why ``fields`` is not a header of ``kind``; None when it is."""
    lowered = {f.strip().lower() for f in fields}
    betrayed = [f for f in kind.forbidden if f in lowered]
    if betrayed:
        return f"a header with {betrayed[0]!r} (another Locust file kind)"
    names = [t[0] for t in _header_targets(kind, fields) if t]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        return f"duplicate columns for {duplicated}"
    missing = [n for n in kind.required if n not in names]
    if missing:
        return f"no column for {missing}"
    return None


# ---------------------------------------------------------------- CSV reading


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


def _read_head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(_HEAD_BYTES)


def _arrow_type(dtype: str) -> pa.DataType:
    """The arrow type of a canonical pandas dtype name (``datetime64[<unit>, UTC]`` included)."""
    when = _DATETIME_DTYPE.match(dtype)
    return pa.timestamp(when.group(1), tz="UTC") if when else _ARROW_TYPES[dtype]


_TIMESTAMP = _arrow_type(schema.TABLES["history"].required["timestamp"])
_TICKS_PER_S = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[_TIMESTAMP.unit]


def _output_schema(kind: _Kind, names: list[str]) -> pa.Schema:
    """Canonical columns first, then percentiles by percentile, then the kind's extras."""
    required = schema.TABLES[kind.table].required
    fields = [pa.field(n, _arrow_type(t)) for n, t in required.items()]
    fields += [pa.field(n, _F) for n in schema.percentile_columns(names)]
    fields += [pa.field(n, _TIMESTAMP) for n in kind.when_columns if n in names]
    return pa.schema(fields)


class _CsvFile:
    """One Locust CSV file: header mapped to canonical columns, cells validated and converted."""

    def __init__(self, path: Path, kind: _Kind) -> None:
        head = _read_head(path)
        if not head.strip():
            raise InputError(path, "header", kind.label, "an empty file")
        self.path, self.kind = path, kind
        self.headers = _header_fields(head)
        problem = _header_problem(kind, self.headers)
        if problem:
            raise InputError(path, "header", kind.label, f"{problem} in {_shorten(','.join(self.headers))!r}")
        targets = _header_targets(kind, self.headers)
        self.names = [t[0] if t else None for t in targets]
        self.types = {t[0]: t[1] for t in targets if t}
        self.header_of = {n: h for n, h in zip(self.names, self.headers, strict=True) if n}
        self.schema = _output_schema(kind, [n for n in self.names if n])
        self.decoder = _Decoder()

    @property
    def ignored_columns(self) -> list[str]:
        return [h for n, h in zip(self.names, self.headers, strict=True) if n is None]

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Canonical, validated RecordBatches in file order."""
        first_row = 0
        try:
            for raw in self._typed_batches():
                self._check(raw, first_row)
                yield self._canonical(raw, first_row)
                first_row += raw.num_rows
        except pa.ArrowInvalid as exc:
            raise self._locate(exc) from None

    def table(self) -> pa.Table:
        return pa.Table.from_batches(self.batches(), schema=self.schema)

    def _typed_batches(self) -> Iterator[pa.RecordBatch]:
        """Typed columns straight from the CSV text, one batch per chunk of lines.

        A history has no line breaks inside values, so it is cut into CHUNK_BYTES pieces at line
        ends, each parsed by pyarrow's multi-threaded reader while the previous piece is being
        consumed (pyarrow's streaming reader runs on one core at about half the speed). Other
        kinds may quote line breaks and are parsed whole.
        """
        size = CHUNK_BYTES if self.kind.fmt == "locust-history" else -1
        with self.path.open("rb") as fh, ThreadPoolExecutor(max_workers=1) as pool:
            pending = None
            for number, text in enumerate(_line_chunks(fh, size)):
                parsed = pool.submit(self._parse_chunk, text, number == 0)
                if pending is not None:
                    yield from pending.result()
                pending = parsed
            if pending is not None:
                yield from pending.result()

    def _parse_chunk(self, text: memoryview, with_header: bool) -> list[pa.RecordBatch]:
        table = pacsv.read_csv(
            pa.py_buffer(text),
            read_options=pacsv.ReadOptions(
                column_names=[n or f"_ignored_{i}" for i, n in enumerate(self.names)],
                skip_rows=int(with_header),
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=self.kind.fmt != "locust-history"),
            convert_options=pacsv.ConvertOptions(
                column_types=self.types,
                include_columns=list(self.types),
                null_values=list(_NULL_TOKENS),
                strings_can_be_null=False,
            ),
        )
        return table.combine_chunks().to_batches() if table.num_rows else []

    def _check(self, batch: pa.RecordBatch, first_row: int) -> None:
        """Every measure is a finite number >= 0 (timestamps excepted)."""
        for name in batch.schema.names:
            kind = self.types[name]
            if name == "timestamp" or kind == _B:
                continue
            values = batch.column(name)
            if kind == _F:
                bad = pc.invert(pc.and_(pc.is_finite(values), pc.greater_equal(values, 0)))
            else:
                bad = pc.less(values, 0)
            if not pc.any(bad).as_py():
                continue
            index = pc.index(pc.fill_null(bad, False), True).as_py()
            raise InputError(
                self.path,
                f"row {first_row + index + 1}, column {self.header_of[name]!r}",
                "a finite number >= 0" if kind == _F else "an integer >= 0",
                repr(str(values[index].as_py())),
            )

    def _canonical(self, batch: pa.RecordBatch, first_row: int) -> pa.RecordBatch:
        columns: dict[str, pa.Array] = {}
        for name in batch.schema.names:
            values = batch.column(name)
            columns[name] = self.decoder.decode(values) if self.types[name] == _B else values
        if "timestamp" in columns:
            columns["timestamp"] = pc.multiply_checked(columns["timestamp"], _TICKS_PER_S).cast(_TIMESTAMP)
        if "request_type" in columns:
            _mark_aggregate(columns)
        if "row" in self.schema.names:
            columns["row"] = pa.array(np.arange(first_row, first_row + batch.num_rows, dtype=np.int64))
        for name in self.kind.when_columns:
            if name in columns:
                columns[name] = self._when(columns[name], name, first_row)
        arrays = [columns.get(f.name, pa.nulls(batch.num_rows, f.type)) for f in self.schema]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _when(self, texts: pa.Array, name: str, first_row: int) -> pa.Array:
        """Epoch seconds or ISO-8601 text -> UTC timestamps; empty -> null."""
        values = pd.Series(texts.to_pylist(), dtype="string").str.strip().replace("", pd.NA)
        numbers = pd.to_numeric(values, errors="coerce")
        stamps = pd.to_datetime(numbers, unit="s", utc=True)
        text_rows = numbers.isna() & values.notna()
        stamps[text_rows] = pd.to_datetime(values[text_rows], utc=True, errors="coerce", format="ISO8601")
        bad = np.flatnonzero((stamps.isna() & values.notna()).to_numpy())
        if bad.size:
            raise InputError(
                self.path,
                f"row {first_row + bad[0] + 1}, column {self.header_of[name]!r}",
                "epoch seconds or an ISO-8601 time",
                repr(values.iloc[bad[0]]),
            )
        return pa.array(stamps).cast(_TIMESTAMP, safe=False)

    def _locate(self, exc: pa.ArrowInvalid) -> InputError:
        """Find the cell pyarrow refused (its messages carry no row number) by re-scanning."""
        with self.path.open(encoding="latin-1", newline="") as fh:
            rows = csv.reader(fh)
            next(rows, None)
            row = 0
            for cells in rows:
                if not cells:  # a blank line, as pyarrow skips it
                    continue
                row += 1
                if len(cells) != len(self.headers):
                    return InputError(
                        self.path,
                        f"row {row}",
                        f"{len(self.headers)} fields",
                        f"{len(cells)}: {_shorten(','.join(cells))!r}",
                    )
                for cell, name, header in zip(cells, self.names, self.headers, strict=True):
                    expected = _cell_problem(cell, self.types.get(name))
                    if expected:
                        return InputError(
                            self.path, f"row {row}, column {header!r}", expected, repr(_shorten(cell))
                        )
        return InputError(self.path, "body", "well-formed Locust CSV", str(exc))


def _line_chunks(fh: BinaryIO, size: int) -> Iterator[memoryview]:
    """The rest of ``fh`` in pieces of about ``size`` bytes (all of it for -1), each ending at a line end."""
    want = size
    while block := fh.read(want):
        cut = len(block)
        if 0 < want == len(block):  # not at the end: stop after the last line break
            cut = max(block.rfind(b"\n"), block.rfind(b"\r")) + 1
            fh.seek(cut - len(block), os.SEEK_CUR)
            if cut == 0:  # one line longer than the piece: read more at once
                want *= 2
                continue
        want = size
        yield memoryview(block)[:cut]


def _cell_problem(cell: str, kind: pa.DataType | None) -> str | None:
    """What a numeric cell should have been; None when pyarrow would accept it."""
    if kind is None or kind == _B or cell.strip() in _NULL_TOKENS:
        return None
    if kind == _I:
        return None if _INT_TEXT.match(cell) else "an integer"
    try:
        float(cell)
    except ValueError:
        return "a number"
    return None


def _mark_aggregate(columns: dict[str, pa.Array]) -> None:
    """is_aggregate for the total row (``Aggregated``, or ``Total`` in 0.x; Type empty or ``None``)."""
    aggregate = pc.and_(
        pc.is_in(columns["name"], pa.array(_AGGREGATE_NAMES)),
        pc.is_in(columns["request_type"], pa.array(_AGGREGATE_TYPES)),
    )
    columns["is_aggregate"] = aggregate
    columns["request_type"] = pc.if_else(aggregate, "", columns["request_type"])


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _to_frame(table: pa.Table, name: str) -> pd.DataFrame:
    return schema.coerce(name, table.to_pandas(types_mapper=_PANDAS_TYPES.get))


# ---------------------------------------------------------------- history percentiles


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


# ---------------------------------------------------------------- CSV runs


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """Parse ``paths`` all of format ``fmt``: one run per JSON file or per CSV file prefix."""
    return parse_set(paths, {Path(p): fmt for p in paths})


def parse_set(paths: list[Path], formats: Mapping[Path, str]) -> list[ParsedRun]:
    """Parse a mixed list of Locust files, grouping CSV files by prefix into runs."""
    groups: dict[tuple[Path, str], dict[str, Path]] = {}
    runs: list[ParsedRun] = []
    for path in map(Path, paths):
        fmt = formats[path]
        if fmt not in FORMATS:
            raise InputError(path, "format", f"one of {', '.join(FORMATS)}", repr(fmt))
        if fmt == "locust-json":
            runs.append(parse_json(path))
            continue
        group = groups.setdefault((path.parent, run_prefix(path, fmt)), {})
        if fmt in group:
            raise InputError(path, "file set", f"one {fmt} file per run prefix", f"also {group[fmt].name}")
        group[fmt] = path
    runs += [_parse_csv_run(files) for files in groups.values()]
    return runs


def run_prefix(path: Path, fmt: str) -> str:
    """``foo`` for ``foo_stats.csv`` (etc.); a file not named the Locust way is its own prefix."""
    for suffix in _KINDS[fmt].suffixes:
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return path.name[: -len(suffix)]
    return path.name


def _parse_csv_run(files: Mapping[str, Path]) -> ParsedRun:
    notes: dict[str, Any] = {"encoding": "utf-8"}
    meta: dict[str, Any] = {}
    tables: dict[str, TableSource] = {}
    ignored: dict[str, list[str]] = {}
    for fmt in (f for f in _CSV_ORDER if f in files):
        source = _CsvFile(files[fmt], _KINDS[fmt])
        if source.ignored_columns:
            ignored[source.path.name] = source.ignored_columns
        if fmt == "locust-history":
            tables["history"] = _history_source(source, notes)
            meta.update(_edge_times(source))
            continue
        table = source.table()
        notes["encoding"] = _widest(notes["encoding"], source.decoder.encoding)
        if fmt == "locust-stats":
            _require_one_aggregate(source.path, table)
        tables[source.kind.table] = _to_frame(table, source.kind.table)
    if ignored:
        notes["ignored_columns"] = ignored
    inputs = tuple(files[f] for f in _CSV_ORDER if f in files)
    return ParsedRun("locust", "locust-csv", inputs, tables, meta, notes)


def _require_one_aggregate(path: Path, table: pa.Table) -> None:
    count = pc.sum(table.column("is_aggregate").cast(pa.int64())).as_py() or 0
    if count != 1:
        raise InputError(path, "rows", "exactly one Aggregated row", str(count))


def _history_source(source: _CsvFile, notes: dict[str, Any]) -> TableSource:
    """A DataFrame for a small history; a RecordBatch stream above STREAM_THRESHOLD_BYTES."""
    notes["history_percentiles"] = "unknown"

    def stream() -> Iterator[pa.RecordBatch]:
        judge = HistoryPercentiles([f.name for f in source.schema])
        for batch in source.batches():
            judge.update(batch)
            yield batch
        notes["history_percentiles"] = judge.result()
        notes["encoding"] = _widest(notes["encoding"], source.decoder.encoding)

    if source.path.stat().st_size > STREAM_THRESHOLD_BYTES:
        return stream
    return _to_frame(pa.Table.from_batches(stream(), schema=source.schema), "history")


def _edge_times(source: _CsvFile) -> dict[str, datetime]:
    """started_at / ended_at from the first and last data rows (read without scanning the file)."""
    index = source.names.index("timestamp")
    with source.path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
        fh.seek(max(0, source.path.stat().st_size - _HEAD_BYTES))
        tail = fh.read()
    lines = [ln for ln in re.split(rb"[\r\n]+", head) if ln.strip()][1:2]
    lines += [ln for ln in re.split(rb"[\r\n]+", tail) if ln.strip()][-1:]
    stamps = []
    for line in lines:
        cells = next(csv.reader([line.decode("latin-1")]), [])
        if len(cells) > index and _INT_TEXT.match(cells[index]):
            stamps.append(datetime.fromtimestamp(int(cells[index]), UTC))
    if len(lines) < 2 or len(stamps) < 2:
        return {}
    return {"started_at": stamps[0], "ended_at": stamps[1]}


# ---------------------------------------------------------------- --json


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


@dataclass
class _Entry:
    """One ``--json`` stats entry, validated."""

    method: str
    name: str
    num_requests: int
    num_none_requests: int
    num_failures: int
    total_response_time: float
    min_response_time: float | None
    max_response_time: float
    total_content_length: int
    histogram: dict[float, int]
    reqs_per_sec: dict[int, int]
    fails_per_sec: dict[int, int]
    start_time: float
    last_request_timestamp: float | None

    def row(self, span_s: float | None, is_aggregate: bool = False) -> dict[str, Any]:
        timed = self.num_requests - self.num_none_requests
        median = histogram_median(self.histogram, timed)
        if median is not None:
            median = min(max(median, self.min_response_time or 0.0), self.max_response_time)
        row: dict[str, Any] = {
            "request_type": self.method,
            "name": self.name,
            "is_aggregate": is_aggregate,
            "request_count": self.num_requests,
            "failure_count": self.num_failures,
            "latency_median_ms": median,
            "latency_mean_ms": self.total_response_time / timed if timed else None,
            "latency_min_ms": self.min_response_time,
            "latency_max_ms": self.max_response_time if timed else None,
            "content_size_mean_bytes": self.total_content_length / self.num_requests
            if self.num_requests
            else None,
            "throughput_rps": self.num_requests / span_s if span_s else None,
            "failures_per_s": self.num_failures / span_s if span_s else None,
        }
        for fraction in JSON_PERCENTILES:
            value = histogram_percentile(self.histogram, self.num_requests, fraction)
            row[schema.percentile_column(fraction * 100)] = value
        return row


_JSON_FIELDS = (
    "name",
    "method",
    "num_requests",
    "num_failures",
    "total_response_time",
    "min_response_time",
    "max_response_time",
    "total_content_length",
    "response_times",
    "num_reqs_per_sec",
    "start_time",
    "last_request_timestamp",
)


def parse_json(path: Path) -> ParsedRun:
    """One run from a ``locust --json`` file: requests (+ computed Aggregated), response_times, per_second."""
    raw = path.read_bytes()
    decoder = _Decoder()
    text = decoder.decode(pa.array([raw], _B))[0].as_py().removeprefix("\ufeff")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"line {exc.lineno}, column {exc.colno}", "valid JSON", exc.msg) from None
    if not isinstance(document, list):
        raise InputError(
            path, "top level", "a JSON list of Locust stats entries", f"a JSON {type(document).__name__}"
        )
    entries = [_json_entry(path, i, item) for i, item in enumerate(document)]
    total = _merge(entries)
    span = (total.last_request_timestamp or 0) - total.start_time if entries else 0
    span_s = span if span > 0 else None
    rows = [*(e.row(span_s) for e in entries), total.row(span_s, is_aggregate=True)]
    meta = {}
    if entries:
        meta["started_at"] = datetime.fromtimestamp(total.start_time, UTC)
        if total.last_request_timestamp is not None:
            meta["ended_at"] = datetime.fromtimestamp(total.last_request_timestamp, UTC)
    tables = {
        "requests": schema.coerce("requests", pd.DataFrame(rows)),
        "response_times": _response_times(entries),
        "per_second": _per_second(entries),
    }
    notes = {"percentiles_from": "histogram", "encoding": decoder.encoding}
    return ParsedRun("locust", "locust-json", (path,), tables, meta, notes)


def _json_entry(path: Path, index: int, item: object) -> _Entry:
    if not isinstance(item, dict) or "num_requests" not in item:
        found = f"keys {sorted(item)[:6]}" if isinstance(item, dict) else f"a JSON {type(item).__name__}"
        raise InputError(
            path, f"entry {index}", "a Locust stats entry (name, method, num_requests, ...)", found
        )
    where = f"entry {index} ({item.get('name')!r})"
    missing = [k for k in _JSON_FIELDS if k not in item]
    if missing:
        raise InputError(path, f"{where}, field {missing[0]!r}", "present", "no such field")

    def get(key: str, check: Callable[[Any], bool], expected: str) -> Any:
        value = item.get(key)
        if not check(value):
            raise InputError(path, f"{where}, field {key!r}", expected, _shorten(repr(value)))
        return value

    entry = _Entry(
        method=get("method", lambda v: isinstance(v, str) or v is None, "a string") or "",
        name=get("name", lambda v: isinstance(v, str), "a string"),
        num_requests=get("num_requests", _is_count, "an integer >= 0"),
        num_none_requests=get("num_none_requests", lambda v: v is None or _is_count(v), "an integer >= 0")
        or 0,
        num_failures=get("num_failures", _is_count, "an integer >= 0"),
        total_response_time=get("total_response_time", _is_measure, "a finite number >= 0"),
        min_response_time=get(
            "min_response_time", lambda v: v is None or _is_measure(v), "a finite number >= 0"
        ),
        max_response_time=get("max_response_time", _is_measure, "a finite number >= 0"),
        total_content_length=get("total_content_length", _is_count, "an integer >= 0"),
        histogram=_counts(path, where, "response_times", item["response_times"], float),
        reqs_per_sec=_counts(path, where, "num_reqs_per_sec", item["num_reqs_per_sec"], _epoch),
        fails_per_sec=_counts(path, where, "num_fail_per_sec", item.get("num_fail_per_sec") or {}, _epoch),
        start_time=get("start_time", _is_measure, "epoch seconds"),
        last_request_timestamp=get(
            "last_request_timestamp", lambda v: v is None or _is_measure(v), "epoch seconds"
        ),
    )
    timed = entry.num_requests - entry.num_none_requests
    if sum(entry.histogram.values()) != timed:
        raise InputError(
            path,
            f"{where}, field 'response_times'",
            f"counts summing to {timed} requests",
            str(sum(entry.histogram.values())),
        )
    return entry


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_measure(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    )


def _epoch(key: str) -> int:
    return int(float(key))


def _counts(
    path: Path, where: str, key: str, value: object, parse_key: Callable[[str], Any]
) -> dict[Any, int]:
    """{key: count} with keys parsed by ``parse_key`` (repeated keys add up)."""
    if not isinstance(value, dict):
        raise InputError(
            path, f"{where}, field {key!r}", "an object {key: count}", f"a JSON {type(value).__name__}"
        )
    out: dict[Any, int] = {}
    for raw_key, count in value.items():
        try:
            parsed = parse_key(raw_key)
        except ValueError:
            parsed = None
        if parsed is None or not _is_measure(parsed) or not _is_count(count):
            raise InputError(
                path, f"{where}, field {key!r}", "number keys with counts >= 0", f"{raw_key!r}: {count!r}"
            )
        out[parsed] = out.get(parsed, 0) + count
    return out


def _merge(entries: list[_Entry]) -> _Entry:
    """The Aggregated entry, merged the way Locust merges stats entries."""

    def add(dicts: list[dict[Any, int]]) -> dict[Any, int]:
        out: dict[Any, int] = {}
        for d in dicts:
            for k, v in d.items():
                out[k] = out.get(k, 0) + v
        return out

    mins = [e.min_response_time for e in entries if e.min_response_time is not None]
    lasts = [e.last_request_timestamp for e in entries if e.last_request_timestamp is not None]
    return _Entry(
        method="",
        name="Aggregated",
        num_requests=sum(e.num_requests for e in entries),
        num_none_requests=sum(e.num_none_requests for e in entries),
        num_failures=sum(e.num_failures for e in entries),
        total_response_time=sum(e.total_response_time for e in entries),
        min_response_time=min(mins) if mins else None,
        max_response_time=max((e.max_response_time for e in entries), default=0.0),
        total_content_length=sum(e.total_content_length for e in entries),
        histogram=add([e.histogram for e in entries]),
        reqs_per_sec=add([e.reqs_per_sec for e in entries]),
        fails_per_sec=add([e.fails_per_sec for e in entries]),
        start_time=min((e.start_time for e in entries), default=0.0),
        last_request_timestamp=max(lasts) if lasts else None,
    )


def _response_times(entries: list[_Entry]) -> pd.DataFrame:
    """Per-entry histograms, long (the Aggregated histogram is their sum and is not repeated)."""
    rows = [
        {"request_type": e.method, "name": e.name, "latency_ms": bucket, "count": e.histogram[bucket]}
        for e in entries
        for bucket in sorted(e.histogram)
    ]
    return schema.coerce(
        "response_times", pd.DataFrame(rows, columns=list(schema.TABLES["response_times"].required))
    )


def _per_second(entries: list[_Entry]) -> pd.DataFrame:
    """Per-entry requests and failures per epoch second, long (missing seconds count 0)."""
    rows = [
        {
            "request_type": e.method,
            "name": e.name,
            "timestamp": pd.Timestamp(second, unit="s", tz="UTC"),
            "request_count": e.reqs_per_sec.get(second, 0),
            "failure_count": e.fails_per_sec.get(second, 0),
        }
        for e in entries
        for second in sorted(e.reqs_per_sec.keys() | e.fails_per_sec.keys())
    ]
    return schema.coerce("per_second", pd.DataFrame(rows, columns=list(schema.TABLES["per_second"].required)))
