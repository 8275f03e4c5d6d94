"""The serverless memory sweep and its cost guard (``planner collect --serverless-sweep``).

:func:`plan_sweep` names the resources a sweep would create (one serverless endpoint config and
one endpoint per memory size) and estimates their cost; it creates nothing. :func:`run_sweep`
creates them one memory size at a time, waits for InService, collects each endpoint
(:func:`planner.collect.sagemaker.collect_sagemaker`), and deletes everything it created in a
``finally``: after success, any failure, Ctrl-C, or (under ``planner collect``, see
:mod:`planner.collect.signals`) SIGTERM or SIGHUP. Each resource is recorded *before* it is
requested, so one whose creation call failed midway is deleted too (a "could not find" answer
counts as deleted). An endpoint still ``Creating``, which SageMaker refuses to delete, is waited
for (status polled after 1 s, then at doubling intervals up to ``poll_s``) and then deleted.

Cost estimate (an upper bound on billed compute): serverless bills the duration of each
invocation at the memory size's USD/s. Closed-loop users with zero think time keep at most
``min(users(t), MaxConcurrency)`` invocations in flight, so the billed seconds of one endpoint are
at most the integral of that over the planned run (the staircase, ramps included, cut at
``max_duration_s``). Per memory size: catalog USD/s × that integral. Not included: data
processing (USD/GB in and out; the payload volume is not known in advance), and the early stop a
``max_requests`` bound may bring.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.catalog import PriceCatalog
from planner.collect.load import StairsShape
from planner.collect.sagemaker import (
    SageMakerCollectResult,
    SageMakerTarget,
    aws_client,
    aws_reason,
    collect_sagemaker,
)
from planner.errors import InputError, PlannerError
from planner.store import RunStore

SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
MAX_CONCURRENCY_LIMIT = 200  # SageMaker's per-endpoint MaxConcurrency maximum
VARIANT = "AllTraffic"
TAG = {"Key": "created-by", "Value": "planner collect --serverless-sweep"}
FIRST_POLL_S = 1.0  # the first pause between endpoint status polls; later ones double up to poll_s


@dataclass(frozen=True)
class SweepResource:
    """A billable resource a sweep creates: ``kind`` endpoint-config | endpoint."""

    kind: str
    name: str
    memory_mb: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "memory_mb": self.memory_mb}


def parse_memory_sizes(text: str) -> tuple[int, ...]:
    """``1024,2048,3072`` -> (1024, 2048, 3072); each a serverless memory size, each once."""
    expected = "distinct serverless memory sizes in MB among " + ", ".join(map(str, SERVERLESS_MEMORY_MB))
    try:
        sizes = tuple(int(item.strip().removesuffix("MB").removesuffix("mb")) for item in text.split(","))
    except ValueError:
        raise InputError("--serverless-sweep", "memory sizes", expected, repr(text)) from None
    if not sizes or len(set(sizes)) != len(sizes) or not set(sizes) <= set(SERVERLESS_MEMORY_MB):
        raise InputError("--serverless-sweep", "memory sizes", expected, repr(text))
    return sizes


def busy_seconds(shape: StairsShape, max_duration_s: float, max_concurrency: int) -> float:
    """The integral of ``min(users(t), max_concurrency)`` over the planned run (s): the most
    invocation-seconds a closed loop with zero think time keeps in flight. Exact: users(t) is
    piecewise linear (ramps at the spawn rate, then holds)."""
    planned_s = min(shape.duration_s, max_duration_s)
    total, now, previous = 0.0, 0.0, 0
    for users, hold_s in zip(shape.users, shape.holds_s, strict=True):
        ramp_s = abs(users - previous) / shape.spawn_rate
        for start, end, span_s in ((previous, users, ramp_s), (users, users, hold_s)):
            kept_s = min(span_s, planned_s - now)
            if span_s == 0:
                continue
            if kept_s <= 0:
                return total
            total += _capped_line_integral(start, start + (end - start) * kept_s / span_s, kept_s, max_concurrency)
            now += span_s
        previous = users
    return total


def _capped_line_integral(y0: float, y1: float, span_s: float, cap: float) -> float:
    """∫ min(y(t), cap) dt over a span where y goes linearly from ``y0`` to ``y1``."""
    if max(y0, y1) <= cap:
        return (y0 + y1) / 2 * span_s
    if min(y0, y1) >= cap:
        return cap * span_s
    below_s = span_s * (cap - min(y0, y1)) / abs(y1 - y0)
    return (min(y0, y1) + cap) / 2 * below_s + cap * (span_s - below_s)


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep would create and what it would cost at most (see the module docstring)."""

    model_name: str
    memory_sizes_mb: tuple[int, ...]
    max_concurrency: int
    shape: StairsShape
    max_duration_s: float
    region: str
    name_prefix: str
    busy_s: float
    usd_per_second_by_memory_mb: Mapping[int, float]
    price_source: str

    def endpoint_name(self, memory_mb: int) -> str:
        return f"{self.name_prefix}-{memory_mb}mb"

    @property
    def resources(self) -> tuple[SweepResource, ...]:
        return tuple(SweepResource(kind, self.endpoint_name(m), m)
                     for m in self.memory_sizes_mb for kind in ("endpoint-config", "endpoint"))

    @property
    def estimated_usd_by_memory_mb(self) -> dict[int, float]:
        return {m: self.usd_per_second_by_memory_mb[m] * self.busy_s for m in self.memory_sizes_mb}

    @property
    def estimated_usd(self) -> float:
        return sum(self.estimated_usd_by_memory_mb.values())

    def to_dict(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "memory_sizes_mb": list(self.memory_sizes_mb),
                "max_concurrency": self.max_concurrency, "shape": self.shape.to_dict(),
                "max_duration_s": self.max_duration_s, "region": self.region, "name_prefix": self.name_prefix,
                "resources": [r.to_dict() for r in self.resources], "busy_s_per_endpoint": self.busy_s,
                "usd_per_second_by_memory_mb": {str(k): v for k, v in self.usd_per_second_by_memory_mb.items()},
                "estimated_usd_by_memory_mb": {str(k): v for k, v in self.estimated_usd_by_memory_mb.items()},
                "estimated_usd": self.estimated_usd, "price_source": self.price_source,
                "estimate": "upper bound on billed compute: USD/s of each memory size x integral of "
                            "min(users, MaxConcurrency) over the planned run; excludes data processing"}


