"""Accuracy matrix: is the recommended instance count right on emulated instances the model was not tuned to?

Each cell is one emulated instance (``serve-local``: c workers, lognormal service of mean S and
coefficient of variation CV, exponential for CV 1) and one load shape driven by real Locust:

    ramp       closed-loop users rising continuously (``ramp:``, one user per 1-2 s) to ~2.5c, then a hold
    stairs10   closed-loop staircase 1 .. ~2.5c users, each level held 10 s
    stairs30   the same staircase, each level held 30 s
    rate       open-loop Poisson rate steps (``rate:``) from 20 % to 90 % of the instance's nominal capacity

S is chosen per c so that an instance saturates at <= 200 rps (Locust on a 2-core machine must not be
the bottleneck; levels where Locust's own CPU saturated are reported). Per cell:

1. collect the shape into a fresh store and fit it (``fit_store``; c, S, Cs², fixed delay D);
2. the SLA is model-independent: target TPS = 3 × 0.62 × c/S, so 3 instances run at 62 % and 2 at
   93 % utilisation under random routing (independent M/G/c queues); target p99 = the geometric mean
   of one instance's true p99 at those two loads (exact M/M/c for CV 1, else a discrete-event
   simulation of the M/G/c queue), plus the loopback transport delay measured once per run against a
   zero-service endpoint. So the true answer is 3 with the same relative margin on either side (at
   high c and low CV the p99 is nearly flat up to ~85 % utilisation: an SLA at a fixed utilisation
   such as 75 % would sit within a few per cent of the p99 at 3 instances, below Locust's resolution);
3. ``recommend_realtime`` sizes the fleet with ``max_utilization=1.0`` (the SLA decides) and random
   routing; the recommended count n and n - 1 are deployed (``serve-local instances=n``, random
   routing) and Locust offers the target rate (``rate:``, a hold of ``--fleet-hold-s``); the p99 of
   the hold's steady step is compared with the SLA;
4. the baseline "divide rule" count ceil(target / highest measured per-instance throughput) is judged
   the same way (its count and, if that meets, one fewer are measured too).

Columns: fitted c / S / Cs² / D; saturation c/S fitted (as sizing uses it) vs nominal; n; the p99
predicted at n, its truth (exact/simulated, + transport) and its measurement; the measurement at n - 1;
the verdict; the prediction error (predicted / measured - 1); the divide-rule count and its verdict.
A fleet hold shorter than the queue's relaxation time measures less than the steady-state p99 near
saturation (c = 1 with CV 2 at 93 % takes minutes to settle): compare the measured p99 with the truth.

A count is *right* when it meets the SLA and one fewer misses. Summary: share of cells where the
recommendation is right (target >= 90 %), the same for the divide rule, and the median |p99
prediction error| at the recommended count (target <= 15 %).

Usage: python bench/closed_loop.py [--quick | --cells c4-cv1-ramp,c16-cv0.3-rate ...] [--fleet-hold-s 40]
``--quick`` runs three cells, one per shape family, with short holds (a few minutes); the full
matrix (36 cells, ~2 hours) is a benchmark. Every Locust run is bounded in time; loopback only.
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from planner.capacity import curve_fits, fit_store  # noqa: E402
from planner.catalog import load_catalog  # noqa: E402
from planner.collect.endpoint import EndpointSettings, LocalEndpoint  # noqa: E402
from planner.collect.load import collect_and_ingest, parse_shape  # noqa: E402
from planner.errors import PlannerError  # noqa: E402
from planner.queueing import mmc_response_quantile_s  # noqa: E402
from planner.recommend.realtime import recommend_realtime  # noqa: E402
from planner.steps import StepRules, for_run  # noqa: E402
from planner.store import RunStore  # noqa: E402

SERVERS = (1, 4, 16)
CVS = (0.3, 1.0, 2.0)
SHAPES = ("ramp", "stairs10", "stairs30", "rate")
SATURATION_RPS = {1: 50.0, 4: 160.0, 16: 200.0}  # per instance: S = c / saturation (20, 25, 80 ms)
USERS = {1: (1, 2, 3, 4), 4: (1, 2, 3, 4, 6, 8, 10), 16: (2, 4, 8, 12, 16, 20, 24, 32, 40)}  # to ~2.5c
RAMP_SPAWN_RATE = {1: 0.5, 4: 0.5, 16: 1.0}  # users/s: one user per 1-2 s
# Open loop cannot go past saturation in a steady state; 0.9 of the nominal c/S is ~0.93-0.95 of the
# emulator's real capacity (its timer lateness lengthens every service by ~1 ms).
RATE_UTILIZATIONS = (0.2, 0.4, 0.6, 0.75, 0.85, 0.9)
QUICK_RATE_UTILIZATIONS = (0.3, 0.6, 0.8, 0.9)
QUICK_CELLS = ("c16-cv1-ramp", "c4-cv0.3-stairs10", "c1-cv1-rate")
TARGET_INSTANCES = 3
LOAD_UTILIZATION = 0.62  # per instance at the target with TARGET_INSTANCES (1.5x that with one fewer)
INSTANCE_TYPE = "ml.m5.xlarge"
FLEET_RULES = StepRules(trim_s=10.0, min_duration_s=10.0)  # the fleet hold's steady part
BOUND_GRACE_S = 30.0


@dataclass(frozen=True)
class Cell:
    servers: int
    cv: float
    shape: str

    @property
    def name(self) -> str:
        return f"c{self.servers}-cv{self.cv:g}-{self.shape}"

    @property
    def settings(self) -> EndpointSettings:
        dist = "exp" if self.cv == 1.0 else f"lognormal:{math.sqrt(math.log1p(self.cv**2)):.4f}"
        return EndpointSettings(workers=self.servers, service_ms=self.servers * 1000.0 / SATURATION_RPS[self.servers],
                                service_dist=dist, instance_type=INSTANCE_TYPE, profile=f"bench {self.name}",
                                routing="random")

    @property
    def saturation_rps(self) -> float:
        return SATURATION_RPS[self.servers]

    @property
    def target_tps(self) -> int:
        return round(TARGET_INSTANCES * LOAD_UTILIZATION * self.saturation_rps)

    def shape_text(self, quick: bool) -> str:
        users = USERS[self.servers]
        if self.shape == "ramp":
            return f"ramp:users={users[-1]},spawn-rate={RAMP_SPAWN_RATE[self.servers]:g},hold={20 if quick else 30}s"
        if self.shape.startswith("stairs"):
            return f"stairs:users={','.join(map(str, users))},hold={self.shape[6:]}s,spawn-rate=50"
        rates = (round(u * self.saturation_rps) for u in (QUICK_RATE_UTILIZATIONS if quick else RATE_UTILIZATIONS))
        return f"rate:rps={','.join(map(str, rates))},hold=30s,user-rps=1"


ALL_CELLS = {cell.name: cell for cell in (Cell(c, cv, s) for c in SERVERS for cv in CVS for s in SHAPES)}


def true_p99_ms(cell: Cell, rate_rps: float, customers: int = 500_000, seed: int = 1) -> float:
    """p99 (ms) of one instance under Poisson arrivals at ``rate_rps``: exact M/M/c for CV 1, else a
    FIFO c-server simulation (first 10 % of customers dropped); inf at or above saturation."""
    s = cell.settings
    if rate_rps >= cell.saturation_rps:
        return math.inf
    if cell.cv == 1.0:
        return 1000.0 * float(mmc_response_quantile_s(0.99, rate_rps, s.service_ms / 1000.0, s.workers))
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / rate_rps, customers)).tolist()
    sigma2 = math.log1p(cell.cv**2)
    service = rng.lognormal(math.log(s.service_ms / 1000.0) - sigma2 / 2, math.sqrt(sigma2), customers).tolist()
    free_at, response = [0.0] * s.workers, np.empty(customers)
    for i, (t, b) in enumerate(zip(arrivals, service, strict=True)):
        done = max(t, free_at[0]) + b
        heapq.heapreplace(free_at, done)
        response[i] = done - t
    return 1000.0 * float(np.percentile(response[customers // 10:], 99))


def transport_delay_ms(work: Path, rate_rps: int = 200, hold_s: float = 10.0) -> float:
    """Mean client-observed latency (ms) of a zero-service endpoint at ``rate_rps``: loopback + HTTP + Locust."""
    store = RunStore(work / "transport")
    run_id, _ = _collect(store, EndpointSettings(workers=64, service_ms=0.0, service_dist="const"),
                         f"rate:rps={rate_rps},hold={hold_s:g}s,user-rps=1", work / "transport-out")
    step = _hold_step(store, run_id)
    return float(step["latency_mean_ms"])


def _collect(store: RunStore, settings: EndpointSettings, shape_text: str, out_dir: Path) -> tuple[str, tuple]:
    """Collect ``shape_text`` against a fresh serve-local; -> (run id, generator-saturated levels)."""
    shape = parse_shape(shape_text)
    with LocalEndpoint(settings) as endpoint:
        outcome, result = collect_and_ingest(
            store, endpoint.url, shape, out_dir=out_dir, max_duration_s=shape.duration_s + BOUND_GRACE_S,
            meta={"instance_type": settings.instance_type, "instance_count": settings.instances,
                  "endpoint": f"serve-local {settings.profile}"},
            labels={"bench": "closed-loop"}, origin="emulated")
    return outcome.run_id, result.generator_saturated_levels


def _hold_step(store: RunStore, run_id: str):
    steps = for_run(store, run_id, FLEET_RULES)
    return steps.loc[steps["offered_users"].idxmax()]  # the hold at the target rate, not the ramp


@dataclass
class CellResult:
    cell: Cell
    sla_ms: float
    saturated: list[str] = dataclasses.field(default_factory=list)
    fit: object = None
    count: int | None = None
    predicted_ms: float | None = None
    true_ms: float | None = None  # at the recommended count
    divide_count: int | None = None
    confident_count: int | None = None  # the count sized at --confidence (None: not asked or infeasible)
    measured_ms: dict[int, float] = dataclasses.field(default_factory=dict)
    error: str | None = None

    def meets(self, count: int) -> bool:
        return self.measured_ms.get(count, math.inf) <= self.sla_ms

    def right(self, count: int | None) -> bool:
        return count is not None and self.meets(count) and (count == 1 or not self.meets(count - 1))

    def verdict(self, count: int | None) -> str:
        return "-" if count is None else "right" if self.right(count) else "met" if self.meets(count) else "missed"

    @property
    def prediction_error(self) -> float | None:
        if self.count is None or self.predicted_ms is None:
            return None
        return self.predicted_ms / self.measured_ms[self.count] - 1.0


class Fleet:
    """Measured p99 (ms) of ``count`` instances at the cell's target rate, each count run at most once."""

    def __init__(self, cell: Cell, work: Path, hold_s: float, result: CellResult) -> None:
        self.cell, self.work, self.hold_s, self.result = cell, work, hold_s, result
        self.store = RunStore(work / "fleet")

    def p99_ms(self, count: int) -> float:
        if count not in self.result.measured_ms:
            settings = dataclasses.replace(self.cell.settings, instances=count)
            shape = f"rate:rps={self.cell.target_tps},hold={self.hold_s:g}s,user-rps=1"
            run_id, saturated = _collect(self.store, settings, shape, self.work / f"fleet-{count}")
            if saturated:
                self.result.saturated.append(f"fleet {count}: Locust saturated")
            self.result.measured_ms[count] = float(_hold_step(self.store, run_id)["latency_p99_ms"])
        return self.result.measured_ms[count]


