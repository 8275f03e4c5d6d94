"""What every parser returns: :class:`ParsedRun`, the unit the store commits atomically."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

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
