"""FMBench ``summary_metrics_for_dataset_w_scores.csv`` -> table ``llm_steps``.

One row per (payload_file, concurrency), written in order of FMBench's ``score``: rows are re-sorted
by concurrency. One run per (file, payload_file): a payload file is one prompt-length mix, and a fit
needs one token mix per configuration, so several payloads never share a run (key and label
``payload_file``).

Mapping: ``latency_p50/p95/p99`` (SECONDS) -> ``e2e_p50/p95/p99_ms``; ``transactions_per_minute`` / 60
-> ``throughput_rps``; ``completion_token_throughput`` / ``prompt_token_throughput`` (aggregate tokens/s)
-> ``output_tokens_per_s`` / ``input_tokens_per_s``; ``completion_token_count_mean`` /
``prompt_token_count_mean`` -> ``output_tokens_mean`` / ``input_tokens_mean``; ``error_rate`` (a
fraction) is kept. Request counts and durations are not in the file (null). FMBench's price and score
columns are not kept: pricing is planner's catalog's job. ``instance_type`` is an EC2 name (no ``ml.``)
and is kept as given, with label ``platform=ec2``; ``experiment_name`` is the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.ingest.base import ParsedRun
from planner.ingest.llm_base import MS_PER_S, provenance, steps_frame
from planner.ingest.points import CsvTable, first_record

FORMATS = ("fmbench-summary-csv",)

_HEADER_START = ("experiment_name", "payload_file", "instance_type", "instance_count", "concurrency")
_REQUIRED = (*_HEADER_START, "error_rate", "prompt_token_count_mean", "prompt_token_throughput",
             "completion_token_count_mean", "completion_token_throughput", "latency_p50", "transactions_per_minute")
_TOKENS = {"prompt_token_count_mean": "input_tokens_mean", "completion_token_count_mean": "output_tokens_mean",
           "prompt_token_throughput": "input_tokens_per_s", "completion_token_throughput": "output_tokens_per_s"}


def sniff(path: Path, head: bytes) -> str | None:
    """By the header's first columns ``experiment_name,payload_file,instance_type,instance_count,concurrency``."""
    return FORMATS[0] if tuple(first_record(head)[:5]) == _HEADER_START else None


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """One run per (file, payload_file), levels sorted by concurrency."""
    return [run for p in paths for run in _parse_one(Path(p), fmt)]


def _parse_one(path: Path, fmt: str) -> list[ParsedRun]:
    table = CsvTable.read(path)
    table.require(_REQUIRED)
    if not table.rows:
        raise InputError(path, "line 2", "at least one data row", "none")
    conc = table.floats("concurrency", positive=True)
    count = table.floats("instance_count", positive=True)
    rate = table.floats("error_rate", minimum=0.0, maximum=1.0)
    tpm = table.floats("transactions_per_minute", minimum=0.0)
    tokens = {col: table.floats(col, minimum=0.0) for col in _TOKENS}
    latency = {f"e2e_{c.split('_')[1]}_ms": table.floats(c, minimum=0.0)
               for c in ("latency_p50", "latency_p95", "latency_p99") if c in table.header}
    payloads = table.text("payload_file")
    runs = []
    for payload in dict.fromkeys(payloads):
        rows = [i for i, p in enumerate(payloads) if p == payload]
        levels: list[dict[str, Any]] = []
        for i in rows:
            level: dict[str, Any] = {"load_kind": "concurrency", "concurrency": conc[i],
                                     "throughput_rps": tpm[i] / 60.0, "error_rate": rate[i]}
            level.update({_TOKENS[col]: values[i] for col, values in tokens.items()})
            level.update({col: values[i] * MS_PER_S for col, values in latency.items()})
            levels.append(level)
        levels.sort(key=lambda row: row["concurrency"])
        instance_count = _one(table, "instance_count", rows, count)
        if instance_count != round(instance_count):
            raise InputError(path, table.where(rows[0], "instance_count"), "a whole number", repr(instance_count))
        meta: dict[str, Any] = {
            "instance_type": _one(table, "instance_type", rows), "instance_count": int(instance_count),
            "model": _one(table, "experiment_name", rows),
            "labels": {"platform": "ec2", "payload_file": payload, "tool": "fmbench"},
            **provenance([path])}
        notes = {"latency_unit_source": "s", "row_order": "re-sorted by concurrency (the file is in score order)",
                 "throughput": "transactions_per_minute / 60"}
        runs.append(ParsedRun(source="llm_fmbench", format=fmt, inputs=(path,),
                              tables={"llm_steps": steps_frame(levels)}, meta=meta, notes=notes, key=payload))
    return runs


def _one(table: CsvTable, column: str, rows: list[int], values: list[Any] | None = None) -> Any:
    cells = values if values is not None else table.text(column)
    found = list(dict.fromkeys(cells[i] for i in rows))
    if len(found) != 1:
        i = next(i for i in rows if cells[i] == found[1])
        raise InputError(table.path, table.where(i, column), f"one value per payload file ({found[0]!r})",
                         repr(table.text(column)[i]))
    return found[0]
