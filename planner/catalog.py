"""Instance specs and prices: the bundled dated snapshot, user overrides, and a Pricing API refresh.

The snapshot for each region is package data (``planner/data/prices/<region>.json``) so it ships in
the wheel; ``data/prices/README.md`` in the repository says where its numbers come from and how to
refresh them. Every price carries the ids of its sources, and every change made on top of the
snapshot (a price file, explicit overrides, a discount) is recorded in :attr:`PriceCatalog.overrides`
so a printed cost can always say which prices it used (:meth:`PriceCatalog.price_provenance`).
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from numbers import Real
from pathlib import Path
from types import UnionType
from typing import Any

from planner.errors import InputError, PriceError
from planner.ingest.base import csv_errors

HOURS_PER_MONTH = 730
"""Hours in the average month (8760 / 12), as AWS and infracost use for monthly figures."""

SERVERLESS_MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)

_SNAPSHOTS = ("data", "prices")
_SPEC_REGION = "us-east-1"  # instance specs are region-independent: the bundled ones fill refresh gaps
_DISCOUNT_SCOPE = "hosting, serverless and provisioned-concurrency prices; data processing unchanged"


@dataclass(frozen=True)
class InstanceSpec:
    """One SageMaker hosting instance type: its hardware and its on-demand hourly price.

    ``accelerator_memory_gib`` is the memory of ONE accelerator (a model must fit on one GPU);
    see :attr:`total_accelerator_memory_gib`. Specs are ``None`` when unknown (an instance added
    by a price override).
    """

    instance_type: str
    vcpu: int | None
    memory_gib: float | None
    accelerator_count: int
    accelerator_type: str | None
    accelerator_memory_gib: float
    usd_per_hour: float
    price_sources: tuple[str, ...] = ()
    spec_source: str | None = None

    @property
    def total_accelerator_memory_gib(self) -> float:
        """Accelerator memory summed over all accelerators, GiB."""
        return self.accelerator_count * self.accelerator_memory_gib

    def to_dict(self) -> dict[str, Any]:
        return {"instance_type": self.instance_type, "vcpu": self.vcpu, "memory_gib": self.memory_gib,
                "accelerator_count": self.accelerator_count, "accelerator_type": self.accelerator_type,
                "accelerator_memory_gib": self.accelerator_memory_gib, "usd_per_hour": self.usd_per_hour,
                "price_sources": list(self.price_sources), "spec_source": self.spec_source}


@dataclass(frozen=True)
class PriceProvenance:
    """Which prices a result used: the catalog's region, source and date, and every change made on top
    of it (price files, overrides, a discount), in order. Every recommendation carries one."""

    region: str
    source: str
    date: str
    currency: str = "USD"
    overrides: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """One line naming the prices, for every printed or exported cost."""
        text = f"{self.currency} prices for {self.region} as of {self.date} ({self.source.split(':')[0]})"
        return text + (f"; {len(self.overrides)} change(s): " + "; ".join(self.overrides) if self.overrides else "")

    def to_dict(self) -> dict[str, Any]:
        """The ``price_catalog`` JSON of every recommendation: source, date, region, overrides, and
        ``provenance`` (:attr:`text`)."""
        return {"source": self.source, "date": self.date, "region": self.region, "overrides": list(self.overrides),
                "provenance": self.text}


@dataclass(frozen=True)
class PriceCatalog:
    """Prices (USD) and instance specs for one region, with where they came from.

    Serverless prices are USD per second of billed duration for each memory size (MB);
    provisioned concurrency has a standby price (per second per provisioned slot, billed while
    enabled) and an inference price (per second of duration served by a provisioned slot).
    ``source`` reads ``"<short name>: <details>"``; ``date`` is the ISO date the prices were
    published or, when unknown, recorded. Treat the mappings as read-only.
    """

    region: str
    source: str
    date: str
    instances: Mapping[str, InstanceSpec]
    serverless_usd_per_second_by_memory_mb: Mapping[int, float]
    provisioned_standby_usd_per_second_by_memory_mb: Mapping[int, float]
    provisioned_inference_usd_per_second_by_memory_mb: Mapping[int, float]
    data_processing_usd_per_gb: float
    currency: str = "USD"
    overrides: tuple[str, ...] = ()
    sources: tuple[Mapping[str, Any], ...] = ()
    component_sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def spec(self, instance_type: str) -> InstanceSpec:
        """The spec of ``instance_type``; :class:`PriceError` with close matches when unknown."""
        try:
            return self.instances[instance_type]
        except KeyError:
            raise PriceError(_unknown_instance_message(instance_type, self)) from None

    def price(self, instance_type: str) -> float:
        """On-demand hosting price of one ``instance_type`` instance, USD per hour."""
        return self.spec(instance_type).usd_per_hour

    def serverless_usd_per_second(self, memory_mb: int) -> float:
        """On-demand serverless price for ``memory_mb``, USD per second of billed duration."""
        return _by_memory(self.serverless_usd_per_second_by_memory_mb, memory_mb, "serverless", self.region)

    def provisioned_standby_usd_per_second(self, memory_mb: int) -> float:
        """Provisioned-concurrency price per provisioned slot while enabled, USD per second."""
        return _by_memory(self.provisioned_standby_usd_per_second_by_memory_mb, memory_mb,
                          "provisioned-concurrency standby", self.region)

    def provisioned_inference_usd_per_second(self, memory_mb: int) -> float:
        """Price of duration served by a provisioned slot, USD per second."""
        return _by_memory(self.provisioned_inference_usd_per_second_by_memory_mb, memory_mb,
                          "provisioned-concurrency inference", self.region)

    def price_provenance(self) -> PriceProvenance:
        """Where these prices come from, as every recommendation records it."""
        return PriceProvenance(region=self.region, source=self.source, date=self.date, currency=self.currency,
                               overrides=self.overrides)

    def provenance(self) -> str:
        """One line naming the prices used, for every printed or exported cost (:attr:`PriceProvenance.text`)."""
        return self.price_provenance().text

    def price_origin(self, instance_type: str | None = None) -> tuple[str, str]:
        """(source, date) of one hosting price (or, without ``instance_type``, of the snapshot's other
        prices): the snapshot's source and date, or the origin of a price the user gave (a price file,
        overrides; no date); a discount is named after the source."""
        ids = {s.get("id") for s in self.sources}
        given = [p for p in self.spec(instance_type).price_sources if p not in ids] if instance_type else []
        source, date = ("; ".join(given), "") if given else (self.source, self.date)
        discounts = [o for o in self.overrides if o.startswith("discount ")]
        return "; ".join([source, *discounts]), date

    def with_prices(self, usd_per_hour_by_instance: Mapping[str, float], origin: str) -> PriceCatalog:
        """A copy whose hosting prices are replaced (or added, specs unknown) and recorded as from ``origin``."""
        instances = dict(self.instances)
        notes = []
        for instance_type, usd_per_hour in sorted(usd_per_hour_by_instance.items()):
            usd_per_hour = _positive_price(usd_per_hour, f"{origin}: {instance_type}")
            old = instances.get(instance_type)
            if old is None:
                instances[instance_type] = InstanceSpec(instance_type, None, None, 0, None, 0.0, usd_per_hour,
                                                        (origin,))
                notes.append(f"{instance_type} added at {usd_per_hour:g} USD/h from {origin} (specs unknown)")
            else:
                instances[instance_type] = replace(old, usd_per_hour=usd_per_hour, price_sources=(origin,))
                notes.append(f"{instance_type} {old.usd_per_hour:g} -> {usd_per_hour:g} USD/h from {origin}")
        return replace(self, instances=instances, overrides=self.overrides + tuple(notes))

    def discounted(self, fraction: float) -> PriceCatalog:
        """A copy with every compute price lowered by ``fraction`` (0.2 = a 20 % Savings Plan)."""
        if not (isinstance(fraction, Real) and 0 <= fraction < 1):
            raise PriceError(f"expected a discount fraction in [0, 1) such as 0.2, found {fraction!r}")
        keep = 1.0 - fraction
        return replace(
            self,
            instances={k: replace(s, usd_per_hour=s.usd_per_hour * keep) for k, s in self.instances.items()},
            serverless_usd_per_second_by_memory_mb=_scaled(self.serverless_usd_per_second_by_memory_mb, keep),
            provisioned_standby_usd_per_second_by_memory_mb=_scaled(
                self.provisioned_standby_usd_per_second_by_memory_mb, keep),
            provisioned_inference_usd_per_second_by_memory_mb=_scaled(
                self.provisioned_inference_usd_per_second_by_memory_mb, keep),
            overrides=self.overrides + (f"discount {fraction:.4g} ({fraction:.2%}) on {_DISCOUNT_SCOPE}",),
        )

    def to_dict(self) -> dict[str, Any]:
        """The snapshot JSON shape (what :func:`write_snapshot` writes and :func:`load_catalog` reads)."""
        return {
            "region": self.region, "currency": self.currency, "date": self.date, "source": self.source,
            "sources": [dict(s) for s in self.sources],
            "instances": {k: self.instances[k].to_dict() for k in sorted(self.instances)},
            "serverless_usd_per_second_by_memory_mb": _str_keys(self.serverless_usd_per_second_by_memory_mb),
            "provisioned_standby_usd_per_second_by_memory_mb":
                _str_keys(self.provisioned_standby_usd_per_second_by_memory_mb),
            "provisioned_inference_usd_per_second_by_memory_mb":
                _str_keys(self.provisioned_inference_usd_per_second_by_memory_mb),
            "data_processing_usd_per_gb": self.data_processing_usd_per_gb,
            "component_sources": {k: list(v) for k, v in self.component_sources.items()},
            "overrides": list(self.overrides),
        }


# ---------------------------------------------------------------- loading


def available_regions() -> list[str]:
    """Regions with a bundled snapshot."""
    return sorted(p.name.removesuffix(".json") for p in _snapshot_dir().iterdir() if p.name.endswith(".json"))


def load_catalog(region: str = "us-east-1", price_file: Path | str | None = None, discount: float = 0.0,
                 overrides: Mapping[str, float] | None = None) -> PriceCatalog:
    """The price catalog for ``region``.

    ``price_file`` is either a whole snapshot (JSON written by :func:`write_snapshot`, e.g. from
    ``planner prices refresh``; it replaces the bundled one and must be for ``region``) or hosting
    prices to apply on top of the bundled snapshot: JSON ``{"ml.m5.large": 0.1, ...}`` or CSV with
    columns ``instance_type,usd_per_hour``. ``overrides`` (instance type -> USD/hour) apply next,
    then ``discount`` (a fraction off every compute price, e.g. 0.2 for a Savings Plan). Each
    step is recorded in the catalog's ``overrides``.
    """
    catalog = _bundled(region) if price_file is None else _from_price_file(region, Path(price_file))
    if overrides:
        catalog = catalog.with_prices(overrides, "overrides")
    if discount:
        catalog = catalog.discounted(discount)
    return catalog


def write_snapshot(catalog: PriceCatalog, path: Path | str) -> Path:
    """Write ``catalog`` as a snapshot JSON that :func:`load_catalog` accepts as ``price_file``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(catalog.to_dict(), indent=1) + "\n", encoding="utf-8")
    return path


