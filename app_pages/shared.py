"""Cached library calls shared by the pages, the store the app shows, and the scenario kept in the URL.

No maths and no pipeline here: every function forwards its arguments to a :mod:`planner.scenarios`
question, and every input is an argument (so the caches key on all of them). The collection's
*version* (its run ids and generations, and the bundled sample's when it is read beside the user's
runs) is part of every key, so an upload invalidates what was computed from the collection before.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from planner.capacity import ConfigurationFit, curve_fits
from planner.catalog import PriceCatalog, available_regions, load_catalog
from planner.charts import metrics_timeline_chart, serverless_cost_chart, timeline_chart, usl_chart
from planner.errors import PlannerError
from planner.export import CostComparison, Traffic
from planner.ingest.traffic import parse_popularity, parse_traffic_csv
from planner.recommend.mme import MemorySeries, MmeRecommendation
from planner.recommend.realtime import RealtimeRecommendation
from planner.recommend.serverless import ServerlessRecommendation
from planner.scenarios.costs import CostScenario, compare_costs
from planner.scenarios.multi_model import MultiModelScenario, size_multi_model
from planner.scenarios.realtime import RealtimeScenario, size_realtime
from planner.scenarios.serverless import ServerlessScenario, size_serverless
from planner.scenarios.source import SAMPLE_STORE, RunSource, is_sample, runs_at
from planner.steps import StepRules, for_run
from planner.store import DEFAULT_STORE, RunStore
from planner.traffic import Popularity
from planner.units import parse_count, parse_duration_ms

EXPLICIT = "--store / PLANNER_STORE"
EMPTY = "—"
"""What a table shows for a value that is not there (not measured, not applicable); each column's help says why."""
SAMPLE_VERSION = "bundled sample"  # tags the sample's part of a collection version


@dataclass(frozen=True)
class StoreChoice:
    """The collection the app reads (``root``), why it was chosen, where uploads are written
    (``upload_root``; None when that would be the bundled sample, which is never modified), and the
    bundled sample read beside ``root`` (``sample_root``; None when not)."""

    root: str
    reason: str
    upload_root: str | None
    sample_root: str | None = None


def default_store() -> StoreChoice:
    """As the CLI: ``PLANNER_STORE`` (``planner app --store``), else ./planner-store if it exists, else the
    bundled sample collection (read-only). Uploads go where ``planner ingest`` would write."""
    explicit = os.environ.get("PLANNER_STORE")
    if explicit:
        return StoreChoice(explicit, EXPLICIT, None if is_sample(explicit) else explicit)
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


def collection_version(choice: StoreChoice) -> tuple:
    """:func:`store_version` of ``choice.root``, then (:data:`SAMPLE_VERSION`, the sample's version) when
    the bundled sample is read beside it."""
    own = store_version(choice.root)
    return (*own, (SAMPLE_VERSION, store_version(choice.sample_root))) if choice.sample_root else own


@st.cache_resource(show_spinner=False, max_entries=4)
def run_source(root: str, version: tuple) -> RunSource:
    """The runs of ``root``, with the bundled sample beside them when ``version`` includes it; it keeps
    the steps, fits and series computed from them (one per collection version)."""
    return runs_at(root, include_sample=any(part[0] == SAMPLE_VERSION for part in version))


@st.cache_data(show_spinner=False, max_entries=8)
def runs_table(root: str, version: tuple) -> pd.DataFrame:
    """The store's ``runs`` table (one row per run)."""
    return RunStore(root).runs()


@st.cache_data(show_spinner=False, max_entries=8)
def labels_of_runs(root: str, version: tuple) -> dict[str, dict[str, str]]:
    """Run id -> its key=value labels."""
    return {r.run_id: dict(r.run.get("labels") or {}) for r in RunStore(root).records()}


RulesKey = tuple  # (trim_s, min_duration_s, min_requests) of :class:`planner.steps.StepRules`; () the defaults


def step_rules(key: RulesKey = ()) -> StepRules:
    """The :class:`planner.steps.StepRules` a :func:`step_rule_widgets` key stands for."""
    return StepRules(*key) if key else StepRules()


