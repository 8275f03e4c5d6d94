"""Serverless page: a traffic profile (invocations per month, peak TPS, p99 target, payloads) -> ``planner
serverless``: the memory size by strategy (Power Tuning view: latency percentiles and cost per size, the Pareto
front), MaxConcurrency and provisioned-concurrency sliders with their Erlang B throttle / spill-over
probabilities at the peak, and the break-even against the comparable real-time option. The scenario, sliders
included, lives in the URL (st.query_params)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.draw import draw
from app_pages.shared import (
    PRICE_FIELDS,
    fraction,
    json_and_prices,
    keep_scenario,
    nonnegative_count,
    one_of,
    open_page,
    parse_price_overrides,
    positive_count,
    positive_ms,
    price_catalog,
    price_widgets,
    scenario_state,
    serverless_cost_spec,
    serverless_recommendation,
    table,
    url_scenario,
    whole,
    widget_values,
)
from planner.charts import (
    serverless_concurrency_chart,
    serverless_concurrency_frame,
    serverless_memory_chart,
    short_number,
    short_usd,
)
from planner.errors import PlannerError
from planner.recommend import DEFAULT_MAX_UTILIZATION
from planner.recommend.serverless import MAX_CONCURRENCY, STRATEGIES, ServerlessRecommendation, rationale
from planner.variability import MEAN_ONLY_SERVICE_SCV

PREFIX = "sls"
# URL key -> (default, parser); each is the widget keyed "sls_<key>". max_conc / prov 0: the recommended value.
FIELDS: dict[str, tuple[object, object]] = {
    "invocations": (3e6, positive_count), "peak_tps": (40.0, positive_count), "p99_ms": (300.0, positive_ms),
    "strategy": ("cost", one_of(STRATEGIES)), "weight": (0.5, fraction(0, 1)),
    "request_bytes": (0.0, nonnegative_count), "response_bytes": (0.0, nonnegative_count),
    "throttle": (0.001, fraction(1e-9, 0.5)), "spillover": (0.01, fraction(1e-9, 0.5)),
    "scv": (MEAN_ONLY_SERVICE_SCV, fraction(1e-4, 4.0)), "util": (DEFAULT_MAX_UTILIZATION, fraction(0.05, 1.0)), **PRICE_FIELDS,
    "max_conc": (0, whole(0, MAX_CONCURRENCY)), "prov": (0, whole(0, MAX_CONCURRENCY))}
SIDEBAR = [k for k in FIELDS if k not in ("max_conc", "prov")]
# Money first (issue #14): the size, what it costs and whether it meets the SLA, then its latencies.
OPTION_COLUMNS = {
    "memory_mb": st.column_config.NumberColumn("memory (MB)"),
    "usd_per_month": st.column_config.NumberColumn("USD/month (on demand)", format="%,.2f"),
    "usd_per_million_invocations": st.column_config.NumberColumn("USD per 1M invocations", format="%.2f"),
    "meets_sla": st.column_config.CheckboxColumn("meets the SLA"),
    "latency_mean_ms": st.column_config.NumberColumn("mean (ms)", format="%.0f"),
    "latency_p50_ms": st.column_config.NumberColumn("p50 (ms)", format="%.0f", help="— : not measured (mean-only data)"),
    "latency_p99_ms": st.column_config.NumberColumn("p99 (ms)", format="%.0f"),
    "latency_p99_ci_lower_ms": st.column_config.NumberColumn("p99 low (ms)", format="%.0f", help="— : no interval (a single measurement of this memory size)"),
    "latency_p99_ci_upper_ms": st.column_config.NumberColumn("p99 high (ms)", format="%.0f", help="— : no interval (a single measurement of this memory size)"),
    "latency_percentiles_source": st.column_config.TextColumn("percentiles"),
    "latency_p99_interval": st.column_config.TextColumn("p99 low–high is"),
    "pareto": st.column_config.CheckboxColumn("Pareto front"),
}


def _sidebar() -> dict[str, object]:
    side = st.sidebar
    side.header("Traffic")
    side.number_input("Invocations per month", min_value=1.0, max_value=1e12, step=1e6, format="%g",
                      key="sls_invocations")
    side.number_input("Peak throughput (TPS)", min_value=0.01, max_value=1e6, step=10.0, format="%g",
                      key="sls_peak_tps", help="Requests per second at the busiest minute: sets the concurrency.")
    side.number_input("p99 latency target (ms)", min_value=1.0, max_value=1e6, step=50.0, format="%g",
                      key="sls_p99_ms")
    side.number_input("Request payload (bytes)", min_value=0.0, step=1000.0, format="%g", key="sls_request_bytes")
    side.number_input("Response payload (bytes)", min_value=0.0, step=1000.0, format="%g", key="sls_response_bytes")
    side.header("Memory and concurrency")
    side.radio("Memory strategy", STRATEGIES, key="sls_strategy", horizontal=True,
               help="As AWS Lambda Power Tuning: the cheapest, the fastest, or a balance, of the sizes meeting the SLA.")
    side.slider("Balanced: weight of cost", 0.0, 1.0, step=0.05, key="sls_weight",
                disabled=st.session_state["sls_strategy"] != "balanced")
    side.number_input("Throttle target (share of requests)", min_value=1e-9, max_value=0.5, format="%g",
                      step=0.001, key="sls_throttle")
    side.number_input("Spill-over target (share of requests)", min_value=1e-9, max_value=0.5, format="%g",
                      step=0.005, key="sls_spillover")
    side.number_input("Latency Cs² where only the mean was measured", min_value=1e-4, max_value=4.0, format="%g",
                      step=0.05, key="sls_scv", help="p99 is estimated from the mean latency with this variability.")
    side.header("Real-time comparison and prices")
    side.slider("Real-time utilisation cap", 0.05, 1.0, step=0.05, key="sls_util")
    price_widgets("sls")
    return widget_values(PREFIX, SIDEBAR)


def _library_args(values: dict[str, object]) -> dict[str, object]:
    """The scenario as :func:`app_pages.shared.serverless_recommendation`'s keyword arguments."""
    return {"monthly_invocations": values["invocations"], "peak_tps": values["peak_tps"],
            "latency_target_ms": values["p99_ms"], "strategy": values["strategy"], "balanced_weight": values["weight"],
            "request_bytes": values["request_bytes"], "response_bytes": values["response_bytes"],
            "throttle_target": values["throttle"], "spillover_target": values["spillover"],
            "latency_scv": values["scv"], "max_utilization": values["util"], "region": values["region"],
            "discount": values["discount"],
            "overrides": parse_price_overrides(str(values["prices"]), str(values["region"]))}


