"""Finance cost comparison: every deployment option side by side, with the assumptions behind it.

A :class:`CostComparison` holds one :class:`CostLine` per option (real-time with and without HA,
serverless on demand and with provisioned concurrency, multi-model consolidation), an LLM section
(one :class:`LlmCostLine` per LLM endpoint option, priced per million tokens: another workload, so
never ranked with the others) and the assumptions (traffic, SLA, prices with source and date). It is
written as XLSX (an Options, an LLM when there are LLM options, and an Assumptions sheet, number
formats, frozen headers), CSV (options, then the LLM options, then assumptions, each after a blank
row) or parquet (options; LLM options and assumptions in the file's metadata). Text that came from users (endpoint
names, labels) is escaped against spreadsheet formula injection.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from planner.catalog import HOURS_PER_MONTH, PriceCatalog
from planner.costs import GIB_BYTES, data_processing_usd
from planner.errors import InputError
from planner.jsonable import finite
from planner.recommend.llm import LlmRecommendation
from planner.recommend.mme import MmeRecommendation
from planner.recommend.realtime import RealtimeOption, RealtimeRecommendation
from planner.recommend.serverless import ServerlessRecommendation

FORMATS = ("xlsx", "csv", "parquet")
MONTHS_PER_YEAR = 12
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CostLine:
    """One deployment option's monthly bill, split as finance reads it (USD, 730-hour months)."""

    option: str
    deployment: str
    instance_type: str | None
    instance_count: int | None
    memory_mb: int | None
    provisioned_concurrency: int | None
    compute_usd_per_month: float
    provisioned_concurrency_usd_per_month: float
    data_processing_usd_per_month: float
    usd_per_month: float
    usd_per_year: float
    usd_per_million_requests: float
    predicted_latency_ms: float | None
    sla_met: bool
    origin: str
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return finite(asdict(self))


@dataclass(frozen=True)
class LlmCostLine:
    """One LLM endpoint option's bill (USD, 730-hour months) with its cost per million tokens and predicted
    latencies (ms, at the SLO percentile; e2e with its held-out band)."""

    option: str
    deployment: str
    instance_type: str
    instance_count: int
    copies_per_instance: int
    concurrency_per_instance: float
    usd_per_hour: float
    usd_per_month: float
    usd_per_year: float
    usd_per_million_output_tokens: float
    usd_per_million_tokens: float
    usd_per_million_requests: float
    predicted_ttft_ms: float | None
    predicted_itl_ms: float | None
    predicted_e2e_ms: float | None
    predicted_e2e_lower_ms: float | None
    predicted_e2e_upper_ms: float | None
    heldout_error: float | None
    extrapolated: bool
    origin: str
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return finite(asdict(self))


@dataclass(frozen=True)
class Assumption:
    """One input behind the numbers: what, its value and unit, where it came from and as of when."""

    item: str
    value: str | float | int
    unit: str
    source: str
    date: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CostComparison:
    """The options, cheapest SLA-meeting first, and the assumptions they rest on."""

    lines: tuple[CostLine, ...]
    assumptions: tuple[Assumption, ...]
    llm_lines: tuple[LlmCostLine, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"options": [line.to_dict() for line in self.lines],
                "llm_options": [line.to_dict() for line in self.llm_lines],
                "assumptions": [a.to_dict() for a in self.assumptions]}


@dataclass(frozen=True)
class Traffic:
    """What the bill is for: peak rate, monthly volume and payload sizes (bytes per request/response)."""

    peak_tps: float
    monthly_invocations: float
    request_bytes: float = 0.0
    response_bytes: float = 0.0
    monthly_invocations_given: bool = True

    @classmethod
    def at_peak_all_month(cls, peak_tps: float, request_bytes: float = 0.0, response_bytes: float = 0.0) -> Traffic:
        """The upper bound when no monthly volume is known: the peak, every second of the month."""
        return cls(peak_tps, peak_tps * SECONDS_PER_MONTH, request_bytes, response_bytes, False)