def step_rule_widgets() -> RulesKey:
    """The sidebar's step detection inputs, ``planner fit``'s ``--trim-s``, ``--min-step-s`` and
    ``--min-step-requests`` (their defaults until changed); -> the key :func:`step_rules` reads."""
    default = StepRules()
    fields = (("rules_trim_s", default.trim_s), ("rules_min_step_s", default.min_duration_s),
              ("rules_min_step_requests", default.min_requests))
    for key, value in fields:
        st.session_state.setdefault(key, value)
    with st.sidebar.expander("Step detection"):
        st.number_input("Trim at the start of each load level (s)", 0.0, 600.0, step=1.0, key="rules_trim_s",
                        help="At least this much of each level's transition is dropped (5 mean response times "
                             "when longer).")
        st.number_input("Shortest step (s)", 0.0, 3600.0, step=1.0, key="rules_min_step_s",
                        help="Levels shorter than this (ramps, short holds) are merged into bins.")
        st.number_input("Fewest requests per step", 0, 1_000_000, step=50, key="rules_min_step_requests",
                        help="Levels with fewer requests are merged into bins.")
    return (float(st.session_state.rules_trim_s), float(st.session_state.rules_min_step_s),
            int(st.session_state.rules_min_step_requests))


@st.cache_data(show_spinner=False, max_entries=64)
def run_steps(root: str, version: tuple, run_id: str, rules: RulesKey = ()) -> pd.DataFrame:
    """One run's steady-state steps (:func:`planner.steps.for_run`) under ``rules``."""
    return for_run(RunStore(root), run_id, rules=step_rules(rules))


@st.cache_data(show_spinner=False, max_entries=16)
def run_timeline_spec(root: str, version: tuple, run_id: str, past_knee: tuple[int, ...],
                      rules: RulesKey = ()) -> dict | None:
    """:func:`planner.charts.timeline_chart` of one run's Locust history, its steps shaded and flagged
    (``past_knee``: the steps its fits put past the throughput knee, :func:`planner.charts.past_knee_steps`);
    or, for CloudWatch metrics, :func:`planner.charts.metrics_timeline_chart` of its periods; None when the
    run has neither (points, recommender rows) or no Aggregated row in its history."""
    store = RunStore(root)
    record = store.get(run_id)
    if "history" not in record.tables:
        return metrics_timeline_chart(run_steps(root, version, run_id, rules)) if "metrics" in record.tables else None
    return timeline_chart(store.table("history", [run_id]), run_steps(root, version, run_id, rules),
                          percentiles=(record.run.get("notes") or {}).get("history_percentiles", "unknown"),
                          arrivals=(record.run.get("labels") or {}).get("arrivals", "closed"), past_knee=past_knee)


@st.cache_resource(show_spinner="Fitting every configuration of the collection (once per collection)…",
                   max_entries=4)
def sizing_fits(root: str, version: tuple, rules: RulesKey = ()) -> list[ConfigurationFit]:
    """Fits for sizing, as ``planner recommend`` makes them: no SLA (the decisions compute capacity),
    so one fit serves every scenario."""
    return run_source(root, version).fits(for_sizing=True, rules=step_rules(rules))


@st.cache_resource(show_spinner="Fitting this run (USL and latency, with bootstrap)…", max_entries=32)
def run_fits(root: str, version: tuple, run_id: str, rules: RulesKey = ()) -> list[ConfigurationFit]:
    """Full fits (USL and latency model) of one run's configurations, as ``planner fit --run`` makes them."""
    return run_source(root, version).fits([run_id], rules=step_rules(rules))


@st.cache_resource(show_spinner=False, max_entries=32)
def price_catalog(region: str, discount: float, overrides: tuple[tuple[str, float], ...]) -> PriceCatalog:
    """The price catalog with per-instance USD/hour overrides, then the discount (as ``load_catalog``)."""
    return load_catalog(region, discount=discount, overrides=dict(overrides))


@st.cache_data(show_spinner=False, max_entries=256)
def recommendation(root: str, version: tuple, target_tps: float, latency_target_ms: float, percentile: float | str,
                   max_utilization: float, ha: bool, routing: str, region: str, discount: float,
                   overrides: tuple[tuple[str, float], ...], top: int, confidence: float,
                   rules: RulesKey = ()) -> RealtimeRecommendation:
    """``planner recommend``: :func:`planner.scenarios.realtime.size_realtime` over :func:`sizing_fits`."""
    scenario = RealtimeScenario(target_tps=target_tps, latency_target_ms=latency_target_ms, percentile=percentile,
                                max_utilization=max_utilization, ha=ha, routing=routing, top=top,
                                confidence=confidence)
    return size_realtime(sizing_fits(root, version, rules), price_catalog(region, discount, overrides), scenario)


def table(frame: pd.DataFrame, column_config: dict | None = None, *, ranked: bool = False) -> None:
    """``frame`` as a table: missing values as :data:`EMPTY`, the index shown only for a ranking."""
    st.dataframe(frame, column_config=column_config, hide_index=not ranked, placeholder=EMPTY)


