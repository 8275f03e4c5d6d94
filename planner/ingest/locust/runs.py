"""Locust files grouped into runs: one run per ``--json`` file or per CSV file prefix.

File names only group the CSV files of one run: ``foo_stats.csv``, ``foo_stats_history.csv``,
``foo_failures.csv`` and ``foo_exceptions.csv`` form the run with prefix ``foo``.

A ``_stats_history.csv`` above :data:`STREAM_THRESHOLD_BYTES` is returned as a zero-argument
callable streaming pyarrow RecordBatches of the canonical history schema. Such a run's ``notes``
(``history_percentiles``, ``encoding``) are completed while the stream is consumed: read them after
consuming the stream (until then ``history_percentiles`` is ``"unknown"``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from planner.errors import InputError
from planner.ingest.base import ParsedRun, TableSource
from planner.ingest.locust.cells import _note_all_failed, _to_frame, _widest
from planner.ingest.locust.csv_file import _HEAD_BYTES, _INT_TEXT, _CsvFile
from planner.ingest.locust.json_output import parse_json
from planner.ingest.locust.kinds import _CSV_ORDER, _KINDS, FORMATS
from planner.ingest.locust.percentiles import HistoryPercentiles

STREAM_THRESHOLD_BYTES = 32 * 2**20
"""History files larger than this (bytes) are streamed instead of materialised."""


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
    totals = None  # the stats file's (requests, failures), read before the history
    for fmt in (f for f in _CSV_ORDER if f in files):
        source = _CsvFile(files[fmt], _KINDS[fmt])
        if source.ignored_columns:
            ignored[source.path.name] = source.ignored_columns
        if fmt == "locust-history":
            tables["history"] = _history_source(source, notes, requested=bool(totals and totals[0] + totals[1]))
            meta.update(_edge_times(source))
            continue
        table = source.table()
        notes["encoding"] = _widest(notes["encoding"], source.decoder.encoding)
        if fmt == "locust-stats":
            _require_one_aggregate(source.path, table)
            totals = _aggregate_totals(table, "request_count", "failure_count")
            _note_all_failed(notes, totals)
        tables[source.kind.table] = _to_frame(table, source.kind.table)
    if ignored:
        notes["ignored_columns"] = ignored
    inputs = tuple(files[f] for f in _CSV_ORDER if f in files)
    return ParsedRun("locust", "locust-csv", inputs, tables, meta, notes)


def _require_one_aggregate(path: Path, table: pa.Table) -> None:
    count = pc.sum(table.column("is_aggregate").cast(pa.int64())).as_py() or 0
    if count != 1:
        raise InputError(path, "rows", "exactly one Aggregated row", str(count))


def _aggregate_totals(table: pa.Table | pa.RecordBatch, requests: str, failures: str) -> tuple[int, int] | None:
    """Requests and failures of the last Aggregated row; None without one."""
    rows = table.filter(pc.fill_null(table.column("is_aggregate"), False))
    if not rows.num_rows:
        return None
    last = rows.slice(rows.num_rows - 1)
    return int(last.column(requests)[0].as_py() or 0), int(last.column(failures)[0].as_py() or 0)


class _Load:
    """Rows, the largest User Count and whether any request was counted in a history's batches (or, with
    ``requested``, in the run's stats): a test that never started (User Count 0 and no request in every
    row) measured nothing. A history cut short at its first row (0 users) while requests were counted is
    not that."""

    def __init__(self, requested: bool = False) -> None:
        self.rows, self.max_users, self.requested = 0, None, requested

    def update(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        self.requested = self.requested or bool(pc.max(batch.column("total_request_count")).as_py())
        if "user_count" in batch.schema.names:
            users = pc.max(batch.column("user_count")).as_py()
            if users is not None:
                self.max_users = max(users, self.max_users or 0)

    def check(self, path: Path) -> None:
        if self.rows and self.max_users == 0 and not self.requested:
            raise InputError(path, "column 'User Count'", "a row with users > 0",
                             f"no load: User Count is 0 in every row ({self.rows:,} rows, no request)")


class _Resets:
    """Counter resets of a history: ``Total Request Count`` of an Aggregated row below the previous
    Aggregated row's (a restarted master starts counting from 0 again)."""

    def __init__(self) -> None:
        self.count, self.last = 0, None

    def update(self, batch: pa.RecordBatch) -> None:
        rows = batch.filter(pc.fill_null(batch.column("is_aggregate"), False))
        counts = [c for c in rows.column("total_request_count").to_pylist() if c is not None]
        for previous, current in zip([self.last, *counts[:-1]], counts, strict=True):
            self.count += previous is not None and current < previous
        self.last = counts[-1] if counts else self.last

    def note(self, notes: dict[str, Any]) -> None:
        """``notes["counter_resets"]``: how many, when there was one."""
        if self.count:
            notes["counter_resets"] = self.count


def _history_source(source: _CsvFile, notes: dict[str, Any], requested: bool = False) -> TableSource:
    """A DataFrame for a small history; a RecordBatch stream above STREAM_THRESHOLD_BYTES. A history
    without load (User Count 0 and no request in every row, none in the stats either: ``requested``
    False) is refused when the stream ends; counter resets are noted (``notes["counter_resets"]``)."""
    notes["history_percentiles"] = "unknown"

    def stream() -> Iterator[pa.RecordBatch]:
        judge = HistoryPercentiles([f.name for f in source.schema])
        load = _Load(requested)
        resets = _Resets()
        totals = None
        for batch in source.batches():
            judge.update(batch)
            load.update(batch)
            resets.update(batch)
            totals = _aggregate_totals(batch, "total_request_count", "total_failure_count") or totals
            yield batch
        load.check(source.path)
        resets.note(notes)
        notes["history_percentiles"] = judge.result()
        notes["encoding"] = _widest(notes["encoding"], source.decoder.encoding)
        if "all_requests_failed" not in notes:
            _note_all_failed(notes, totals)

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