def run_cell(cell: Cell, work: Path, quick: bool, fleet_hold_s: float, delay_ms: float,
             confidence: float | None) -> CellResult:
    at_n, at_fewer = (true_p99_ms(cell, cell.target_tps / n) for n in (TARGET_INSTANCES, TARGET_INSTANCES - 1))
    sla_ms = math.sqrt(at_n * at_fewer) + delay_ms
    result = CellResult(cell, sla_ms)
    store = RunStore(work / "store")
    run_id, saturated = _collect(store, cell.settings, cell.shape_text(quick), work / "collect")
    if saturated:
        result.saturated.append(f"collect at {','.join(map(str, saturated))} users")
    fits = [f for f in curve_fits(fit_store(store, [run_id], for_sizing=True)) if f.latency is not None]
    if not fits:
        result.error = "no fit"
        return result
    result.fit = fits[0]
    used = result.fit.steps
    result.divide_count = max(1, math.ceil(cell.target_tps / float(used["throughput_rps"].max()) - 1e-9))
    rec = recommend_realtime(fits, load_catalog(), target_tps=cell.target_tps, latency_target_ms=sla_ms,
                             max_utilization=1.0, routing="random")
    fleet = Fleet(cell, work, fleet_hold_s, result)
    if rec.feasible:
        best = rec.options[0]
        result.count, result.predicted_ms = best.instance_count, best.predicted_latency_ms
        result.true_ms = true_p99_ms(cell, cell.target_tps / best.instance_count) + delay_ms
        for count in (best.instance_count, best.instance_count - 1):
            if count >= 1:
                fleet.p99_ms(count)
    else:
        result.error = "infeasible: " + "; ".join(r.reason for r in rec.rejected)
    if confidence is not None:
        sure = recommend_realtime(fits, load_catalog(), target_tps=cell.target_tps, latency_target_ms=sla_ms,
                                  max_utilization=1.0, routing="random", confidence=confidence)
        if sure.feasible:
            result.confident_count = sure.options[0].instance_count
            for count in (result.confident_count, result.confident_count - 1):
                if count >= 1:
                    fleet.p99_ms(count)
    if fleet.p99_ms(result.divide_count) <= sla_ms and result.divide_count > 1:
        fleet.p99_ms(result.divide_count - 1)
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else "inf" if math.isinf(value) else f"{value:.0f}"


