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


prices_app = typer.Typer(help="Show or refresh the dated price and instance-spec catalog.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")

RegionOpt = Annotated[str, typer.Option(help="AWS region of the prices.")]
PriceFileOpt = Annotated[Path | None, typer.Option("--price-file", help="Prices to use instead (JSON catalog or "
                                                   "CSV instance_type,usd_per_hour), e.g. negotiated rates.")]
DiscountOpt = Annotated[float, typer.Option(min=0, max=0.99, help="Fraction off compute prices (Savings Plans...).")]


def _positive(parse, text: str, option: str, what: str) -> float:
    """A positive quantity parsed by a :mod:`planner.units` parser, or a usage error naming ``option``."""
    from planner.units import UnitError

    try:
        value = parse(text)
    except UnitError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None
    if value <= 0:
        raise typer.BadParameter(f"expected a positive {what}, found {text!r}", param_hint=option)
    return value


def _duration_ms(text: str, option: str) -> float:
    from planner.units import parse_duration_ms

    return _positive(parse_duration_ms, text, option, "duration")


def _count(text: str, option: str) -> float:
    from planner.units import parse_count

    return _positive(parse_count, text, option, "number")


def _percentile(text: str) -> float:
    from planner.units import UnitError, parse_percentile

    try:
        return parse_percentile(text)
    except UnitError as exc:
        raise typer.BadParameter(str(exc), param_hint="--percentile") from None


def _fits(store: str | None, run_ids: list[str] | None, percentile: float, sla_ms: float | None,
          max_utilization: float, for_sizing: bool = False):
    from planner.capacity import fit_collection_steps
    from planner.steps import for_collection

    found = _read_store(store)
    ids = [found.resolve(r) for r in run_ids] if run_ids else None
    with _progress("fitting", total=None):
        steps = for_collection(found, ids)
        return fit_collection_steps(steps, percentile=percentile, latency_target_ms=sla_ms,
                                    max_utilization=max_utilization, with_usl=not for_sizing,
                                    latency_only_with_instance_type=for_sizing)


