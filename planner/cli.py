"""The ``planner`` command: the only place that prints or exits.

Errors the library raises on purpose (:class:`PlannerError`) become one line on stderr and exit
code 1; usage errors exit 2. Every read command takes ``--json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from planner import __version__
from planner.errors import PlannerError

app = typer.Typer(help="Capacity planning and cost modelling for ML inference endpoints.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
runs_app = typer.Typer(help="List, show, remove and re-derive runs in the collection.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

out = Console(soft_wrap=True, markup=False, highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)

REPO_DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE_STORE = Path(os.environ.get("PLANNER_SAMPLE_STORE", REPO_DATA / "sample-store"))

StoreOpt = Annotated[str | None, typer.Option("--store", envvar="PLANNER_STORE", show_envvar=True,
                                              help="Run collection: a directory or s3://bucket/prefix "
                                                   "[default: ./planner-store]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (stable keys, see README) instead of tables.")]


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def _write_store(store: str | None):
    from planner.store import DEFAULT_STORE, RunStore

    return RunStore(store or DEFAULT_STORE)


def _read_store(store: str | None):
    """The store to read; with no --store and no ./planner-store, the bundled sample collection."""
    from planner.store import DEFAULT_STORE, RunStore

    if store:
        found = RunStore(store)
        if not found.exists():
            raise PlannerError(f"{store}: no run collection here (create one with `planner ingest --store {store}`)")
        return found
    default = RunStore(DEFAULT_STORE)
    if default.exists():
        return default
    sample = RunStore(SAMPLE_STORE)
    if not sample.exists():
        raise PlannerError(f"no run collection at {DEFAULT_STORE} and no bundled sample at {SAMPLE_STORE}; "
                           "ingest some runs first (`planner ingest PATH`)")
    err.print(f"no ./planner-store: using the bundled sample collection ({SAMPLE_STORE})", style="dim")
    return sample


def _parse_labels(labels: list[str]) -> dict[str, str]:
    parsed = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, found {item!r}", param_hint="--label")
        parsed[key.strip()] = value.strip()
    return parsed


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
    as_json: JsonOpt = False,
) -> None:
    """Ingest load-test results into the run collection (atomic, idempotent, lossless)."""
    from planner.collection import ingest as do_ingest

    meta = {"instance_type": instance_type, "instance_count": instance_count, "endpoint": endpoint,
            "variant": variant, "memory_mb": memory_mb, "max_concurrency": max_concurrency, "model": model,
            "framework": framework}
    target = _write_store(store)
    with _progress("ingesting", total=None) as tick:
        outcomes = do_ingest(target, paths, fmt=fmt, meta=meta, labels=_parse_labels(label or []), origin=origin,
                             source_ref=source_ref, on_run=lambda _o: tick())
    if as_json:
        _emit_json({"store": target.root, "runs": [o.to_dict() for o in outcomes]})
        return
    for o in outcomes:
        if o.status == "present":
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
        _emit_json(found)
        return
    for fmt, source in found.items():
        out.print(f"{fmt:40s} {source}")


_RUN_COLUMNS = ("run_id", "format", "origin", "instance", "endpoint / model", "started", "rows")


@runs_app.command("list")
def runs_list(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """One line per run in the collection."""
    found = _read_store(store)
    records = found.records()
    if as_json:
        _emit_json({"store": found.root, "runs": [{**_run_summary(r)} for r in records]})
        return
    table = Table(*_RUN_COLUMNS, title=f"{len(records)} runs in {found.root}")
    for r in records:
        run = r.run
        instance = f"{run.get('instance_type') or ''}" + (f" ×{run['instance_count']}" if run.get("instance_count") else "")
        table.add_row(r.run_id, run.get("format") or "", run.get("origin") or "", instance,
                      run.get("endpoint") or run.get("model") or "", (run.get("started_at") or "")[:16],
                      ", ".join(f"{k} {v['rows']:,}" for k, v in r.tables.items()))
    out.print(table)


def _run_summary(record) -> dict[str, Any]:
    run = {k: v for k, v in record.run.items() if k != "inputs"}
    run["inputs"] = [i["name"] for i in record.run.get("inputs", [])]
    run["tables"] = {k: v["rows"] for k, v in record.tables.items()}
    return run


@runs_app.command("show")
def runs_show(run_id: str, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Everything the collection knows about one run (id or unique prefix)."""
    found = _read_store(store)
    record = found.get(run_id)
    if as_json:
        _emit_json(record.to_dict())
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


@runs_app.command("rm")
def runs_rm(run_ids: list[str], store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Remove runs (their raw inputs stay until `planner runs gc`)."""
    target = _write_store(store)
    removed = [target.remove(r).run_id for r in run_ids]
    if as_json:
        _emit_json({"removed": removed})
        return
    for r in removed:
        out.print(f"{r}  removed")


@runs_app.command("reparse")
def runs_reparse(run_ids: Annotated[list[str] | None, typer.Argument(help="Runs to rebuild [default: all].")] = None,
                 store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Rebuild runs' tables from their kept raw inputs with the current parsers."""
    from planner.collection import reparse

    target = _write_store(store)
    ids = [target.resolve(r) for r in run_ids] if run_ids else None
    with _progress("reparsing", total=None):
        outcomes = reparse(target, ids)
    if as_json:
        _emit_json({"runs": [o.to_dict() for o in outcomes]})
        return
    for o in outcomes:
        out.print(f"{o.run_id}  reparsed  {o.format}  [{', '.join(f'{k} {v:,}' for k, v in o.tables.items())}]",
                  highlight=False)


@runs_app.command("gc")
def runs_gc(store: StoreOpt = None, min_age_s: Annotated[float, typer.Option(help="Only older leftovers.")] = 3600,
            as_json: JsonOpt = False) -> None:
    """Remove leftovers of interrupted ingests and raw inputs no run references."""
    removed = _write_store(store).gc(min_age_s)
    if as_json:
        _emit_json(removed)
        return
    out.print(f"removed {removed['generations']} uncommitted generations, {removed['raw']} unreferenced raw inputs")


class _progress:
    """A spinner/bar on stderr when it is a terminal; silent when piped."""

    def __init__(self, what: str, total: int | None) -> None:
        self.what, self.total = what, total
        self._progress = None

    def __enter__(self):
        if not sys.stderr.isatty():
            return lambda *a: None
        from rich.progress import Progress

        self._progress = Progress(console=err, transient=True)
        self._progress.start()
        task = self._progress.add_task(self.what, total=self.total)
        return lambda advance=1: self._progress.advance(task, advance)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()


def _version(value: bool) -> None:
    if value:
        out.print(f"planner {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Show the version and exit.")] = False) -> None:
    """planner: how much inference capacity you need, and what it costs."""


def main() -> None:
    """Entry point: run the app, turning PlannerError into one line on stderr and exit code 1."""
    try:
        app()
    except PlannerError as exc:
        sys.stderr.write(f"planner: error: {exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
