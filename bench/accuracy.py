"""Accuracy benchmark: held-out latency error of the planner against two baselines, one table.

For every configuration with at least 4 usable steps (in ``--store``, default the bundled sample
collection, plus a few synthetic configurations), load levels are split by load (per-instance throughput, or in-flight requests for closed loops):
the lowest ~70 % train, the highest ~30 % are held out (the split of ``LatencyModel``'s own check).
Each method predicts the held-out latency from the training steps only; the score is the median
absolute percentage error (MdAPE) over the held-out steps.

    planner      ``LatencyModel().fit(train)`` then ``.predict(held-out throughput, statistic)``; it
                 sees every per-step statistic of the training steps (mean and any non-cumulative
                 percentiles), as it would in use.
    linear       least-squares line of the statistic against throughput over the training steps.
    divide-rule  sizing by ``target TPS / saturation TPS`` implicitly assumes latency stays at its
                 low-load value up to the instance's saturation throughput (here the highest training
                 throughput). The held-out loads all lie above it and the rule says nothing about
                 latency there, so it is given the benefit of the doubt: it predicts the latency of
                 the lowest-load training step for every held-out point (not ``inf``).

Usable steps follow ``planner.capacity``: steps carrying a ``DEFAULT_EXCLUDE`` flag (too short,
errors, generator saturated) are dropped. Closed-loop steps (``arrivals`` = closed) past the
throughput knee are kept and scored: the planner fits them at their user count (their plateau is the
instance's capacity), so it must predict them too. For a configuration with closed-loop steps the
load axis is the in-flight count X·R (past the knee throughput no longer orders the load), the
planner predicts a closed step at its users and think time ``N/X − R`` by exact MVA
(``QueueModel.closed_latency_ms``), and the linear baseline is a line against the in-flight count
(past the knee, latency is exactly linear in the users, so this baseline is strong there). Steps of
unknown arrivals past the knee are dropped as before. Throughput is per instance (divided by the
run's instance count).

Statistic: per-step p99 (``latency_p99_ms``) where at least 4 usable steps have one that is not
flagged ``cumulative_percentiles``; otherwise the mean (``latency_mean_ms``).

Synthetic configurations (origin "synthetic (M/G/c formulas)"): steps at utilisation 0.1 ... 0.9
from the exact M/M/c mean and quantiles (``mmc_*``) when Cs^2 = 1 and from the M/G/c
(Allen–Cunneen) formulas (``mgc_*``) when Cs^2 = 0.5, with seeded log-normal noise of 3 % on each
latency. They come from the planner's own model family, so they favour it: they show the planner
recovers what it assumes, not that the assumption holds; the measured rows are the evidence.
The CloudWatch row (origin "synthetic (CloudWatch export)") is the tests' 2-instance
``get-metric-data`` export (no real one is public), ingested as a user would: it checks the
per-instance sizing and the OverheadLatency delay end to end, from model-family data too.

A prediction of ``inf`` (the fitted queue saturated at that load) counts as an infinite error.
Usage: python bench/accuracy.py [--store PATH]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from planner import queueing as q  # noqa: E402
from planner.capacity import DEFAULT_EXCLUDE, configurations, flag_saturated  # noqa: E402
from planner.collection import ingest  # noqa: E402
from planner.errors import FitError  # noqa: E402
from planner.fit import LatencyModel  # noqa: E402
from planner.steps import for_collection  # noqa: E402
from planner.store import RunStore  # noqa: E402

SAMPLE_STORE = REPO / "data" / "sample-store"
SYNTHETIC_ORIGIN = "synthetic (M/G/c formulas)"
CLOUDWATCH_FIXTURE = REPO / "tests" / "fixtures" / "cloudwatch" / "two_instances"
CLOUDWATCH_ORIGIN = "synthetic (CloudWatch export)"
SYNTHETIC_CASES = ((4, 50.0, 1.0), (8, 20.0, 1.0), (1, 10.0, 1.0), (1, 10.0, 0.5))  # servers, S ms, Cs^2
UTILIZATIONS = np.round(np.arange(0.1, 0.95, 0.1), 2)
SYNTHETIC_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
HOLDOUT_FRACTION = 0.3
MIN_STEPS = 4
METHODS = ("planner", "linear", "divide-rule")


def synthetic_steps(servers: int, service_ms: float, service_scv: float = 1.0, *,
                    utilizations=UTILIZATIONS, noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Open-loop steps of one c-server queue at the given utilisations: throughput (rps), mean and
    p50/p90/p95/p99 latency (ms) from the exact M/M/c formulas (Cs^2 = 1) or the M/G/c ones, each
    latency times a seeded log-normal factor of spread ``noise``; concurrency is in-flight (Little)."""
    service_s = service_ms / 1e3
    lam = np.asarray(utilizations, dtype=float) * servers / service_s
    exact = service_scv == 1.0
    mean_s = (q.mmc_mean_response_s(lam, service_s, servers) if exact
              else q.mgc_mean_response_s(lam, service_s, servers, service_scv))
    stats = {"latency_mean_ms": np.asarray(mean_s) * 1e3}
    for pct in SYNTHETIC_PERCENTILES:
        value = (q.mmc_response_quantile_s(pct / 100, lam, service_s, servers) if exact
                 else q.mgc_response_quantile_s(pct / 100, lam, service_s, servers, service_scv))
        stats[f"latency_p{pct:g}_ms"] = np.asarray(value) * 1e3
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"step": np.arange(lam.size), "concurrency": lam * stats["latency_mean_ms"] / 1e3,
                          "throughput_rps": lam})
    for column, values in stats.items():
        frame[column] = values * rng.lognormal(0.0, noise, lam.size)
    for flag in ("too_short", "errors", "cumulative_percentiles", "generator_saturated"):
        frame[flag] = False
    return frame


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _flag(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _closed(frame: pd.DataFrame) -> np.ndarray:
    if "arrivals" not in frame:
        return np.zeros(len(frame), dtype=bool)
    return (frame["arrivals"].astype(str).to_numpy() == "closed") & np.isfinite(_numbers(frame, "concurrency"))


def usable_steps(steps: pd.DataFrame) -> tuple[pd.DataFrame, str | None, str]:
    """Per-instance steps not flagged (``DEFAULT_EXCLUDE``) nor, unless closed-loop, past the knee, that
    carry the chosen statistic ('p99' or 'mean'); the statistic is None (with a reason) when < 4 do."""
    data = steps.reset_index(drop=True).copy()
    count = np.nan_to_num(_numbers(data, "instance_count"), nan=1.0).clip(min=1.0)
    data["throughput_rps"] = _numbers(data, "throughput_rps") / count
    if "concurrency" in data:
        data["concurrency"] = _numbers(data, "concurrency") / count
    flagged = np.any([_flag(data, f) for f in DEFAULT_EXCLUDE], axis=0)
    data = data[~flagged & np.isfinite(data["throughput_rps"].to_numpy())]
    if "arrivals" not in data:
        data = data[~flag_saturated(data).to_numpy(dtype=bool)]
    p99 = np.where(_flag(data, "cumulative_percentiles"), np.nan, _numbers(data, "latency_p99_ms"))
    mean = _numbers(data, "latency_mean_ms")
    for stat, values in (("p99", p99), ("mean", mean)):
        ok = np.isfinite(values) & (values > 0)
        if ok.sum() >= MIN_STEPS:
            out = data[ok].copy()
            out["observed_ms"] = values[ok]
            return out, stat, ""
    best = max(int((np.isfinite(p99) & (p99 > 0)).sum()), int((np.isfinite(mean) & (mean > 0)).sum()))
    return data, None, (f"{len(steps)} steps, {len(data)} usable (unflagged; open-loop or unknown ones below "
                        f"the knee), {best} with a per-step p99 or mean latency; needs {MIN_STEPS}")


def load_axis(steps: pd.DataFrame) -> np.ndarray:
    """Per-instance load: in-flight requests X·R (R the mean latency, else the scored statistic) when any
    step is closed-loop, else throughput."""
    lam = steps["throughput_rps"].to_numpy(dtype=float)
    if not _closed(steps).any():
        return lam
    mean = _numbers(steps, "latency_mean_ms")
    return lam * np.where(np.isfinite(mean), mean, steps["observed_ms"].to_numpy(dtype=float)) / 1e3


def split_by_load(steps: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lowest ~70 % of the load levels (:func:`load_axis`) to train, the rest held out."""
    axis = load_axis(steps)
    levels = np.unique(axis)
    cut = levels[levels.size - max(1, round(HOLDOUT_FRACTION * levels.size))]
    return steps[axis < cut], steps[axis >= cut]


def predictions(train: pd.DataFrame, test: pd.DataFrame, stat: str) -> tuple[dict[str, np.ndarray], str]:
    """Held-out latency (ms) predicted by each method from the training steps alone, and a note on
    the planner's fit when it failed or predicted saturation."""
    test_rps = test["throughput_rps"].to_numpy(dtype=float)
    closed = _closed(test)
    y = train["observed_ms"].to_numpy(dtype=float)
    note = ""
    try:
        model = LatencyModel().fit(train.drop(columns="observed_ms"))
        pct = 99.0 if stat == "p99" else "mean"
        planner = np.asarray(model.predict(test_rps, pct), dtype=float)
        if closed.any():
            users = _numbers(test, "concurrency")[closed]
            think_s = np.nan_to_num(np.maximum(users / test_rps[closed] - _numbers(test, "latency_mean_ms")[closed] / 1e3,
                                               0.0))
            planner[closed] = model.queue_.closed_latency_ms(users, think_s, pct)
        if np.isinf(planner).any():
            queue = model.queue_
            note = (f"planner predicts inf at {int(np.isinf(planner).sum())} of {planner.size} held-out points: its "
                    f"queue fitted on the training steps (c={queue.servers}, S={queue.service_time_s * 1e3:.1f} ms) "
                    f"saturates at {queue.saturation_rps:.1f} rps; held-out loads "
                    + ", ".join(f"{v:.1f}" for v in test_rps) + " rps")
    except FitError as exc:
        planner = np.full(test_rps.size, np.nan)
        note = f"planner not fitted: {exc}"
    slope, intercept = np.polyfit(load_axis(train), y, 1)
    return {"planner": planner, "linear": slope * load_axis(test) + intercept,
            "divide-rule": np.full(test_rps.size, y[np.argmin(load_axis(train))])}, note


def mdape(predicted: np.ndarray, observed: np.ndarray) -> float:
    """Median absolute percentage error (%); an infinite prediction is an infinite error."""
    if np.isnan(predicted).any():
        return math.nan
    with np.errstate(invalid="ignore"):
        errors = np.where(np.isinf(predicted), np.inf, np.abs(predicted - observed) / observed * 100.0)
    return float(np.median(errors))


def evaluate(label: str, origin: str, steps: pd.DataFrame) -> dict | str:
    """One table row for a configuration, or the reason it is skipped."""
    usable, stat, reason = usable_steps(steps)
    if stat is None:
        return reason
    train, test = split_by_load(usable)
    observed = test["observed_ms"].to_numpy(dtype=float)
    predicted, note = predictions(train, test, stat)
    arrivals = "closed" if _closed(usable).any() else "open"
    return {"configuration": label, "origin": origin, "arrivals": arrivals, "statistic": stat, "n_train": len(train),
            "n_test": len(test), **{m: mdape(predicted[m], observed) for m in METHODS}, "note": note}


def cloudwatch_case(work: Path) -> tuple[str, str, pd.DataFrame]:
    """The 2-instance ``get-metric-data`` export of the tests (M/G/2 means, S = 30 ms, Cs² 0.1, 1 % noise,
    2.6 ms OverheadLatency), ingested as a user would: sized per instance from InvocationsPerInstance."""
    store = RunStore(work / "cloudwatch-store")
    ingest(store, [CLOUDWATCH_FIXTURE / "results_iso.json", CLOUDWATCH_FIXTURE / "queries.json"],
           meta={"instance_type": "ml.m5.xlarge"})
    ((config, group),) = configurations(for_collection(store))
    return f"{config.label} (2 instances)", CLOUDWATCH_ORIGIN, group


def cases(store: Path, work: Path) -> list[tuple[str, str, pd.DataFrame]]:
    """(label, origin, steps) of every configuration in ``store``, then the synthetic ones."""
    runs = RunStore(store)
    if not runs.exists():
        raise SystemExit(f"no run store at {store}")
    out = []
    for config, group in configurations(for_collection(runs)):
        origins = sorted({str(v) for v in group.get("origin", pd.Series(dtype=str)).dropna()})
        out.append((config.label, ", ".join(origins) or "unknown", group))
    for seed, (servers, service_ms, scv) in enumerate(SYNTHETIC_CASES):
        kind = "M/M" if scv == 1.0 else "M/G"
        label = f"{kind}/{servers} S={service_ms:g}ms Cs2={scv:g}"
        out.append((label, SYNTHETIC_ORIGIN, synthetic_steps(servers, service_ms, scv, noise=0.03, seed=seed)))
    return [*out, cloudwatch_case(work)]


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else "inf" if math.isinf(value) else f"{value:.1f}%"


def _median(rows: list[dict], method: str) -> float:
    values = np.array([r[method] for r in rows], dtype=float)
    values = values[~np.isnan(values)]
    return float(np.median(values)) if values.size else math.nan


def render(rows: list[dict]) -> str:
    """The table as fixed-width text, with medians over configurations as the last rows."""
    origins = sorted({r["origin"] for r in rows if not r["origin"].startswith("synthetic")})
    by_origin = [(f"median, {o} ({len(part)})", part) for o in origins
                 for part in [[r for r in rows if r["origin"] == o]]]
    measured = [r for r in rows if not r["origin"].startswith("synthetic")]
    summaries = [*by_origin, (f"median, not synthetic ({len(measured)})", measured),
                 (f"median, all ({len(rows)})", rows)]
    body = [[r["configuration"], r["origin"], r["arrivals"], r["statistic"], str(r["n_train"]), str(r["n_test"]),
             *(_percent(r[m]) for m in METHODS)] for r in rows]
    foot = [[name, "", "", "", "", "", *(_percent(_median(part, m)) for m in METHODS)] for name, part in summaries
            if part]
    header = ["configuration", "origin", "arrivals", "statistic", "n_train", "n_test", "planner MdAPE", "linear MdAPE",
              "divide-rule MdAPE"]
    widths = [max(len(line[i]) for line in [header, *body, *foot]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                               strict=True)))

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule, *map(line, body), rule, *map(line, foot)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=SAMPLE_STORE, help="run store (default: bundled sample)")
    args = parser.parse_args()
    rows, skipped = [], []
    with tempfile.TemporaryDirectory() as work:
        configs = cases(args.store, Path(work))
    for label, origin, steps in configs:
        result = evaluate(label, origin, steps)
        if isinstance(result, dict):
            rows.append(result)
        else:
            skipped.append(f"{label}: {result}")
    print(f"held-out latency error (MdAPE over the top {HOLDOUT_FRACTION:.0%} of load levels); store: {args.store}")
    print(render(rows))
    notes = [f"{r['configuration']}: {r['note']}" for r in rows if r["note"]]
    if notes:
        print(f"\nnotes ({len(notes)}):")
        print("\n".join(f"  {n}" for n in notes))
    if skipped:
        print(f"\nskipped ({len(skipped)}):")
        print("\n".join(f"  {s}" for s in skipped))


if __name__ == "__main__":
    main()
