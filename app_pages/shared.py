"""Cached library calls shared by the pages, the store the app shows, and the scenario kept in the URL.

No maths here: every function forwards its arguments to the library, and every input is an argument
(so the caches key on all of them). The store's *version* (its run ids and generations) is part of
every key, so an upload invalidates what was computed from the collection before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from planner.capacity import ConfigurationFit, fit_store
from planner.catalog import PriceCatalog, load_catalog
from planner.charts import usl_chart
from planner.recommend.realtime import RealtimeRecommendation, recommend_realtime
from planner.steps import for_run
from planner.store import DEFAULT_STORE, RunStore

REPO = Path(__file__).resolve().parents[1]
SAMPLE_STORE = Path(os.environ.get("PLANNER_SAMPLE_STORE", REPO / "data" / "sample-store"))


@dataclass(frozen=True)
class StoreChoice:
    """The collection the app reads (``root``), why it was chosen, and where uploads are written
    (``upload_root``; None when that would be the bundled sample, which is never modified)."""

    root: str
    reason: str
    upload_root: str | None


def default_store() -> StoreChoice:
    """As the CLI: ``PLANNER_STORE`` (``planner app --store``), else ./planner-store if it exists, else the
    bundled sample collection (read-only). Uploads go where ``planner ingest`` would write."""
    explicit = os.environ.get("PLANNER_STORE")
    if explicit:
        is_sample = "://" not in explicit and Path(explicit).resolve() == SAMPLE_STORE.resolve()
        return StoreChoice(explicit, "--store / PLANNER_STORE", None if is_sample else explicit)
    local = str(Path(DEFAULT_STORE).resolve())
    if RunStore(local).exists():
        return StoreChoice(local, "./planner-store", local)
    return StoreChoice(str(SAMPLE_STORE), "no ./planner-store: the bundled sample collection (read-only)", local)


def store_version(root: str) -> tuple[tuple[str, str], ...]:
    """(run id, generation) of every committed run: changes whenever the collection does (~ms to read)."""
    store = RunStore(root)
    if not store.exists():
        return ()
    return tuple((r.run_id, r.generation) for r in store.records())


@st.cache_data(show_spinner=False, max_entries=8)
def runs_table(root: str, version: tuple) -> pd.DataFrame:
    """The store's ``runs`` table (one row per run)."""
    return RunStore(root).runs()


@st.cache_data(show_spinner=False, max_entries=8)
def labels_of_runs(root: str, version: tuple) -> dict[str, dict[str, str]]:
    """Run id -> its key=value labels."""
    return {r.run_id: dict(r.run.get("labels") or {}) for r in RunStore(root).records()}


@st.cache_data(show_spinner=False, max_entries=64)
def run_steps(root: str, version: tuple, run_id: str) -> pd.DataFrame:
    """One run's steady-state steps (:func:`planner.steps.for_run`)."""
    return for_run(RunStore(root), run_id)


@st.cache_resource(show_spinner="Fitting every configuration of the collection (once per collection)…",
                   max_entries=4)
def sizing_fits(root: str, version: tuple) -> list[ConfigurationFit]:
    """Fits for sizing, as ``planner recommend`` makes them. The SLA, percentile and utilisation cap
    only set ``ConfigurationFit.capacity``, which the recommender recomputes: one fit serves every scenario."""
    return fit_store(RunStore(root), for_sizing=True)


@st.cache_resource(show_spinner="Fitting this run (USL and latency, with bootstrap)…", max_entries=32)
def run_fits(root: str, version: tuple, run_id: str) -> list[ConfigurationFit]:
    """Full fits (USL and latency model) of one run's configurations, as ``planner fit --run`` makes them."""
    return fit_store(RunStore(root), [run_id])


@st.cache_resource(show_spinner=False, max_entries=32)
def price_catalog(region: str, discount: float, overrides: tuple[tuple[str, float], ...]) -> PriceCatalog:
    """The price catalog with per-instance USD/hour overrides, then the discount (as ``load_catalog``)."""
    return load_catalog(region, discount=discount, overrides=dict(overrides))


@st.cache_data(show_spinner=False, max_entries=256)
def recommendation(root: str, version: tuple, target_tps: float, latency_target_ms: float, percentile: float | str,
                   max_utilization: float, ha: bool, routing: str, region: str, discount: float,
                   overrides: tuple[tuple[str, float], ...], top: int) -> RealtimeRecommendation:
    """:func:`planner.recommend.realtime.recommend_realtime` over :func:`sizing_fits` (``planner recommend``)."""
    return recommend_realtime(sizing_fits(root, version), price_catalog(region, discount, overrides),
                              target_tps=target_tps, latency_target_ms=latency_target_ms, percentile=percentile,
                              max_utilization=max_utilization, ha=ha, routing=routing, top=top)


def store_banner(choice: StoreChoice) -> None:
    """One caption line naming the collection shown."""
    st.caption(f"Run collection: `{choice.root}` ({choice.reason})")


@st.cache_resource(show_spinner="Bootstrapping the USL band…", max_entries=32)
def run_usl_chart(root: str, version: tuple, run_id: str, config_label: str) -> alt.LayerChart:
    """:func:`planner.charts.usl_chart` of one configuration of :func:`run_fits` (it refits the bootstrap)."""
    fit = next(f for f in run_fits(root, version, run_id) if f.config.label == config_label)
    return usl_chart(fit)


def max_upload_mb() -> int:
    """The per-file upload limit (MB): Streamlit's server.maxUploadSize, which `planner app` sets to 200."""
    return int(st.get_option("server.maxUploadSize"))
