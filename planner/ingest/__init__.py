"""Ingest: sniff each input's format from its content and parse it into :class:`ParsedRun` s.

Each source module exposes ``FORMATS`` (the per-file format names it handles),
``sniff(path, head) -> format | None`` (``head`` = the file's first 64 KiB) and
``parse(paths, fmt) -> list[ParsedRun]`` (all ``paths`` of one format of that module; the
module groups them into runs, e.g. a Locust prefix's files into one run).
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from pathlib import Path
from types import ModuleType

from planner.errors import InputError
from planner.ingest.base import ParsedRun

# Sniffing order: most specific first; the generic points CSV last.
SOURCES = ("locust", "perf_analyzer", "serverless_toolkit", "mme_gpu", "recommender", "cloudwatch",
           "llm_suite", "llm_fmbench", "llm_serving", "llm_llmperf", "llm_guidellm", "llm_nvidia", "points")
HEAD_BYTES = 64 * 1024

__all__ = ["ParsedRun", "SOURCES", "expand_paths", "formats", "parse_paths", "sniff"]


def _modules() -> list[ModuleType]:
    return [importlib.import_module(f"planner.ingest.{name}") for name in SOURCES]


def formats() -> dict[str, str]:
    """Every per-file format name -> its source module name."""
    return {fmt: mod.__name__.rsplit(".", 1)[-1] for mod in _modules() for fmt in mod.FORMATS}


def expand_paths(paths: list[Path], from_dirs: set[Path] | None = None, *, recursive: bool = False) -> list[Path]:
    """Directories -> their files (sorted, hidden files and directories skipped; with ``recursive``, the
    files of the directories inside too); a Locust prefix -> its CSV set.

    ``results`` where ``results_stats.csv`` etc. exist expands to those files, as Locust's
    ``--csv results`` names them. Files found inside a directory are added to ``from_dirs``.
    """
    out: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found = sorted(p for p in (path.rglob("*") if recursive else path.iterdir()) if p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            out.extend(found)
            if from_dirs is not None:
                from_dirs.update(found)
        elif path.is_file():
            out.append(path)
        else:
            matches = sorted(path.parent.glob(path.name + "_*.csv")) if path.parent.is_dir() else []
            if not matches:
                raise InputError(path, "path", "an existing file, directory or Locust --csv prefix", "nothing there")
            out.extend(matches)
    return list(dict.fromkeys(out))


def _describe(head: bytes) -> str:
    if not head.strip():
        return "an empty file"
    line = head.splitlines()[0][:80].decode("utf-8", "replace")
    return f"content starting {line!r}"


def sniff(path: Path) -> tuple[ModuleType, str]:
    """The source module and per-file format of ``path``, from its content."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise InputError(path, "file", "a readable file", f"{type(exc).__name__}: {exc.strerror or exc}") from None
    for mod in _modules():
        fmt = mod.sniff(path, head)
        if fmt:
            return mod, fmt
    raise InputError(path, "content", "a Locust CSV/JSON, CloudWatch export, Inference Recommender job, "
                     "perf_analyzer CSV, serverless-toolkit CSV, MME benchmark log, LLM benchmark result "
                     "(SageMaker suite, FMBench, vLLM, SGLang, LLMPerf, GuideLLM, GenAI-Perf, AIPerf) or points CSV", _describe(head))


def parse_paths(paths: list[Path], fmt: str = "auto", skipped: list[tuple[Path, str]] | None = None, *,
                recursive: bool = False) -> list[ParsedRun]:
    """Parse files (or directories, or Locust prefixes) into runs. Nothing is written anywhere.

    ``fmt`` is ``auto`` (sniff each file), a source name (``locust``, ``cloudwatch``...) which
    still sniffs but insists on that source, or a per-file format (``locust-stats``...) which
    skips sniffing and lets that parser check the content. A file named explicitly must be
    recognised; one found inside a directory that matches no format (a README, a constants
    table) is passed over, and listed in ``skipped`` with the reason when a list is given, as is a
    directory inside a directory when not ``recursive``.
    """
    from_dirs: set[Path] = set()
    files = expand_paths(paths, from_dirs, recursive=recursive)
    if skipped is not None and not recursive:
        skipped.extend((d, "a directory (--recursive reads the directories inside)") for p in map(Path, paths)
                       if p.is_dir() for d in sorted(p.iterdir()) if d.is_dir() and not d.name.startswith("."))
    by_format = formats()
    groups: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for path in files:
        if fmt in by_format:
            groups[(by_format[fmt], fmt)].append(path)
            continue
        try:
            mod, found = sniff(path)
        except InputError as exc:
            if path not in from_dirs or exc.where != "content":
                raise
            if skipped is not None:
                skipped.append((path, f"not a format planner reads ({exc.found})"))
            continue
        source = mod.__name__.rsplit(".", 1)[-1]
        if fmt not in ("auto", source):
            raise InputError(path, "content", f"a {fmt} input (--format {fmt})", f"a {found} file")
        groups[(source, found)].append(path)
    runs: list[ParsedRun] = []
    locust_files = {p: f for (source, f), ps in groups.items() if source == "locust" for p in ps}
    if locust_files:
        from planner.ingest import locust

        runs.extend(locust.parse_set(list(locust_files), locust_files))
    for (source, found), group in groups.items():
        if source != "locust":
            runs.extend(importlib.import_module(f"planner.ingest.{source}").parse(group, found))
    return runs
