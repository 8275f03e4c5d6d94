"""Held-out error of the LLM latency fits per result file, against a straight line and the max-throughput rule.

Each file is ingested (``planner.collection.ingest``) into a fresh store; every configuration with at
least 4 load levels is fitted (:mod:`planner.llm_fit`) and its leave-one-level-out mean relative error
of e2e (and TTFT where measured) is printed as a markdown table: the model (e2e = a + b·c^γ,
TTFT = p + q·c^γ), a least-squares straight line through the other levels, and the rule "every level
runs at the best throughput measured elsewhere" (e2e = c / max rps, Little's law).

Usage: python bench/llm_fit.py [FILE_OR_DIR ...]   (default: ../shared/datasets/llm)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from planner.collection import ingest  # noqa: E402
from planner.errors import PlannerError  # noqa: E402
from planner.llm_fit import fit_llm_configurations  # noqa: E402
from planner.store import RunStore  # noqa: E402

DEFAULT = REPO.parent / "shared" / "datasets" / "llm"
MIN_LEVELS = 4


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _fit_rows(name: str, paths: list[Path], multi_file_only: bool = False) -> list[str]:
    """Ingest ``paths`` together into a fresh store; one row per configuration (only runs made of several
    files with ``multi_file_only``: sweeps such as vLLM's one-file-per-level results)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "store").create()
        try:
            ingest(store, paths)
        except PlannerError as exc:
            return [] if multi_file_only else [f"| {name} | – | not ingested: {str(exc).splitlines()[0][:80]} "
                                               "| | | | | |"]
        runs, steps = store.runs(), store.table("llm_steps")
        if multi_file_only:
            runs = runs[[len(json.loads(i)) > 1 for i in runs["inputs"]]] if "inputs" in runs.columns else runs[:0]
        fits = fit_llm_configurations(runs, steps) if "load_kind" in steps.columns else []
        out = []
        for fit in fits:
            levels = len(fit.concurrency_)
            if levels < MIN_LEVELS or not fit.fitted_:
                out.append(f"| {name} | {levels} | {fit.config.label}: fewer than {MIN_LEVELS} levels "
                           f"or not fitted ({fit.reason_ or 'too few levels'}) | | | | | |")
                continue
            out.append(f"| {name} | {levels} | {fit.config.label} | {_pct(fit.heldout_error_)} | "
                       f"{_pct(fit.heldout_error_line_)} | {_pct(fit.heldout_error_max_throughput_)} | "
                       f"{_pct(fit.ttft_heldout_error_)} | {_pct(fit.ttft_heldout_error_line_)} |")
        return out


def rows(paths: list[Path]) -> list[str]:
    """Each file alone, then each folder's files together (for runs the ingest builds from several files)."""
    files = sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()
                   and f.suffix.lower() in (".csv", ".json", ".jsonl", ".yaml", ".yml"))
    out, ingested = [], []
    for path in files:
        found = _fit_rows(path.name, [path])
        out += found
        ingested += [path] if not any("not ingested" in row for row in found) else []
    for folder in sorted({f.parent for f in ingested}):
        together = [f for f in ingested if f.parent == folder]
        if len(together) > 1:
            out += _fit_rows(f"{folder.name}/ ({len(together)} files together)", together, multi_file_only=True)
    return out


def main(argv: list[str]) -> None:
    paths = [Path(a) for a in argv] or [DEFAULT]
    print("| file | levels | configuration | e2e model | e2e line | e2e max-rps rule | TTFT model | TTFT line |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows(paths):
        print(row)
    print(json.dumps({"min_levels": MIN_LEVELS, "metric": "leave-one-level-out mean |relative error|"}))


if __name__ == "__main__":
    main(sys.argv[1:])