def shown_value(value: object) -> str:
    """A table cell as text: :data:`EMPTY` for nothing, whole numbers with thousands separators,
    others to 4 significant digits."""
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return EMPTY
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"


def store_banner(choice: StoreChoice) -> None:
    """One caption line naming the collection shown (and the bundled sample beside it)."""
    beside = (f"; beside it the bundled sample `{choice.sample_root}` (read-only; what comes from it is marked "
              "'bundled sample')" if choice.sample_root else "")
    st.caption(f"Run collection: `{choice.root}` ({choice.reason}){beside}")


def url_scenario(prefix: str, fields: dict, sidebar: Callable[[], dict]) -> dict:
    """A page's scenario: widgets seeded from the URL (``fields``), the ``sidebar`` drawn, and a
    warning for every part of the link that was not understood; -> the widgets' values."""
    problems = scenario_widgets(prefix, fields)
    values = sidebar()
    warn_problems(problems)
    return values


def with_sample_choice(choice: StoreChoice) -> StoreChoice:
    """``choice`` with the bundled sample beside it unless the sidebar switch says not (on by default,
    except for a collection named with ``--store``); unchanged when ``choice.root`` is the sample."""
    if is_sample(choice.root):
        return choice
    beside = st.sidebar.toggle("Bundled sample beside your runs", value=choice.reason != EXPLICIT,
                               key="include_sample", help="Read the bundled sample collection too (never modified); "
                               "its options are marked 'bundled sample'.")
    return replace(choice, sample_root=str(SAMPLE_STORE)) if beside and RunStore(SAMPLE_STORE).exists() else choice


def open_page(title: str, scenario: Callable[[], dict]) -> tuple[StoreChoice, tuple, dict] | None:
    """Every page's start: title, the collection's banner, the page's scenario widgets (``scenario()``
    returns their values) and the collection's version; None, with a note, while it has no runs."""
    st.title(title)
    choice = with_sample_choice(default_store())
    store_banner(choice)
    values = scenario()
    version = collection_version(choice)
    if not version:
        st.info(f"No runs in `{choice.root}` yet: add some on the Upload page.")
        return None
    return choice, version, values


@st.cache_resource(show_spinner="Bootstrapping the USL band…", max_entries=32)
def run_usl_chart(root: str, version: tuple, run_id: str, config_label: str,
                  rules: RulesKey = ()) -> alt.LayerChart:
    """:func:`planner.charts.usl_chart` of one configuration of :func:`run_fits`."""
    fit = next(f for f in curve_fits(run_fits(root, version, run_id, rules)) if f.config.label == config_label)
    return usl_chart(fit)


def json_and_prices(command: str, data: dict, provenance: str, hours_per_month: float) -> None:
    """A page's closing lines: the answer as ``command --json`` would print it, then its prices."""
    with st.expander(f"As `{command} --json`"):
        st.code(json.dumps(data, indent=2, default=str), language="json")
    st.caption(f"Prices: {provenance}; months of {hours_per_month:g} h. The scenario is in the address bar: copy it "
               "to share.")


def max_upload_mb() -> int:
    """The per-file upload limit (MB): Streamlit's server.maxUploadSize, which `planner app` sets to 200."""
    return int(st.get_option("server.maxUploadSize"))


# ------------------------------------------------------------------ serverless, multi-model, compare


@st.cache_data(show_spinner="Sizing serverless and the comparable real-time option…", max_entries=256)
def serverless_recommendation(root: str, version: tuple, *, monthly_invocations: float, peak_tps: float,
                              latency_target_ms: float, strategy: str, balanced_weight: float, request_bytes: float,
                              response_bytes: float, throttle_target: float, spillover_target: float,
                              latency_scv: float, max_utilization: float, region: str, discount: float,
                              overrides: tuple[tuple[str, float], ...]) -> ServerlessRecommendation:
    """``planner serverless`` (real-time option sized from the collection): memory, concurrency, costs."""
    scenario = ServerlessScenario(
        monthly_invocations=monthly_invocations, peak_tps=peak_tps, latency_target_ms=latency_target_ms,
        strategy=strategy, balanced_weight=balanced_weight, request_bytes=request_bytes, response_bytes=response_bytes,
        throttle_target=throttle_target, spillover_target=spillover_target, latency_scv=latency_scv,
        max_utilization=max_utilization)
    return size_serverless(run_source(root, version), price_catalog(region, discount, overrides), scenario)


