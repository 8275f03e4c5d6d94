"""One Locust CSV file read into canonical, validated pyarrow RecordBatches.

All CSV files go through one pyarrow reader: the header is parsed here and mapped to canonical
columns (:mod:`planner.schema`), cells are converted with explicit types (``N/A`` -> null), text
cells are read as bytes and decoded afterwards (:mod:`planner.ingest.locust.cells`). Blank lines
(CR CR LF endings), a UTF-8 BOM and quoting of any cell are handled by the reader. Times are ms;
timestamps are UTC.

Bad input raises :class:`~planner.errors.InputError`; ``where`` is ``"header"``, ``"row N"`` or
``"row N, column 'X'"`` with N the 1-based data row (the header and blank lines not counted).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from planner import schema
from planner.errors import InputError
from planner.ingest.base import csv_errors
from planner.ingest.locust.cells import _B, _F, _I, _TICKS_PER_S, _TIMESTAMP, _arrow_type, _Decoder, _shorten
from planner.ingest.locust.kinds import _header_fields, _header_problem, _header_targets, _Kind

CHUNK_BYTES = 8 * 2**20
"""Bytes of history CSV text parsed at a time (one RecordBatch each): bounds memory when streaming."""

MAX_RESPONSE_TIME_MS = 86_400_000.0
"""A response time above one day is no measurement (e.g. ``1e308``): refused."""

_HEAD_BYTES = 64 * 2**10
_AGGREGATE_NAMES = ("Aggregated", "Total")
_AGGREGATE_TYPES = ("", "None")
_NULL_TOKENS = ("N/A", "")
_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")


def _read_head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(_HEAD_BYTES)


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
        """Every measure is a finite number >= 0, every response time at most MAX_RESPONSE_TIME_MS,
        every timestamp epoch seconds >= 0, and a row's percentiles do not decrease."""
        for name in batch.schema.names:
            kind = self.types[name]
            if kind == _B:
                continue
            values = batch.column(name)
            if kind == _F:
                bad = pc.invert(pc.and_(pc.is_finite(values), pc.greater_equal(values, 0)))
                expected = "a finite number >= 0"
                if name.endswith("_ms") and not pc.any(bad).as_py():
                    bad = pc.greater(values, MAX_RESPONSE_TIME_MS)
                    expected = f"a response time of at most {MAX_RESPONSE_TIME_MS:,.0f} ms (one day)"
            else:
                bad = pc.less(values, 0)
                expected = "epoch seconds >= 0" if name == "timestamp" else "an integer >= 0"
            if not pc.any(bad).as_py():
                continue
            index = pc.index(pc.fill_null(bad, False), True).as_py()
            raise InputError(
                self.path,
                f"row {first_row + index + 1}, column {self.header_of[name]!r}",
                expected,
                repr(str(values[index].as_py())),
            )
        self._check_percentile_order(batch, first_row)

    def _check_percentile_order(self, batch: pa.RecordBatch, first_row: int) -> None:
        """A row's percentiles never decrease from a lower percentile to a higher one (empty cells skipped)."""
        names = schema.percentile_columns(batch.schema.names)
        if len(names) < 2:
            return
        values = np.column_stack([batch.column(n).to_numpy(zero_copy_only=False).astype(float) for n in names])
        running = np.fmax.accumulate(values, axis=1)  # the largest lower percentile so far (NaN skipped)
        bad = values[:, 1:] < running[:, :-1]
        if not bad.any():
            return
        row, col = (int(i) for i in np.argwhere(bad)[0])
        higher = col + 1
        lower = int(np.flatnonzero(values[row, :higher] == running[row, col])[0])
        low_header, high_header = self.header_of[names[lower]], self.header_of[names[higher]]
        raise InputError(
            self.path,
            f"row {first_row + row + 1}, columns {low_header!r} and {high_header!r}",
            f"percentiles that do not decrease ({high_header} >= {low_header})",
            f"{low_header} = {values[row, lower]:g} but {high_header} = {values[row, higher]:g}",
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
        stripped = pd.Series(texts.to_pylist(), dtype="string").str.strip()
        values = stripped.mask(stripped == "")
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
        with self.path.open(encoding="latin-1", newline="") as fh, csv_errors(self.path, rows := csv.reader(fh)):
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
                    expected = _cell_problem(cell, None if name is None else self.types.get(name))
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