def _row(r: CellResult) -> str:
    c = r.cell
    fitted = "-"
    sat = "-"
    if r.fit is not None:
        s = r.fit.latency_summary
        fitted = f"{s.servers}/{s.service_time_ms:.1f}/{s.service_scv:.2f}/{s.delay_ms:.1f}"
        sat = f"{r.fit.saturation_rps:.0f}/{c.saturation_rps:.0f}"
    n = r.count
    at_n = _ms(r.measured_ms.get(n)) if n else "-"
    fewer = _ms(r.measured_ms.get(n - 1)) if n and n > 1 else "-"
    verdict = r.verdict(n)
    err = "-" if r.prediction_error is None else f"{r.prediction_error:+.0%}"
    d = r.divide_count
    divide = "-" if d is None else f"{d} {r.verdict(d)}"
    k = r.confident_count
    sure = "-" if k is None else f"{k} {r.verdict(k)}"
    return (f"{c.name:<18} {c.target_tps:>6} {r.sla_ms:>6.0f} {fitted:>20} {sat:>8} {n or '-':>4} "
            f"{_ms(r.predicted_ms):>6} {_ms(r.true_ms):>6} {at_n:>6} {fewer:>6} {verdict:>7} {err:>6} {divide:>9} "
            f"{sure:>9}  "
            f"{'; '.join(filter(None, [r.error, *r.saturated]))}")


