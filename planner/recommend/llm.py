"""LLM endpoint sizing: per fitted configuration, the concurrency per copy that meets every SLO, the
instance count for a target load, and its cost per hour, month and million tokens.

The concurrency searched is per model copy: 1 … the highest measured concurrency, or with
``extrapolate`` up to 2 × that (such options are flagged ``extrapolated``). The highest concurrency meeting every SLO is chosen, but never past the peak of requests/s
(more requests in flight past it only queue). Inference components: a configuration whose labels
say one copy uses N accelerators (``gpu_count`` or ``tensor_parallel``) packs ⌊M / N⌋ copies on an
instance with M accelerators (SageMaker's ``NumberOfAcceleratorDevicesRequired`` = N); otherwise the
measurement is taken as one copy per instance. Instances = ⌈target rps / rps per instance⌉, plus one
with ``ha``. Costs per million tokens are at the target load: $/hour ÷ (tokens/s served × 3600) × 10⁶.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from planner.catalog import HOURS_PER_MONTH, PriceCatalog, PriceProvenance
from planner.errors import PriceError
from planner.jsonable import finite
from planner.llm_fit import MIX_ASSUMPTION, LlmLatencyFit

UNPRICED = "unpriced"
BAND = ("predicted_*_lower_ms / _upper_ms: the prediction × the smallest and largest ratio of measured to "
        "predicted latency at a level left out of the fit (leave one level out): the curve's held-out spread")
EXTRAPOLATION_FACTOR = 2.0  # search up to this multiple of the highest measured concurrency
COPY_LABELS = ("gpu_count", "tensor_parallel")


@dataclass(frozen=True)
class LlmSlo:
    """A latency objective: ``metric`` (ttft, itl, e2e) at ``statistic`` (p50 … p99) ≤ ``target_ms``."""

    metric: str
    statistic: str
    target_ms: float


@dataclass(frozen=True)
class LlmOption:
    """One configuration sized for the target (keys of ``planner llm recommend --json`` options[]); each
    predicted latency has a ``_lower_ms`` / ``_upper_ms`` band (:data:`BAND`)."""

    instance_type: str
    instance_count: int
    copies_per_instance: int
    concurrency_per_instance: float
    requests_per_s_per_instance: float
    output_tokens_per_s_per_instance: float
    predicted_ttft_ms: float | None
    predicted_itl_ms: float | None
    predicted_e2e_ms: float | None
    predicted_ttft_lower_ms: float | None
    predicted_ttft_upper_ms: float | None
    predicted_itl_lower_ms: float | None
    predicted_itl_upper_ms: float | None
    predicted_e2e_lower_ms: float | None
    predicted_e2e_upper_ms: float | None
    usd_per_hour: float
    usd_per_month: float
    usd_per_million_output_tokens: float
    usd_per_million_tokens: float
    model: str | None
    label: str
    origin: str
    extrapolated: bool
    heldout_error: float | None
    run_ids: tuple[str, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["run_ids"], out["notes"] = list(self.run_ids), list(self.notes)
        return finite(out)


@dataclass(frozen=True)
class LlmRejection:
    """A configuration that is not an option, and why; ``closest_ms``: when no concurrency meets the SLOs,
    each missed SLO's latency at concurrency 1 (``"e2e p99"`` -> ms), the best the configuration does."""

    label: str
    instance_type: str | None
    reason: str
    closest_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ClosestReach:
    """The lowest latency any rejected configuration reaches for one missed SLO (``slo``: ``"e2e p99"``)."""

    slo: str
    lowest_ms: float
    label: str


@dataclass(frozen=True)
class LlmRecommendation:
    """Options cheapest first, and rejections, for one target load, token mix and SLO set."""

    target_rps: float
    target_output_tokens_per_s: float
    input_tokens: float
    output_tokens: float
    slos: tuple[LlmSlo, ...]
    percentile: str
    ha: bool
    hours_per_month: float
    price_catalog: PriceProvenance
    options: tuple[LlmOption, ...]
    rejected: tuple[LlmRejection, ...]
    notes: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        return bool(self.options)

    def closest_reach(self) -> tuple[ClosestReach, ...]:
        """Per missed SLO, the configuration that comes closest to it (at concurrency 1)."""
        best: dict[str, ClosestReach] = {}
        for r in self.rejected:
            for slo, ms in r.closest_ms.items():
                if slo not in best or ms < best[slo].lowest_ms:
                    best[slo] = ClosestReach(slo=slo, lowest_ms=ms, label=r.label)
        return tuple(best.values())

    def to_dict(self) -> dict[str, Any]:
        """The ``planner llm recommend --json`` shape."""
        slos = {f"{m}_ms": next((s.target_ms for s in self.slos if s.metric == m), None)
                for m in ("ttft", "itl", "e2e")}
        return finite({"target_rps": self.target_rps, "target_output_tokens_per_s": self.target_output_tokens_per_s,
                       "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                       "slos": {**slos, "percentile": self.percentile}, "ha": self.ha,
                       "hours_per_month": self.hours_per_month, "price_catalog": self.price_catalog.to_dict(),
                       "feasible": self.feasible, "prediction_band": BAND,
                       "options": [o.to_dict() for o in self.options],
                       "rejected": [r.to_dict() for r in self.rejected], "notes": list(self.notes)})