def realtime_line(option: RealtimeOption, rec: RealtimeRecommendation, traffic: Traffic,
                  catalog: PriceCatalog) -> CostLine:
    """A real-time option as a cost line: instances all month plus data processed."""
    data = _data_usd_per_month(traffic, catalog)
    total = option.usd_per_month + data
    deployment = "real-time, HA" if rec.ha else "real-time"
    notes = "; ".join(n for n in (("extrapolated beyond measured load" if option.extrapolated else ""),
                                  *option.notes) if n)
    return CostLine(option=f"{option.label} × {option.instance_count}", deployment=deployment,
                    instance_type=option.instance_type, instance_count=option.instance_count, memory_mb=None,
                    provisioned_concurrency=None, compute_usd_per_month=option.usd_per_month,
                    provisioned_concurrency_usd_per_month=0.0, data_processing_usd_per_month=data,
                    usd_per_month=total, usd_per_year=total * MONTHS_PER_YEAR,
                    usd_per_million_requests=_per_million(total, traffic),
                    predicted_latency_ms=option.predicted_latency_ms,
                    sla_met=option.predicted_latency_ms <= rec.latency_target_ms, origin=option.origin, notes=notes)


def serverless_lines(rec: ServerlessRecommendation) -> list[CostLine]:
    """The serverless answer as two cost lines: on demand, and with its provisioned concurrency."""
    chosen = rec.recommended
    sla_met = chosen.meets_sla and rec.throttle_probability <= rec.throttle_target
    notes = (f"MaxConcurrency {rec.max_concurrency} (throttled at peak {rec.throttle_probability:.2%}); "
             f"p99 {chosen.latency_percentiles_source}"
             + (f", {chosen.latency_p99_ci_lower_ms:.0f}–{chosen.latency_p99_ci_upper_ms:.0f} ms as "
                f"{chosen.latency_p99_interval}" if chosen.latency_p99_interval else ""))
    lines = []
    for cost, deployment in ((rec.on_demand_cost, "serverless"),
                             (rec.provisioned_cost, "serverless, provisioned concurrency")):
        provisioned = cost.provisioned_standby_usd_per_month + cost.provisioned_inference_usd_per_month
        extra = (f"; {cost.provisioned_concurrency} provisioned (spill-over {rec.spillover_probability:.2%}, "
                 f"≤ {rec.cold_starts_per_day:.0f} cold starts/day)" if cost.provisioned_concurrency else "")
        lines.append(CostLine(
            option=f"serverless {cost.memory_mb} MB" + (f" + {cost.provisioned_concurrency} provisioned"
                                                         if cost.provisioned_concurrency else ""),
            deployment=deployment, instance_type=None, instance_count=None, memory_mb=cost.memory_mb,
            provisioned_concurrency=cost.provisioned_concurrency or None,
            compute_usd_per_month=cost.on_demand_compute_usd_per_month, provisioned_concurrency_usd_per_month=provisioned,
            data_processing_usd_per_month=cost.data_processing_usd_per_month, usd_per_month=cost.usd_per_month,
            usd_per_year=cost.usd_per_month * MONTHS_PER_YEAR,
            usd_per_million_requests=cost.usd_per_million_invocations, predicted_latency_ms=chosen.latency_p99_ms,
            sla_met=sla_met, origin=chosen.origin, notes=notes + extra))
    return lines


def mme_lines(rec: MmeRecommendation, traffic: Traffic, catalog: PriceCatalog) -> list[CostLine]:
    """Each multi-model variant (all ``rec.models`` models on shared GPU instances) as a cost line."""
    data = _data_usd_per_month(traffic, catalog)
    lines = []
    for v in rec.variants:
        total = v.usd_per_month + data
        met = v.latency_p99_ms is not None and rec.latency_target_ms is not None \
            and v.latency_p99_ms <= rec.latency_target_ms
        lines.append(CostLine(
            option=f"{v.label} × {v.instances}", deployment=f"multi-model ({rec.models} models)",
            instance_type=v.instance_type, instance_count=v.instances, memory_mb=None, provisioned_concurrency=None,
            compute_usd_per_month=v.usd_per_month, provisioned_concurrency_usd_per_month=0.0,
            data_processing_usd_per_month=data, usd_per_month=total, usd_per_year=total * MONTHS_PER_YEAR,
            usd_per_million_requests=_per_million(total, traffic), predicted_latency_ms=v.latency_p99_ms,
            sla_met=met, origin=v.origin,
            notes=f"{v.max_models_per_instance} models per instance, hit ratio {v.hit_ratio:.1%} ({rec.popularity})"))
    return lines


