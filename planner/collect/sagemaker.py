"""``planner collect sagemaker://ENDPOINT``: load-test a SageMaker endpoint and pull its CloudWatch metrics.

The endpoint is labelled from DescribeEndpoint and DescribeEndpointConfig (instance type and
count, or serverless memory and MaxConcurrency); Locust's :class:`SageMakerUser` calls
``invoke_endpoint`` with SDK retries off, so throttles and 5xx count as failures. After the run,
the endpoint's metrics for the run window are pulled with get-metric-data (Period 60 s, whole
minutes around the run), saved as one JSON file per page, and ingested with the Locust CSVs as ONE
run (:func:`ingest_one_run`). A failed pull never loses the Locust run: it is ingested alone and
the failure comes back as a warning.

boto3 finds credentials, region (unless ``?region=`` says) and ``AWS_ENDPOINT_URL`` itself.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from planner.collect.load import MASTER_PORT, CollectResult, StairsShape, run_labels, run_locust
from planner.collection import IngestOutcome, ingest_together
from planner.errors import InputError, PlannerError
from planner.ingest import ParsedRun, parse_paths
from planner.store import RunStore

SCHEME = "sagemaker"
PERIOD_S = 60
PERCENTILES = ("p50", "p90", "p99")
SAGEMAKER_NAMESPACE = "AWS/SageMaker"
ENDPOINTS_NAMESPACE = "/aws/sagemaker/Endpoints"
INVOCATION_COUNTS = ("Invocations", "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors",
                     "InvocationModelErrors")
LATENCIES = ("ModelLatency", "OverheadLatency")
SERVERLESS_LATENCIES = ("ModelSetupTime",)
UTILIZATIONS = ("CPUUtilization", "MemoryUtilization", "GPUUtilization", "GPUMemoryUtilization")

_TARGET = "TARGET"
_TARGET_FORM = "sagemaker://ENDPOINT[?region=REGION&variant=VARIANT]"
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


@dataclass(frozen=True)
class SageMakerTarget:
    """An endpoint to load-test; ``region`` None = boto3's default, ``variant`` None = the only one."""

    endpoint: str
    region: str | None = None
    variant: str | None = None

    @property
    def text(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in (("region", self.region), ("variant", self.variant)) if v)
        return f"{SCHEME}://{self.endpoint}" + (f"?{query}" if query else "")


def parse_target(text: str) -> SageMakerTarget:
    """``sagemaker://NAME[?region=us-east-1&variant=AllTraffic]`` -> :class:`SageMakerTarget`."""
    parts = urlsplit(text.strip())
    if parts.scheme != SCHEME or not parts.netloc or parts.path not in ("", "/") or parts.fragment:
        raise InputError(_TARGET, "form", _TARGET_FORM, repr(text))
    if not _NAME.fullmatch(parts.netloc):
        raise InputError(_TARGET, "endpoint name", "1-63 letters, digits and hyphens, starting and ending "
                         "with a letter or digit", repr(parts.netloc))
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - {"region", "variant"})
    if unknown or len(query) != parts.query.count("=") or (parts.query and not query):
        raise InputError(_TARGET, "query", "region=REGION and/or variant=VARIANT, each once", repr(parts.query))
    region, variant = query.get("region"), query.get("variant")
    if region is not None and not _REGION.fullmatch(region):
        raise InputError(_TARGET, "region", "an AWS region such as us-east-1", repr(region))
    if variant is not None and not _NAME.fullmatch(variant):
        raise InputError(_TARGET, "variant", "a production variant name", repr(variant))
    return SageMakerTarget(parts.netloc, region, variant)


def aws_client(service: str, region: str | None, attempts: int = 3):
    """A boto3 client with bounded retries and timeouts (``region`` None: boto3's default)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": attempts, "mode": "standard"}, connect_timeout=10,
                    read_timeout=30)
    return boto3.client(service, region_name=region, config=config)


def aws_reason(exc: Exception) -> str:
    """One short line naming the AWS error (code and message, HTML stripped) or the client-side failure."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping) and "Error" in response:
        error = response["Error"]
        text = f"{error.get('Code', 'error')}: {error.get('Message', '')}"
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(re.sub(r"<!doctype[^>]*>|<title>.*?</title>|<[^>]+>", " ", text, flags=re.I | re.S).split())
    return text if len(text) <= 200 else text[:199] + "…"


# ---------------------------------------------------------------------------- labelling