def _snapshot_dir():
    return resources.files("planner").joinpath(*_SNAPSHOTS)


def _bundled(region: str) -> PriceCatalog:
    entry = _snapshot_dir().joinpath(f"{region}.json")
    if not entry.is_file():
        raise PriceError(f"no bundled price snapshot for region {region!r}; available: "
                         f"{', '.join(available_regions())} (or pass a snapshot from `planner prices refresh`)")
    where = "planner/" + "/".join(_SNAPSHOTS) + f"/{region}.json"
    return _catalog_from_dict(json.loads(entry.read_text(encoding="utf-8")), where)


def _from_price_file(region: str, path: Path) -> PriceCatalog:
    data = _read_price_file(path)
    if not isinstance(data, PriceCatalog):
        return _bundled(region).with_prices(data, f"price file {path}")
    if data.region != region:
        raise PriceError(f"{path}: the snapshot is for region {data.region!r}, not {region!r}")
    return data


def _read_price_file(path: Path) -> PriceCatalog | dict[str, float]:
    if not path.is_file():
        raise InputError(path, "file", "an existing price file", "no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_price_csv(path)
    if suffix != ".json":
        raise InputError(path, "file name", "a .json or .csv price file", repr(path.suffix or path.name))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, "content", "JSON", f"invalid JSON ({exc})") from None
    if isinstance(data, dict) and "instances" in data:
        return _catalog_from_dict(data, path)
    if not isinstance(data, dict) or not data:
        raise InputError(path, "top level", 'an object {"ml.m5.large": 0.115, ...} or a snapshot',
                         type(data).__name__)
    return {k: _file_price(path, f"key {k!r}", v) for k, v in data.items()}


