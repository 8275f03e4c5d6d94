"""Recommendation benchmark: time to rank every fitted configuration with warm fits, one table.

Fits are built once (the 'cold' path, timed once for context): every configuration of the bundled
sample collection, plus one synthetic configuration per instance type of the price catalog, whose
steps come from the exact M/M/c formulas with c = the type's vCPU count (4 if unknown) and
S = 50 ms times a per-family factor (plausible, not measured). Then ``recommend_realtime`` ranks
all of them for 1000 TPS at p99 <= 200 ms, for both routings, with and without ``ha``, ``--repeat``
times each; the table gives the median and p95 wall time against the 50 ms target. A scenario that
misses the target makes the script profile the slowest one (cProfile) and print its hot spots.

Usage: python bench/recommend.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.accuracy import SAMPLE_STORE, synthetic_steps  # noqa: E402
from planner.capacity import ConfigurationFit, fit_collection_steps, fit_configuration  # noqa: E402
from planner.catalog import PriceCatalog, load_catalog  # noqa: E402
from planner.recommend.realtime import ROUTINGS, recommend_realtime  # noqa: E402
from planner.steps import for_collection  # noqa: E402
from planner.store import RunStore  # noqa: E402

TARGET_TPS = 1000.0
LATENCY_TARGET_MS = 200.0
PERCENTILE = 99.0
BUDGET_MS = 50.0
BOOTSTRAP_RESAMPLES = 50
BASE_SERVICE_MS = 50.0
# Service-time factor by instance family (letters after "ml."): accelerated families serve faster.
FAMILY_FACTOR = {"c": 0.8, "m": 1.0, "t": 1.5, "g": 0.5, "p": 0.3, "inf": 0.4, "trn": 0.4}
SYNTHETIC_ORIGIN = "synthetic (M/M/c formulas)"
COLUMNS = ["run_id", "instance_type", "origin", "source", "concurrency", "throughput_rps", "latency_mean_ms",
           "latency_p99_ms", "latency_p50_ms", "too_short", "errors", "cumulative_percentiles",
           "generator_saturated"]


def family_factor(instance_type: str) -> float:
    """Service-time factor of ``instance_type``'s family (1 when the family is not listed)."""
    match = re.match(r"ml\.([a-z]+)", instance_type)
    return FAMILY_FACTOR.get(match.group(1), 1.0) if match else 1.0


def synthetic_fleet(catalog: PriceCatalog) -> list[pd.DataFrame]:
    """One exact M/M/c steps frame per catalog instance type (c = vCPU or 4, S = 50 ms x family factor)."""
    frames = []
    for instance_type, spec in sorted(catalog.instances.items()):
        steps = synthetic_steps(spec.vcpu or 4, BASE_SERVICE_MS * family_factor(instance_type))
        steps = steps.assign(run_id=f"synthetic-{instance_type}", instance_type=instance_type,
                             origin=SYNTHETIC_ORIGIN, source="synthetic")
        frames.append(steps[COLUMNS])
    return frames


def build_fits(catalog: PriceCatalog) -> tuple[list[ConfigurationFit], float]:
    """Every fit (sample collection, then the synthetic fleet) and the wall time of the fitting (s);
    the synthetic steps are generated before the clock starts."""
    fleet = synthetic_fleet(catalog)
    start = time.perf_counter()
    fits = fit_collection_steps(for_collection(RunStore(SAMPLE_STORE)), bootstrap_resamples=BOOTSTRAP_RESAMPLES)
    fits += [fit_configuration(steps, bootstrap_resamples=BOOTSTRAP_RESAMPLES) for steps in fleet]
    return fits, time.perf_counter() - start


def scenarios() -> list[tuple[str, dict]]:
    return [(f"{routing}{', ha' if ha else ''}", {"routing": routing, "ha": ha})
            for routing in ROUTINGS for ha in (False, True)]


def rank(fits: list[ConfigurationFit], catalog: PriceCatalog, options: dict):
    return recommend_realtime(fits, catalog, target_tps=TARGET_TPS, latency_target_ms=LATENCY_TARGET_MS,
                              percentile=PERCENTILE, **options)


def time_ms(call, repeat: int) -> np.ndarray:
    """Wall time (ms) of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1e3)
    return np.array(out)


def hot_spots(call, top: int = 5) -> str:
    """cProfile of one call: the ``top`` functions by internal time, then the ``top`` planner
    functions by cumulative time (which library code the time is spent under)."""
    profile = cProfile.Profile()
    profile.runcall(call)
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(r"[/\\]planner[/\\]", top + 1)  # + the entry point itself
    return "\n".join(line for line in text.getvalue().splitlines() if line.strip())


def render(rows: list[list[str]]) -> str:
    header = ["scenario", "configurations ranked", "feasible", "median ms", "p95 ms", "target", "met"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                strict=True)))

    return "\n".join([line(header), "-" * len(line(header)), *map(line, rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per scenario")
    args = parser.parse_args()
    catalog = load_catalog()
    fits, cold_s = build_fits(catalog)
    rows, missed = [], {}
    for name, options in scenarios():
        rec = rank(fits, catalog, options)
        ms = time_ms(lambda options=options: rank(fits, catalog, options), args.repeat)
        median, p95 = float(np.median(ms)), float(np.percentile(ms, 95))
        met = p95 < BUDGET_MS
        rows.append([name, str(len(rec.options) + len(rec.rejected)), str(len(rec.options)), f"{median:.1f}",
                     f"{p95:.1f}", f"< {BUDGET_MS:g} ms", "yes" if met else "no"])
        if not met:
            missed[name] = (median, options)
    rows.append(["cold: steps + fit every configuration (once)", str(len(fits)), "-", f"{cold_s * 1e3:.0f}", "-",
                 "n/a", "-"])
    print(f"recommend_realtime: {TARGET_TPS:g} TPS, p{PERCENTILE:g} <= {LATENCY_TARGET_MS:g} ms, {len(fits)} fitted "
          f"configurations ({len(catalog.instances)} synthetic), {args.repeat} calls per scenario; "
          "'met' = p95 under the target")
    print(render(rows))
    if missed:
        name = max(missed, key=lambda k: missed[k][0])
        print(f"\nhot spots of the slowest scenario that missed the target, {name} (one call, cProfile):")
        print(hot_spots(lambda: rank(fits, catalog, missed[name][1])))


if __name__ == "__main__":
    main()
