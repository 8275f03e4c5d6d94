"""The runs a scenario reads: the user's run collection, the bundled sample, or both side by side.

:func:`open_runs` picks the collection as the CLI always has (``--store``, else ./planner-store, else
the bundled sample alone). With ``include_sample`` the bundled sample is read *beside* the user's
collection (read-only, never written): everything taken from it is marked, its origin ending in
``, bundled sample`` and its notes carrying :data:`SAMPLE_NOTE`, so every option built on it says so.

A :class:`RunSource` keeps the steps, fits and GPU memory series it computed (in memory, per
arguments) and reads and writes the on-disk :class:`~planner.fit_cache.FitCache`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import pandas as pd

from planner.capacity import ConfigurationFit, fit_store
from planner.errors import InfeasibleError, InputError, StoreError
from planner.fit_cache import FitCache
from planner.recommend.mme import MemorySeries, memory_series, throughput_run_ids
from planner.steps import StepRules, for_collection
from planner.store import DEFAULT_STORE, RunStore

SAMPLE_STORE = Path(os.environ.get("PLANNER_SAMPLE_STORE",
                                   Path(__file__).resolve().parents[2] / "data" / "sample-store"))
SAMPLE_ORIGIN = "bundled sample"
SAMPLE_NOTE = "measured in the bundled sample collection (read-only), not in your runs"

class NotedResult(Protocol):
    """A frozen dataclass result with ``notes``."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def notes(self) -> tuple[str, ...]: ...


Result = TypeVar("Result", bound=NotedResult)


def with_notes(result: Result, *notes: str) -> Result:
    """``result`` (a frozen dataclass with ``notes``) with ``notes`` put before its own."""
    return replace(result, notes=(*notes, *result.notes))


def is_sample(root: str | os.PathLike) -> bool:
    """Whether ``root`` is the bundled sample collection."""
    return "://" not in str(root) and Path(root).resolve() == SAMPLE_STORE.resolve()