def _read_price_csv(path: Path) -> dict[str, float]:
    with path.open(newline="", encoding="utf-8-sig") as f, csv_errors(path, reader := csv.DictReader(f)):
        header = [h.strip() for h in reader.fieldnames or []]
        if not {"instance_type", "usd_per_hour"} <= set(header):
            raise InputError(path, "header", "columns instance_type,usd_per_hour", ",".join(header) or "nothing")
        reader.fieldnames = header
        prices = {}
        for line, row in enumerate(reader, start=2):
            name = (row["instance_type"] or "").strip()
            if not name:
                raise InputError(path, f"row {line}, instance_type", "an instance type", "an empty cell")
            prices[name] = _file_price(path, f"row {line}, usd_per_hour", row["usd_per_hour"])
    if not prices:
        raise InputError(path, "rows", "at least one price", "none")
    return prices


def _file_price(path: Path, where: str, value: Any) -> float:
    try:
        return _positive_price(value, where)
    except PriceError:
        raise InputError(path, where, "a positive price in USD per hour", repr(value)) from None


# ---------------------------------------------------------------- snapshot parsing


def _catalog_from_dict(data: Mapping[str, Any], where: object) -> PriceCatalog:
    def need(key: str, kind: type | UnionType) -> Any:
        if not isinstance(data.get(key), kind):
            raise InputError(where, key, _KIND_NAMES.get(kind, str(kind)), repr(data.get(key))[:60])
        return data[key]

    currency = need("currency", str)
    if currency != "USD":
        raise InputError(where, "currency", "USD", repr(currency))
    instances = {name: _spec_from_dict(name, spec, where) for name, spec in need("instances", dict).items()}
    return PriceCatalog(
        region=need("region", str), source=need("source", str), date=need("date", str), currency=currency,
        instances=instances,
        serverless_usd_per_second_by_memory_mb=_memory_prices(data, "serverless_usd_per_second_by_memory_mb", where),
        provisioned_standby_usd_per_second_by_memory_mb=_memory_prices(
            data, "provisioned_standby_usd_per_second_by_memory_mb", where),
        provisioned_inference_usd_per_second_by_memory_mb=_memory_prices(
            data, "provisioned_inference_usd_per_second_by_memory_mb", where),
        data_processing_usd_per_gb=float(need("data_processing_usd_per_gb", int | float)),
        overrides=tuple(data.get("overrides") or ()),
        sources=tuple(data.get("sources") or ()),
        component_sources={k: tuple(v) for k, v in (data.get("component_sources") or {}).items()},
    )


