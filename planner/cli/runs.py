"""`planner ingest`, `planner formats` and `planner runs ...`: the run collection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from planner.cli.common import (
    JsonOpt,
    StepRulesArg,
    StoreOpt,
    app,
    emit_json,
    err,
    out,
    parse_labels,
    progress,
    read_store,
    step_rule_options,
    write_store,
)

runs_app = typer.Typer(help="List, show, remove, re-derive and verify runs in the collection.",
                       no_args_is_help=True)
app.add_typer(runs_app, name="runs")

@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files, directories or Locust --csv prefixes.")],
    store: StoreOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, a source (locust, cloudwatch, recommender, "
                                                      "perf_analyzer, serverless_toolkit, mme_gpu, points) or "
                                                      "a per-file format (see `planner formats`).")] = "auto",
    instance_type: Annotated[str | None, typer.Option(help="Instance type of the endpoint, e.g. ml.m5.xlarge.")] = None,
    instance_count: Annotated[int | None, typer.Option(min=1, help="Instances behind the endpoint.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Endpoint name.")] = None,
    variant: Annotated[str | None, typer.Option(help="Production variant name.")] = None,
    memory_mb: Annotated[int | None, typer.Option(help="Serverless memory size, MB.")] = None,
    max_concurrency: Annotated[int | None, typer.Option(help="Serverless MaxConcurrency.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    framework: Annotated[str | None, typer.Option(help="Framework or engine (pytorch, tensorrt...).")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="key=value label (repeatable).")] = None,
    origin: Annotated[str, typer.Option(help="measured | emulated | published.")] = "measured",
    source_ref: Annotated[str | None, typer.Option(help="Where the data came from (for published data).")] = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Also read the directories inside a "
                                                                        "directory (a sweep's result folders).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ingest load-test results into the run collection (atomic, idempotent, lossless)."""
    from planner.collection import ingest as do_ingest

    meta = {"instance_type": instance_type, "instance_count": instance_count, "endpoint": endpoint,
            "variant": variant, "memory_mb": memory_mb, "max_concurrency": max_concurrency, "model": model,
            "framework": framework}
    target = write_store(store)
    with progress("ingesting", total=None) as tick:
        outcomes = do_ingest(target, paths, fmt=fmt, meta=meta, labels=parse_labels(label or []), origin=origin,
                             source_ref=source_ref, on_run=lambda _o: tick(), recursive=recursive)
    if as_json:
        emit_json({"store": target.root, "runs": [o.to_dict() for o in outcomes]})
        return
    for o in outcomes:
        if o.status == "skipped":
            err.print(f"skipped {o.inputs[0]}: {o.reason}", style="dim")
        elif o.status == "present":
            out.print(f"{o.run_id}  already present  ({o.format}: {', '.join(o.inputs)})")
        else:
            rows = ", ".join(f"{k} {v:,}" for k, v in o.tables.items())
            out.print(f"{o.run_id}  added  {o.format}: {', '.join(o.inputs)}  [{rows} rows]")


@app.command("formats")
def formats_cmd(as_json: JsonOpt = False) -> None:
    """List the input formats planner can ingest (per-file format -> source)."""
    from planner.ingest import formats

    found = formats()
    if as_json:
        emit_json(found)
        return
    for fmt, source in found.items():
        out.print(f"{fmt:40s} {source}")


_RUN_COLUMNS = ("run_id", "format", "origin", "instance", "endpoint / model", "started", "rows")