def llm_lines(rec: LlmRecommendation) -> list[LlmCostLine]:
    """Each LLM option (cheapest first) as a cost line: its instances all month, per million tokens and
    requests at the target load."""
    seconds = rec.target_rps * SECONDS_PER_MONTH
    return [LlmCostLine(
        option=f"{o.label} × {o.instance_count}", deployment="LLM endpoint, HA" if rec.ha else "LLM endpoint",
        instance_type=o.instance_type, instance_count=o.instance_count, copies_per_instance=o.copies_per_instance,
        concurrency_per_instance=o.concurrency_per_instance, usd_per_hour=o.usd_per_hour,
        usd_per_month=o.usd_per_month, usd_per_year=o.usd_per_month * MONTHS_PER_YEAR,
        usd_per_million_output_tokens=o.usd_per_million_output_tokens, usd_per_million_tokens=o.usd_per_million_tokens,
        usd_per_million_requests=o.usd_per_month / seconds * 1e6, predicted_ttft_ms=o.predicted_ttft_ms,
        predicted_itl_ms=o.predicted_itl_ms, predicted_e2e_ms=o.predicted_e2e_ms,
        predicted_e2e_lower_ms=o.predicted_e2e_lower_ms, predicted_e2e_upper_ms=o.predicted_e2e_upper_ms,
        heldout_error=o.heldout_error, extrapolated=o.extrapolated, origin=o.origin, notes="; ".join(o.notes))
        for o in rec.options]


def llm_assumptions(rec: LlmRecommendation) -> list[Assumption]:
    """The LLM scenario behind :func:`llm_lines`: load, token mix, SLOs, and what could not be an option."""
    rows = [Assumption("LLM load", rec.target_rps, "requests/s", "given"),
            Assumption("LLM output tokens per second", rec.target_output_tokens_per_s, "tokens/s", "load × output tokens"),
            Assumption("LLM input tokens per request", rec.input_tokens, "tokens", "given"),
            Assumption("LLM output tokens per request", rec.output_tokens, "tokens", "given")]
    rows += [Assumption(f"LLM {s.metric} target ({s.statistic})", s.target_ms, "ms", "given") for s in rec.slos]
    rows += [Assumption("LLM note", note, "", "planner llm recommend") for note in rec.notes]
    rows += [Assumption(f"LLM not an option: {r.label}", r.reason, "", "planner llm recommend") for r in rec.rejected]
    return rows


def cost_comparison(realtime: Sequence[RealtimeRecommendation], traffic: Traffic, catalog: PriceCatalog, *,
                    extra_lines: Sequence[CostLine] = (), extra_assumptions: Sequence[Assumption] = (),
                    llm: Sequence[LlmCostLine] = ()) -> CostComparison:
    """Side-by-side cost lines: every option of each real-time answer (e.g. without and with HA; a
    fleet in both is listed once), plus ``extra_lines`` (serverless, multi-model); SLA-meeting lines
    first, each group cheapest first; ``llm`` (:func:`llm_lines`) as their own section."""
    lines: list[CostLine] = []
    seen: dict[tuple, int] = {}
    for rec in realtime:
        for option in rec.options:
            key = (option.label, option.instance_count)
            if key in seen:  # the same fleet already keeps the SLA with one instance lost
                lines[seen[key]] = replace(lines[seen[key]], deployment="real-time (also HA)")
                continue
            seen[key] = len(lines)
            lines.append(realtime_line(option, rec, traffic, catalog))
    lines += extra_lines
    lines.sort(key=lambda line: (not line.sla_met, line.usd_per_month))
    first = realtime[0] if realtime else None
    return CostComparison(tuple(lines), (*_assumptions(first, traffic, catalog), *extra_assumptions), tuple(llm))


def _assumptions(rec: RealtimeRecommendation | None, traffic: Traffic, catalog: PriceCatalog) -> list[Assumption]:
    volume_source = ("given" if traffic.monthly_invocations_given
                     else "not given: the peak rate every second of the month (an upper bound)")
    rows = [Assumption("peak throughput", traffic.peak_tps, "requests/s", "given"),
            Assumption("monthly invocations", traffic.monthly_invocations, "requests/month", volume_source),
            Assumption("request payload", traffic.request_bytes, "bytes", "given"),
            Assumption("response payload", traffic.response_bytes, "bytes", "given"),
            Assumption("hours per month", HOURS_PER_MONTH, "h", "8760 h / 12, as AWS and infracost bill"),
            Assumption("region", catalog.region, "", catalog.source, catalog.date)]
    if rec is not None:
        rows += [Assumption(f"latency target ({rec.percentile})", rec.latency_target_ms, "ms", "given"),
                 Assumption("utilisation cap", rec.max_utilization, "fraction of capacity", "given"),
                 Assumption("routing", rec.routing, "", "given")]
    rows += [Assumption("discount" if o.startswith("discount ") else "price change", o, "", "given")
             for o in catalog.overrides]
    rows.append(Assumption("data processing", catalog.data_processing_usd_per_gb, "USD/GB (GiB of bytes)",
                           catalog.source, catalog.date))  # never discounted
    return rows