_KIND_NAMES: dict[type | UnionType, str] = {str: "a string", dict: "an object", int | float: "a number"}


def _spec_from_dict(name: str, spec: Any, where: object) -> InstanceSpec:
    if not isinstance(spec, dict) or not isinstance(spec.get("usd_per_hour"), int | float):
        raise InputError(where, f"instances.{name}", "an object with a numeric usd_per_hour", repr(spec)[:60])
    try:
        return InstanceSpec(
            instance_type=name, vcpu=spec.get("vcpu"), memory_gib=spec.get("memory_gib"),
            accelerator_count=int(spec.get("accelerator_count") or 0),
            accelerator_type=spec.get("accelerator_type"),
            accelerator_memory_gib=float(spec.get("accelerator_memory_gib") or 0.0),
            usd_per_hour=_positive_price(spec["usd_per_hour"], name),
            price_sources=tuple(spec.get("price_sources") or ()), spec_source=spec.get("spec_source"))
    except (PriceError, TypeError, ValueError):
        raise InputError(where, f"instances.{name}", "a valid instance spec", repr(spec)[:60]) from None


def _memory_prices(data: Mapping[str, Any], key: str, where: object) -> dict[int, float]:
    raw = data.get(key) or {}
    try:
        return {int(mb): _positive_price(usd, key) for mb, usd in raw.items()}
    except (AttributeError, PriceError, ValueError):
        raise InputError(where, key, "an object memory_mb -> positive USD per second", repr(raw)[:60]) from None


# ---------------------------------------------------------------- refresh from the AWS Price List API

_SERVICE = "AmazonSageMaker"
_HOSTING_USAGE = re.compile(r"(?:^|-)Host:(ml\.[a-z0-9-]+\.[a-z0-9-]+)$")
_SERVERLESS_USAGE = {
    "serverless": re.compile(r"(?:^|-)ServerlessInf:Mem-(\d+)GB$"),
    "standby": re.compile(r"(?:^|-)ProvisionedConcurrency:Usage-(\d+)GB$"),
    "inference": re.compile(r"(?:^|-)ProvisionedConcurrency:Mem-(\d+)GB$"),
}


