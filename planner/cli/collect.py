"""`planner serve-local` and `planner collect`: emulated endpoints and load tests."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from planner.cli.common import (
    JsonOpt,
    StoreOpt,
    app,
    emit_json,
    err,
    out,
    parse_labels,
    progress,
    write_store,
)


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
    fields: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
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


def _usage(exc, option: str) -> typer.BadParameter:
    """An InputError about a command-line value as a usage error on ``option``."""
    return typer.BadParameter(f"{exc.where}: expected {exc.expected}, found {exc.found}", param_hint=option)


@app.command()
def collect(
    target: Annotated[str | None, typer.Argument(
        help="HTTP(S) URL of the endpoint (POSTs go to its path, default /invocations) or "
             "sagemaker://ENDPOINT[?region=REGION&variant=VARIANT]; omit with --serverless-sweep.")] = None,
    store: StoreOpt = None,
    shape: Annotated[str, typer.Option(help="stairs:users=10,20,40..200,warmup=30s,hold=60s,spawn-rate=2 "
                                            "(a..b steps on by the previous difference; warmup: the first "
                                            "level's hold, optional), rate:rps=20,40..180,hold=40s (open loop), "
                                            "ramp:users=40,spawn-rate=0.5,hold=60s (continuous ramp, then hold) "
                                            "or a preset: seeds (that stairs example, ~12 min).")
                     ] = "seeds",
    max_duration_s: Annotated[float | None, typer.Option(min=1, help="Hard bound: stop the load after this many "
                                                                     "seconds (default: the shape's planned "
                                                                     "duration + 30 s).")] = None,
    max_requests: Annotated[int | None, typer.Option(min=1, help="Stop after this many requests.")] = None,
    processes: Annotated[int, typer.Option(min=1, help="Locust worker processes (Locust's distributed mode on "
                                                       "this machine) when one process cannot generate the load.")
                         ] = 1,
    expect_workers: Annotated[int, typer.Option(min=0, help="Be the master of this many Locust workers started on "
                                                            "other machines with --worker (same TARGET, --shape "
                                                            "and bounds).")] = 0,
    worker: Annotated[bool, typer.Option("--worker", help="Run one Locust worker for a master started elsewhere "
                                                          "with --expect-workers; ingests nothing.")] = False,
    master_host: Annotated[str, typer.Option(help="--worker: the master's host name or address.")] = "127.0.0.1",
    master_port: Annotated[int, typer.Option(min=1, max=65535, help="The master's port (Locust's default 5557).")
                           ] = 5557,
    payload: Annotated[Path | None, typer.Option(help='JSON-lines bodies: {"body": ..., "content_type": ...} '
                                                      "per line (default: {} as application/json).")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Where Locust writes its CSVs and log (and the CloudWatch "
                                                      "pages); default: a new temporary directory.")] = None,
    instance_type: Annotated[str | None, typer.Option(help="Instance type of an HTTP endpoint, e.g. ml.m5.xlarge "
                                                           "(sagemaker:// targets are described instead).")] = None,
    instance_count: Annotated[int | None, typer.Option(min=1, help="Instances behind an HTTP endpoint.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Endpoint name of an HTTP endpoint.")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="key=value label (repeatable).")] = None,
    origin: Annotated[str | None, typer.Option(help="measured | emulated (default: emulated when TARGET is "
                                                    "planner serve-local, which collect asks before the load "
                                                    "(its settings become serve_local_* labels); else "
                                                    "measured).")] = None,
    no_cloudwatch: Annotated[bool, typer.Option("--no-cloudwatch", help="sagemaker://: skip the CloudWatch pull.")
                             ] = False,
    cloudwatch_wait_s: Annotated[float, typer.Option(min=0, help="sagemaker://: seconds to wait after the load "
                                                                 "before pulling CloudWatch, which publishes "
                                                                 "endpoint metrics a minute or two late.")] = 120.0,
    serverless_sweep: Annotated[str | None, typer.Option(help="Memory sizes in MB, e.g. 1024,2048,3072: create a "
                                                              "serverless endpoint per size for --model-name, "
                                                              "collect each, delete them all (needs --yes).")
                                ] = None,
    model_name: Annotated[str | None, typer.Option(help="--serverless-sweep: the SageMaker model to deploy.")] = None,
    max_concurrency: Annotated[int | None, typer.Option(min=1, max=200, help="--serverless-sweep: MaxConcurrency "
                                                                             "(default: the shape's peak users).")
                               ] = None,
    region: Annotated[str | None, typer.Option(help="--serverless-sweep: AWS region of the endpoints and prices "
                                                    "[default: boto3's].")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="--serverless-sweep: create the billable resources (without "
                                                    "it: print them and the estimated cost, exit 1).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Load-test an HTTP or SageMaker endpoint with Locust (headless, stair-step shape) and ingest the run.

    sagemaker:// runs are labelled from DescribeEndpoint and include CloudWatch metrics of the run window.
    """
    from planner.collect.load import default_max_duration_s, hold_warning, parse_shape
    from planner.errors import InputError

    if origin not in (None, "measured", "emulated"):
        raise typer.BadParameter(f"expected measured or emulated, found {origin!r}", param_hint="--origin")
    try:
        stairs = parse_shape(shape)
        warning = hold_warning(stairs)
    except InputError as exc:
        raise typer.BadParameter(f"expected {exc.expected}, found {exc.found}", param_hint="--shape") from None
    if warning:
        err.print(f"warning: {warning}", style="yellow")
    if max_duration_s is None:
        max_duration_s = default_max_duration_s(stairs)
    directory = out_dir or Path(tempfile.mkdtemp(prefix="planner-collect-"))
    if worker:
        _stoppable(lambda: _worker(target, stairs, directory, expect_workers or 1, master_host, master_port,
                                   max_duration_s, max_requests, payload), "the Locust worker was stopped")
        return
    common = {"max_duration_s": max_duration_s, "max_requests": max_requests, "payload": payload,
              "labels": parse_labels(label or []), "origin": origin, "processes": processes,
              "expect_workers": expect_workers, "master_port": master_port}
    aws_options = {"cloudwatch": not no_cloudwatch, "cloudwatch_delay_s": cloudwatch_wait_s,
                   "origin": origin or "measured"}
    if serverless_sweep is not None:
        if target is not None:
            raise typer.BadParameter("expected no TARGET with --serverless-sweep (it creates the endpoints)",
                                     param_hint="TARGET")
        _stoppable(lambda: _sweep(serverless_sweep, model_name, max_concurrency, region, yes, stairs, directory,
                                  store, as_json, {**common, **aws_options}),
                   "Locust was stopped and the sweep's endpoints and endpoint configs deleted (runs collected "
                   "before stay in the store)")
        return
    if target is None:
        raise typer.BadParameter("expected an http(s):// URL or sagemaker://ENDPOINT", param_hint="TARGET")
    if target.startswith("sagemaker:"):
        given = [f"--{n}" for n, v in (("instance-type", instance_type), ("instance-count", instance_count),
                                       ("endpoint", endpoint)) if v is not None]
        if given:
            raise typer.BadParameter(f"expected none of {', '.join(given)} with a sagemaker:// target "
                                     "(it is labelled from DescribeEndpoint)", param_hint=given[0])
        _stoppable(lambda: _collect_sagemaker(target, stairs, directory, store, as_json, {**common, **aws_options}),
                   STOPPED)
        return
    if not target.startswith(("http://", "https://")):
        from planner.collect.load import public_url

        raise typer.BadParameter(f"expected an http://, https:// or sagemaker:// target, found "
                                 f"{public_url(target)!r}", param_hint="TARGET")
    meta = {"instance_type": instance_type, "instance_count": instance_count, "endpoint": endpoint}
    _stoppable(lambda: _collect_http(target, stairs, directory, store, as_json, {**common, "meta": meta}), STOPPED)