@app.command()
def fit(
    store: StoreOpt = None,
    run: Annotated[list[str] | None, typer.Option("--run", help="Only these runs (repeatable).")] = None,
    percentile: Annotated[str, typer.Option(help="Latency percentile for capacity, e.g. p99, p95.")] = "p99",
    sla: Annotated[str | None, typer.Option(help="Latency target for capacity, e.g. 200ms.")] = None,
    max_utilization: Annotated[float, typer.Option(min=0.05, max=1.0, help="Utilisation cap.")] = 0.7,
    plot: Annotated[Path | None, typer.Option(help="Write the curves to FILE.html or FILE.png.")] = None,
    all_configs: Annotated[bool, typer.Option("--all", help="Also list configurations that could not be fitted.")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """Fit throughput (USL) and latency curves per configuration, with held-out error and intervals."""
    pct = _percentile(percentile)
    sla_ms = _duration_ms(sla, "--sla") if sla else None
    fits = _fits(store, run, pct, sla_ms, max_utilization)
    shown = [f for f in fits if all_configs or f.usl or f.latency_summary or f.recommender]
    if plot:
        from planner.charts import fit_chart, save_chart

        save_chart(fit_chart(shown, pct, sla_ms), plot)
    if as_json:
        _emit_json({"percentile": f"p{pct:g}", "sla_ms": sla_ms, "max_utilization": max_utilization,
                    "configs": [f.to_dict() for f in shown]})
        return
    table = Table("configuration", "origin", "steps", "USL σ / κ / λ", "peak (users @ rps)", "latency model",
                  "held-out err", f"capacity @ {sla or 'SLA'} (rps)", title=f"{len(shown)} configurations")
    for f in shown:
        usl = (f"{f.usl.sigma:.3g} / {f.usl.kappa:.3g} / {f.usl.lambda_rps:.3g}" if f.usl else "-")
        peak = (f"{f.usl.peak_concurrency:.0f} @ {f.usl.peak_throughput_rps:.0f}" if f.usl else "-")
        model = (f"{f.latency_summary.model} (c={f.latency_summary.servers}, S={f.latency_summary.service_time_ms:.0f} ms)"
                 if f.latency_summary else ("IR point" if f.recommender else "-"))
        err = _heldout_text(f)
        cap = "-"
        if f.capacity is not None:
            c = f.capacity
            band = (f" [{c.capacity_rps_ci_lower:.0f}–{c.capacity_rps_ci_upper:.0f}]"
                    if c.capacity_rps_ci_lower is not None and c.capacity_rps_ci_upper is not None else "")
            cap = (f"{c.capacity_rps:.1f}{band} ({c.binding})" if c.feasible else "infeasible") + (
                " extrapolated" if c.extrapolated else "")
        table.add_row(f.config.label, f.origin, f"{f.n_steps_used}/{f.n_steps}", usl, peak, model, err, cap)
    out.print(table)


def _heldout_text(fit) -> str:
    if fit.heldout_error is not None:
        return f"{fit.heldout_error:.0%}"
    raw = fit.latency_summary.heldout_error if fit.latency_summary else None
    return "∞ (saturates early)" if raw is not None and raw == float("inf") else "n/a"


@app.command()
def recommend(
    target_tps: Annotated[str, typer.Option("--target-tps", help="Peak throughput to serve, e.g. 1000 or 1.5k.")],
    p99: Annotated[str | None, typer.Option("--p99", help="Latency target at p99, e.g. 200ms.")] = None,
    latency: Annotated[str | None, typer.Option("--latency", help="Latency target at --percentile.")] = None,
    percentile: Annotated[str, typer.Option(help="Percentile of --latency (p50..p99.9, or mean).")] = "p99",
    store: StoreOpt = None,
    region: RegionOpt = "us-east-1",
    price_file: PriceFileOpt = None,
    discount: DiscountOpt = 0.0,
    max_utilization: Annotated[float, typer.Option(min=0.05, max=1.0, help="Utilisation cap per instance.")] = 0.7,
    ha: Annotated[bool, typer.Option("--ha", help="At least 2 instances, SLA kept with one lost.")] = False,
    routing: Annotated[str, typer.Option(help="least-outstanding (pooled) or random (independent queues).")]
    = "least-outstanding",
    top: Annotated[int, typer.Option(min=1, help="How many options to show.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Instance type and count for a target TPS and latency percentile, ranked by monthly cost."""
    from planner.catalog import load_catalog
    from planner.recommend.realtime import ROUTINGS, rationale, recommend_realtime

    if routing not in ROUTINGS:
        raise typer.BadParameter(f"expected one of {', '.join(ROUTINGS)}, found {routing!r}", param_hint="--routing")
    if (p99 is None) == (latency is None):
        raise typer.BadParameter("give exactly one of --p99 or --latency (with --percentile)", param_hint="--p99")
    pct: float | str = 99.0 if p99 is not None else ("mean" if percentile == "mean" else _percentile(percentile))
    target_ms = _duration_ms(p99 or latency, "--p99" if p99 else "--latency")
    tps = _count(target_tps, "--target-tps")
    catalog = load_catalog(region, price_file=price_file, discount=discount)
    fits = _fits(store, None, pct if pct != "mean" else 50.0, target_ms, max_utilization, for_sizing=True)
    rec = recommend_realtime(fits, catalog, target_tps=tps, latency_target_ms=target_ms, percentile=pct,
                             max_utilization=max_utilization, ha=ha, routing=routing, top=top)
    if as_json:
        _emit_json(rec.to_dict())
    else:
        _print_recommendation(rec)
    if not rec.feasible:
        if not as_json:
            err.print(rationale(rec))
        raise typer.Exit(1)


def _print_recommendation(rec) -> None:
    from planner.recommend.realtime import rationale

    title = (f"{rec.target_tps:g} TPS at {rec.percentile} ≤ {rec.latency_target_ms:g} ms "
             f"(≤ {rec.max_utilization:.0%} utilisation{', HA' if rec.ha else ''}, {rec.routing} routing)")
    table = Table("#", "instance", "count", f"{rec.percentile} ms [95% CI]", "TPS/inst (cap)", "util", "$/hour",
                  "$/month", "$/1M req", "held-out err", "data", title=title)
    for i, o in enumerate(rec.options, 1):
        band = (f" [{o.predicted_latency_ci_lower_ms:.0f}–{o.predicted_latency_ci_upper_ms:.0f}]"
                if o.predicted_latency_ci_lower_ms is not None and o.predicted_latency_ci_upper_ms is not None else "")
        table.add_row(str(i), o.label, str(o.instance_count), f"{o.predicted_latency_ms:.0f}{band}",
                      f"{o.load_tps_per_instance:.0f} ({o.capacity_tps_per_instance:.0f})", f"{o.utilization:.0%}",
                      f"{o.usd_per_hour:,.2f}", f"{o.usd_per_month:,.0f}", f"{o.usd_per_million_requests:.3f}",
                      f"{o.heldout_error:.0%}" if o.heldout_error is not None else "n/a",
                      o.origin + (" (extrapolated)" if o.extrapolated else ""))
    out.print(table)
    out.print(rationale(rec))
    by_reason: dict[str, list[str]] = {}
    for r in rec.rejected:
        by_reason.setdefault(r.reason, []).append(r.label)
    for reason, labels in by_reason.items():
        out.print(f"  not an option: {', '.join(labels)}: {reason}", style="dim")
    out.print(f"Prices: {rec.price_catalog['provenance']}; months of {rec.hours_per_month:g} h.", style="dim")


@prices_app.command("show")
def prices_show(region: RegionOpt = "us-east-1", price_file: PriceFileOpt = None, discount: DiscountOpt = 0.0,
                instance: Annotated[list[str] | None, typer.Option("--instance", help="Only these types.")] = None,
                as_json: JsonOpt = False) -> None:
    """The prices and specs planner uses, with their source and date."""
    from planner.catalog import load_catalog

    catalog = load_catalog(region, price_file=price_file, discount=discount)
    if as_json:
        _emit_json(catalog.to_dict())
        return
    table = Table("instance type", "vCPU", "memory GiB", "accelerators", "USD/hour", "USD/month (730 h)",
                  title=catalog.provenance())
    for name in sorted(instance or catalog.instances):
        spec = catalog.spec(name)
        acc = (f"{spec.accelerator_count} × {spec.accelerator_type} {spec.accelerator_memory_gib:g} GiB"
               if spec.accelerator_count else "")
        table.add_row(name, str(spec.vcpu or ""), f"{spec.memory_gib:g}" if spec.memory_gib else "", acc,
                      f"{spec.usd_per_hour:.4g}", f"{spec.usd_per_hour * 730:,.2f}")
    out.print(table)
    out.print(f"serverless on-demand USD/s by memory MB: {dict(catalog.serverless_usd_per_second_by_memory_mb)}; "
              f"data processing {catalog.data_processing_usd_per_gb} USD/GB")


@prices_app.command("refresh")
def prices_refresh(region: RegionOpt = "us-east-1",
                   out_file: Annotated[Path | None, typer.Option("--out", help="Write the snapshot here "
                                                                 "[default: the bundled snapshot].")] = None,
                   as_json: JsonOpt = False) -> None:
    """Rebuild the snapshot from the AWS Price List API (needs AWS credentials)."""
    from planner.catalog import refresh_catalog, write_snapshot

    with _progress("querying the AWS Price List API", total=None):
        catalog = refresh_catalog(region)
    path = write_snapshot(catalog, out_file) if out_file else write_snapshot(catalog, _bundled_snapshot(region))
    if as_json:
        _emit_json({"path": str(path), "instances": len(catalog.instances), "date": catalog.date})
        return
    out.print(f"wrote {path}: {len(catalog.instances)} instance types, prices as of {catalog.date}")


def _bundled_snapshot(region: str) -> Path:
    return Path(__file__).resolve().parent / "data" / "prices" / f"{region}.json"


@app.command("serve-local")
def serve_local(
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port to listen on (0 = any free port).")] = 8080,
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0 to serve other machines).")] = "127.0.0.1",
    profile: Annotated[str | None, typer.Option(help="Preset emulating a published instance, e.g. "
                                                     "g4dn.2xlarge-resnet50-pt, m5.xlarge-small-model "
                                                     "(an unknown name lists them all).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Concurrent model workers per instance "
                                                            "(default 1, or the profile's).")] = None,
    service_ms: Annotated[float | None, typer.Option(min=0, help="Mean service time, ms "
                                                                 "(default 20, or the profile's).")] = None,
    service_dist: Annotated[str | None, typer.Option(help="exp | lognormal:SIGMA | const "
                                                          "(default exp, or the profile's).")] = None,
    queue_limit: Annotated[int, typer.Option(min=0, help="Requests allowed to wait per instance beyond the busy "
                                                         "workers; more are answered 503 (0 = unbounded).")] = 0,
    instances: Annotated[int, typer.Option(min=1, help="Instances behind one front.")] = 1,
    routing: Annotated[str, typer.Option(help="round-robin | least-outstanding | random.")] = "round-robin",
    seed: Annotated[int, typer.Option(help="Seed for service times and random routing.")] = 0,
    duration_s: Annotated[float | None, typer.Option(min=0, help="Stop after this many seconds "
                                                                 "(default: until Ctrl-C or SIGTERM).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line when ready (url, settings) and one "
                                                         "when stopped (stats).")] = False,
) -> None:
    """Serve an emulated SageMaker endpoint (GET /ping, POST /invocations): M/G/c queues behind one front."""
    from planner.collect.endpoint import EndpointSettings, profile_settings, serve_forever
    from planner.errors import InputError

    given = {"workers": workers, "service_ms": service_ms, "service_dist": service_dist}
    fields = {k: v for k, v in given.items() if v is not None}
    fields |= {"queue_limit": queue_limit, "instances": instances, "routing": routing, "seed": seed}
    try:
        settings = profile_settings(profile, **fields) if profile else EndpointSettings(**fields)
    except InputError as exc:
        raise typer.BadParameter(f"expected {exc.expected}, found {exc.found}",
                                 param_hint=f"--{exc.where.replace('_', '-')}") from None

    def line(data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
        sys.stdout.flush()

    def ready(url: str) -> None:
        if as_json:
            line({"event": "ready", "url": url, "settings": settings.to_dict()})
            return
        label = f"{settings.profile} ({settings.instance_type})" if settings.profile else "custom"
        out.print(f"serving {url}  [{label}: {settings.instances} × {settings.workers} workers, "
                  f"{settings.service_ms:g} ms {settings.service_dist}, capacity {settings.capacity_rps:,.0f} rps]")
        out.print("POST /invocations, GET /ping; Ctrl-C stops", style="dim")
        sys.stdout.flush()

    stats = serve_forever(settings, host=host, port=port, duration_s=duration_s, on_ready=ready)
    if as_json:
        line({"event": "stopped", "stats": stats.to_dict()})
        return
    per_instance = ", ".join(str(n) for n in stats.served_per_instance)
    out.print(f"stopped: served {stats.served:,} (per instance {per_instance}), rejected {stats.rejected:,}, "
              f"max queue depth {stats.max_queue_depth}")


@app.command()
def collect(
    target: Annotated[str, typer.Argument(help="HTTP(S) URL of the endpoint; POSTs go to its path "
                                               "(default /invocations).")],
    store: StoreOpt = None,
    shape: Annotated[str, typer.Option(help="stairs:users=10,20,40..200,hold=60s,spawn-rate=2 "
                                            "(a..b steps on by the previous difference) or a preset: seeds.")
                     ] = "seeds",
    max_duration_s: Annotated[float, typer.Option(min=1, help="Stop the load after this many seconds.")] = 300.0,
    max_requests: Annotated[int | None, typer.Option(min=1, help="Stop after this many requests.")] = None,
    payload: Annotated[Path | None, typer.Option(help='JSON-lines bodies: {"body": ..., "content_type": ...} '
                                                      "per line (default: {} as application/json).")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Where Locust writes its CSVs and log "
                                                      "[default: a new temporary directory].")] = None,
    instance_type: Annotated[str | None, typer.Option(help="Instance type of the endpoint, e.g. ml.m5.xlarge.")] = None,
    instance_count: Annotated[int | None, typer.Option(min=1, help="Instances behind the endpoint.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Endpoint name.")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="key=value label (repeatable).")] = None,
    origin: Annotated[str, typer.Option(help="measured | emulated (emulated against planner serve-local).")
                      ] = "measured",
    as_json: JsonOpt = False,
) -> None:
    """Load-test an HTTP endpoint with Locust (headless, stair-step shape) and ingest the run."""
    import tempfile

    from planner.collect.load import collect_and_ingest, parse_shape
    from planner.errors import InputError

    if not target.startswith(("http://", "https://")):
        raise typer.BadParameter(f"expected an http:// or https:// URL, found {target!r}", param_hint="TARGET")
    if origin not in ("measured", "emulated"):
        raise typer.BadParameter(f"expected measured or emulated, found {origin!r}", param_hint="--origin")
    try:
        stairs = parse_shape(shape)
    except InputError as exc:
        raise typer.BadParameter(f"expected {exc.expected}, found {exc.found}", param_hint="--shape") from None
    directory = out_dir or Path(tempfile.mkdtemp(prefix="planner-collect-"))
    meta = {"instance_type": instance_type, "instance_count": instance_count, "endpoint": endpoint}
    target_store = _write_store(store)
    with _progress(f"collecting ({stairs.duration_s:.0f} s planned, at most {max_duration_s:g} s)", total=None):
        outcome, result = collect_and_ingest(target_store, target, stairs, out_dir=directory,
                                             max_duration_s=max_duration_s, max_requests=max_requests,
                                             payload=payload, meta=meta, labels=_parse_labels(label or []),
                                             origin=origin)
    if as_json:
        _emit_json({"store": target_store.root, "run": outcome.to_dict(), "collect": result.to_dict()})
        return
    out.print(f"{outcome.run_id}  {outcome.status}  {result.request_count:,} requests "
              f"({result.failure_count:,} failed) in {result.wall_s:.0f} s, stopped: {result.stop_reason}")
    out.print(f"Locust files: {result.out_dir}", style="dim")
    if result.generator_saturated_levels:
        users = ", ".join(map(str, result.generator_saturated_levels))
        err.print(f"warning: the load generator used > 90% of a core at {users} users: those levels measured "
                  "Locust as much as the endpoint", style="yellow")


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
