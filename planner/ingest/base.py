"""What every parser returns: :class:`ParsedRun`, the unit the store commits atomically; and
:func:`csv_errors`, how every CSV reader reports a malformed file."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from planner.errors import InputError

# A table is either a DataFrame (small inputs) or a zero-argument callable that streams
# pyarrow RecordBatches of one schema (large inputs, e.g. a 1 GB _stats_history.csv).
# The store calls a streaming source exactly once; a parser error raised mid-stream aborts
# the ingest and nothing is committed.
TableSource = pd.DataFrame | Callable[[], Iterator[pa.RecordBatch]]


@dataclass(frozen=True)
class ParsedRun:
    """One run parsed from one or more input files.

    ``meta`` holds run metadata keyed by :data:`planner.schema.RUN_FIELDS` names (only what the
    input says; the CLI's --instance-type etc. are merged in later). ``notes`` holds parser
    facts a reader needs (e.g. ``history_percentiles``). ``key`` distinguishes several runs
    parsed from the same files (e.g. PyTorch vs TensorRT rows of one summary table).
    """

    source: str
    format: str
    inputs: tuple[Path, ...]
    tables: Mapping[str, TableSource]
    meta: Mapping[str, Any] = field(default_factory=dict)
    notes: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""


def merge_runs(base: ParsedRun, extra: ParsedRun) -> ParsedRun:
    """One run from two parsed from different files of the same test (e.g. Locust CSVs and the
    endpoint's CloudWatch pages): ``base``'s source, format and key, both inputs and tables,
    ``base``'s metadata over ``extra``'s, and ``extra``'s notes under its source name."""
    from planner.errors import InputError

    clash = sorted(set(base.tables) & set(extra.tables))
    if clash:
        raise InputError(extra.inputs[0], "tables", f"none in common with the run of {base.inputs[0].name}",
                         repr(clash[0]))
    notes = base.notes if isinstance(base.notes, dict) else dict(base.notes)  # the same dict: may still stream
    notes[extra.source] = dict(extra.notes)
    return ParsedRun(base.source, base.format, base.inputs + extra.inputs, {**base.tables, **extra.tables},
                     meta={**extra.meta, **base.meta}, notes=notes, key=base.key)


@contextmanager
def csv_errors(path: object, reader: Any) -> Iterator[None]:
    """Inside, a :class:`csv.Error` while reading ``reader`` (a ``csv.reader`` or ``DictReader`` of
    ``path``) is one InputError naming the file and line: a field over Python's csv field limit
    (128 KiB), a NUL byte, an unterminated quote... never a traceback."""
    try:
        yield
    except csv.Error as exc:
        where = f"line {getattr(reader, 'reader', reader).line_num}"  # a DictReader's own count lags
        if "field larger than field limit" in str(exc):
            kib = csv.field_size_limit() // 1024
            raise InputError(path, where, f"CSV fields of at most {kib} KiB", f"a field over {kib} KiB") from None
        raise InputError(path, where, "well-formed CSV", str(exc)) from None