@dataclass(frozen=True)
class EndpointDescription:
    """The endpoint variant under test, as DescribeEndpoint/DescribeEndpointConfig report it.
    Serverless variants have ``memory_mb`` and ``max_concurrency`` and no instance type."""

    endpoint: str
    variant: str
    status: str
    config_name: str
    region: str
    instance_type: str | None = None
    instance_count: int | None = None
    memory_mb: int | None = None
    max_concurrency: int | None = None
    provisioned_concurrency: int | None = None

    @property
    def serverless(self) -> bool:
        return self.memory_mb is not None

    def meta(self) -> dict[str, Any]:
        """Run fields (:data:`planner.collection.USER_FIELDS`) that are known."""
        fields = {"endpoint": self.endpoint, "variant": self.variant, "instance_type": self.instance_type,
                  "instance_count": self.instance_count, "memory_mb": self.memory_mb,
                  "max_concurrency": self.max_concurrency, "provisioned_concurrency": self.provisioned_concurrency}
        return {k: v for k, v in fields.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return {**self.meta(), "status": self.status, "config_name": self.config_name, "region": self.region,
                "serverless": self.serverless}


def describe_endpoint(target: SageMakerTarget, client: Any = None) -> EndpointDescription:
    """Describe ``target``'s endpoint and the variant under test; PlannerError when it cannot be
    described, is not InService, or has several variants and ``target.variant`` names none of them."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = client or aws_client("sagemaker", target.region)
        endpoint = client.describe_endpoint(EndpointName=target.endpoint)
        config = client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    except (BotoCoreError, ClientError) as exc:
        raise PlannerError(f"{target.text}: cannot describe the endpoint ({aws_reason(exc)})") from None
    if endpoint.get("EndpointStatus") != "InService":
        raise PlannerError(f"{target.text}: endpoint is {endpoint.get('EndpointStatus')}, not InService")
    live = _variant(target, endpoint.get("ProductionVariants") or [])
    configured: dict[str, Any] = next((v for v in config.get("ProductionVariants") or []
                       if v.get("VariantName") == live["VariantName"]), {})
    serverless = live.get("CurrentServerlessConfig") or configured.get("ServerlessConfig") or {}
    return EndpointDescription(
        target.endpoint, live["VariantName"], endpoint["EndpointStatus"], endpoint["EndpointConfigName"],
        client.meta.region_name, configured.get("InstanceType"),
        None if serverless else live.get("CurrentInstanceCount") or configured.get("InitialInstanceCount"),
        serverless.get("MemorySizeInMB"), serverless.get("MaxConcurrency"), serverless.get("ProvisionedConcurrency"))


def _variant(target: SageMakerTarget, variants: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    names = [v.get("VariantName") for v in variants]
    if target.variant is not None:
        if target.variant not in names:
            raise InputError(_TARGET, "variant", "one of " + ", ".join(map(str, names)), repr(target.variant))
        return variants[names.index(target.variant)]
    if len(variants) != 1:
        raise InputError(_TARGET, "variant", "?variant=NAME naming one of " + ", ".join(map(str, names)),
                         f"{len(variants)} production variants")
    return variants[0]


# ---------------------------------------------------------------------------- CloudWatch


@dataclass(frozen=True)
class MetricPull:
    """What the CloudWatch pull wrote: get-metric-data responses, one JSON file per page;
    ``datapoints`` counts them over every file; ``warnings`` say what could not be pulled."""

    paths: tuple[Path, ...]
    datapoints: int
    start: str
    end: str
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"paths": [str(p) for p in self.paths], "datapoints": self.datapoints, "start": self.start,
                "end": self.end, "warnings": list(self.warnings)}


def metric_queries(endpoint: EndpointDescription, *, percentiles: bool) -> list[dict[str, Any]]:
    """MetricDataQueries for the variant: invocation counts (Sum), latencies and utilisation
    (Average, Maximum) or, with ``percentiles``, latencies and utilisation at p50/p90/p99."""
    dimensions = [{"Name": "EndpointName", "Value": endpoint.endpoint},
                  {"Name": "VariantName", "Value": endpoint.variant}]
    latencies = LATENCIES + (SERVERLESS_LATENCIES if endpoint.serverless else ())
    wanted: list[tuple[str, str, tuple[str, ...]]]  # (namespace, metric, statistics)
    if percentiles:
        wanted = [(SAGEMAKER_NAMESPACE, m, PERCENTILES) for m in latencies]
        wanted += [(ENDPOINTS_NAMESPACE, m, PERCENTILES) for m in UTILIZATIONS]
    else:
        wanted = [(SAGEMAKER_NAMESPACE, m, ("Sum",)) for m in INVOCATION_COUNTS]
        wanted += [(SAGEMAKER_NAMESPACE, m, ("Average", "Maximum")) for m in latencies]
        wanted += [(ENDPOINTS_NAMESPACE, m, ("Average", "Maximum")) for m in UTILIZATIONS]
    return [{"Id": f"{metric.lower()}_{stat.lower()}", "Label": f"{metric} {stat}", "ReturnData": True,
             "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions},
                            "Period": PERIOD_S, "Stat": stat}}
            for namespace, metric, stats in wanted for stat in stats]


def metric_window(started_at_s: float, ended_at_s: float) -> tuple[datetime, datetime]:
    """Whole periods covering the run: from the minute it started to the minute after it ended."""
    start = math.floor(started_at_s / PERIOD_S) * PERIOD_S
    end = (math.floor(ended_at_s / PERIOD_S) + 1) * PERIOD_S
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)


def pull_metrics(endpoint: EndpointDescription, started_at_s: float, ended_at_s: float, out_dir: Path,
                 *, client: Any = None) -> MetricPull:
    """get-metric-data for the run window, every page saved as ``cloudwatch_<kind>_<n>.json`` in
    ``out_dir``. The statistics and the percentiles are separate calls: a failure of either is a
    warning, not an error, and the other still counts."""
    from botocore.exceptions import BotoCoreError, ClientError

    start, end = metric_window(started_at_s, ended_at_s)
    paths: list[Path] = []
    warnings: list[str] = []
    datapoints = 0
    for kind in ("statistics", "percentiles"):
        queries = metric_queries(endpoint, percentiles=kind == "percentiles")
        try:
            client = client or aws_client("cloudwatch", endpoint.region, attempts=2)
            pages = _metric_pages(client, queries, start, end)
        except (BotoCoreError, ClientError) as exc:
            warnings.append(f"CloudWatch {kind} of {endpoint.endpoint} not pulled ({aws_reason(exc)})")
            continue
        for number, page in enumerate(pages, start=1):
            path = Path(out_dir) / f"cloudwatch_{kind}_{number}.json"
            path.write_text(json.dumps(page, indent=1), encoding="utf-8")
            paths.append(path)
            datapoints += sum(len(r["Values"]) for r in page["MetricDataResults"])
    if paths and not datapoints:
        warnings.append(f"CloudWatch had no datapoints for {endpoint.endpoint} from {start.isoformat()} to "
                        f"{end.isoformat()} (metrics can take minutes to appear: wait longer before the pull)")
    return MetricPull(tuple(paths), datapoints, start.isoformat(), end.isoformat(), tuple(warnings))


def _metric_pages(client: Any, queries: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict]:
    """Every page of one get-metric-data call, as the CLI prints them (timestamps ISO-8601); the
    first page also carries the queries, which name each series for the parser."""
    pages: list[dict] = []
    token = None
    while True:
        extra: dict[str, str] = {"NextToken": token} if token else {}
        response = client.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end,
                                          ScanBy="TimestampAscending", **extra)
        results = [{**r, "Timestamps": [t.isoformat() for t in r.get("Timestamps", [])]}
                   for r in response.get("MetricDataResults", [])]
        page = {"MetricDataResults": results, "Messages": response.get("Messages", [])}
        pages.append({**page, "MetricDataQueries": queries} if not pages else page)
        token = response.get("NextToken")
        if not token:
            return pages


# ---------------------------------------------------------------------------- one run


def ingest_one_run(store: RunStore, locust_paths: Sequence[Path], metric_paths: Sequence[Path], *,
                   meta: Mapping[str, Any], labels: Mapping[str, str], origin: str = "measured",
                   ) -> tuple[IngestOutcome, tuple[str, ...]]:
    """Ingest a Locust CSV set and CloudWatch get-metric-data pages as ONE run; -> (outcome, warnings).

    :func:`planner.collection.ingest` would make two runs of them (one per source), so they are
    committed together (:func:`planner.collection.ingest_together`, which records
    ``merged_sources`` so that ``planner runs reparse`` rebuilds the same run). Pages that do not
    parse are left out with a warning: the Locust run is ingested whatever CloudWatch returned.
    The instance count CloudWatch measured (Invocations / InvocationsPerInstance, the most common
    per-minute count) wins over ``meta``'s (DescribeEndpoint's, taken before the run), with a warning
    when they differ.
    """
    runs = parse_paths(list(locust_paths), "locust")
    if len(runs) != 1:
        raise PlannerError(f"{locust_paths[0]}: expected the Locust CSV set to parse as one run, got {len(runs)}")
    warnings = []
    if metric_paths:
        try:
            metric_runs = parse_paths(list(metric_paths), "cloudwatch")
        except InputError as exc:
            warnings.append(f"CloudWatch metrics not ingested ({exc})")
        else:
            meta, disagreement = _with_measured_count(meta, metric_runs)
            runs += metric_runs
            warnings += disagreement
    return ingest_together(store, runs, meta=meta, labels=labels, origin=origin), tuple(warnings)


def _with_measured_count(meta: Mapping[str, Any], metric_runs: list[ParsedRun]) -> tuple[dict[str, Any], list[str]]:
    """``meta`` with the instance count CloudWatch measured, if any; a warning when DescribeEndpoint's differs."""
    meta, warnings = dict(meta), []
    described = meta.get("instance_count")
    measured = next((r.meta["instance_count"] for r in metric_runs if "instance_count" in r.meta), None)
    if measured is not None and described is not None and measured != described:
        warnings.append(f"DescribeEndpoint said {described} instances, CloudWatch measured {measured} (Invocations "
                        f"/ InvocationsPerInstance, in most minutes of the run): {measured} kept")
    if measured is not None:
        meta["instance_count"] = measured
    return meta, warnings


