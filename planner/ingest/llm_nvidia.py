"""NVIDIA GenAI-Perf ``profile_export_genai_perf.json`` and AIPerf ``profile_export_aiperf.json`` ->
table ``llm_steps``: one level, one run per file.

Both hold one block per metric, ``{unit, avg, p1...p99, min, max, std}``: ``request_latency``,
``time_to_first_token``, ``inter_token_latency`` (ms) -> ``e2e_/ttft_/itl_<mean|p50|p90|p95|p99>_ms``;
``request_throughput`` -> ``throughput_rps``; ``output_token_throughput`` -> ``output_tokens_per_s``;
``input_sequence_length``/``output_sequence_length`` -> mean tokens; ``request_count`` ->
``request_count``. A block whose unit is not the expected one is an error. The load comes from
``input_config``: GenAI-Perf ``perf_analyzer.stimulus`` ``concurrency`` or ``request_rate``; AIPerf
``loadgen.concurrency`` or ``loadgen.request_rate``. Only those load fields and the model name are
read from ``input_config``: nothing else of it (AIPerf's ``endpoint.api_key``, the ``cli_command``
that repeats it) is stored in the run's tables, metadata or notes.

GenAI-Perf: no failure count or duration (null). ``endpoint.backend`` names the engine only for
``service_kind`` ``triton`` (for ``openai`` it is an unused default, e.g. ``tensorrtllm`` in front of
vLLM), so ``framework`` is set only then.

AIPerf: ``benchmark_duration`` (s) -> ``duration_s``; failures = ``error_request_count`` (null when
there were none: then the sum of ``error_summary`` counts, 0 for an empty list). Output tokens: AIPerf's
``output_sequence_length`` includes reasoning tokens and ``output_token_count`` does not; planner uses
``output_sequence_length`` (every generated token costs decode time, and ``output_token_throughput``
counts them too), and keeps ``visible_output_tokens_mean`` and ``reasoning_tokens_mean``. GPU type and
count (labels ``gpu_type``, ``gpu_count``) come from AIPerf's DCGM ``telemetry_data`` when present.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.ingest.base import ParsedRun
from planner.ingest.llm_base import field, load_json, number, provenance, steps_frame

FORMATS = ("genai-perf-json", "aiperf-json")

_LATENCY = {"request_latency": "e2e", "time_to_first_token": "ttft", "inter_token_latency": "itl"}
_STATS = {"avg": "mean", "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99"}
_TIME_UNITS = {"ms": 1.0, "sec": 1000.0, "s": 1000.0, "us": 1e-3, "ns": 1e-6}


def sniff(path: Path, head: bytes) -> str | None:
    """A JSON object starting with metric blocks (``"request_throughput": {"unit": ...``) and holding
    ``time_to_first_token``: AIPerf when it has ``benchmark_duration`` or ``was_cancelled``, else GenAI-Perf."""
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    compact = "".join(text[:400].split())
    if not (text.startswith("{") and '"request_throughput":{"unit"' in compact and '"time_to_first_token"' in text):
        return None
    return FORMATS[1] if '"benchmark_duration"' in text or '"was_cancelled"' in text else FORMATS[0]


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """One run per file."""
    return [_parse_one(Path(p), fmt) for p in paths]


def _block(path: Path, doc: dict, name: str, units: tuple[str, ...]) -> dict | None:
    block = doc.get(name)
    if block is None:
        return None
    unit = field(path, block, "unit", name)
    if unit not in units:
        raise InputError(path, f"{name}.unit", " or ".join(repr(u) for u in units), repr(unit))
    return block


def _avg(path: Path, doc: dict, name: str, units: tuple[str, ...]) -> float | None:
    block = _block(path, doc, name, units)
    return None if block is None else number(path, f"{name}.avg", field(path, block, "avg", name))


def _parse_one(path: Path, fmt: str) -> ParsedRun:
    doc = load_json(path)
    if not isinstance(doc, dict):
        raise InputError(path, "top level", "a JSON object", type(doc).__name__)
    config = field(path, doc, "input_config")
    level: dict[str, Any] = _load_level(path, fmt, config)  # config is an object from here on
    count = _avg(path, doc, "request_count", ("count", "requests"))
    level["request_count"] = None if count is None else int(count)
    level["throughput_rps"] = _avg(path, doc, "request_throughput", ("requests/sec",))
    level["output_tokens_per_s"] = _avg(path, doc, "output_token_throughput", ("tokens/sec",))
    level["input_tokens_mean"] = _avg(path, doc, "input_sequence_length", ("tokens",))
    level["output_tokens_mean"] = _avg(path, doc, "output_sequence_length", ("tokens",))
    for name, metric in _LATENCY.items():
        block = _block(path, doc, name, tuple(_TIME_UNITS))
        if block is None:
            continue
        factor = _TIME_UNITS[block["unit"]]
        for key, stat in _STATS.items():
            if block.get(key) is not None:
                level[f"{metric}_{stat}_ms"] = number(path, f"{name}.{key}", block[key]) * factor
    labels: dict[str, str] = {"tool": "aiperf" if fmt == FORMATS[1] else "genai-perf"}
    notes: dict[str, Any] = {"input_config": "only the load and model name are read (no endpoint, key or command)"}
    framework = None
    if fmt == FORMATS[1]:
        level["duration_s"] = _avg(path, doc, "benchmark_duration", ("sec", "s"))
        level["failure_count"] = _aiperf_failures(path, doc)
        level["visible_output_tokens_mean"] = _avg(path, doc, "output_token_count", ("tokens",))
        level["reasoning_tokens_mean"] = _avg(path, doc, "reasoning_token_count", ("tokens",))
        labels.update(_gpus(doc.get("telemetry_data")))
        notes["output_tokens"] = "output_sequence_length (includes reasoning tokens)"
        models = (config.get("endpoint") or {}).get("model_names")
    else:
        endpoint = config.get("endpoint") or {}
        if endpoint.get("service_kind") == "triton" and endpoint.get("backend"):
            framework = str(endpoint["backend"])
        models = config.get("model_names")
    model = str(models[0]) if isinstance(models, list) and models else None
    meta = {"model": model, "framework": framework, "labels": labels, **provenance([path])}
    return ParsedRun(source="llm_nvidia", format=fmt, inputs=(path,), tables={"llm_steps": steps_frame([level])},
                     meta=meta, notes=notes)


def _load_level(path: Path, fmt: str, config: Any) -> dict[str, Any]:
    if fmt == FORMATS[1]:
        where, load = "input_config.loadgen", field(path, config, "loadgen", "input_config")
    else:
        analyzer = field(path, config, "perf_analyzer", "input_config")
        where, load = "input_config.perf_analyzer.stimulus", field(path, analyzer, "stimulus",
                                                                    "input_config.perf_analyzer")
    if not isinstance(load, dict):
        raise InputError(path, where, "an object", type(load).__name__)
    if load.get("concurrency") is not None:
        return {"load_kind": "concurrency", "request_rate_rps": None,
                "concurrency": number(path, f"{where}.concurrency", load["concurrency"], minimum=1)}
    if load.get("request_rate") is not None:
        return {"load_kind": "request_rate", "concurrency": None,
                "request_rate_rps": number(path, f"{where}.request_rate", load["request_rate"])}
    raise InputError(path, where, "concurrency or request_rate", "neither")


def _aiperf_failures(path: Path, doc: dict) -> int:
    count = _avg(path, doc, "error_request_count", ("requests", "count"))
    if count is not None:
        return int(count)
    errors = doc.get("error_summary") or []
    if not isinstance(errors, list):
        raise InputError(path, "error_summary", "a list", type(errors).__name__)
    return int(sum(number(path, f"error_summary[{i}].count", field(path, e, "count", f"error_summary[{i}]"))
                   for i, e in enumerate(errors)))


def _gpus(telemetry: Any) -> dict[str, str]:
    """``gpu_type`` and ``gpu_count`` from AIPerf's DCGM telemetry (every endpoint's GPUs)."""
    if not isinstance(telemetry, dict) or not isinstance(telemetry.get("endpoints"), dict):
        return {}
    gpus = [g for e in telemetry["endpoints"].values() if isinstance(e, dict)
            for g in (e.get("gpus") or {}).values() if isinstance(g, dict)]
    names = sorted({str(g["gpu_name"]) for g in gpus if g.get("gpu_name")})
    return {"gpu_type": "+".join(names), "gpu_count": str(len(gpus))} if names else {}