def pricing_filters(region: str, product_family: str, **attributes: str) -> list[dict[str, str]]:
    """The TERM_MATCH filters :func:`refresh_catalog` sends to ``pricing.get_products``."""
    pairs = {"regionCode": region, "productFamily": product_family, **attributes}
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in pairs.items()]


def refresh_catalog(region: str, pricing_client: Any = None) -> PriceCatalog:
    """Rebuild the catalog for ``region`` from the AWS Price List API (needs ``pricing:GetProducts``).

    Hosting prices come from ``ML Instance`` products of component ``Hosting`` whose usage type is
    ``<REGION>-Host:<instance>`` (training, notebook, processing... are skipped even if returned);
    serverless and provisioned-concurrency prices from ``ML Serverless`` usage types
    ``ServerlessInf:Mem-<n>GB``, ``ProvisionedConcurrency:Usage-<n>GB`` (standby) and
    ``ProvisionedConcurrency:Mem-<n>GB`` (inference). Specs come from the bundled snapshot where
    known, else from the product attributes. The data-processing price is not in these answers:
    it is kept from the bundled us-east-1 snapshot and its source says so.
    """
    if pricing_client is None:
        import boto3

        pricing_client = boto3.client("pricing", region_name="us-east-1")
    hosting = list(_products(pricing_client, pricing_filters(region, "ML Instance", component="Hosting")))
    serverless = list(_products(pricing_client, pricing_filters(region, "ML Serverless")))
    base = _bundled(_SPEC_REGION)
    instances = _hosting_instances(hosting, region, base)
    if not instances:
        raise PriceError(f"the AWS Price List API returned no SageMaker hosting prices for region {region!r}")
    by_kind = _serverless_prices(serverless, region)
    published = sorted(p["publicationDate"][:10] for p in hosting + serverless if p.get("publicationDate"))
    today = dt.date.today().isoformat()
    api = {"id": "aws-price-list-api", "description": f"AWS Price List API, {_SERVICE} on-demand terms, {region}",
           "reference": "pricing.get_products", "as_of": published[-1] if published else today}
    return PriceCatalog(
        region=region, date=api["as_of"],
        source=f"AWS Price List API ({_SERVICE}, {region}): fetched {today}",
        instances=instances,
        serverless_usd_per_second_by_memory_mb=by_kind["serverless"],
        provisioned_standby_usd_per_second_by_memory_mb=by_kind["standby"],
        provisioned_inference_usd_per_second_by_memory_mb=by_kind["inference"],
        data_processing_usd_per_gb=base.data_processing_usd_per_gb,
        sources=(api, *[s for s in base.sources if s.get("id") in base.component_sources.get("data_processing", ())]),
        component_sources={"serverless": ("aws-price-list-api",), "provisioned_concurrency": ("aws-price-list-api",),
                           "data_processing": base.component_sources.get("data_processing", ())},
    )