@runs_app.command("list")
def runs_list(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """One line per run in the collection; runs whose manifest cannot be read are named with the reason."""
    found = read_store(store)
    scan = found.scan()
    if as_json:
        emit_json({"store": found.root, "runs": [_run_summary(r) for r in scan.records],
                   "broken": [b.to_dict() for b in scan.broken]})
        return
    unreadable = f", {len(scan.broken)} unreadable" if scan.broken else ""
    table = Table(*_RUN_COLUMNS, title=f"{len(scan.records)} runs in {found.root}{unreadable}")
    for r in scan.records:
        run = r.run
        instance = f"{run.get('instance_type') or ''}" + (f" ×{run['instance_count']}" if run.get("instance_count") else "")
        table.add_row(r.run_id, run.get("format") or "", run.get("origin") or "", instance,
                      run.get("endpoint") or run.get("model") or "", (run.get("started_at") or "")[:16],
                      ", ".join(f"{k} {v['rows']:,}" for k, v in r.tables.items()))
    out.print(table)
    for b in scan.broken:
        out.print(f"{b.run_id}  unreadable: {b.reason}")


def _run_summary(record) -> dict[str, Any]:
    run = {k: v for k, v in record.run.items() if k != "inputs"}
    run["inputs"] = [i["name"] for i in record.run.get("inputs", [])]
    run["tables"] = {k: v["rows"] for k, v in record.tables.items()}
    return run


@runs_app.command("show")
@step_rule_options
def runs_show(run_id: str, store: StoreOpt = None, as_json: JsonOpt = False, rules: StepRulesArg = None) -> None:
    """Everything the collection knows about one run (id or unique prefix), a summary of it (requests,
    failures, duration, load levels) and the steps planner derives from it."""
    from planner.collection import run_summary
    from planner.steps import for_run

    found = read_store(store)
    record = found.get(run_id)
    summary = run_summary(found, record)
    steps = _step_rows(for_run(found, record.run_id, rules))
    if as_json:
        emit_json({**record.to_dict(), "summary": summary.to_dict(), "steps": steps})
        return
    for key, value in record.run.items():
        if key == "inputs":
            for item in value:
                out.print(f"{'input':16s} {item['name']}  sha256 {item['sha256'][:16]}…  {item['bytes']:,} bytes",
                          highlight=False)
        elif value not in (None, {}, []):
            out.print(f"{key:16s} {json.dumps(value) if isinstance(value, dict) else value}")
    for name, entry in record.tables.items():
        out.print(f"{'table':16s} {name}: {entry['rows']:,} rows")
    _print_summary(summary)
    if not steps and "llm_steps" in record.tables:
        out.print("LLM load levels: table llm_steps (TTFT / ITL / e2e per level); fitted by `planner llm fit`")
        return
    _print_steps(steps)


_STEP_HEADERS = {"step": "step", "concurrency": "concurrency", "offered_users": "offered users",
                 "throughput_rps": "throughput (rps)", "latency_mean_ms": "latency mean (ms)",
                 "latency_p99_ms": "p99 (ms)"}


def _step_rows(steps) -> list[dict[str, Any]]:
    """The steps' key columns (those present), one dict per step, with ``flags``: the flags it carries."""
    from planner.steps import FLAGS

    keys = [k for k in _STEP_HEADERS if k in steps]
    return [{**{k: (int(row[k]) if k == "step" else _number(row[k])) for k in keys},
             "flags": [f for f in FLAGS if f in steps and bool(row[f])]} for _, row in steps.iterrows()]


def _number(value) -> float | None:
    import pandas as pd

    return None if pd.isna(value) else float(value)


def _print_summary(s) -> None:
    def num(value, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    def level(value: float) -> str:
        return f"{value:,.0f}" if value.is_integer() or abs(value) >= 100 else f"{value:,.2f}"

    levels = f"{s.load_levels:,}"
    for low, high, unit in ((s.load_users_min, s.load_users_max, "users"),
                            (s.load_rate_min_rps, s.load_rate_max_rps, "rps")):
        if low is not None:
            levels += f" ({level(low)}{'' if high == low else '–' + level(high)} {unit})"
    rows = (("requests", num(s.request_count, ",d")), ("failures", num(s.failure_count, ",d")),
            ("failure rate", num(s.failure_rate, ".2%")), ("duration (s)", num(s.duration_s, ",.1f")),
            ("load levels", levels))
    for label, value in rows:
        out.print(f"{label:16s} {value}")


def _print_steps(steps: list[dict[str, Any]]) -> None:
    if not steps:
        out.print("no steps: this run has no load levels planner can measure")
        return
    keys = [k for k in _STEP_HEADERS if k in steps[0]]
    table = Table(*(_STEP_HEADERS[k] for k in keys), "flags", title=f"{len(steps)} steps")
    for step in steps:
        table.add_row(*("-" if step[k] is None else f"{step[k]:,.0f}" if k == "step" else f"{step[k]:,.1f}"
                        for k in keys), ", ".join(step["flags"]))
    out.print(table)


@runs_app.command("rm")
def runs_rm(run_ids: list[str], store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Remove runs by id or unique prefix, also those whose manifest cannot be read (their raw inputs
    stay until `planner runs gc`). Nothing is removed unless every id resolves."""
    target = write_store(store)
    removed = [target.remove(r) for r in [target.resolve(r) for r in run_ids]]
    if as_json:
        emit_json({"removed": removed})
        return
    for r in removed:
        out.print(f"{r}  removed")


@runs_app.command("reparse")
def runs_reparse(run_ids: Annotated[list[str] | None, typer.Argument(help="Runs to rebuild [default: all].")] = None,
                 store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Rebuild runs' tables from their kept raw inputs with the current parsers (exit 1 if a run's
    manifest cannot be read: the others are rebuilt and it is named)."""
    from planner.collection import reparse

    target = write_store(store)
    ids = [target.resolve(r) for r in run_ids] if run_ids else None
    with progress("reparsing", total=None):
        outcomes = reparse(target, ids)
    if as_json:
        emit_json({"runs": [o.to_dict() for o in outcomes]})
    else:
        for o in outcomes:
            if o.status == "unreadable":
                err.print(f"{o.run_id}  not reparsed: {o.reason}")
            else:
                rows = ", ".join(f"{k} {v:,}" for k, v in o.tables.items())
                out.print(f"{o.run_id}  reparsed  {o.format}  [{rows}]", highlight=False)
    if any(o.status == "unreadable" for o in outcomes):
        raise typer.Exit(1)


@runs_app.command("gc")
def runs_gc(store: StoreOpt = None, min_age_s: Annotated[float, typer.Option(help="Only older leftovers.")] = 3600,
            as_json: JsonOpt = False) -> None:
    """Remove leftovers of interrupted ingests and raw inputs no run references (never a committed run:
    while a run's manifest cannot be read, it and every raw input are kept, and it is named)."""
    result = write_store(store).gc(min_age_s)
    if as_json:
        emit_json(result.to_dict())
        return
    out.print(f"removed {result.generations_removed} uncommitted generations, {result.raw_removed} "
              "unreferenced raw inputs")
    for b in result.broken:
        err.print(f"kept run {b.run_id} and every raw input: {b.reason}")


@runs_app.command("verify")
def runs_verify(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Check the whole collection: every manifest, every table against its sha256, every raw input
    against its sha256 name. Exit 1 listing the problems, 0 when clean."""
    found = read_store(store)
    with progress("verifying", total=None):
        report = found.verify()
    if as_json:
        emit_json({"store": found.root, **report.to_dict()})
    else:
        for p in report.problems:
            out.print(f"{p.run_id or '-'}  {p.what}: {p.reason}  ({p.path})")
        out.print(f"checked {report.runs} runs, {report.tables} tables, {report.raw} raw inputs: "
                  f"{len(report.problems)} problem{'' if len(report.problems) == 1 else 's'}")
    if report.problems:
        raise typer.Exit(1)