@st.cache_resource(show_spinner=False, max_entries=64)
def serverless_cost_spec(root: str, version: tuple, **scenario) -> dict:
    """:func:`planner.charts.serverless_cost_chart` of :func:`serverless_recommendation` as a Vega-Lite dict."""
    return serverless_cost_chart(serverless_recommendation(root, version, **scenario)).to_dict()


@st.cache_data(show_spinner=False, max_entries=8)
def gpu_memory_series(root: str, version: tuple) -> list[MemorySeries]:
    """Every GPU memory vs models-loaded series of the collection."""
    return run_source(root, version).memory_series()


@st.cache_data(show_spinner=False, max_entries=32)
def mme_popularity(popularity: str, models: int, traffic_csv: str | None = None,
                   traffic_name: str = "traffic.csv") -> Popularity:
    """The models' request shares: from an uploaded per-model traffic CSV when given (as ``planner mme
    --popularity FILE``), else ``popularity`` (zipf:S or uniform) over ``models`` models."""
    if traffic_csv is not None:
        return parse_traffic_csv(traffic_csv, Path(traffic_name))
    return parse_popularity(popularity, models)


@st.cache_data(show_spinner="Sizing the multi-model endpoint…", max_entries=256)
def mme_recommendation(root: str, version: tuple, *, target_tps: float, models: int, popularity: str,
                       tps_per_instance: float | None, latency_target_ms: float | None, max_utilization: float,
                       memory_threshold: float, max_miss_ratio: float, cold_load_ms: float | None, region: str,
                       discount: float, overrides: tuple[tuple[str, float], ...], traffic_csv: str | None = None,
                       traffic_name: str = "traffic.csv") -> MmeRecommendation:
    """``planner mme`` over the whole collection (:func:`planner.scenarios.multi_model.size_multi_model`)."""
    scenario = MultiModelScenario(target_tps, mme_popularity(popularity, models, traffic_csv, traffic_name),
                                  tps_per_instance=tps_per_instance, latency_target_ms=latency_target_ms,
                                  max_utilization=max_utilization, memory_threshold=memory_threshold,
                                  max_miss_ratio=max_miss_ratio, cold_load_ms=cold_load_ms)
    return size_multi_model(run_source(root, version), price_catalog(region, discount, overrides), scenario)


@st.cache_data(show_spinner="Pricing every option…", max_entries=128)
def comparison(root: str, version: tuple, *, target_tps: float, latency_target_ms: float,
               monthly_invocations: float | None, request_bytes: float, response_bytes: float, models: int | None,
               popularity: str, scenario: str, max_utilization: float, region: str, discount: float,
               overrides: tuple[tuple[str, float], ...]) -> CostComparison:
    """``planner export costs`` (:func:`planner.scenarios.costs.compare_costs`): real-time without and
    with HA, serverless and (with ``models``) multi-model, priced side by side with their assumptions."""
    traffic = (Traffic(target_tps, monthly_invocations, request_bytes, response_bytes) if monthly_invocations
               else Traffic.at_peak_all_month(target_tps, request_bytes, response_bytes))
    question = CostScenario(traffic=traffic, latency_target_ms=latency_target_ms, max_utilization=max_utilization,
                            popularity=mme_popularity(popularity, models) if models else None,
                            name=scenario or None)
    return compare_costs(run_source(root, version), price_catalog(region, discount, overrides), question)


# ------------------------------------------------------------------ scenario in the URL


def positive_count(text: str) -> float:
    """``1k``, ``3M``… as a number > 0 (ValueError or UnitError otherwise)."""
    value = parse_count(text)
    if not value > 0:
        raise ValueError("expected a positive number")
    return value


def nonnegative_count(text: str) -> float:
    value = parse_count(text)
    if value < 0:
        raise ValueError("expected a number >= 0")
    return value


def positive_ms(text: str) -> float:
    """``200ms``, ``1.5s``… in ms, > 0."""
    value = parse_duration_ms(text)
    if not value > 0:
        raise ValueError("expected a positive duration")
    return value


def fraction(low: float, high: float) -> Callable[[str], float]:
    """A parser of a number in [low, high]."""
    def parse(text: str) -> float:
        value = float(text)
        if not low <= value <= high:
            raise ValueError(f"expected a number from {low:g} to {high:g}")
        return value
    return parse


def whole(low: int, high: int) -> Callable[[str], int]:
    """A parser of a whole number in [low, high]."""
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return int(text)
    return parse


def one_of(choices) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in tuple(choices):
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text
    return parse


def flag(text: str) -> bool:
    return text.lower() in ("1", "true", "yes", "on")


def region_name(text: str) -> str:
    return one_of(available_regions())(text)


