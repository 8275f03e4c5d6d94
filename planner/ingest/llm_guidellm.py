"""GuideLLM results -> table ``llm_steps``: one run per file, one level per entry of ``benchmarks[]``.

Formats: ``guidellm-json`` (0.5 schema: ``metadata``, ``args``, ``benchmarks[]`` with
``config.strategy``) and ``guidellm-yaml`` (the older schema: ``benchmarks[]`` with ``args.strategy``
and ``args.profile``, ``request_totals``, ``worker.backend_model``). Both carry ``metrics.<name>`` with
per-status blocks (``successful``, ``errored``, ``incomplete``, ``total``) of
``mean, median, percentiles{p50, p90, p95, p99...}``; the ``successful`` block is used (``median``
stands for p50 where the percentiles lack it).

Load: strategy ``synchronous`` -> concurrency 1; ``concurrent`` -> ``streams`` (or ``max_concurrency``);
``constant``/``poisson`` -> ``request_rate`` at ``rate``; ``throughput`` -> ``request_rate`` inf (all
at once). Units: ``request_latency`` SECONDS -> ``e2e_<stat>_ms``; ``time_to_first_token_ms``,
``inter_token_latency_ms``, ``time_per_output_token_ms`` (ms) -> ``ttft_/itl_/tpot_<stat>_ms``;
``requests_per_second`` -> ``throughput_rps`` and ``output_tokens_per_second`` -> ``output_tokens_per_s``
(GuideLLM's own means, as its report shows them); ``prompt_tokens_per_second`` is not used (its mean
over a few requests is meaningless: 1.4M tokens/s in one sample file); ``prompt_token_count`` /
``output_token_count`` -> mean tokens; ``request_concurrency`` (measured) -> ``measured_concurrency``.
Counts: ``request_count`` = successful, ``failure_count`` = errored, ``incomplete_count`` = cut off by
the end of the window (not failures). ``duration_s`` = the benchmark's measured window.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from planner.errors import InputError
from planner.ingest.base import ParsedRun
from planner.ingest.llm_base import MS_PER_S, field, load_json, number, provenance, steps_frame

FORMATS = ("guidellm-json", "guidellm-yaml")

_LATENCY = {"request_latency": ("e2e", MS_PER_S), "time_to_first_token_ms": ("ttft", 1.0),
            "inter_token_latency_ms": ("itl", 1.0), "time_per_output_token_ms": ("tpot", 1.0)}
_MEANS = {"requests_per_second": "throughput_rps", "output_tokens_per_second": "output_tokens_per_s",
          "prompt_token_count": "input_tokens_mean",
          "output_token_count": "output_tokens_mean", "request_concurrency": "measured_concurrency"}
_PERCENTILES = ("p50", "p90", "p95", "p99")
_RATE_STRATEGIES = ("constant", "poisson")


def sniff(path: Path, head: bytes) -> str | None:
    """JSON: an object whose ``metadata`` names a ``guidellm_version``; YAML: starts ``benchmarks:``
    with an ``args.profile`` holding ``measured_concurrencies``."""
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("{") and '"guidellm_version"' in text and '"benchmarks"' in text:
        return FORMATS[0]
    if text.startswith("benchmarks:") and "measured_concurrencies:" in text and "strategy:" in text:
        return FORMATS[1]
    return None


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """One run per file."""
    return [_parse_one(Path(p), fmt) for p in paths]


def _load(path: Path, fmt: str) -> Any:
    if fmt == FORMATS[0]:
        return load_json(path)
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "content"
        raise InputError(path, where, "valid YAML", str(getattr(e, "problem", None) or e).splitlines()[0]) from None
    except UnicodeDecodeError as e:
        raise InputError(path, f"byte {e.start}", "UTF-8 text", "undecodable bytes") from None


def _parse_one(path: Path, fmt: str) -> ParsedRun:
    doc = _load(path, fmt)
    benchmarks = field(path, doc, "benchmarks")
    if not isinstance(benchmarks, list) or not benchmarks:
        raise InputError(path, "benchmarks", "a non-empty list of benchmarks", repr(benchmarks)[:40])
    levels = [_level(path, fmt, b, f"benchmarks[{i}]") for i, b in enumerate(benchmarks)]
    levels.sort(key=lambda row: (row["load_kind"], row["concurrency"] or 0.0, row["request_rate_rps"] or 0.0))
    labels: dict[str, str] = {"tool": "guidellm"}
    if fmt == FORMATS[0]:
        args = doc.get("args") or {}
        model = args.get("model")
        version = (doc.get("metadata") or {}).get("guidellm_version")
        if version:
            labels["tool_version"] = str(version)
        if args.get("data"):
            labels["dataset"] = ",".join(Path(str(d)).name for d in args["data"])
    else:
        model = (benchmarks[0].get("worker") or {}).get("backend_model")
        data = (benchmarks[0].get("request_loader") or {}).get("data")
        if data:
            labels["dataset"] = str(data)
    meta = {"model": str(model) if model else None, "labels": labels, **provenance([path])}
    notes = {"latency_unit_source": "request_latency s, token latencies ms", "statistics": "successful requests"}
    return ParsedRun(source="llm_guidellm", format=fmt, inputs=(path,), tables={"llm_steps": steps_frame(levels)},
                     meta=meta, notes=notes)


def _level(path: Path, fmt: str, bench: Any, where: str) -> dict[str, Any]:
    if fmt == FORMATS[0]:
        strategy = field(path, field(path, bench, "config", where), "strategy", f"{where}.config")
        totals = field(path, field(path, bench, "metrics", where), "request_totals", f"{where}.metrics")
    else:
        strategy = field(path, field(path, bench, "args", where), "strategy", f"{where}.args")
        totals = field(path, bench, "request_totals", where)
    level: dict[str, Any] = {**_load_level(path, strategy, f"{where}.strategy")}
    for status, column in (("successful", "request_count"), ("errored", "failure_count"),
                           ("incomplete", "incomplete_count")):
        level[column] = int(number(path, f"{where}.request_totals.{status}", field(path, totals, status), whole=True))
    level["duration_s"] = number(path, f"{where}.duration", field(path, bench, "duration", where))
    metrics = field(path, bench, "metrics", where)
    for name, column in _MEANS.items():
        block = _successful(path, metrics, name, where)
        if block is not None:
            level[column] = number(path, f"{where}.metrics.{name}.successful.mean", field(path, block, "mean"))
    for name, (metric, factor) in _LATENCY.items():
        block = _successful(path, metrics, name, where)
        if block is None or not block.get("count"):
            continue
        level[f"{metric}_mean_ms"] = number(path, f"{where}.metrics.{name}.successful.mean", block["mean"]) * factor
        pcts = {"p50": block.get("median"), **field(path, block, "percentiles", f"{where}.metrics.{name}.successful")}
        for pct in _PERCENTILES:
            if pcts.get(pct) is not None:
                level[f"{metric}_{pct}_ms"] = number(path, f"{where}.metrics.{name}.percentiles.{pct}",
                                                     pcts[pct]) * factor
    return level


def _successful(path: Path, metrics: Any, name: str, where: str) -> Any:
    if not isinstance(metrics, dict) or metrics.get(name) is None:
        return None
    return field(path, metrics[name], "successful", f"{where}.metrics.{name}")


def _load_level(path: Path, strategy: Any, where: str) -> dict[str, Any]:
    kind = field(path, strategy, "type_", where)
    if kind == "synchronous":
        return {"load_kind": "concurrency", "concurrency": 1.0, "request_rate_rps": None}
    if kind == "concurrent":
        streams = strategy.get("streams", strategy.get("max_concurrency"))
        return {"load_kind": "concurrency", "request_rate_rps": None,
                "concurrency": number(path, f"{where}.streams", streams, whole=True, minimum=1)}
    if kind in _RATE_STRATEGIES:
        return {"load_kind": "request_rate", "concurrency": None,
                "request_rate_rps": number(path, f"{where}.rate", field(path, strategy, "rate", where))}
    if kind == "throughput":
        return {"load_kind": "request_rate", "concurrency": None, "request_rate_rps": math.inf}
    raise InputError(path, f"{where}.type_", "synchronous, concurrent, constant, poisson or throughput", repr(kind))