def plan_sweep(model_name: str, memory_sizes_mb: tuple[int, ...], shape: StairsShape, *, max_duration_s: float,
               catalog: PriceCatalog, region: str, max_concurrency: int | None = None,
               name_prefix: str | None = None) -> SweepPlan:
    """The resources and estimated cost of sweeping ``memory_sizes_mb`` for ``model_name``;
    ``max_concurrency`` defaults to the shape's largest user count (at most 200)."""
    concurrency = max_concurrency or min(max(shape.users), MAX_CONCURRENCY_LIMIT)
    if not 1 <= concurrency <= MAX_CONCURRENCY_LIMIT:
        raise InputError("--max-concurrency", "value", f"an integer from 1 to {MAX_CONCURRENCY_LIMIT}",
                         repr(max_concurrency))
    prefix = name_prefix or f"planner-sweep-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"
    prices = {m: catalog.serverless_usd_per_second(m) for m in memory_sizes_mb}
    return SweepPlan(model_name, tuple(memory_sizes_mb), concurrency, shape, max_duration_s, region, prefix,
                     busy_seconds(shape, max_duration_s, concurrency), prices, catalog.provenance())


@dataclass(frozen=True)
class SweepResult:
    """The runs of a completed sweep (one per memory size) and the resources it deleted."""

    plan: SweepPlan
    runs: tuple[SageMakerCollectResult, ...]
    deleted: tuple[SweepResource, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.to_dict(), "runs": [r.to_dict() for r in self.runs],
                "deleted": [r.to_dict() for r in self.deleted]}


Collect = Callable[..., SageMakerCollectResult]


def run_sweep(plan: SweepPlan, store: RunStore, *, out_dir: Path, client: Any = None,
              collect: Collect = collect_sagemaker, in_service_timeout_s: float = 1800.0, poll_s: float = 15.0,
              **collect_options: Any) -> SweepResult:
    """Create, collect and delete each memory size's endpoint in turn (see the module docstring).

    ``collect`` is called as ``collect(store, target, shape, out_dir=..., max_duration_s=...,
    labels=..., **collect_options)``. Raises PlannerError naming whatever could not be deleted.
    """
    client = client or aws_client("sagemaker", plan.region)
    _check_model(client, plan)
    created: list[SweepResource] = []
    runs = []
    labels = {**dict(collect_options.pop("labels", None) or {}), "sweep": plan.name_prefix}
    try:
        for memory_mb in plan.memory_sizes_mb:
            name = plan.endpoint_name(memory_mb)
            _create(client, plan, SweepResource("endpoint-config", name, memory_mb), created)
            _create(client, plan, SweepResource("endpoint", name, memory_mb), created)
            _wait_in_service(client, name, in_service_timeout_s, poll_s)
            runs.append(collect(store, SageMakerTarget(name, plan.region), plan.shape,
                                out_dir=Path(out_dir) / f"{memory_mb}mb", max_duration_s=plan.max_duration_s,
                                labels=labels, **collect_options))
    finally:
        deleted, left = delete_resources(client, created, in_progress_timeout_s=in_service_timeout_s, poll_s=poll_s)
        if left:
            raise PlannerError("could not delete " + "; ".join(f"{r.kind} {r.name} ({why})" for r, why in left)
                               + f" in {plan.region}: delete them by hand")
    return SweepResult(plan, tuple(runs), tuple(deleted))