def parse_price_overrides(text: str, region: str) -> tuple[tuple[str, float], ...]:
    """``ml.c5.2xlarge=0.30, ml.m5.xlarge=0.2`` -> sorted (instance type, USD/hour) pairs of the types the
    ``region`` catalog knows; each unknown type is named in a warning (with close matches) and not applied."""
    pairs = {}
    for item in (part.strip() for part in text.replace(";", ",").split(",")):
        if not item:
            continue
        name, sep, price = item.partition("=")
        try:
            value = float(price)
        except ValueError:
            value = None
        if not sep or not name.strip() or value is None:
            raise ValueError(f"price overrides: expected instance_type=USD/hour such as ml.m5.xlarge=0.2, "
                             f"found {item!r}")
        pairs[name.strip()] = value
    catalog = price_catalog(region, 0.0, ())
    for name in [n for n in pairs if n not in catalog.instances]:
        try:
            catalog.spec(name)
        except PlannerError as exc:
            st.warning(f"Price override {name}={pairs.pop(name):g} not applied: {exc}.")
    return tuple(sorted(pairs.items()))


# The price inputs every page has (URL key -> (default, parser)), drawn by :func:`price_widgets`.
PRICE_FIELDS: dict[str, tuple[object, Callable[[str], object]]] = {
    "region": ("us-east-1", region_name), "discount": (0.0, fraction(0, 0.9)), "prices": ("", str)}


def price_widgets(prefix: str) -> None:
    """Region, discount and per-instance price overrides, keyed ``<prefix>_region|discount|prices``.

    The discount is a percentage widget (``<prefix>_discount_pct``, 0–90 %); ``<prefix>_discount`` keeps it
    as the fraction the library and the URL use (``discount=0.2``), so old links still restore it."""
    side = st.sidebar
    side.selectbox("Region", available_regions(), key=f"{prefix}_region")
    st.session_state.setdefault(f"{prefix}_discount_pct", round(100 * float(st.session_state[f"{prefix}_discount"])))
    percent = side.slider("Discount on compute prices (%)", 0, 90, step=1, format="%d %%", key=f"{prefix}_discount_pct",
                          help="Savings Plans or negotiated rates: the percentage off on-demand compute prices.")
    st.session_state[f"{prefix}_discount"] = percent / 100
    side.text_input("Price overrides (USD/hour per instance)", key=f"{prefix}_prices",
                    placeholder="ml.c5.2xlarge=0.30, ml.m5.xlarge=0.2",
                    help="Your own hourly prices for some instance types; the rest come from the catalog.")


def scenario_widgets(prefix: str, fields: dict[str, tuple[object, Callable[[str], object]]]) -> list[str]:
    """Seed the widgets keyed ``{prefix}_{name}`` from the page's scenario: the URL's values on the page's
    first visit (``fields``: name -> (default, parser)), then the session's. Returns what the link had that
    was not understood (the default is used instead)."""
    state = f"{prefix}__scenario"
    if state not in st.session_state:
        values, problems = {name: default for name, (default, _) in fields.items()}, []
        params = st.query_params.to_dict()
        for name in fields.keys() & params.keys():
            try:
                values[name] = fields[name][1](str(params[name]))
            except (ValueError, PlannerError) as exc:
                problems.append(f"{name}={params[name]!r}: {exc}")
        st.session_state[state], st.session_state[f"{prefix}__problems"] = values, problems
    for name, value in st.session_state[state].items():
        st.session_state.setdefault(f"{prefix}_{name}", value)
    return st.session_state[f"{prefix}__problems"]


def scenario_state(prefix: str) -> dict[str, object]:
    """The page's last scenario (the URL's on its first visit)."""
    return st.session_state[f"{prefix}__scenario"]


def widget_values(prefix: str, fields: dict) -> dict[str, object]:
    """The current value of every scenario widget, by field name (fractions rounded to 4 digits)."""
    return {name: (round(v, 4) if isinstance(v := st.session_state[f"{prefix}_{name}"], float) else v)
            for name in fields}


def keep_scenario(prefix: str, values: dict[str, object]) -> None:
    """Remember the scenario for this session and put it in the address bar (a link reproduces the page)."""
    st.session_state[f"{prefix}__scenario"] = values
    st.query_params.from_dict({k: ("true" if v is True else "false" if v is False else f"{v:.15g}"
                                   if isinstance(v, float) else str(v)) for k, v in values.items() if v != ""})


def warn_problems(problems: list[str]) -> None:
    for problem in problems:
        st.warning(f"Link not fully understood, default used: {problem}")
