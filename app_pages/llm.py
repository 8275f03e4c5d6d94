"""LLM page: a load (requests/s or output tokens/s), a token mix, TTFT / ITL / e2e SLOs at a percentile, HA and
prices -> ``planner llm recommend``'s options, cheapest first with $/hour, $/month and $ per million tokens,
and each option's predicted latency against concurrency per copy with its band and the SLO. The scenario
lives in the URL (st.query_params). Everything shown comes from :mod:`planner.scenarios.llm`."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app_pages.draw import draw
from app_pages.shared import (
    PRICE_FIELDS,
    flag,
    json_and_prices,
    keep_scenario,
    nonnegative_count,
    one_of,
    open_page,
    parse_price_overrides,
    positive_count,
    price_catalog,
    price_widgets,
    run_source,
    table,
    url_scenario,
    widget_values,
)
from planner.charts import short_instance_type, short_usd
from planner.errors import PlannerError
from planner.recommend.llm import BAND, LlmRecommendation
from planner.scenarios.llm import LLM_PERCENTILES, LlmScenario, latency_curves, size_llm

PREFIX = "llm"
LOAD_KINDS = {"rps": "requests/s", "output_tps": "output tokens/s"}
# URL key -> (default, parser); each is the widget keyed "llm_<key>". An SLO of 0 ms: none.
FIELDS: dict[str, tuple[object, object]] = {
    "load_kind": ("rps", one_of(LOAD_KINDS)), "load": (2.0, positive_count),
    "input_tokens": (1600.0, positive_count), "output_tokens": (600.0, positive_count),
    "ttft_ms": (0.0, nonnegative_count), "itl_ms": (0.0, nonnegative_count), "e2e_ms": (60000.0, nonnegative_count),
    "pct": ("p99", one_of(LLM_PERCENTILES)), "ha": (False, flag), "extrapolate": (False, flag), **PRICE_FIELDS}
OPTION_COLUMNS = {
    "usd_per_hour": st.column_config.NumberColumn("USD/hour", format="%.2f"),
    "usd_per_month": st.column_config.NumberColumn("USD/month", format="%,.0f"),
    "usd_per_million_output_tokens": st.column_config.NumberColumn("USD per 1M output tokens", format="%.2f"),
    "usd_per_million_tokens": st.column_config.NumberColumn("USD per 1M tokens", format="%.2f"),
    "label": st.column_config.TextColumn("configuration"),
    "instance_count": st.column_config.NumberColumn("instances"),
    "copies_per_instance": st.column_config.NumberColumn("copies/instance"),
    "concurrency_per_instance": st.column_config.NumberColumn("concurrency/instance", format="%g"),
    "requests_per_s_per_instance": st.column_config.NumberColumn("req/s per instance", format="%.3g"),
    "output_tokens_per_s_per_instance": st.column_config.NumberColumn("output tok/s per instance", format="%,.0f"),
    "predicted_ttft_ms": st.column_config.NumberColumn("TTFT (ms)", format="%,.0f", help="— : not measured by this benchmark"),
    "predicted_itl_ms": st.column_config.NumberColumn("ITL (ms)", format="%,.1f", help="— : not measured by this benchmark"),
    "predicted_e2e_ms": st.column_config.NumberColumn("e2e (ms)", format="%,.0f"),
    "predicted_e2e_lower_ms": st.column_config.NumberColumn("e2e low (ms)", format="%,.0f"),
    "predicted_e2e_upper_ms": st.column_config.NumberColumn("e2e high (ms)", format="%,.0f"),
    "heldout_error": st.column_config.NumberColumn("held-out error", format="percent", help="— : fewer than 4 load levels (no level can be left out)"),
    "origin": st.column_config.TextColumn("data"),
    "extrapolated": st.column_config.CheckboxColumn("extrapolated"),
}
METRIC_NAMES = {"ttft": "time to first token", "itl": "inter-token latency", "e2e": "end-to-end latency"}


@st.cache_data(show_spinner=False, max_entries=256)
def recommendation(root: str, version: tuple, scenario: LlmScenario, region: str, discount: float,
                   overrides: tuple[tuple[str, float], ...]) -> LlmRecommendation:
    """``planner llm recommend``: :func:`planner.scenarios.llm.size_llm` over the collection's LLM fits."""
    return size_llm(run_source(root, version), price_catalog(region, discount, overrides), scenario)


