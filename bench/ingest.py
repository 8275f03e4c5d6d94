"""Ingest benchmark: a generated ~1 GB Locust `_stats_history.csv`, three ways, one table.

    planner            planner's streaming ingest (hash, raw copy, parse, validate, parquet, commit)
    pandas             pandas.read_csv -> DataFrame.to_parquet (the usual hand-rolled script)
    pyarrow read_csv   raw pyarrow.csv.read_csv, whole file in memory (reading only, nothing written)
    pyarrow -> parquet pyarrow.csv.read_csv -> parquet (lz4): the same output work as planner, without
                       streaming, hashing, the raw copy or validation

Each contender runs in its own process; peak memory is that process's max RSS, CPU seconds its
user + system time (CPU s ÷ seconds = cores kept busy: on 2 cores, at most 2).
Usage: python bench/ingest.py [--size-mb 1024] [--workdir /tmp/planner-bench]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CONTENDERS = {
    "planner": """
from planner.collection import ingest
from planner.store import RunStore
(outcome,) = ingest(RunStore(WORK / "store"), [CSV])
rows = outcome.tables["history"]
""",
    "pandas": """
import pandas as pd
frame = pd.read_csv(CSV)
frame.to_parquet(WORK / "pandas.parquet")
rows = len(frame)
""",
    "pyarrow read_csv": """
import pyarrow.csv as pacsv
rows = pacsv.read_csv(CSV).num_rows
""",
    "pyarrow -> parquet": """
import pyarrow.csv as pacsv, pyarrow.parquet as pq
table = pacsv.read_csv(CSV)
pq.write_table(table, WORK / "pyarrow.parquet", compression="lz4")
rows = table.num_rows
""",
}

RUNNER = """
import json, resource, sys, time
from pathlib import Path
CSV, WORK = Path(sys.argv[1]), Path(sys.argv[2])
start = time.perf_counter()
{body}
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"rows": rows, "seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mb": usage.ru_maxrss / 1024}}))
"""


def _generate(path: Path, size_mb: int) -> Path:
    from tests.synth import write_history

    if path.exists() and path.stat().st_size >= size_mb * 0.95 * 2**20:
        return path
    probe = write_history(path, rows=100_000)
    bytes_per_row = probe.stat().st_size / 100_000
    return write_history(path, rows=int(size_mb * 2**20 / bytes_per_row))


def _run(name: str, csv: Path, work: Path) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    code = RUNNER.format(body=CONTENDERS[name])
    done = subprocess.run([sys.executable, "-c", code, str(csv), str(work)], capture_output=True, text=True,
                          cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/planner-bench"))
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; the best is reported")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    csv = _generate(args.workdir / "bench_stats_history.csv", args.size_mb)
    size_mb = csv.stat().st_size / 2**20
    results = {}
    for name in CONTENDERS:
        runs = [_run(name, csv, args.workdir / "work") for _ in range(args.repeat)]
        results[name] = min(runs, key=lambda r: r["seconds"])
    base = results["pyarrow read_csv"]["rows"] / results["pyarrow read_csv"]["seconds"]
    print(f"input: {csv.name}, {size_mb:,.0f} MB, {results['planner']['rows']:,} rows")
    print(f"{'contender':18s} {'seconds':>8s} {'rows/s':>12s} {'MB/s':>7s} {'peak RSS MB':>12s} {'CPU s':>6s} "
          f"{'cores':>5s} {'vs pyarrow':>10s}")
    for name, r in results.items():
        rate = r["rows"] / r["seconds"]
        print(f"{name:18s} {r['seconds']:8.2f} {rate:12,.0f} {size_mb / r['seconds']:7.1f} {r['peak_rss_mb']:12,.0f} "
              f"{r['cpu_s']:6.1f} {r['cpu_s'] / r['seconds']:5.2f} {rate / base:9.2f}x")


if __name__ == "__main__":
    main()
