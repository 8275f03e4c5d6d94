"""Compare & export page: every deployment option side by side with its monthly cost — real-time, real-time
HA, serverless on demand and with provisioned concurrency, multi-model when a model count is given — as
``planner export costs`` prices them, with the finance export (CSV, XLSX) as downloads. The scenario lives in
the URL."""

from __future__ import annotations

import functools
import json

import pandas as pd
import streamlit as st

from app_pages.draw import draw
from app_pages.shared import (
    PRICE_FIELDS,
    comparison,
    fraction,
    keep_scenario,
    nonnegative_count,
    one_of,
    open_page,
    parse_price_overrides,
    positive_count,
    positive_ms,
    price_catalog,
    price_widgets,
    shown_value,
    table,
    url_scenario,
    whole,
    widget_values,
)
from planner.catalog import HOURS_PER_MONTH
from planner.charts import comparison_chart, saving_against_next, short_usd
from planner.errors import PlannerError
from planner.export import CostComparison, comparison_bytes
from planner.recommend import DEFAULT_MAX_UTILIZATION

PREFIX = "cmp"
POPULARITIES = ("uniform", "zipf")
# URL key -> (default, parser); each is the widget keyed "cmp_<key>". invocations 0: the peak all month;
# models 0: no multi-model line.
FIELDS: dict[str, tuple[object, object]] = {
    "tps": (1000.0, positive_count), "p99_ms": (200.0, positive_ms), "invocations": (0.0, nonnegative_count),
    "request_bytes": (0.0, nonnegative_count), "response_bytes": (0.0, nonnegative_count),
    "models": (0, whole(0, 5000)), "popularity": ("uniform", one_of(POPULARITIES)), "zipf_s": (1.1, fraction(0, 3)),
    "util": (DEFAULT_MAX_UTILIZATION, fraction(0.05, 1)), "scenario": ("", str), **PRICE_FIELDS}
LINE_COLUMNS = {
    "option": st.column_config.TextColumn("option"),
    "usd_per_month": st.column_config.NumberColumn("total (USD/month)", format="%,.0f"),
    "usd_per_year": st.column_config.NumberColumn("total (USD/year)", format="%,.0f"),
    "usd_per_million_requests": st.column_config.NumberColumn("USD per 1M requests", format="%.3f"),
    "deployment": st.column_config.TextColumn("deployment"),
    "compute_usd_per_month": st.column_config.NumberColumn("compute (USD/month)", format="%,.0f"),
    "provisioned_concurrency_usd_per_month": st.column_config.NumberColumn("provisioned (USD/month)", format="%,.0f", help="— : not applicable (only serverless with provisioned concurrency)"),
    "data_processing_usd_per_month": st.column_config.NumberColumn("data (USD/month)", format="%,.2f"),
    "predicted_latency_ms": st.column_config.NumberColumn("p99 (ms)", format="%.0f", help="— : not predicted for this option (see its notes)"),
    "sla_met": st.column_config.CheckboxColumn("SLA met"),
    "origin": st.column_config.TextColumn("data"),
    "notes": st.column_config.TextColumn("notes"),
}


def _sidebar() -> dict[str, object]:
    side = st.sidebar
    side.header("Traffic and SLA")
    side.number_input("Peak throughput (TPS)", min_value=0.1, max_value=1e8, step=100.0, format="%g", key="cmp_tps")
    side.number_input("p99 latency target (ms)", min_value=0.1, max_value=1e6, step=10.0, format="%g",
                      key="cmp_p99_ms")
    side.number_input("Invocations per month (0: the peak all month)", min_value=0.0, step=1e6, format="%g",
                      key="cmp_invocations", help="Without it every second runs at the peak: an upper bound.")
    side.number_input("Request payload (bytes)", min_value=0.0, step=1000.0, format="%g", key="cmp_request_bytes")
    side.number_input("Response payload (bytes)", min_value=0.0, step=1000.0, format="%g", key="cmp_response_bytes")
    side.slider("Utilisation cap per instance", 0.05, 1.0, step=0.05, key="cmp_util")
    side.header("Multi-model")
    side.number_input("Models on one endpoint (0: none)", min_value=0, max_value=5000, step=10, key="cmp_models")
    side.radio("Popularity", POPULARITIES, key="cmp_popularity", horizontal=True)
    side.slider("Zipf exponent S", 0.0, 3.0, step=0.05, key="cmp_zipf_s",
                disabled=st.session_state["cmp_popularity"] != "zipf")
    side.header("Prices and export")
    price_widgets("cmp")
    side.text_input("Scenario name (Assumptions sheet)", key="cmp_scenario")
    return widget_values(PREFIX, FIELDS)