@st.cache_data(show_spinner=False, max_entries=256)
def curves(root: str, version: tuple, scenario: LlmScenario, labels: tuple[str, ...]) -> pd.DataFrame:
    """:func:`planner.scenarios.llm.latency_curves` of the options' configurations."""
    return latency_curves(run_source(root, version), scenario, labels)


def _sidebar() -> dict[str, object]:
    side = st.sidebar
    side.header("Load and token mix")
    side.radio("Load given as", list(LOAD_KINDS), format_func=LOAD_KINDS.get, key="llm_load_kind", horizontal=True)
    side.number_input(f"Target load ({LOAD_KINDS[st.session_state['llm_load_kind']]})", min_value=0.001,
                      max_value=1e9, step=1.0, format="%g", key="llm_load")
    side.number_input("Input tokens per request (mean)", min_value=1.0, max_value=1e7, step=100.0, format="%g",
                      key="llm_input_tokens")
    side.number_input("Output tokens per request (mean)", min_value=1.0, max_value=1e7, step=50.0, format="%g",
                      key="llm_output_tokens")
    side.header("SLOs (0 = none)")
    side.selectbox("Percentile", LLM_PERCENTILES, key="llm_pct")
    side.number_input("Time to first token (ms)", min_value=0.0, step=100.0, format="%g", key="llm_ttft_ms")
    side.number_input("Inter-token latency (ms)", min_value=0.0, step=5.0, format="%g", key="llm_itl_ms")
    side.number_input("End-to-end latency (ms)", min_value=0.0, step=1000.0, format="%g", key="llm_e2e_ms")
    side.checkbox("High availability (one instance more)", key="llm_ha")
    side.checkbox("Extrapolate (up to 2× the measured concurrency, flagged)", key="llm_extrapolate")
    side.header("Prices")
    price_widgets(PREFIX)
    return widget_values(PREFIX, FIELDS)


def scenario_of(values: dict[str, object]) -> LlmScenario:
    """The page's inputs as the library's scenario (an SLO of 0 ms is no SLO)."""
    load = float(values["load"])
    return LlmScenario(input_tokens=float(values["input_tokens"]), output_tokens=float(values["output_tokens"]),
                       target_rps=load if values["load_kind"] == "rps" else None,
                       target_output_tokens_per_s=load if values["load_kind"] == "output_tps" else None,
                       **{f"{m}_ms": float(values[f"{m}_ms"]) or None for m in ("ttft", "itl", "e2e")},
                       percentile=str(values["pct"]), ha=bool(values["ha"]), extrapolate=bool(values["extrapolate"]))


def _headline(rec: LlmRecommendation) -> None:
    best = rec.options[0]
    cols = st.columns(4)
    cols[0].metric("Recommended", f"{best.instance_count} × {short_instance_type(best.instance_type)}",
                   help=f"{best.instance_count} × {best.instance_type}, {best.copies_per_instance} "
                        f"cop{'y' if best.copies_per_instance == 1 else 'ies'} per instance ({best.label})")
    cols[1].metric("Per 1M output tokens", short_usd(best.usd_per_million_output_tokens),
                   help=f"${best.usd_per_million_output_tokens:,.4f} per million output tokens, "
                        f"${best.usd_per_million_tokens:,.4f} per million tokens (input and output)")
    cols[2].metric("Cost per month", short_usd(best.usd_per_month),
                   help=f"${best.usd_per_month:,.2f}/month, ${best.usd_per_hour:,.2f}/hour")
    e2e = best.predicted_e2e_ms
    band = ("no band" if best.predicted_e2e_lower_ms is None else
            f"band {best.predicted_e2e_lower_ms:,.0f}–{best.predicted_e2e_upper_ms:,.0f} ms")
    cols[3].metric(f"Predicted e2e {rec.percentile}", "n/a" if e2e is None else f"{e2e / 1000:,.1f} s",
                   help="not measured" if e2e is None else f"{e2e:,.0f} ms; {band}")


def _options_table(rec: LlmRecommendation) -> None:
    frame = pd.DataFrame([o.to_dict() for o in rec.options])[list(OPTION_COLUMNS)]
    frame.index = range(1, len(frame) + 1)
    table(frame, OPTION_COLUMNS, ranked=True)