STOPPED = "Locust was stopped and nothing was ingested"


def _stoppable(work: Callable[[], None], stopped: str) -> None:
    """Run ``work`` so that SIGINT, SIGTERM and SIGHUP stop Locust and delete what a sweep created (every
    ``finally`` runs, see :mod:`planner.collect.signals`), then exit 128 + the signal number saying ``stopped``."""
    from planner.collect.signals import Interrupted, raising_on_stop_signals

    try:
        with raising_on_stop_signals():
            work()
    except Interrupted as exc:
        err.print(f"planner: {exc}: {stopped}")
        raise typer.Exit(exc.exit_code) from None


def _worker(target: str | None, stairs, directory: Path, workers: int, master_host: str, master_port: int,
            max_duration_s: float, max_requests: int | None, payload: Path | None) -> None:
    """One Locust worker: the same user as the master's (HTTP or SageMaker), until the master stops it."""
    from planner.collect.load import http_target, http_user_env, run_worker
    from planner.collect.sagemaker import parse_target, sagemaker_user_env
    from planner.errors import InputError

    if target and target.startswith("sagemaker:"):
        try:
            user_env, host = sagemaker_user_env(parse_target(target)), None
        except InputError as exc:
            raise _usage(exc, "TARGET") from None
    elif target and target.startswith(("http://", "https://")):
        host, path = http_target(target)
        user_env = http_user_env(path)
    else:
        raise typer.BadParameter("expected the master's http(s):// or sagemaker:// TARGET", param_hint="TARGET")
    err.print(f"worker for the master at {master_host}:{master_port}; Locust log in {directory}", style="dim")
    code = run_worker(target, stairs, user_env=user_env, master_host=master_host, master_port=master_port,
                      workers=workers, out_dir=directory, max_duration_s=max_duration_s, max_requests=max_requests,
                      payload=payload, host=host)
    if code:
        raise typer.Exit(code)


