"""Cost arithmetic over a :class:`~planner.catalog.PriceCatalog`: monthly, per 1M requests, break-even.

Conventions: a month is :data:`~planner.catalog.HOURS_PER_MONTH` (730) hours unless ``hours`` says
otherwise; serverless duration is billed per ``billing_granularity_ms`` (AWS: 1 ms); data processed
is priced per GB of ``bytes_per_gb`` bytes. AWS bills data "per GB"; the default
:data:`GIB_BYTES` (1024**3) is what the sagemaker-serverless-inference-benchmarking toolkit uses, so
its tables reproduce exactly; pass :data:`GB_BYTES` (1e9) for decimal gigabytes (the difference is 7 %
of the data term, usually a tiny share of the total).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from numbers import Real

from planner.catalog import HOURS_PER_MONTH, PriceCatalog
from planner.errors import PriceError

GIB_BYTES = 1024**3
GB_BYTES = 10**9
SECONDS_PER_HOUR = 3600


def usd_per_month(usd_per_hour: float, instance_count: float = 1, hours: float = HOURS_PER_MONTH) -> float:
    """Cost of ``instance_count`` instances at ``usd_per_hour`` each, running ``hours`` a month."""
    return _nonnegative(usd_per_hour, "usd_per_hour") * _nonnegative(instance_count, "instance_count") \
        * _nonnegative(hours, "hours")


def usd_per_million_requests(usd_per_hour_total: float, throughput_rps: float) -> float:
    """USD per 1M requests when ``usd_per_hour_total`` buys ``throughput_rps`` served requests per second.

    Infinite when nothing is served (``throughput_rps`` = 0).
    """
    usd = _nonnegative(usd_per_hour_total, "usd_per_hour_total")
    requests_per_hour = _nonnegative(throughput_rps, "throughput_rps") * SECONDS_PER_HOUR
    return usd / requests_per_hour * 1e6 if requests_per_hour > 0 else math.inf


def billed_duration_ms(duration_ms: float, billing_granularity_ms: float | None = 1) -> float:
    """``duration_ms`` rounded up to the billing granularity (``None`` or 0: not rounded)."""
    duration_ms = _nonnegative(duration_ms, "duration_ms")
    if not billing_granularity_ms:
        return duration_ms
    steps = math.ceil(round(duration_ms / billing_granularity_ms, 9))
    return steps * billing_granularity_ms


def data_processing_usd(bytes_in: float, bytes_out: float, catalog: PriceCatalog,
                        bytes_per_gb: float = GIB_BYTES) -> float:
    """Price of processing ``bytes_in + bytes_out`` bytes through an endpoint."""
    total = _nonnegative(bytes_in, "bytes_in") + _nonnegative(bytes_out, "bytes_out")
    return total / bytes_per_gb * catalog.data_processing_usd_per_gb


def serverless_usd_per_invocation(memory_mb: int, duration_ms: float, bytes_in: float, bytes_out: float,
                                  catalog: PriceCatalog, billing_granularity_ms: float | None = 1,
                                  bytes_per_gb: float = GIB_BYTES) -> float:
    """On-demand serverless cost of one invocation: price/s(memory) × billed duration + data processed.

    ``billing_granularity_ms=None`` bills the duration as given (how the serverless toolkit prices a
    mean duration).
    """
    seconds = billed_duration_ms(duration_ms, billing_granularity_ms) / 1000
    return catalog.serverless_usd_per_second(memory_mb) * seconds \
        + data_processing_usd(bytes_in, bytes_out, catalog, bytes_per_gb)


@dataclass(frozen=True)
class ServerlessMonthlyCost:
    """A serverless endpoint's monthly bill, by component (USD per month)."""

    memory_mb: int
    invocations_per_month: float
    billed_duration_ms: float
    provisioned_concurrency: int
    provisioned_served_fraction: float
    on_demand_compute_usd_per_month: float
    provisioned_standby_usd_per_month: float
    provisioned_inference_usd_per_month: float
    data_processing_usd_per_month: float
    usd_per_month: float
    usd_per_million_invocations: float
    prices: str

    def to_dict(self) -> dict:
        return asdict(self)