def price_assumptions(catalog: PriceCatalog, instance_types: Sequence[str] = (),
                      memory_sizes_mb: Sequence[int] = ()) -> list[Assumption]:
    """Every price a comparison used, with its own source and date (:meth:`PriceCatalog.price_origin`)."""
    rows = [Assumption(f"{t} hosting", catalog.price(t), "USD/hour", *catalog.price_origin(t))
            for t in sorted(set(instance_types))]
    origin = catalog.price_origin()
    for mb in sorted(set(memory_sizes_mb)):
        rows += [Assumption(f"serverless {mb} MB on demand", catalog.serverless_usd_per_second(mb), "USD/s", *origin),
                 Assumption(f"serverless {mb} MB provisioned standby",
                            catalog.provisioned_standby_usd_per_second(mb), "USD/s", *origin),
                 Assumption(f"serverless {mb} MB provisioned inference",
                            catalog.provisioned_inference_usd_per_second(mb), "USD/s", *origin)]
    return rows


def _data_usd_per_month(traffic: Traffic, catalog: PriceCatalog) -> float:
    return data_processing_usd(traffic.request_bytes * traffic.monthly_invocations,
                               traffic.response_bytes * traffic.monthly_invocations, catalog, GIB_BYTES)


def _per_million(usd_per_month: float, traffic: Traffic) -> float:
    return usd_per_month / traffic.monthly_invocations * 1e6 if traffic.monthly_invocations > 0 else math.inf


# ------------------------------------------------------------------------------------------- writers

def escape_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (starts with = + - @, tab or CR) gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_TRIGGERS):
        return "'" + value
    return value


