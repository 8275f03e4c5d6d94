"""LLMPerf (``token_benchmark_ray.py``) results -> table ``llm_steps``: one closed-loop level per run.

- ``*_summary.json`` (format ``llmperf-summary-json``): load ``num_concurrent_requests``;
  ``results_<metric>_quantiles_p<pct>`` and ``_mean``/``_min``/``_max`` of ``ttft_s``,
  ``inter_token_latency_s``, ``end_to_end_latency_s`` (SECONDS) -> ``ttft_/itl_/e2e_<stat>_ms``;
  ``results_num_completed_requests`` -> ``request_count``, ``results_number_errors`` -> ``failure_count``
  (``results_error_rate`` kept as ``error_rate``); ``results_num_completed_requests_per_min`` / 60 ->
  ``throughput_rps``; duration = completed / throughput_rps; ``results_mean_output_throughput_token_per_s``
  -> ``output_tokens_per_s``; mean input/output tokens of the completed requests. Numbers written as
  strings (``"550"``) are read as numbers. Meta: ``model``; ``framework`` = the file's ``framework``
  (for hosted APIs the provider, e.g. ``bedrock``), label ``hosted_api``.
- the per-request file (format ``llmperf-individual-json``: a JSON array of requests with
  ``error_code``, ``ttft_s``, ``inter_token_latency_s``, ``end_to_end_latency_s``, token counts) is a run
  of its own: exact mean and p50/p90/p95/p99 of the successful requests (linear interpolation, as
  LLMPerf's own quantiles), ``request_count``/``failure_count`` from ``error_code``, mean tokens. It
  holds no load level, duration or model, so those stay null (a fit leaves such a level out and says
  so). It is not merged into its summary's run: nothing in either file links them but the folder
  layout (``summary/X.json`` beside ``individual/X.json``), which the store's raw copies do not keep
  (both are named ``X.json``), so a merged run could not be re-parsed; the tests check that its exact
  statistics equal the summary's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.ingest.base import ParsedRun
from planner.ingest.llm_base import (
    MS_PER_S,
    field,
    load_json,
    number,
    provenance,
    ratio,
    sample_stats_ms,
    steps_frame,
)

FORMATS = ("llmperf-summary-json", "llmperf-individual-json")

_METRICS = {"ttft_s": "ttft", "inter_token_latency_s": "itl", "end_to_end_latency_s": "e2e"}
_PER_REQUEST = ("error_code", "ttft_s", "inter_token_latency_s", "end_to_end_latency_s")


def sniff(path: Path, head: bytes) -> str | None:
    """Summary: an object with ``num_concurrent_requests`` and ``results_ttft_s_mean``; per-request:
    an array whose first object holds ``ttft_s`` and ``end_to_end_latency_s``."""
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("{") and '"num_concurrent_requests"' in text and '"results_ttft_s_mean"' in text:
        return FORMATS[0]
    if text.startswith("[") and all(f'"{k}"' in text[:4000] for k in _PER_REQUEST):
        return FORMATS[1]
    return None


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """One run per file."""
    parser = _parse_summary if fmt == FORMATS[0] else _parse_individual
    return [parser(Path(p), fmt) for p in paths]


def _parse_summary(path: Path, fmt: str) -> ParsedRun:
    doc = load_json(path)
    get = lambda key: field(path, doc, key)  # noqa: E731
    completed = int(number(path, "results_num_completed_requests", get("results_num_completed_requests"), whole=True))
    errors = int(number(path, "results_number_errors", get("results_number_errors"), whole=True))
    per_min = number(path, "results_num_completed_requests_per_min", get("results_num_completed_requests_per_min"))
    rps = per_min / 60.0
    level: dict[str, Any] = {
        "load_kind": "concurrency",
        "concurrency": number(path, "num_concurrent_requests", get("num_concurrent_requests"), whole=True),
        "request_count": completed, "failure_count": errors, "throughput_rps": rps,
        "duration_s": ratio(completed, rps),
        "input_tokens_mean": number(path, "results_number_input_tokens_mean", get("results_number_input_tokens_mean")),
        "output_tokens_mean": number(path, "results_number_output_tokens_mean",
                                     get("results_number_output_tokens_mean")),
        "output_tokens_per_s": number(path, "results_mean_output_throughput_token_per_s",
                                      get("results_mean_output_throughput_token_per_s")),
        "error_rate": number(path, "results_error_rate", get("results_error_rate")),
    }
    for key, metric in _METRICS.items():
        for stat in ("mean", "min", "max"):
            if f"results_{key}_{stat}" in doc:
                level[f"{metric}_{stat}_ms"] = number(path, f"results_{key}_{stat}", doc[f"results_{key}_{stat}"]) \
                    * MS_PER_S
        prefix = f"results_{key}_quantiles_p"
        for name, value in doc.items():
            if name.startswith(prefix):
                level[f"{metric}_p{name.removeprefix(prefix)}_ms"] = number(path, name, value) * MS_PER_S
    notes: dict[str, Any] = {"latency_unit_source": "s", "throughput": "results_num_completed_requests_per_min / 60",
                             "statistics": "the summary's"}
    framework = doc.get("framework")
    meta: dict[str, Any] = {"model": str(get("model")), "framework": str(framework) if framework else None,
                            "labels": {"hosted_api": "true", "tool": "llmperf",
                                       **({"model_size": str(doc["model_size"])} if doc.get("model_size") else {})},
                            **provenance([path])}
    return ParsedRun(source="llm_llmperf", format=fmt, inputs=(path,), tables={"llm_steps": steps_frame([level])},
                     meta=meta, notes=notes)


def _parse_individual(path: Path, fmt: str) -> ParsedRun:
    doc = load_json(path)
    if not isinstance(doc, list) or not doc:
        raise InputError(path, "top level", "a non-empty JSON array of per-request objects", type(doc).__name__)
    codes = [(i, field(path, r, "error_code", f"[{i}]")) for i, r in enumerate(doc)]
    ok = [doc[i] for i, code in codes if code is None]
    level: dict[str, Any] = {"load_kind": "concurrency", "request_count": len(ok), "failure_count": len(doc) - len(ok)}
    for key, column in (("number_input_tokens", "input_tokens_mean"), ("number_output_tokens", "output_tokens_mean")):
        values = [number(path, f"[{i}].{key}", r[key]) for i, r in enumerate(ok) if key in r]
        level[column] = sum(values) / len(values) if values else None
    for key, metric in _METRICS.items():
        samples = [number(path, f"[{i}].{key}", field(path, r, key, f"[{i}]")) * MS_PER_S for i, r in enumerate(ok)]
        level.update(sample_stats_ms(metric, samples))
    notes = {"latency_unit_source": "s", "statistics": "exact from the successful requests",
             "load": "not in a per-request file: concurrency, throughput and duration unknown (see its summary)"}
    return ParsedRun(source="llm_llmperf", format=fmt, inputs=(path,), tables={"llm_steps": steps_frame([level])},
                     meta={"labels": {"tool": "llmperf"}, **provenance([path])}, notes=notes)