# ---------------------------------------------------------------------------- collect


@dataclass(frozen=True, kw_only=True)
class SageMakerCollectResult:
    """One collected SageMaker run: its ingest outcome, the Locust run, the endpoint as described,
    the CloudWatch pull (None when skipped) and warnings (pull failures)."""

    outcome: IngestOutcome
    collect: CollectResult
    endpoint: EndpointDescription
    cloudwatch: MetricPull | None
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.outcome.to_dict(), "collect": self.collect.to_dict(), "endpoint": self.endpoint.to_dict(),
                "cloudwatch": self.cloudwatch.to_dict() if self.cloudwatch else None, "warnings": list(self.warnings)}


def sagemaker_user_env(target: SageMakerTarget, region: str | None = None) -> dict[str, str]:
    """The locustfile settings of the user calling ``invoke_endpoint`` on ``target``."""
    return {"PLANNER_USER": "sagemaker", "PLANNER_SAGEMAKER_ENDPOINT": target.endpoint,
            "PLANNER_SAGEMAKER_REGION": region or target.region or "", "PLANNER_SAGEMAKER_VARIANT": target.variant or ""}


def collect_sagemaker(store: RunStore, target: SageMakerTarget, shape: StairsShape, *, out_dir: Path,
                      max_duration_s: float, max_requests: int | None = None, payload: Path | None = None,
                      labels: Mapping[str, str] | None = None, origin: str = "measured",
                      kill_after_s: float | None = None, processes: int = 1, expect_workers: int = 0,
                      master_port: int = MASTER_PORT, cloudwatch: bool = True,
                      cloudwatch_delay_s: float = 0.0) -> SageMakerCollectResult:
    """Describe the endpoint, load it with Locust (see :func:`planner.collect.load.run_locust` for
    the bounds), wait ``cloudwatch_delay_s`` seconds for CloudWatch to catch up, pull its metrics
    for the run window (unless ``cloudwatch`` is False) and ingest everything as one run labelled
    from the endpoint's description."""
    endpoint = describe_endpoint(target)
    result = run_locust(target.text, shape, user_env=sagemaker_user_env(target, endpoint.region), out_dir=out_dir, max_duration_s=max_duration_s,
                        max_requests=max_requests, payload=payload, kill_after_s=kill_after_s, processes=processes,
                        expect_workers=expect_workers, master_port=master_port)
    pull = None
    if cloudwatch:
        time.sleep(max(cloudwatch_delay_s, 0.0))
        pull = pull_metrics(endpoint, result.started_at_s, result.ended_at_s, result.out_dir)
    all_labels = {**run_labels(result, labels), "endpoint_config": endpoint.config_name, "aws_region": endpoint.region}
    outcome, ingest_warnings = ingest_one_run(store, result.csv_paths, pull.paths if pull and pull.datapoints else (),
                                              meta=endpoint.meta(), labels=all_labels, origin=origin)
    return SageMakerCollectResult(outcome=outcome, collect=result, endpoint=endpoint, cloudwatch=pull,
                                  warnings=(pull.warnings if pull else ()) + ingest_warnings)