def _collect_http(url: str, stairs, directory: Path, store: str | None, as_json: bool, options: dict) -> None:
    from planner.collect.load import collect_and_ingest

    target_store = write_store(store)
    with progress(f"collecting ({stairs.duration_s:.0f} s planned, at most {options['max_duration_s']:g} s)",
                  total=None):
        outcome, result = collect_and_ingest(target_store, url, stairs, out_dir=directory, **options)
    if options["origin"] == "measured" and result.serve_local is not None:
        err.print(f"warning: {result.url} is planner serve-local, but --origin measured was given: the run is labelled "
                  "measured", style="yellow")
    if as_json:
        emit_json({"store": target_store.root, "run": outcome.to_dict(), "collect": result.to_dict()})
        return
    _print_run(outcome, result)
    if result.serve_local is not None:
        out.print(f"target is planner serve-local: origin={options['origin'] or 'emulated'}, its settings in "
                  "serve_local_* labels", style="dim")


def _collect_sagemaker(text: str, stairs, directory: Path, store: str | None, as_json: bool, options: dict) -> None:
    from planner.collect.sagemaker import collect_sagemaker, parse_target
    from planner.errors import InputError

    try:
        target = parse_target(text)
    except InputError as exc:
        raise _usage(exc, "TARGET") from None
    target_store = write_store(store)
    with progress(f"collecting ({stairs.duration_s:.0f} s planned, at most {options['max_duration_s']:g} s)",
                  total=None):
        result = collect_sagemaker(target_store, target, stairs, out_dir=directory, **options)
    if as_json:
        emit_json({"store": target_store.root, **result.to_dict()})
    else:
        _print_run(result.outcome, result.collect)
        _print_endpoint(result)
    for warning in result.warnings:
        err.print(f"warning: {warning}", style="yellow")


def _print_run(outcome, result) -> None:
    out.print(f"{outcome.run_id}  {outcome.status}  {result.request_count:,} requests "
              f"({result.failure_count:,} failed) in {result.wall_s:.0f} s, stopped: {result.stop_reason}")
    out.print(f"Locust files: {result.out_dir}", style="dim")
    if result.generator_saturated_levels:
        users = ", ".join(map(str, result.generator_saturated_levels))
        err.print(f"warning: the load generator's CPU was saturated at {users} users: those levels measured "
                  "Locust as much as the endpoint (try --processes)", style="yellow")