def _headline(rec: ServerlessRecommendation) -> None:
    best = rec.recommended
    cols = st.columns(5)
    cols[0].metric("Memory", f"{best.memory_mb} MB", help=f"strategy {rec.strategy}")
    band = ("" if best.latency_p99_interval is None else f"; {best.latency_p99_ci_lower_ms:.0f}–"
            f"{best.latency_p99_ci_upper_ms:.0f} ms, {best.latency_p99_interval}")
    cols[1].metric("Predicted p99", f"{best.latency_p99_ms:.0f} ms", help=best.latency_percentiles_source + band)
    cols[2].metric("On demand /month", short_usd(rec.on_demand_cost.usd_per_month),
                   help=f"${rec.on_demand_cost.usd_per_month:,.2f}/month")
    cols[3].metric(f"{rec.provisioned_concurrency} provisioned /month", short_usd(rec.provisioned_cost.usd_per_month),
                   help=f"${rec.provisioned_cost.usd_per_month:,.2f}/month with {rec.provisioned_concurrency} "
                        "provisioned-concurrency slots")
    even = rec.break_even_monthly_invocations
    cols[4].metric("Break-even /month", "—" if even is None else short_number(even),
                   help="invocations per month above which the real-time option is cheaper" +
                        ("" if even is None else f": {even:,.0f}") +
                        (" (none: serverless stays cheaper at every volume)" if even is None else ""))