def usd_per_million_tokens(usd_per_hour: float, tokens_per_s: float) -> float:
    """Cost of a million tokens served at ``tokens_per_s`` on capacity costing ``usd_per_hour``."""
    return usd_per_hour / (tokens_per_s * 3600.0) * 1e6


def priced_instance_type(fit: LlmLatencyFit) -> tuple[str | None, list[str]]:
    """The SageMaker type to price a configuration as: EC2-measured types (no ``ml.`` prefix, or label
    platform=ec2) are priced as the ``ml.`` type, with a note."""
    instance_type = fit.config.instance_type
    if instance_type is None or instance_type.startswith("ml."):
        return instance_type, []
    return "ml." + instance_type, [f"measured on EC2 {instance_type}; priced as SageMaker ml.{instance_type}"]


def copies_per_instance(fit: LlmLatencyFit, accelerators: int) -> tuple[int, list[str]]:
    """Model copies per instance (0 when one copy needs more accelerators than the instance has)."""
    for key in COPY_LABELS:
        text = fit.config.label_value(key)
        if text is None:
            continue
        try:
            per_copy = int(float(text))
        except ValueError:
            continue
        if per_copy <= 0 or accelerators <= 0:
            continue
        copies = accelerators // per_copy
        return copies, [f"inference components: one copy uses {per_copy} of the instance's {accelerators} "
                        f"accelerators ({key}; NumberOfAcceleratorDevicesRequired={per_copy}), so {copies} "
                        f"cop{'y' if copies == 1 else 'ies'} per instance; sized in copies"]
    return 1, []


def _meets(fit: LlmLatencyFit, slos: Sequence[LlmSlo], c: float, output_tokens: float, input_tokens: float) -> bool:
    return all(fit.measured_ms(s.metric, s.statistic, c, output_tokens, input_tokens) <= s.target_ms for s in slos)


def _concurrency(fit: LlmLatencyFit, slos: Sequence[LlmSlo], output_tokens: float, input_tokens: float,
                 extrapolate: bool) -> float | None:
    """Highest concurrency per copy meeting every SLO, not past the requests/s peak; None if not even 1."""
    limit = fit.concurrency_max * (EXTRAPOLATION_FACTOR if extrapolate else 1.0)
    grid = [float(c) for c in range(1, max(int(math.floor(limit)), 1) + 1)]
    best, best_rps = None, -math.inf
    for c in grid:
        if not _meets(fit, slos, c, output_tokens, input_tokens):
            break
        rps = fit.requests_per_s(c, output_tokens, input_tokens)
        if rps < best_rps:
            break
        best, best_rps = c, rps
    return best


def mix_evidence(fit: LlmLatencyFit) -> list[str]:
    """What a prediction for another token mix rests on: the per-token transfer checked on another measured
    mix of the configuration (its held-out error), or, with one mix measured, the assumption alone."""
    if not fit.mix_validations_:
        return [f"one token mix measured for this configuration: the prediction for another assumes {MIX_ASSUMPTION} "
                "(not validated)"]
    return [f"moved to the asked mix {MIX_ASSUMPTION}; checked on the measured {v.heldout_input_tokens or 0:.0f}→"
            f"{v.heldout_output_tokens or 0:.0f}-token mix ({v.heldout}): held-out e2e {v.statistic} error "
            f"{v.e2e_heldout_error or 0:.0%} over {v.levels} level(s) (curves used unmoved: "
            f"{v.e2e_heldout_error_unmoved or 0:.0%})" for v in fit.mix_validations_]


