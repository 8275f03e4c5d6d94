"""Capacity planner page: a scenario (target TPS, latency percentile and SLA, utilisation cap, HA, routing,
region, prices) -> ``planner recommend``'s ranked options, the chosen option's latency curve and the cost of
every instance count. The scenario lives in the URL (st.query_params), so a what-if is shared as a link."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from app_pages.draw import draw
from app_pages.shared import (
    open_page,
    parse_price_overrides,
    price_catalog,
    price_widgets,
    recommendation,
    sizing_fits,
    step_rule_widgets,
    table,
)
from planner.capacity import CurveFit
from planner.catalog import available_regions
from planner.charts import cost_chart, option_latency_chart, short_instance_type, short_usd
from planner.errors import PlannerError
from planner.recommend import DEFAULT_CONFIDENCE, DEFAULT_MAX_UTILIZATION
from planner.recommend.realtime import ROUTINGS, RealtimeRecommendation, rationale
from planner.units import parse_count, parse_duration_ms, parse_percentile

PERCENTILES = ("p50", "p90", "p95", "p99", "p99.9", "mean")
# URL key -> default; every key is also a widget key prefixed with "plan_".
DEFAULTS: dict[str, object] = {"tps": 1000.0, "sla_ms": 200.0, "pct": "p99", "util": DEFAULT_MAX_UTILIZATION,
                               "conf": DEFAULT_CONFIDENCE, "ha": False, "routing": "least-outstanding",
                               "region": "us-east-1", "discount": 0.0, "prices": "", "top": 5, "option": ""}
TABLE_COLUMNS = {
    "label": st.column_config.TextColumn("configuration"),
    "usd_per_month": st.column_config.NumberColumn("USD/month", format="%,.0f"),
    "usd_per_hour": st.column_config.NumberColumn("USD/hour", format="%.2f"),
    "usd_per_million_requests": st.column_config.NumberColumn("USD per 1M requests", format="%.3f"),
    "instance_count": st.column_config.NumberColumn("count"),
    "predicted_latency_ms": st.column_config.NumberColumn("predicted latency (ms)", format="%.1f"),
    "predicted_latency_ci_lower_ms": st.column_config.NumberColumn("95% CI low (ms)", format="%.1f", help="— : no band (an Inference Recommender point has one measurement, no curve)"),
    "predicted_latency_ci_upper_ms": st.column_config.NumberColumn("95% CI high (ms)", format="%.1f", help="— : no band (an Inference Recommender point has one measurement, no curve)"),
    "load_tps_per_instance": st.column_config.NumberColumn("load/instance (TPS)", format="%.0f"),
    "capacity_tps_per_instance": st.column_config.NumberColumn("capacity/instance at SLA (TPS)", format="%.0f"),
    "utilization": st.column_config.NumberColumn("utilisation", format="percent"),
    "heldout_error": st.column_config.NumberColumn("held-out error", format="percent", help="Mean relative error at the top load levels left out of the fit; — : not measured (an Inference Recommender point, or too few levels)"),
    "origin": st.column_config.TextColumn("data"),
    "extrapolated": st.column_config.CheckboxColumn("extrapolated"),
}


def _parse_url_value(key: str, text: str) -> object:
    """One URL value as its widget's value; ValueError (or UnitError) names what was expected."""
    if key in ("tps", "sla_ms"):
        value = parse_count(text) if key == "tps" else parse_duration_ms(text)
        if not value > 0:
            raise ValueError("expected a positive number")
        return value
    if key in ("util", "discount", "conf"):
        value, low, top = float(text), 0.5 if key == "conf" else 0.0, {"util": 1.0, "discount": 0.9}.get(key, 0.95)
        if not (low <= value <= top):
            raise ValueError(f"expected a fraction between {low:g} and {top:g}")
        return value
    if key == "ha":
        return text.lower() in ("1", "true", "yes", "on")
    if key == "top":
        if not text.isdigit() or not 1 <= int(text) <= 10:
            raise ValueError("expected a whole number from 1 to 10")
        return int(text)
    choices = {"pct": PERCENTILES, "routing": ROUTINGS, "region": tuple(available_regions())}.get(key)
    if choices is not None and text not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}")
    return text


def scenario_from_url(params: dict[str, str]) -> tuple[dict[str, object], list[str]]:
    """The scenario a link describes (defaults for what it leaves out) and what in it was not understood."""
    values, problems = dict(DEFAULTS), []
    for key in DEFAULTS.keys() & params.keys():
        try:
            values[key] = _parse_url_value(key, str(params[key]))
        except (ValueError, PlannerError) as exc:
            problems.append(f"{key}={params[key]!r}: {exc}")
    return values, problems


def scenario_to_url(values: dict[str, object]) -> dict[str, str]:
    return {k: ("true" if v is True else "false" if v is False else f"{v:g}" if isinstance(v, float) else str(v))
            for k, v in values.items() if v != ""}


def _percentile_arg(label: str) -> float | str:
    return "mean" if label == "mean" else parse_percentile(label)