@dataclass(frozen=True)
class RunSource:
    """The collections a scenario reads: ``store`` (the user's, or the bundled sample standing in for
    it: ``fell_back``) and ``sample`` (the bundled sample read beside it, marked; None when not)."""

    store: RunStore
    sample: RunStore | None = None
    cache: FitCache | None = None
    fell_back: bool = False
    memo: dict[tuple, Any] = field(default_factory=dict, repr=False, compare=False)

    def _stores(self) -> list[tuple[RunStore, bool]]:
        """(collection, whether what comes from it is marked as the bundled sample)."""
        return [(self.store, False)] + ([(self.sample, True)] if self.sample is not None else [])

    def resolve(self, run_ids: Sequence[str]) -> list[str]:
        """Full ids of ``run_ids`` (ids or unique prefixes) in any collection read; StoreError if one is in none."""
        found = []
        for run_id in run_ids:
            errors = []
            for store, _ in self._stores():
                try:
                    found.append(store.resolve(run_id))
                    break
                except StoreError as exc:
                    errors.append(exc)
            else:
                raise errors[0]
        return found

    def _remember(self, key: tuple, compute) -> Any:
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    def fits(self, run_ids: Sequence[str] | None = None, *, for_sizing: bool = False,
             configs: Sequence[str] | None = None, rules: StepRules | None = None) -> list[ConfigurationFit]:
        """Fits of every configuration (of ``run_ids`` only, when given) by :func:`planner.capacity.fit_store`:
        models of the instances, at no SLA (the decisions compute capacity at theirs)."""
        key = ("fits", tuple(run_ids or ()), for_sizing, tuple(configs or ()), rules)

        def compute() -> list[ConfigurationFit]:
            fits, missing = [], []
            for store, marked in self._stores():
                ids = [r for r in run_ids if store.has_run(r)] if run_ids else None
                if run_ids and not ids:
                    continue
                try:
                    found = fit_store(store, ids, for_sizing=for_sizing, cache=self.cache, configs=configs,
                                      rules=rules)
                except InputError as exc:  # --config matching nothing here may match in the other collection
                    missing.append(exc)
                    continue
                fits += [_marked_fit(f) for f in found] if marked else found
            if missing and len(missing) == len(self._stores()):
                raise missing[0]
            return fits

        return self._remember(key, compute)

    def steps(self, run_ids: Sequence[str] | None = None, rules: StepRules | None = None) -> pd.DataFrame:
        """Steady-state steps of every run (of ``run_ids`` only, when given), one frame."""
        def compute() -> pd.DataFrame:
            frames = []
            for store, marked in self._stores():
                ids = [r for r in run_ids if store.has_run(r)] if run_ids else None
                if run_ids and not ids:
                    continue
                steps = for_collection(store, ids, rules=rules or StepRules(), cache=self.cache)
                if marked and "origin" in steps:
                    steps = steps.assign(origin=steps["origin"].astype(str) + f", {SAMPLE_ORIGIN}")
                frames.append(steps)
            frames = [f for f in frames if not f.empty]
            return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

        return self._remember(("steps", tuple(run_ids or ()), rules), compute)

    def memory_series(self, run_ids: Sequence[str] | None = None) -> list[MemorySeries]:
        """GPU memory vs models-loaded series (of ``run_ids`` only, when given); InfeasibleError when none."""
        def compute() -> list[MemorySeries]:
            found = []
            for store, marked in self._stores():
                series = memory_series(store.runs(), store.table("gpu_memory"), store.table("metrics"))
                found += [replace(s, origin=f"{s.origin}, {SAMPLE_ORIGIN}") if marked else s for s in series]
            if run_ids:
                found = [s for s in found if s.run_id in set(run_ids)]
            if not found:
                raise InfeasibleError(f"{self.store.root}: no GPU memory series (ingest an MME benchmark log or "
                                      "CloudWatch GPUMemoryUtilization with LoadedModelCount)")
            return found

        return self._remember(("memory_series", tuple(run_ids or ())), compute)

    def throughput_fits(self, series: Sequence[MemorySeries], rules: StepRules | None = None
                        ) -> list[ConfigurationFit]:
        """Sizing fits of the runs measuring the throughput of ``series``' configurations (same
        instance type, framework, model and endpoint; not the series' own runs), per collection."""
        ids = []
        for store, _ in self._stores():
            ids += throughput_run_ids(store.runs(), series)
        return self.fits(ids, for_sizing=True, rules=rules) if ids else []

    def run_metrics(self, run_id: str) -> tuple[pd.DataFrame, str]:
        """The ``metrics`` table of one run and a name for it (collection and run id)."""
        [full] = self.resolve([run_id])
        store = next(s for s, _ in self._stores() if s.has_run(full))
        return store.table("metrics", [full]), f"{store.root} run {full}"


def _marked_fit(fit: ConfigurationFit) -> ConfigurationFit:
    return replace(fit, origin=f"{fit.origin}, {SAMPLE_ORIGIN}", notes=(*fit.notes, SAMPLE_NOTE))


def runs_at(root: str, *, include_sample: bool = False, cached: bool = True) -> RunSource:
    """The collection at ``root``, with the bundled sample beside it when ``include_sample`` (unless
    ``root`` is the sample); fits cached on disk (:meth:`FitCache.default`) unless ``cached`` is False."""
    beside = include_sample and not is_sample(root) and RunStore(SAMPLE_STORE).exists()
    return RunSource(RunStore(root), RunStore(SAMPLE_STORE) if beside else None,
                     FitCache.default() if cached else None)


def open_runs(store: str | None = None, *, include_sample: bool = False, cached: bool = True) -> RunSource:
    """``store`` (which must exist), else ./planner-store when it exists, else the bundled sample
    alone (``fell_back``); with ``include_sample``, the sample beside the user's collection too."""
    if store:
        if not RunStore(store).exists():
            raise StoreError(f"{store}: no run collection here (create one with `planner ingest --store {store}`)")
        return runs_at(store, include_sample=include_sample, cached=cached)
    if RunStore(DEFAULT_STORE).exists():
        return runs_at(DEFAULT_STORE, include_sample=include_sample, cached=cached)
    if not RunStore(SAMPLE_STORE).exists():
        raise StoreError(f"no run collection at {DEFAULT_STORE} and no bundled sample at {SAMPLE_STORE}; "
                         "ingest some runs first (`planner ingest PATH`)")
    return replace(runs_at(str(SAMPLE_STORE), cached=cached), fell_back=True)