def _concurrency_sliders(rec: ServerlessRecommendation) -> tuple[int, int]:
    """MaxConcurrency and provisioned-concurrency sliders: the recommended values whenever the recommendation
    changes, else the scenario's (URL or last used)."""
    signature = (rec.recommended_memory_mb, rec.offered_load_erlang, rec.max_concurrency,
                 rec.provisioned_concurrency)
    changed = st.session_state.get("sls_signature", signature) != signature
    st.session_state["sls_signature"] = signature
    if changed or not st.session_state.get("sls_max_conc"):
        st.session_state["sls_max_conc"] = rec.max_concurrency
    if changed or not st.session_state.get("sls_prov"):
        st.session_state["sls_prov"] = rec.provisioned_concurrency
    left, right = st.columns(2)
    max_conc = left.slider("MaxConcurrency", 1, MAX_CONCURRENCY, key="sls_max_conc",
                           help=f"recommended: {rec.max_concurrency} (throttle ≤ {rec.throttle_target:g})")
    st.session_state["sls_prov"] = min(st.session_state["sls_prov"], max_conc)
    provisioned = right.slider("Provisioned concurrency", 1, max(2, max_conc), key="sls_prov",
                               help=f"recommended: {rec.provisioned_concurrency} (spill-over ≤ "
                                    f"{rec.spillover_target:g}); at most MaxConcurrency")
    return max_conc, provisioned


def _concurrency(rec: ServerlessRecommendation, values: dict[str, object],
                 overrides: tuple[tuple[str, float], ...]) -> None:
    st.subheader("Concurrency at the peak (Erlang B)")
    max_conc, provisioned = _concurrency_sliders(rec)
    catalog = price_catalog(str(values["region"]), float(values["discount"]), overrides)
    frame = serverless_concurrency_frame(rec, catalog, min(MAX_CONCURRENCY, max(20, 2 * rec.max_concurrency,
                                                                                max_conc)))
    row = frame.set_index("slots")
    cols = st.columns(3)
    cols[0].metric(f"Throttled at MaxConcurrency {max_conc}", f"{row.loc[max_conc, 'blocking_probability']:.3g}",
                   help=f"target {rec.throttle_target:g}")
    cols[1].metric(f"Spill-over with {provisioned} provisioned",
                   f"{row.loc[provisioned, 'blocking_probability']:.3g}", help=f"target {rec.spillover_target:g}")
    cols[2].metric(f"Cost with {provisioned} provisioned /month",
                   short_usd(row.loc[provisioned, "provisioned_usd_per_month"]),
                   help=f"${row.loc[provisioned, 'provisioned_usd_per_month']:,.2f}/month")
    draw(serverless_concurrency_chart(rec, frame, max_conc, provisioned))
    values["max_conc"], values["prov"] = max_conc, provisioned


def _scenario() -> dict:
    values = url_scenario(PREFIX, FIELDS, _sidebar)
    return values | {k: scenario_state(PREFIX)[k] for k in ("max_conc", "prov")}


def page() -> None:
    opened = open_page("Serverless", _scenario)
    if opened is None:
        return
    choice, version, values = opened
    try:
        args = _library_args(values)
        with st.spinner("Computing (the first visit fits every run of the collection; later changes are instant)…"):
            rec = serverless_recommendation(choice.root, version, **args)
    except (PlannerError, ValueError) as exc:
        st.error(str(exc))
        return
    _headline(rec)
    (st.markdown if rec.feasible else st.error)(rationale(rec))
    draw(serverless_memory_chart(rec))
    frame = pd.DataFrame([o.to_dict() for o in rec.memory_options])[list(OPTION_COLUMNS)]
    table(frame, OPTION_COLUMNS)
    _concurrency(rec, values, args["overrides"])
    st.subheader("Break-even against real-time")
    draw(serverless_cost_spec(choice.root, version, **args))
    with st.expander(f"Notes ({len(rec.notes)})"):
        for note in rec.notes:
            st.markdown(f"- {note}")
    json_and_prices("planner serverless", rec.to_dict(), rec.price_catalog.text, rec.hours_per_month)
    keep_scenario(PREFIX, values)


page()