def serverless_usd_per_month(memory_mb: int, duration_ms: float, bytes_in: float, bytes_out: float,
                             catalog: PriceCatalog, invocations_per_month: float, *,
                             provisioned_concurrency: int = 0, provisioned_hours: float = HOURS_PER_MONTH,
                             provisioned_served_fraction: float = 0.0, billing_granularity_ms: float | None = 1,
                             bytes_per_gb: float = GIB_BYTES) -> ServerlessMonthlyCost:
    """Monthly cost of a serverless endpoint serving ``invocations_per_month``.

    With ``provisioned_concurrency`` slots enabled for ``provisioned_hours`` a month, every slot
    pays the standby price, the ``provisioned_served_fraction`` of invocations they serve pay the
    provisioned inference price, and the rest spill over to on-demand prices.
    """
    invocations = _nonnegative(invocations_per_month, "invocations_per_month")
    served = _fraction(provisioned_served_fraction, "provisioned_served_fraction")
    if served and not provisioned_concurrency:
        raise PriceError("provisioned_served_fraction > 0 needs provisioned_concurrency > 0")
    seconds = billed_duration_ms(duration_ms, billing_granularity_ms) / 1000
    on_demand = catalog.serverless_usd_per_second(memory_mb) * seconds * invocations * (1 - served)
    standby = inference = 0.0
    if provisioned_concurrency:
        standby = catalog.provisioned_standby_usd_per_second(memory_mb) \
            * _nonnegative(provisioned_concurrency, "provisioned_concurrency") \
            * _nonnegative(provisioned_hours, "provisioned_hours") * SECONDS_PER_HOUR
        inference = catalog.provisioned_inference_usd_per_second(memory_mb) * seconds * invocations * served
    data = data_processing_usd(bytes_in, bytes_out, catalog, bytes_per_gb) * invocations
    total = on_demand + standby + inference + data
    return ServerlessMonthlyCost(
        memory_mb=int(memory_mb), invocations_per_month=invocations, billed_duration_ms=seconds * 1000,
        provisioned_concurrency=int(provisioned_concurrency), provisioned_served_fraction=served,
        on_demand_compute_usd_per_month=on_demand, provisioned_standby_usd_per_month=standby, provisioned_inference_usd_per_month=inference,
        data_processing_usd_per_month=data, usd_per_month=total,
        usd_per_million_invocations=total / invocations * 1e6 if invocations else math.inf,
        prices=catalog.provenance())


def break_even_monthly_invocations(instance_usd_per_month: float, serverless_usd_per_invocation: float) -> float:
    """Monthly invocations above which the instance is cheaper than serverless (infinite if serverless is free)."""
    instance = _nonnegative(instance_usd_per_month, "instance_usd_per_month")
    per_invocation = _nonnegative(serverless_usd_per_invocation, "serverless_usd_per_invocation")
    return instance / per_invocation if per_invocation > 0 else math.inf


def recommender_cost_per_inference(usd_per_hour: float, max_invocations_per_min: float) -> float:
    """SageMaker Inference Recommender's CostPerInference: CostPerHour / (60 × MaxInvocations per minute)."""
    invocations_per_hour = 60 * _nonnegative(max_invocations_per_min, "max_invocations_per_min")
    usd = _nonnegative(usd_per_hour, "usd_per_hour")
    return usd / invocations_per_hour if invocations_per_hour > 0 else math.inf


@dataclass(frozen=True)
class RealtimeCost:
    """The cost of ``instance_count`` real-time instances serving ``throughput_rps`` in total."""

    instance_type: str
    instance_count: int
    usd_per_hour_per_instance: float
    usd_per_hour: float
    usd_per_month: float
    hours_per_month: float
    throughput_rps: float
    usd_per_million_requests: float
    prices: str

    def to_dict(self) -> dict:
        return asdict(self)


def realtime_cost(catalog: PriceCatalog, instance_type: str, instance_count: int, throughput_rps: float,
                  hours: float = HOURS_PER_MONTH) -> RealtimeCost:
    """$/hour, $/month and $ per 1M requests of a real-time endpoint, priced from ``catalog``."""
    each = catalog.price(instance_type)
    per_hour = each * _nonnegative(instance_count, "instance_count")
    return RealtimeCost(
        instance_type=instance_type, instance_count=int(instance_count), usd_per_hour_per_instance=each,
        usd_per_hour=per_hour, usd_per_month=usd_per_month(each, instance_count, hours), hours_per_month=hours,
        throughput_rps=throughput_rps, usd_per_million_requests=usd_per_million_requests(per_hour, throughput_rps),
        prices=catalog.provenance())


def _nonnegative(value: float, name: str) -> float:
    if not (isinstance(value, Real) and math.isfinite(value) and value >= 0):
        raise PriceError(f"{name}: expected a finite number >= 0, found {value!r}")
    return value


def _fraction(value: float, name: str) -> float:
    if not (isinstance(value, Real) and 0 <= value <= 1):
        raise PriceError(f"{name}: expected a fraction in [0, 1], found {value!r}")
    return float(value)