def _scenario_widgets() -> dict[str, object]:
    """The sidebar inputs, seeded from the scenario (URL on the first visit, then the session)."""
    if "scenario" not in st.session_state:
        st.session_state.scenario, st.session_state.scenario_problems = scenario_from_url(st.query_params.to_dict())
    for key, value in st.session_state.scenario.items():
        st.session_state.setdefault(f"plan_{key}", value)
    side = st.sidebar
    side.header("Scenario")
    side.number_input("Target throughput (TPS)", min_value=0.1, max_value=1e8, step=100.0, format="%g",
                      key="plan_tps", help="Peak requests per second the endpoint must serve.")
    side.number_input("Latency target (ms)", min_value=0.1, max_value=1e6, step=10.0, format="%g", key="plan_sla_ms",
                      help="The SLA: the chosen percentile must stay at or below this.")
    side.selectbox("Latency percentile", PERCENTILES, key="plan_pct")
    side.slider("Utilisation cap per instance", 0.05, 1.0, step=0.05, key="plan_util",
                help="Headroom: never plan an instance above this fraction of its saturation throughput.")
    side.slider("Sizing confidence", 0.5, 0.95, step=0.05, key="plan_conf",
                help="A count must meet the SLA at this one-sided bound of its predicted percentile (bootstrap "
                     "over steps): 0.9 pays for the model's uncertainty in instances, 0.5 sizes on the estimate.")
    side.checkbox("High availability (≥ 2 instances, SLA kept with one lost)", key="plan_ha")
    side.radio("Routing", ROUTINGS, key="plan_routing", horizontal=True,
               help="least-outstanding behaves like one pooled queue; random like independent queues.")
    side.header("Prices")
    price_widgets("plan")
    side.slider("Options shown", 1, 10, key="plan_top")
    values = {key: st.session_state[f"plan_{key}"] for key in DEFAULTS if key != "option"}
    values["util"], values["discount"], values["conf"] = (round(values[k], 4) for k in ("util", "discount", "conf"))
    values["option"] = st.session_state.scenario.get("option", "")
    return values


def _options_table(rec: RealtimeRecommendation) -> None:
    frame = pd.DataFrame([o.to_dict() for o in rec.options])[list(TABLE_COLUMNS)]
    frame.index = range(1, len(frame) + 1)
    table(frame, TABLE_COLUMNS, ranked=True)


def _headline(rec: RealtimeRecommendation) -> None:
    best = rec.options[0]
    band = (f"95% CI {best.predicted_latency_ci_lower_ms:.0f}–{best.predicted_latency_ci_upper_ms:.0f} ms"
            if best.predicted_latency_ci_lower_ms is not None and best.predicted_latency_ci_upper_ms is not None
            else "no interval (one measured point)")
    cols = st.columns(4)
    cols[0].metric("Recommended", f"{best.instance_count} × {short_instance_type(best.instance_type)}",
                   help=f"{best.instance_count} × {best.instance_type} ({best.label})")
    cols[1].metric(f"Predicted {rec.percentile} at target", f"{best.predicted_latency_ms:.0f} ms", help=band)
    cols[2].metric("Cost per month", short_usd(best.usd_per_month),
                   help=f"${best.usd_per_month:,.2f}/month, ${best.usd_per_hour:,.2f}/hour")
    cols[3].metric("Utilisation per instance", f"{best.utilization:.0%}")


def _charts(rec: RealtimeRecommendation, fits, chosen_label: str) -> str:
    """The chosen option's latency curve, then the cost of every count; returns the chosen label.

    The choice follows the ranking: when the ranked options change, the top option is shown."""
    labels = [o.label for o in rec.options]
    previous = st.session_state.get("plan_ranking")
    if previous != labels:  # the first visit keeps the link's option
        st.session_state["plan_ranking"] = labels
        st.session_state["plan_inspect"] = chosen_label if previous is None and chosen_label in labels else labels[0]
    chosen = st.selectbox("Option to inspect", labels, key="plan_inspect")
    option = rec.options[labels.index(chosen)]
    fit = next(f for f in fits if f.config.label == option.label)
    if not isinstance(fit, CurveFit) or fit.latency is None:
        st.info(f"{option.label}: Inference Recommender gives one measured point, not a curve: "
                f"{option.predicted_latency_ms:.0f} ms ModelLatency at its plateau.")
    else:
        draw(option_latency_chart(fit, option, rec))
    draw(cost_chart(fits, rec))
    return chosen


def _scenario() -> dict:
    values = _scenario_widgets()
    values["rules"] = step_rule_widgets()
    for problem in st.session_state.get("scenario_problems", []):
        st.warning(f"Link not fully understood, default used: {problem}")
    return values


def page() -> None:
    opened = open_page("Capacity planner", _scenario)
    if opened is None:
        return
    choice, version, values = opened
    rules = values.pop("rules")  # in the session, not the link
    try:
        overrides = parse_price_overrides(str(values["prices"]), str(values["region"]))
        with st.spinner("Computing (the first visit fits every run of the collection; later changes are instant)…"):
            rec = recommendation(choice.root, version, values["tps"], values["sla_ms"],
                                 _percentile_arg(values["pct"]), values["util"], values["ha"], values["routing"],
                                 values["region"], values["discount"], overrides, values["top"], values["conf"],
                                 rules)
    except (PlannerError, ValueError) as exc:
        st.error(str(exc))
        return
    if rec.options:
        _headline(rec)
        st.markdown(rationale(rec))
    else:
        st.error(f"{rationale(rec)} Relax the {rec.percentile} target to at least that, or measure a faster "
                 "instance (Upload page); why each configuration misses is under *Not an option*.")
    if rec.options:
        _options_table(rec)
        values["option"] = _charts(rec, sizing_fits(choice.root, version, rules), str(values["option"]))
    with st.expander(f"Not an option ({len(rec.rejected)})"):
        for r in rec.rejected:
            st.markdown(f"- **{r.label}**: {r.reason}")
    with st.expander("As `planner recommend --json`"):
        st.code(json.dumps(rec.to_dict(), indent=2, default=str), language="json")
    st.caption(f"Prices: {price_catalog(values['region'], values['discount'], overrides).provenance()}; "
               f"months of {rec.hours_per_month:g} h. The scenario is in the address bar: copy it to share.")
    st.session_state.scenario = values
    st.query_params.from_dict(scenario_to_url(values))


page()
