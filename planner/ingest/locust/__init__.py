"""Locust inputs: ``*_stats.csv``, ``*_stats_history.csv``, ``*_failures.csv``, ``*_exceptions.csv``
(Locust 0.13 to 2.x) and ``locust --json`` output.

Formats are recognised from the header line, never from the file name (:mod:`~planner.ingest.locust.kinds`).
File names only group the CSV files of one run (:mod:`~planner.ingest.locust.runs`). CSV files are read by
:mod:`~planner.ingest.locust.csv_file`, ``--json`` files by :mod:`~planner.ingest.locust.json_output`;
Locust's percentile arithmetic is in :mod:`~planner.ingest.locust.percentiles`.

Bad input raises :class:`~planner.errors.InputError`; ``where`` is ``"header"``,
``"row N"`` or ``"row N, column 'X'"`` with N the 1-based data row (the header and blank lines not
counted), or ``"entry N ..."`` for ``--json`` files.

The tuning constants are read where they are used: ``runs.STREAM_THRESHOLD_BYTES`` and
``csv_file.CHUNK_BYTES`` (the names re-exported here are copies).
"""

from planner.ingest.base import ParsedRun
from planner.ingest.locust.csv_file import CHUNK_BYTES
from planner.ingest.locust.json_entries import JSON_PERCENTILES
from planner.ingest.locust.json_output import parse_json
from planner.ingest.locust.kinds import FORMATS, sniff
from planner.ingest.locust.percentiles import (
    PERCENTILE_WINDOW_S,
    HistoryPercentiles,
    histogram_median,
    histogram_percentile,
    locust_round,
)
from planner.ingest.locust.runs import STREAM_THRESHOLD_BYTES, parse, parse_set, run_prefix

__all__ = [
    "CHUNK_BYTES",
    "FORMATS",
    "JSON_PERCENTILES",
    "PERCENTILE_WINDOW_S",
    "STREAM_THRESHOLD_BYTES",
    "HistoryPercentiles",
    "ParsedRun",
    "histogram_median",
    "histogram_percentile",
    "locust_round",
    "parse",
    "parse_json",
    "parse_set",
    "run_prefix",
    "sniff",
]