def _products(client: Any, filters: list[dict[str, str]]) -> Iterator[dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    kwargs: dict[str, Any] = {"ServiceCode": _SERVICE, "Filters": filters, "FormatVersion": "aws_v1",
                              "MaxResults": 100}
    while True:
        try:
            page = client.get_products(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise PriceError(f"AWS Price List API call failed: {exc}") from None
        for text in page.get("PriceList", []):
            yield json.loads(text) if isinstance(text, str) else text
        if not page.get("NextToken"):
            return
        kwargs["NextToken"] = page["NextToken"]


def _hosting_instances(products: list[dict[str, Any]], region: str, base: PriceCatalog) -> dict[str, InstanceSpec]:
    found: dict[str, tuple[float, str]] = {}
    specs: dict[str, InstanceSpec] = {}
    for product in products:
        attrs = _attributes(product, "ML Instance", region)
        match = _HOSTING_USAGE.search(attrs.get("usagetype", "")) if attrs.get("component") == "Hosting" else None
        if not match:
            continue
        instance_type = attrs.get("instanceName") or match.group(1)
        usd, unit, sku = _on_demand_price(product)
        if unit.lower() not in ("hrs", "hours", "hour"):
            raise PriceError(f"SKU {sku} ({instance_type} hosting): expected a price per hour, found unit {unit!r}")
        if instance_type in found and not math.isclose(found[instance_type][0], usd):
            raise PriceError(f"two hosting prices for {instance_type} in {region}: {found[instance_type][0]} USD/h "
                             f"(SKU {found[instance_type][1]}) and {usd} USD/h (SKU {sku})")
        found[instance_type] = (usd, sku)
        known = base.instances.get(instance_type)
        specs[instance_type] = (replace(known, usd_per_hour=usd, price_sources=("aws-price-list-api",)) if known
                                else _spec_from_attributes(instance_type, attrs, usd))
    return dict(sorted(specs.items()))


def _serverless_prices(products: list[dict[str, Any]], region: str) -> dict[str, dict[int, float]]:
    prices: dict[str, dict[int, float]] = {kind: {} for kind in _SERVERLESS_USAGE}
    for product in products:
        usage = _attributes(product, "ML Serverless", region).get("usagetype", "")
        for kind, pattern in _SERVERLESS_USAGE.items():
            match = pattern.search(usage)
            if match:
                usd, unit, sku = _on_demand_price(product)
                if not unit.lower().startswith("sec"):
                    raise PriceError(f"SKU {sku} ({usage}): expected a price per second, found unit {unit!r}")
                prices[kind][int(match.group(1)) * 1024] = usd
    return {kind: dict(sorted(v.items())) for kind, v in prices.items()}


def _attributes(product: Mapping[str, Any], family: str, region: str) -> dict[str, str]:
    body = product.get("product", {})
    attrs = body.get("attributes", {})
    ok = body.get("productFamily") == family and attrs.get("regionCode", region) == region
    return attrs if ok else {}


def _on_demand_price(product: Mapping[str, Any]) -> tuple[float, str, str]:
    """(USD per unit, unit, sku) of the product's first on-demand price dimension."""
    sku = product.get("product", {}).get("sku", "?")
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = dimension.get("pricePerUnit", {}).get("USD")
            if usd is not None:
                return float(usd), dimension.get("unit", ""), sku
    raise PriceError(f"SKU {sku}: no on-demand USD price in the Price List answer")


def _spec_from_attributes(instance_type: str, attrs: Mapping[str, str], usd: float) -> InstanceSpec:
    count = int(_number(attrs.get("gpu")) or 0)
    return InstanceSpec(
        instance_type=instance_type, vcpu=_int_or_none(_number(attrs.get("vCpu"))),
        memory_gib=_number(attrs.get("memory")), accelerator_count=count,
        accelerator_type=attrs.get("physicalGpu") if count else None,
        accelerator_memory_gib=(_number(attrs.get("gpuMemory")) or 0.0) if count else 0.0,
        usd_per_hour=usd, price_sources=("aws-price-list-api",), spec_source="aws-price-list-api")


def _number(text: str | None) -> float | None:
    match = re.match(r"\s*(\d+(?:\.\d+)?)", text or "")
    return float(match.group(1)) if match else None


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)


# ---------------------------------------------------------------- helpers


def _positive_price(value: Any, where: str) -> float:
    try:
        usd = float(value)
    except (TypeError, ValueError):
        raise PriceError(f"{where}: expected a price in USD, found {value!r}") from None
    if not (math.isfinite(usd) and usd > 0) or isinstance(value, bool):
        raise PriceError(f"{where}: expected a positive finite price in USD, found {value!r}")
    return usd


def _unknown_instance_message(instance_type: str, catalog: PriceCatalog) -> str:
    close = difflib.get_close_matches(instance_type, list(catalog.instances), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else f"{len(catalog.instances)} types are known"
    return f"no price for instance type {instance_type!r} in the {catalog.region} catalog ({hint})"


def _by_memory(prices: Mapping[int, float], memory_mb: int, what: str, region: str) -> float:
    try:
        return prices[int(memory_mb)]
    except (KeyError, ValueError, TypeError):
        sizes = ", ".join(str(m) for m in sorted(prices)) or "none"
        raise PriceError(f"no {what} price for {memory_mb!r} MB in the {region} catalog (memory sizes: {sizes})") \
            from None


def _scaled(prices: Mapping[int, float], factor: float) -> dict[int, float]:
    return {k: v * factor for k, v in prices.items()}


def _str_keys(prices: Mapping[int, float]) -> dict[str, float]:
    return {str(k): v for k, v in sorted(prices.items())}
