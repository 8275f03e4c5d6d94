"""A ``locust --json`` file as one run: requests (with a computed Aggregated row), the response-time
histograms and the per-second counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from planner import schema
from planner.errors import InputError
from planner.ingest.base import ParsedRun
from planner.ingest.locust.cells import _B, _Decoder, _note_all_failed
from planner.ingest.locust.json_entries import _Entry, _json_entry, _merge


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
    _note_all_failed(notes, (total.num_requests, total.num_failures))
    return ParsedRun("locust", "locust-json", (path,), tables, meta, notes)


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
