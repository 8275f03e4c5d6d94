"""Synthetic Locust 2.x ``_stats_history.csv`` files, for tests and benchmarks that need size.

The shape follows a real Locust 2.x file written with ``--csv-full-history``: one Aggregated row
per second, a staircase of users, cumulative ``Total *`` columns and windowed percentiles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

PERCENTILES = ("50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%")
HEADER = ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", *PERCENTILES,
          "Total Request Count", "Total Failure Count", "Total Median Response Time", "Total Average Response Time",
          "Total Min Response Time", "Total Max Response Time", "Total Average Content Size"]


def history_table(rows: int, seed: int = 0, start: int = 1_700_000_000) -> pa.Table:
    """``rows`` seconds of a staircase load test against a 4-worker, 50 ms server."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    users = np.minimum(10 * (1 + t // 60), 200)
    rps = np.minimum(users / 0.05, 4 / 0.05) * rng.uniform(0.95, 1.05, rows)
    base = 50.0 * np.maximum(1.0, users / 4.0)
    pct = {p: np.round(base * (1 + 0.08 * i) * rng.uniform(0.97, 1.03, rows)) for i, p in enumerate(PERCENTILES)}
    pct = dict(zip(PERCENTILES, np.maximum.accumulate([pct[p] for p in PERCENTILES]), strict=True))  # as Locust's
    total = np.cumsum(np.round(rps)).astype(np.int64)
    cols = {
        "Timestamp": (start + t).astype(np.int64), "User Count": users.astype(np.int64),
        "Type": np.full(rows, ""), "Name": np.full(rows, "Aggregated"),
        "Requests/s": np.round(rps, 6), "Failures/s": np.zeros(rows), **pct,
        "Total Request Count": total, "Total Failure Count": np.zeros(rows, dtype=np.int64),
        "Total Median Response Time": np.round(base), "Total Average Response Time": base * 1.1,
        "Total Min Response Time": np.full(rows, 3.2), "Total Max Response Time": np.maximum.accumulate(pct["100%"]),
        "Total Average Content Size": np.full(rows, 102.5),
    }
    return pa.table({k: cols[k] for k in HEADER})


def write_history(path: Path, rows: int, seed: int = 0, chunk_rows: int = 500_000) -> Path:
    """Write a synthetic history CSV of ``rows`` data rows, chunk by chunk (bounded memory)."""
    with open(path, "wb") as fh:
        fh.write((",".join(HEADER) + "\n").encode())
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with open(path, "ab") as fh, pacsv.CSVWriter(fh, history_table(1, seed).schema, write_options=options) as writer:
        for start in range(0, rows, chunk_rows):
            n = min(chunk_rows, rows - start)
            writer.write_table(history_table(n, seed + start, start=1_700_000_000 + start))
    return path