def write_comparison(comparison: CostComparison, path: Path | str, fmt: str | None = None) -> Path:
    """Write ``comparison`` as xlsx, csv or parquet (from ``fmt`` or the file's suffix); atomic."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise InputError(path, "format", f"one of {', '.join(FORMATS)}", fmt or "no suffix")
    tmp = path.with_name(f".{path.name}.tmp")
    {"xlsx": _write_xlsx, "csv": _write_csv, "parquet": _write_parquet}[fmt](comparison, tmp)
    tmp.replace(path)
    return path


def comparison_bytes(comparison: CostComparison, fmt: str) -> bytes:
    """``comparison`` as the bytes :func:`write_comparison` writes in ``fmt`` (xlsx, csv or parquet), e.g. for
    a download button."""
    with tempfile.TemporaryDirectory(prefix="planner-export-") as tmp:
        return write_comparison(comparison, Path(tmp) / "costs", fmt).read_bytes()


_COLUMNS = [f.name for f in fields(CostLine)]
_HEADERS = {"option": "option", "deployment": "deployment", "instance_type": "instance type",
            "instance_count": "instances", "memory_mb": "memory (MB)",
            "provisioned_concurrency": "provisioned concurrency",
            "compute_usd_per_month": "compute (USD/month)",
            "provisioned_concurrency_usd_per_month": "provisioned concurrency (USD/month)",
            "data_processing_usd_per_month": "data processing (USD/month)", "usd_per_month": "total (USD/month)",
            "usd_per_year": "total (USD/year)", "usd_per_million_requests": "USD per 1M requests",
            "predicted_latency_ms": "predicted latency (ms)", "sla_met": "SLA met", "origin": "data",
            "notes": "notes"}
_USD_FORMAT = "#,##0.00"
_FORMATS = {"compute_usd_per_month": _USD_FORMAT, "provisioned_concurrency_usd_per_month": _USD_FORMAT,
            "data_processing_usd_per_month": _USD_FORMAT, "usd_per_month": _USD_FORMAT, "usd_per_year": _USD_FORMAT,
            "usd_per_million_requests": "#,##0.0000", "predicted_latency_ms": "#,##0.0"}


_LLM_COLUMNS = [f.name for f in fields(LlmCostLine)]
_LLM_HEADERS = {"option": "option", "deployment": "deployment", "instance_type": "instance type",
                "instance_count": "instances", "copies_per_instance": "copies per instance",
                "concurrency_per_instance": "concurrency per instance", "usd_per_hour": "USD/hour",
                "usd_per_month": "total (USD/month)", "usd_per_year": "total (USD/year)",
                "usd_per_million_output_tokens": "USD per 1M output tokens", "usd_per_million_tokens": "USD per 1M tokens",
                "usd_per_million_requests": "USD per 1M requests", "predicted_ttft_ms": "predicted TTFT (ms)",
                "predicted_itl_ms": "predicted ITL (ms)", "predicted_e2e_ms": "predicted e2e (ms)",
                "predicted_e2e_lower_ms": "e2e band low (ms)", "predicted_e2e_upper_ms": "e2e band high (ms)",
                "heldout_error": "held-out error", "extrapolated": "extrapolated", "origin": "data", "notes": "notes"}
_LLM_FORMATS = {"usd_per_hour": _USD_FORMAT, "usd_per_month": _USD_FORMAT, "usd_per_year": _USD_FORMAT,
                "usd_per_million_output_tokens": "#,##0.0000", "usd_per_million_tokens": "#,##0.0000",
                "usd_per_million_requests": "#,##0.0000", "predicted_ttft_ms": "#,##0.0",
                "predicted_itl_ms": "#,##0.0", "predicted_e2e_ms": "#,##0.0", "predicted_e2e_lower_ms": "#,##0.0",
                "predicted_e2e_upper_ms": "#,##0.0", "heldout_error": "0.0%"}


def _row(line: CostLine | LlmCostLine) -> list[Any]:
    return [escape_cell(v) for v in line.to_dict().values()]


def _write_xlsx(comparison: CostComparison, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    options = book.active
    options.title = "Options"
    options.append([_HEADERS[c] for c in _COLUMNS])
    for line in comparison.lines:
        options.append(_row(line))
    for col, name in enumerate(_COLUMNS, 1):
        for cell in options.iter_rows(min_row=2, min_col=col, max_col=col):
            cell[0].number_format = _FORMATS.get(name, "General")
    sheets = [options]
    if comparison.llm_lines:
        llm = book.create_sheet("LLM")
        llm.append([_LLM_HEADERS[c] for c in _LLM_COLUMNS])
        for llm_line in comparison.llm_lines:
            llm.append(_row(llm_line))
        for col, name in enumerate(_LLM_COLUMNS, 1):
            for cell in llm.iter_rows(min_row=2, min_col=col, max_col=col):
                cell[0].number_format = _LLM_FORMATS.get(name, "General")
        sheets.append(llm)
    assumptions = book.create_sheet("Assumptions")
    assumptions.append(["item", "value", "unit", "source", "date"])
    for a in comparison.assumptions:
        assumptions.append([escape_cell(a.item), escape_cell(a.value), a.unit, escape_cell(a.source), a.date])
    for sheet in (*sheets, assumptions):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for column in sheet.columns:
            width = max(len(str(c.value)) if c.value is not None else 0 for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(60, max(10, width + 2))
    book.save(path)


def _write_csv(comparison: CostComparison, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS)
        for line in comparison.lines:
            writer.writerow(_row(line))
        if comparison.llm_lines:
            writer.writerow([])
            writer.writerow(["llm_" + c if c == "option" else c for c in _LLM_COLUMNS])
            for llm in comparison.llm_lines:
                writer.writerow(_row(llm))
        writer.writerow([])
        writer.writerow(["assumption", "value", "unit", "source", "date"])
        for a in comparison.assumptions:
            writer.writerow([escape_cell(a.item), escape_cell(a.value), a.unit, escape_cell(a.source), a.date])


def _write_parquet(comparison: CostComparison, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([line.to_dict() for line in comparison.lines],
                                 schema=_arrow_schema()).replace_schema_metadata(
        {"planner.assumptions": json.dumps([a.to_dict() for a in comparison.assumptions]),
         "planner.llm_options": json.dumps([line.to_dict() for line in comparison.llm_lines])})
    pq.write_table(table, path)


def _arrow_schema():
    import pyarrow as pa

    kinds = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    return pa.schema([(f.name, kinds[f.type.split(" | ")[0]]) for f in fields(CostLine)])