def _check_model(client: Any, plan: SweepPlan) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.describe_model(ModelName=plan.model_name)
    except (BotoCoreError, ClientError) as exc:
        raise PlannerError(f"--model-name {plan.model_name}: cannot describe the model in {plan.region} "
                           f"({aws_reason(exc)}); nothing was created") from None


def _create(client: Any, plan: SweepPlan, resource: SweepResource, created: list[SweepResource]) -> None:
    """Record ``resource``, then request it (so a request that fails midway is still cleaned up)."""
    from botocore.exceptions import BotoCoreError, ClientError

    created.append(resource)
    try:
        if resource.kind == "endpoint-config":
            serverless = {"MemorySizeInMB": resource.memory_mb, "MaxConcurrency": plan.max_concurrency}
            client.create_endpoint_config(
                EndpointConfigName=resource.name, Tags=[TAG],
                ProductionVariants=[{"VariantName": VARIANT, "ModelName": plan.model_name,
                                     "ServerlessConfig": serverless}])
        else:
            client.create_endpoint(EndpointName=resource.name, EndpointConfigName=resource.name, Tags=[TAG])
    except (BotoCoreError, ClientError) as exc:
        raise PlannerError(f"cannot create {resource.kind} {resource.name} ({aws_reason(exc)})") from None


def _status(client: Any, name: str) -> tuple[str, str]:
    """-> (EndpointStatus, FailureReason or '')."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        described = client.describe_endpoint(EndpointName=name)
    except (BotoCoreError, ClientError) as exc:
        raise PlannerError(f"cannot describe endpoint {name} ({aws_reason(exc)})") from None
    return str(described.get("EndpointStatus")), str(described.get("FailureReason") or "")


def _pauses_s(poll_s: float) -> Iterator[float]:
    """Pauses between status polls: 1 s, doubling up to ``poll_s`` (so a stop signal's cleanup notices an
    endpoint that has just settled within seconds, and a long creation costs few calls)."""
    pause_s = min(FIRST_POLL_S, poll_s)
    while True:
        yield pause_s
        pause_s = min(2 * pause_s, poll_s)


def _wait_in_service(client: Any, name: str, timeout_s: float, poll_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for pause_s in _pauses_s(poll_s):
        status, reason = _status(client, name)
        if status == "InService":
            return
        if status in ("Failed", "OutOfService", "Deleting"):
            raise PlannerError(f"endpoint {name} is {status}: {reason or 'no reason given'}")
        if time.monotonic() > deadline:
            raise PlannerError(f"endpoint {name} still {status} after {timeout_s:g} s")
        time.sleep(pause_s)


def delete_resources(client: Any, resources: list[SweepResource], *, in_progress_timeout_s: float = 1800.0,
                     poll_s: float = 15.0) -> tuple[list[SweepResource], list[tuple[SweepResource, str]]]:
    """Delete endpoints, then endpoint configs (each tried twice, Ctrl-C included);
    -> (deleted, [(left, why)]). A resource AWS cannot find counts as deleted."""
    ordered = [r for r in resources if r.kind == "endpoint"] + [r for r in resources if r.kind != "endpoint"]
    deleted, left = [], []
    for resource in ordered:
        why = ""
        for _attempt in range(2):
            try:
                _delete(client, resource, in_progress_timeout_s, poll_s)
            except (Exception, KeyboardInterrupt) as exc:  # cleanup goes on whatever happens
                why = aws_reason(exc) if isinstance(exc, Exception) else "interrupted"
                continue
            deleted.append(resource)
            break
        else:
            left.append((resource, why))
    return deleted, left


def _delete(client: Any, resource: SweepResource, in_progress_timeout_s: float, poll_s: float) -> None:
    from botocore.exceptions import ClientError

    if resource.kind == "endpoint-config":
        call, kwargs = client.delete_endpoint_config, {"EndpointConfigName": resource.name}
    else:
        call, kwargs = client.delete_endpoint, {"EndpointName": resource.name}
    try:
        call(**kwargs)
    except ClientError as exc:
        if "could not find" in aws_reason(exc).lower():
            return
        if resource.kind != "endpoint":
            raise
        _wait_settled(client, resource.name, in_progress_timeout_s, poll_s)  # e.g. still Creating
        call(**kwargs)


def _wait_settled(client: Any, name: str, timeout_s: float, poll_s: float) -> None:
    """Wait until the endpoint is no longer Creating/Updating/SystemUpdating (so it can be deleted)."""
    deadline = time.monotonic() + timeout_s
    for pause_s in _pauses_s(poll_s):
        if _status(client, name)[0] not in ("Creating", "Updating", "SystemUpdating") or time.monotonic() > deadline:
            return
        time.sleep(pause_s)