def _print_endpoint(result) -> None:
    ep = result.endpoint
    size = (f"serverless {ep.memory_mb} MB, MaxConcurrency {ep.max_concurrency}" if ep.serverless
            else f"{ep.instance_count} × {ep.instance_type}")
    pulled = ("CloudWatch skipped" if result.cloudwatch is None
              else f"CloudWatch {result.cloudwatch.datapoints:,} datapoints")
    out.print(f"{ep.endpoint}/{ep.variant} ({size}, {ep.region}); {pulled}")


def _sweep(sizes: str, model_name: str | None, max_concurrency: int | None, region: str | None, yes: bool,
           stairs, directory: Path, store: str | None, as_json: bool, options: dict) -> None:
    from planner.catalog import load_catalog
    from planner.collect.sweep import parse_memory_sizes, plan_sweep, run_sweep
    from planner.errors import InputError

    if not model_name:
        raise typer.BadParameter("expected --model-name with --serverless-sweep", param_hint="--model-name")
    try:
        memory_sizes = parse_memory_sizes(sizes)
    except InputError as exc:
        raise _usage(exc, "--serverless-sweep") from None
    region = region or _default_region()
    plan = plan_sweep(model_name, memory_sizes, stairs, max_duration_s=options["max_duration_s"],
                      catalog=load_catalog(region), region=region, max_concurrency=max_concurrency)
    if not yes:
        _print_plan(plan, as_json)
        err.print("nothing created: rerun with --yes to create these resources (they are deleted after the sweep)")
        raise typer.Exit(1)
    target_store = write_store(store)
    with progress(f"sweeping {len(memory_sizes)} memory sizes", total=None):
        result = run_sweep(plan, target_store, out_dir=directory,
                           **{k: v for k, v in options.items() if k != "max_duration_s"})
    if as_json:
        emit_json({"store": target_store.root, **result.to_dict()})
    else:
        table = Table("memory MB", "endpoint", "run", "requests", "failed", "stopped", "CloudWatch points")
        for run in result.runs:
            pulled = "-" if run.cloudwatch is None else f"{run.cloudwatch.datapoints:,}"
            table.add_row(str(run.endpoint.memory_mb), run.endpoint.endpoint, run.outcome.run_id,
                          f"{run.collect.request_count:,}", f"{run.collect.failure_count:,}", run.collect.stop_reason,
                          pulled)
        out.print(table)
        out.print(f"deleted {len(result.deleted)} resources: " + ", ".join(r.name for r in result.deleted
                                                                          if r.kind == "endpoint"), style="dim")
    for run in result.runs:
        for warning in run.warnings:
            err.print(f"warning: {warning}", style="yellow")


def _default_region() -> str:
    import boto3

    found = boto3.session.Session().region_name
    if not found:
        raise typer.BadParameter("expected --region or a configured AWS region (AWS_DEFAULT_REGION)",
                                 param_hint="--region")
    return found


def _print_plan(plan, as_json: bool) -> None:
    if as_json:
        emit_json({"created": False, "plan": plan.to_dict()})
        return
    table = Table("kind", "name", "memory MB", "MaxConcurrency", "est. USD (upper bound)")
    estimates = plan.estimated_usd_by_memory_mb
    for resource in plan.resources:
        cost = f"{estimates[resource.memory_mb]:.4f}" if resource.kind == "endpoint" else ""
        table.add_row(resource.kind, resource.name, str(resource.memory_mb), str(plan.max_concurrency), cost)
    out.print(f"serverless sweep of model {plan.model_name} in {plan.region} would create:")
    out.print(table)
    out.print(f"estimated cost at most {plan.estimated_usd:.4f} USD: per endpoint, catalog USD/s of its memory size "
              f"× {plan.busy_s:,.0f} s (min(users, MaxConcurrency) integrated over the planned "
              f"{min(plan.shape.duration_s, plan.max_duration_s):,.0f} s run); data processing (USD/GB) excluded. "
              f"Prices: {plan.price_source}", style="dim")
