"""Closed-loop check: does the recommended instance count meet the SLA when it is actually deployed?

1. ``serve-local`` emulates one instance of known capacity (an M/M/c queue: c workers, exponential
   service of mean S); real Locust drives it with open-loop arrival-rate steps (``rate:`` shape);
2. the run is ingested, fitted, and ``recommend_realtime`` sizes a fleet for the target TPS and p99;
3. ``serve-local`` then runs the recommended count, and one fewer, behind the same routing, and
   Locust offers the target rate to each; the measured p99 says whether the SLA was met.

The table compares measured p99 with the SLA and with the exact M/M/c value for each count.
Usage: python bench/closed_loop.py [--target-tps 500] [--p99-ms 130] [--hold-s 60]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from planner.capacity import fit_store  # noqa: E402
from planner.catalog import load_catalog  # noqa: E402
from planner.collect.endpoint import EndpointSettings, LocalEndpoint  # noqa: E402
from planner.collect.load import collect_and_ingest, parse_shape  # noqa: E402
from planner.queueing import mmc_response_quantile_s  # noqa: E402
from planner.recommend.realtime import recommend_realtime  # noqa: E402
from planner.steps import for_run  # noqa: E402
from planner.store import RunStore  # noqa: E402

INSTANCE = EndpointSettings(workers=4, service_ms=20.0, service_dist="exp", routing="random",
                            instance_type="ml.m5.xlarge", profile="closed-loop-bench")
MEASURE_RATES_RPS = (30, 60, 90, 120, 140, 160, 176)
USER_RPS = 2.0


def _collect(store: RunStore, settings: EndpointSettings, shape_text: str, work: Path, name: str) -> str:
    with LocalEndpoint(settings) as endpoint:
        outcome, result = collect_and_ingest(
            store, endpoint.url, parse_shape(shape_text), out_dir=work / name, max_duration_s=1800,
            meta={"instance_type": settings.instance_type, "instance_count": settings.instances,
                  "endpoint": f"serve-local {name}"},
            labels={"bench": "closed-loop"}, origin="emulated")
    if result.generator_saturated_levels:
        print(f"warning: Locust saturated its core at {result.generator_saturated_levels} users", file=sys.stderr)
    return outcome.run_id


def _exact_p99_ms(tps: float, count: int, routing: str) -> float:
    c, s = INSTANCE.workers, INSTANCE.service_ms / 1000
    if routing == "random":
        return 1000 * mmc_response_quantile_s(0.99, tps / count, s, c)
    return 1000 * mmc_response_quantile_s(0.99, tps, s, c * count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-tps", type=float, default=500.0)
    parser.add_argument("--p99-ms", type=float, default=130.0)
    parser.add_argument("--hold-s", type=float, default=60.0)
    parser.add_argument("--max-utilization", type=float, default=0.95,
                        help="high, so that the SLA (not the utilisation cap) decides the count")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="planner-closed-loop-"))
    store = RunStore(work / "store")
    rates = ",".join(str(r) for r in MEASURE_RATES_RPS)
    print(f"1. measuring one instance ({INSTANCE.workers} workers, S = {INSTANCE.service_ms:g} ms exp, "
          f"capacity {INSTANCE.capacity_rps:g} rps) at {rates} rps ...", file=sys.stderr)
    _collect(store, INSTANCE, f"rate:rps={rates},hold=40s,user-rps={USER_RPS:g}", work, "one-instance")
    fits = fit_store(store, percentile=99, latency_target_ms=args.p99_ms, max_utilization=args.max_utilization,
                     for_sizing=True)
    rec = recommend_realtime(fits, load_catalog(), target_tps=args.target_tps, latency_target_ms=args.p99_ms,
                             max_utilization=args.max_utilization, routing=INSTANCE.routing)
    if not rec.feasible:
        print(f"2. no feasible recommendation: {[r.reason for r in rec.rejected]}", file=sys.stderr)
        return 1
    best = rec.options[0]
    print(f"2. recommended {best.instance_count} × {best.instance_type} (predicted p99 {best.predicted_latency_ms:.0f} "
          f"ms, held-out error {best.heldout_error:.0%}); checking it and one fewer ...", file=sys.stderr)
    rows = []
    for count in (best.instance_count, best.instance_count - 1):
        if count < 1:
            continue
        settings = dataclasses.replace(INSTANCE, instances=count)
        run_id = _collect(store, settings, f"rate:rps={args.target_tps:g},hold={args.hold_s:g}s,"
                                           f"user-rps={USER_RPS:g}", work, f"fleet-{count}")
        steps = for_run(store, run_id)
        step = steps.loc[steps["offered_users"].idxmax()]  # the hold at the target rate, not the ramp
        predicted = best.predicted_latency_ms if count == best.instance_count else None
        rows.append((count, step["throughput_rps"], predicted, _exact_p99_ms(args.target_tps, count, INSTANCE.routing),
                     step["latency_p99_ms"]))
    title = (f"{args.target_tps:g} TPS at p99 <= {args.p99_ms:g} ms, {INSTANCE.routing} routing, "
             f"{INSTANCE.workers} workers × {INSTANCE.service_ms:g} ms exp per instance")
    print(title)
    print(f"{'instances':>9}  {'role':<16} {'offered rps':>11} {'served rps':>10} {'planner p99':>11} "
          f"{'M/M/c p99':>9} {'measured p99':>12}  SLA")
    for count, served, predicted, exact, measured in rows:
        role = "recommended" if count == best.instance_count else "one fewer"
        print(f"{count:>9}  {role:<16} {args.target_tps:>11.0f} {served:>10.1f} "
              f"{(f'{predicted:.0f} ms' if predicted else '-'):>11} {exact:>6.0f} ms {measured:>9.0f} ms  "
              f"{'met' if measured <= args.p99_ms else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