def _curve_chart(frame: pd.DataFrame, metric: str, rec: LlmRecommendation) -> dict:
    """Predicted ``metric`` against concurrency per copy, one line and band per configuration, the SLO
    as a rule and each option's chosen concurrency as a point."""
    data = frame[frame["metric"] == metric].assign(
        concurrency_range=lambda d: d["measured"].map({True: "measured", False: "extrapolated"}))
    title = f"Predicted {METRIC_NAMES[metric]} ({rec.percentile}) against concurrency per copy"
    x = alt.X("concurrency:Q", title="concurrency per copy (requests in flight)")
    colour = alt.Color("label:N", title="configuration", legend=alt.Legend(orient="bottom", columns=1))
    base = alt.Chart(data)
    layers = [base.mark_area(opacity=0.15).encode(x=x, y="lower_ms:Q", y2="upper_ms:Q", color=colour),
              base.mark_line().encode(x=x, y=alt.Y("predicted_ms:Q", title=f"{metric} {rec.percentile} (ms)"),
                                      color=colour, strokeDash=alt.StrokeDash(
                                          "concurrency_range:N", title="concurrency range",
                                          sort=["measured", "extrapolated"]),
                                      tooltip=["label", "concurrency", alt.Tooltip("predicted_ms:Q", format=",.0f"),
                                               alt.Tooltip("lower_ms:Q", format=",.0f"),
                                               alt.Tooltip("upper_ms:Q", format=",.0f")])]
    chosen = pd.DataFrame([{"label": o.label, "concurrency": o.concurrency_per_instance / o.copies_per_instance,
                            "predicted_ms": getattr(o, f"predicted_{metric}_ms")} for o in rec.options])
    layers.append(alt.Chart(chosen.dropna()).mark_point(filled=True, size=80).encode(
        x=x, y="predicted_ms:Q", color=colour, tooltip=["label", "concurrency"]))
    slo = data["slo_ms"].dropna().unique()
    if len(slo):
        layers.append(alt.Chart(pd.DataFrame({"slo_ms": slo})).mark_rule(color="red", strokeDash=[6, 3]).encode(
            y="slo_ms:Q", tooltip=[alt.Tooltip("slo_ms:Q", title="SLO (ms)")]))
    return alt.layer(*layers).properties(title=title, height=320).to_dict()


def page() -> None:
    opened = open_page("LLM endpoints", lambda: url_scenario(PREFIX, FIELDS, _sidebar))
    if opened is None:
        return
    choice, version, values = opened
    try:
        overrides = parse_price_overrides(str(values["prices"]), str(values["region"]))
        scenario = scenario_of(values)
        with st.spinner("Fitting the collection's LLM load levels…"):
            rec = recommendation(choice.root, version, scenario, str(values["region"]), float(values["discount"]),
                                 overrides)
    except (PlannerError, ValueError) as exc:
        st.error(str(exc))
        return
    if rec.options:
        _headline(rec)
        _options_table(rec)
        frame = curves(choice.root, version, scenario, tuple(o.label for o in rec.options))
        for metric in dict.fromkeys(frame["metric"]):
            draw(_curve_chart(frame, metric, rec))
        st.caption(f"Bands: {BAND}.")
    else:
        closest = "; ".join(f"lowest reachable {c.slo} is {c.lowest_ms:,.0f} ms ({c.label}, one request in flight)"
                            for c in rec.closest_reach())
        st.error("No configuration meets this scenario" + (f": {closest}" if closest else "") + ". Relax an SLO, "
                 "allow extrapolation, or measure another configuration (Upload page); why each one misses is under "
                 "*Not an option*.")
    for note in rec.notes:
        st.info(note)
    with st.expander(f"Notes per option ({len(rec.options)})"):
        for o in rec.options:
            st.markdown(f"- **{o.label}**: " + ("; ".join(o.notes) or "none"))
    with st.expander(f"Not an option ({len(rec.rejected)})"):
        for r in rec.rejected:
            st.markdown(f"- **{r.label}**: {r.reason}")
    json_and_prices("planner llm recommend", rec.to_dict(), rec.price_catalog.text, rec.hours_per_month)
    keep_scenario(PREFIX, values)


page()