def _summary(results: list[CellResult], confidence: float | None) -> list[str]:
    total = len(results)
    right = sum(r.right(r.count) for r in results)
    by_truth = sum(r.count == TARGET_INSTANCES for r in results)
    divide = sum(r.right(r.divide_count) for r in results if r.divide_count is not None)
    errors = [abs(r.prediction_error) for r in results if r.prediction_error is not None]
    median = f"{statistics.median(errors):.0%}" if errors else "-"
    return [f"recommended count meets the SLA and one fewer misses: {right}/{total} = {right / total:.0%} "
            "(target >= 90%)",
            f"recommended count right by the truth (exact/simulated p99: {TARGET_INSTANCES} instances): {by_truth}/{total} "
            f"= {by_truth / total:.0%}",
            f"divide rule (ceil(target / highest measured throughput)) right: {divide}/{total} = {divide / total:.0%}",
            f"median |p99 prediction error| at the recommended count: {median} over {len(errors)} cells "
            "(target <= 15%)"] + ([] if confidence is None else [
            f"sized at confidence {confidence:g}: right by measurement {sum(r.right(r.confident_count) for r in results)}"
            f"/{total}, by the truth {sum(r.confident_count == TARGET_INSTANCES for r in results)}/{total}, "
            f"over-provisioned (more than {TARGET_INSTANCES}) "
            f"{sum((r.confident_count or 0) > TARGET_INSTANCES for r in results)}/{total}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"CI-sized: {', '.join(QUICK_CELLS)}, short holds")
    parser.add_argument("--cells", help="comma-separated cell names, e.g. c4-cv1-ramp (default: all 36)")
    parser.add_argument("--fleet-hold-s", type=float, help="hold at the target rate per fleet (default 40, quick 25)")
    parser.add_argument("--confidence", type=float,
                        help="also size at this confidence (recommend --confidence, e.g. 0.9) and measure that count")
    args = parser.parse_args(argv)
    names = args.cells.split(",") if args.cells else QUICK_CELLS if args.quick else tuple(ALL_CELLS)
    unknown = [n for n in names if n not in ALL_CELLS]
    if unknown:
        parser.error(f"unknown cells {unknown}; cells are c{{1,4,16}}-cv{{0.3,1,2}}-{{{','.join(SHAPES)}}}")
    fleet_hold_s = args.fleet_hold_s or (25.0 if args.quick else 40.0)
    work = Path(tempfile.mkdtemp(prefix="planner-closed-loop-"))
    started = time.monotonic()
    delay_ms = transport_delay_ms(work)
    print(f"transport delay (zero-service endpoint, 200 rps): {delay_ms:.2f} ms; work dir {work}", file=sys.stderr)
    results = []
    for name in names:
        cell = ALL_CELLS[name]
        print(f"{name}: {cell.settings.service_ms:g} ms {cell.settings.service_dist}, "
              f"{cell.shape_text(args.quick)}, target {cell.target_tps} rps ...", file=sys.stderr)
        try:
            results.append(run_cell(cell, work / name, args.quick, fleet_hold_s, delay_ms, args.confidence))
        except PlannerError as exc:
            results.append(CellResult(cell, math.nan, error=str(exc)))
        print(_row(results[-1]), file=sys.stderr)
    print(f"SLA: geometric mean of the true p99 at {TARGET_INSTANCES} and {TARGET_INSTANCES - 1} instances + transport "
          "delay; "
          f"target TPS = {TARGET_INSTANCES} x {LOAD_UTILIZATION:.0%} of saturation; random routing, "
          f"max_utilization 1.0; fleets held {fleet_hold_s:g} s")
    print(f"{'cell':<18} {'target':>6} {'SLA ms':>6} {'fitted c/S ms/Cs2/D ms':>20} {'sat fit/true':>8} {'n':>4} "
          f"{'pred':>6} {'true':>6} {'p99@n':>6} {'@n-1':>6} {'verdict':>7} {'err':>6} {'divide':>9} {'at conf':>9}  notes")
    for r in results:
        print(_row(r))
    for line in _summary(results, args.confidence):
        print(line)
    print(f"wall time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
