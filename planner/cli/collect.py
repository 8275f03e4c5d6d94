"""`planner serve-local` and `planner collect`: emulated endpoints and load tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

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
    target_store = write_store(store)
    with progress(f"collecting ({stairs.duration_s:.0f} s planned, at most {max_duration_s:g} s)", total=None):
        outcome, result = collect_and_ingest(target_store, target, stairs, out_dir=directory,
                                             max_duration_s=max_duration_s, max_requests=max_requests,
                                             payload=payload, meta=meta, labels=parse_labels(label or []),
                                             origin=origin)
    if as_json:
        emit_json({"store": target_store.root, "run": outcome.to_dict(), "collect": result.to_dict()})
        return
    out.print(f"{outcome.run_id}  {outcome.status}  {result.request_count:,} requests "
              f"({result.failure_count:,} failed) in {result.wall_s:.0f} s, stopped: {result.stop_reason}")
    out.print(f"Locust files: {result.out_dir}", style="dim")
    if result.generator_saturated_levels:
        users = ", ".join(map(str, result.generator_saturated_levels))
        err.print(f"warning: the load generator used > 90% of a core at {users} users: those levels measured "
                  "Locust as much as the endpoint", style="yellow")