def _option(fit: LlmLatencyFit, catalog: PriceCatalog, target_rps: float, input_tokens: float,
            output_tokens: float, slos: Sequence[LlmSlo], statistic: str, ha: bool,
            extrapolate: bool) -> LlmOption | LlmRejection:
    label = fit.config.label

    def reject(reason: str) -> LlmRejection:
        return LlmRejection(label=label, instance_type=fit.config.instance_type, reason=reason)

    if not fit.fitted_:
        return reject(f"not fitted: {fit.reason_}")
    missing = [f"{s.metric} {s.statistic}" for s in slos if not fit.has(s.metric, s.statistic)]
    if missing:
        return reject(f"no {', '.join(missing)} measurement for the SLO asked")
    instance_type, notes = priced_instance_type(fit)
    if instance_type is None:
        return reject("no instance type recorded (hardware not priceable)")
    try:
        spec = catalog.spec(instance_type)
    except PriceError:
        return reject(f"{UNPRICED}: no {instance_type} price in the catalog ({catalog.region})")
    copies, copy_notes = copies_per_instance(fit, spec.accelerator_count)
    if copies == 0:
        return reject(f"one copy needs more accelerators than {instance_type} has ({spec.accelerator_count})")
    c = _concurrency(fit, slos, output_tokens, input_tokens, extrapolate)
    if c is None:
        at_one = {s: fit.measured_ms(s.metric, s.statistic, 1.0, output_tokens, input_tokens) for s in slos}
        missed = {s: v for s, v in at_one.items() if v > s.target_ms}
        return replace(reject("SLO unreachable even at concurrency 1: " + "; ".join(
            f"{s.metric} {s.statistic} {v:.0f} ms > {s.target_ms:g} ms" for s, v in missed.items())),
            closest_ms={f"{s.metric} {s.statistic}": float(v) for s, v in missed.items()})
    rps_per_instance = copies * fit.requests_per_s(c, output_tokens, input_tokens)
    count = math.ceil(target_rps / rps_per_instance - 1e-9) + (1 if ha else 0)
    usd_per_hour = count * spec.usd_per_hour
    mix_notes = fit.token_mix_notes(input_tokens, output_tokens)
    notes = [*fit.notes_, *notes, *copy_notes, *mix_notes, *(mix_evidence(fit) if mix_notes else [])]
    extrapolated = c > fit.concurrency_max + 1e-9
    if extrapolated:
        notes.append(f"extrapolated beyond the measured concurrency ({c:g} per copy > {fit.concurrency_max:g})")
    predicted = {m: fit.predict_ms(m, statistic, c, output_tokens, input_tokens) for m in ("ttft", "itl", "e2e")}
    bands = {m: fit.predict_band_ms(m, statistic, c, output_tokens, input_tokens) or (None, None) for m in predicted}
    notes += [f"{m} {statistic} not measured: predicted_{m}_ms is null" for m, v in predicted.items() if v is None]
    if ha:
        notes.append("HA: one instance more than the load needs")
    return LlmOption(
        instance_type=instance_type, instance_count=count, copies_per_instance=copies,
        concurrency_per_instance=copies * c, requests_per_s_per_instance=rps_per_instance,
        output_tokens_per_s_per_instance=rps_per_instance * output_tokens,
        predicted_ttft_ms=predicted["ttft"], predicted_itl_ms=predicted["itl"], predicted_e2e_ms=predicted["e2e"],
        predicted_ttft_lower_ms=bands["ttft"][0], predicted_ttft_upper_ms=bands["ttft"][1],
        predicted_itl_lower_ms=bands["itl"][0], predicted_itl_upper_ms=bands["itl"][1],
        predicted_e2e_lower_ms=bands["e2e"][0], predicted_e2e_upper_ms=bands["e2e"][1],
        usd_per_hour=usd_per_hour, usd_per_month=usd_per_hour * HOURS_PER_MONTH,
        usd_per_million_output_tokens=usd_per_million_tokens(usd_per_hour, target_rps * output_tokens),
        usd_per_million_tokens=usd_per_million_tokens(usd_per_hour, target_rps * (input_tokens + output_tokens)),
        model=fit.config.model, label=label, origin=fit.origin, extrapolated=extrapolated or any(
            n.startswith("extrapolated") for n in notes), heldout_error=fit.heldout_error_, run_ids=fit.run_ids,
        notes=tuple(notes))


def recommend_llm(fits: Sequence[LlmLatencyFit], catalog: PriceCatalog, *, target_rps: float, input_tokens: float,
                  output_tokens: float, slos: Sequence[LlmSlo] = (), statistic: str = "p99",
                  ha: bool = False, extrapolate: bool = False) -> LlmRecommendation:
    """Size every configuration for ``target_rps`` requests/s of ``input_tokens`` → ``output_tokens`` under
    ``slos``; ``statistic`` is the percentile the predicted latencies are reported at; ``extrapolate``
    lets the concurrency go past the measured range (to 2×)."""
    options: list[LlmOption] = []
    rejected: list[LlmRejection] = []
    for fit in fits:
        result = _option(fit, catalog, target_rps, input_tokens, output_tokens, slos, statistic, ha, extrapolate)
        if isinstance(result, LlmOption):
            options.append(result)
        else:
            rejected.append(result)
    options.sort(key=lambda o: (o.usd_per_hour, o.label))
    notes = []
    if not slos:
        notes.append("no SLO given: each configuration is sized at its highest measured concurrency")
    if not extrapolate:
        notes.append("concurrency limited to the measured range (allow up to 2× with extrapolation)")
    if len({o.model for o in options}) > 1:
        notes.append("the options serve different models: compare quality as well as cost")
    return LlmRecommendation(
        target_rps=target_rps, target_output_tokens_per_s=target_rps * output_tokens, input_tokens=input_tokens,
        output_tokens=output_tokens, slos=tuple(slos), percentile=statistic, ha=ha,
        hours_per_month=HOURS_PER_MONTH,
        price_catalog=catalog.price_provenance(),
        options=tuple(options), rejected=tuple(rejected), notes=tuple(notes))