def library_args(values: dict[str, object]) -> dict[str, object]:
    """The scenario as :func:`app_pages.shared.comparison`'s keyword arguments (as `planner export costs`)."""
    popularity = "uniform" if values["popularity"] == "uniform" else f"zipf:{values['zipf_s']:g}"
    return {"target_tps": values["tps"], "latency_target_ms": values["p99_ms"],
            "monthly_invocations": values["invocations"] or None, "request_bytes": values["request_bytes"],
            "response_bytes": values["response_bytes"], "models": int(values["models"]) or None,
            "popularity": popularity, "scenario": str(values["scenario"]).strip(), "max_utilization": values["util"],
            "region": values["region"], "discount": values["discount"],
            "overrides": parse_price_overrides(str(values["prices"]), str(values["region"]))}


def _downloads(result: CostComparison) -> None:
    cols = st.columns([1, 1, 4])
    cols[0].download_button("Download CSV", functools.partial(comparison_bytes, result, "csv"),
                            file_name="planner-costs.csv", mime="text/csv", on_click="ignore", type="primary")
    cols[1].download_button("Download XLSX", functools.partial(comparison_bytes, result, "xlsx"),
                            file_name="planner-costs.xlsx", on_click="ignore",
                            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    cols[2].caption("The files `planner export costs --out FILE` writes: an Options and an Assumptions sheet; "
                    "text from users escaped against spreadsheet formulas.")


def _headline(options: list[dict], p99_ms: float) -> None:
    """The cheapest option meeting the SLA and what it saves against the next one meeting it."""
    found = saving_against_next(options)
    if found is None:
        st.error(f"No option meets p99 ≤ {p99_ms:g} ms: relax the SLA or measure a faster instance (the Capacity "
                 "planner page shows the lowest p99 each configuration reaches).")
        return
    best, runner_up, saving = found
    cols = st.columns(3)
    cols[0].metric("Cheapest meeting the SLA", short_usd(best["usd_per_month"]) + "/mo",
                   help=f"{best['option']} ({best['deployment']}): ${best['usd_per_month']:,.2f}/month")
    cols[1].metric("Saves against the next", "—" if saving is None else short_usd(saving) + "/mo",
                   help="only one option meets the SLA" if runner_up is None else
                        f"next: {runner_up['option']} ({runner_up['deployment']}), "
                        f"${runner_up['usd_per_month']:,.2f}/month")
    cols[2].metric("Predicted p99", "—" if best["predicted_latency_ms"] is None else
                   f"{best['predicted_latency_ms']:.0f} ms", help=f"SLA: p99 ≤ {p99_ms:g} ms")
    st.markdown(f"**{best['option']}** ({best['deployment']}) is the cheapest option meeting p99 ≤ {p99_ms:g} ms" +
                ("." if runner_up is None else f"; it saves {short_usd(saving)}/month against "
                                               f"**{runner_up['option']}**."))


def page() -> None:
    opened = open_page("Compare & export", lambda: url_scenario(PREFIX, FIELDS, _sidebar))
    if opened is None:
        return
    choice, version, values = opened
    try:
        args = library_args(values)
        with st.spinner("Computing (the first visit fits every run of the collection; later changes are instant)…"):
            result = comparison(choice.root, version, **args)
    except (PlannerError, ValueError) as exc:
        st.error(str(exc))
        return
    data = result.to_dict()
    _headline(data["options"], float(values["p99_ms"]))
    if data["options"]:
        draw(comparison_chart(data["options"]))
        table(pd.DataFrame(data["options"])[list(LINE_COLUMNS)], LINE_COLUMNS)
    else:
        st.info("No option meets this target: see the Capacity planner page for why.")
    catalog = price_catalog(str(values["region"]), float(values["discount"]), args["overrides"])
    st.caption(f"Prices: {catalog.provenance()}; months of {HOURS_PER_MONTH:g} h; each price's source and date are on the "
               "Assumptions sheet.")
    _downloads(result)
    with st.expander("Assumptions"):
        table(pd.DataFrame(data["assumptions"]).map(shown_value))
    with st.expander("As `planner export costs --json` (without the path)"):
        st.code(json.dumps(data, indent=2, default=str), language="json")
    keep_scenario(PREFIX, values)


page()
