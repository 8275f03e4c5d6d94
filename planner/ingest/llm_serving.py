"""vLLM ``benchmark_serving.py --save-result`` JSON and SGLang ``bench_serving --output-file`` JSONL
-> table ``llm_steps`` (open loop: ``load_kind`` ``request_rate``).

**vLLM** (format ``vllm-bench-serving-json``): one JSON object, one load level per file. Files given
together that share ``model_id``, ``backend`` and folder are one sweep: one run, one level per file,
sorted by ``request_rate`` (a float, or ``"inf"``: all requests at once -> ``inf``). With the
per-request arrays (``ttfts`` and ``itls`` in SECONDS, ``output_lens``, ``errors``) every statistic is
computed exactly over the successful requests (``errors[i] == ""``): TTFT; ITL over all gaps of all
requests; e2e per request = ttft + sum(itls); TPOT per request = (e2e − ttft) / (output tokens − 1) for
requests of more than one token; mean and p50/p90/p95/p99 by linear interpolation (numpy's default, as
vLLM's own summary). Without the arrays, the file's summary fields are used
(``<mean|median|p<pct>>_<ttft|tpot|itl|e2el>_ms``; median -> p50). ``failure_count`` = failed requests
(``num_prompts − completed`` without arrays). Labels ``tensor_parallel``, ``pipeline_parallel`` and
``dataset`` come from the nightly harness's file name (``..._tp8_pp1_sharegpt_qps_01.json``) when it has
that shape.

**SGLang** (format ``sglang-bench-serving-jsonl``): one JSON object per line, appended per run; lines
are grouped by ``dataset_name`` (one run each, key = dataset name), levels sorted by ``request_rate``.
Latencies are ms: ``<mean|median|p<pct>>_<ttft|itl|tpot|e2e_latency>_ms`` -> ``<metric>_<stat>_ms``.
The file has no failure count (null) and no model name.

Both: ``throughput_rps`` = completed / duration; tokens/s = total tokens / duration; mean tokens =
total tokens / completed; ``max_concurrency`` (a client-side cap, when set) is kept as a column.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.ingest.base import ParsedRun
from planner.ingest.llm_base import (
    MS_PER_S,
    field,
    load_json,
    number,
    optional_number,
    provenance,
    ratio,
    sample_stats_ms,
    steps_frame,
)

FORMATS = ("vllm-bench-serving-json", "sglang-bench-serving-jsonl")

ENGINES = frozenset({"vllm", "sglang", "tgi", "lmdeploy", "deepspeed-mii", "tensorrt-llm", "scalellm"})
"""``backend`` values that name a serving engine (others, e.g. ``openai-chat``, name a client API)."""

_SUMMARY = re.compile(r"^(mean|median|p\d+(?:\.\d+)?)_(ttft|tpot|itl|e2el|e2e_latency)_ms$")
_HARNESS_NAME = re.compile(r"_tp(?P<tp>\d+)_pp(?P<pp>\d+)_(?P<dataset>[a-z0-9]+)_qps_")


def sniff(path: Path, head: bytes) -> str | None:
    """vLLM: a JSON object with ``model_id``, ``num_prompts`` and ``request_throughput``. SGLang: a first
    line that is a JSON object with ``backend``, ``dataset_name``, ``completed`` and ``duration``."""
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if not text.startswith("{"):
        return None
    if all(f'"{k}"' in text for k in ("model_id", "num_prompts", "request_throughput", "request_rate")):
        return FORMATS[0]
    first = text.split("\n", 1)[0]
    if all(f'"{k}"' in first for k in ("backend", "dataset_name", "completed", "duration", "request_rate")):
        return FORMATS[1]
    return None


def parse(paths: list[Path], fmt: str) -> list[ParsedRun]:
    """vLLM: one run per (model_id, backend, folder); SGLang: one run per (file, dataset_name)."""
    if fmt == FORMATS[1]:
        return [run for p in paths for run in _parse_sglang(Path(p), fmt)]
    groups: dict[tuple[str, str, Path], list[tuple[Path, dict]]] = defaultdict(list)
    for path in map(Path, paths):
        doc = load_json(path)
        model = str(field(path, doc, "model_id"))
        groups[(model, str(field(path, doc, "backend")), path.parent)].append((path, doc))
    return [_vllm_run(members, fmt) for members in groups.values()]


def _vllm_run(members: list[tuple[Path, dict]], fmt: str) -> ParsedRun:
    levels = sorted((_vllm_level(path, doc) for path, doc in members),
                    key=lambda row: (row["request_rate_rps"], row.get("max_concurrency") or math.inf))
    paths = tuple(sorted(p for p, _ in members))
    doc = members[0][1]
    backend = str(doc["backend"])
    labels: dict[str, str] = {"tool": "vllm benchmark_serving"}
    named = [m.groupdict() if (m := _HARNESS_NAME.search(p.name)) else None for p in paths]
    if named[0] is not None and all(n == named[0] for n in named):
        labels.update(tensor_parallel=named[0]["tp"], pipeline_parallel=named[0]["pp"], dataset=named[0]["dataset"])
    if doc.get("dataset_name"):
        labels["dataset"] = str(doc["dataset_name"])
    if doc.get("date"):
        labels["date"] = str(doc["date"])
    notes: dict[str, Any] = {"latency_unit_source": "s (per-request arrays), ms (summary fields)",
                             "statistics": sorted({row.pop("_statistics") for row in levels})}
    meta: dict[str, Any] = {"model": str(doc["model_id"]), "framework": backend if backend in ENGINES else None,
                            "labels": labels, **provenance(paths)}
    if backend not in ENGINES:
        notes["framework"] = f"backend {backend!r} names a client API, not a serving engine"
    return ParsedRun(source="llm_serving", format=fmt, inputs=paths, tables={"llm_steps": steps_frame(levels)},
                     meta=meta, notes=notes)


def _vllm_level(path: Path, doc: dict) -> dict[str, Any]:
    level = _totals(path, doc, "")
    prompts = number(path, "num_prompts", field(path, doc, "num_prompts"), whole=True)
    if "ttfts" in doc:
        level.update(_exact(path, doc, int(prompts)))
        if level["request_count"] + level["failure_count"] != prompts:
            raise InputError(path, "completed", f"{int(prompts) - level['failure_count']} (num_prompts less the "
                             "requests with an error)", str(level["request_count"]))
        level["_statistics"] = "exact from per-request arrays"
    else:
        level["failure_count"] = int(prompts) - level["request_count"]
        level.update(_summary_latency(path, doc, ""))
        level["_statistics"] = "the file's summary fields"
    return level


def _totals(path: Path, obj: dict, where: str) -> dict[str, Any]:
    """Load, counts and token rates shared by vLLM and SGLang results."""
    at = f"{where}, " if where else ""
    rate = field(path, obj, "request_rate", where)
    rate_rps = number(path, f"{at}request_rate", rate, allow_inf=True) if rate != "inf" else math.inf
    completed = int(number(path, f"{at}completed", field(path, obj, "completed", where), whole=True))
    duration = number(path, f"{at}duration", field(path, obj, "duration", where))
    tokens_in = number(path, f"{at}total_input_tokens", field(path, obj, "total_input_tokens", where))
    tokens_out = number(path, f"{at}total_output_tokens", field(path, obj, "total_output_tokens", where))
    cap = optional_number(path, f"{at}max_concurrency", obj.get("max_concurrency"), whole=True)
    level: dict[str, Any] = {
        "load_kind": "request_rate", "request_rate_rps": rate_rps, "request_count": completed,
        "duration_s": duration, "throughput_rps": ratio(completed, duration),
        "input_tokens_mean": ratio(tokens_in, completed), "output_tokens_mean": ratio(tokens_out, completed),
        "output_tokens_per_s": ratio(tokens_out, duration), "input_tokens_per_s": ratio(tokens_in, duration)}
    if cap is not None:
        level["max_concurrency"] = cap
    return level


def _exact(path: Path, doc: dict, n: int) -> dict[str, Any]:
    arrays = {k: field(path, doc, k) for k in ("ttfts", "itls", "output_lens", "errors")}
    for key, values in arrays.items():
        if not isinstance(values, list) or len(values) != n:
            raise InputError(path, key, f"a list of num_prompts = {n} per-request values",
                             f"{type(values).__name__} of {len(values) if isinstance(values, list) else '-'}")
    ttft_s, itl_s, e2e_s, tpot_s, failed = [], [], [], [], 0
    for i in range(n):
        if arrays["errors"][i]:
            failed += 1
            continue
        ttft = number(path, f"ttfts[{i}]", arrays["ttfts"][i])
        gaps = arrays["itls"][i]
        if not isinstance(gaps, list):
            raise InputError(path, f"itls[{i}]", "a list of seconds", type(gaps).__name__)
        gaps = [number(path, f"itls[{i}][{j}]", g) for j, g in enumerate(gaps)]
        tokens = number(path, f"output_lens[{i}]", arrays["output_lens"][i], whole=True)
        e2e = ttft + sum(gaps)
        ttft_s.append(ttft)
        itl_s.extend(gaps)
        e2e_s.append(e2e)
        if tokens > 1:
            tpot_s.append((e2e - ttft) / (tokens - 1))
    stats: dict[str, Any] = {"failure_count": failed}
    for metric, samples in (("ttft", ttft_s), ("itl", itl_s), ("e2e", e2e_s), ("tpot", tpot_s)):
        stats.update(sample_stats_ms(metric, [s * MS_PER_S for s in samples]))
    return stats


def _summary_latency(path: Path, obj: dict, where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in obj.items():
        m = _SUMMARY.match(key)
        if m and value is not None:
            metric = {"e2el": "e2e", "e2e_latency": "e2e"}.get(m.group(2), m.group(2))
            stat = {"median": "p50"}.get(m.group(1), m.group(1))
            out[f"{metric}_{stat.replace('.', '_')}_ms"] = number(path, f"{where}, {key}" if where else key, value)
    return out


def _parse_sglang(path: Path, fmt: str) -> list[ParsedRun]:
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    labels_of: dict[str, dict[str, str]] = {}
    backend_of: dict[str, str] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(path, f"{where}, column {e.colno}", "one JSON object per line", e.msg) from None
        dataset = str(field(path, obj, "dataset_name", where))
        backend_of[dataset] = str(field(path, obj, "backend", where))
        level = _totals(path, obj, where)
        level.update(_summary_latency(path, obj, where))
        by_dataset[dataset].append(level)
        labels_of[dataset] = {"dataset": dataset, "tool": "sglang bench_serving",
                              **{k: str(v) for k, v in obj.items() if k.startswith(f"{dataset}_") and v is not None}}
    if not by_dataset:
        raise InputError(path, "line 1", "one JSON object per line", "an empty file")
    runs = []
    for dataset, levels in by_dataset.items():
        levels.sort(key=lambda row: (row["request_rate_rps"], row.get("max_concurrency") or math.inf))
        backend = backend_of[dataset]
        meta = {"framework": backend if backend in ENGINES else None, "labels": labels_of[dataset],
                **provenance([path])}
        runs.append(ParsedRun(source="llm_serving", format=fmt, inputs=(path,),
                              tables={"llm_steps": steps_frame(levels)}, meta=meta, key=dataset,
                              notes={"throughput": "completed / duration", "failures": "not reported (null)"}))
    return runs
