"""Multi-model page: M models on GPU multi-model endpoints -> ``planner mme``: density (GPU memory vs models
loaded, the fitted line and its band, the models each variant fits at the memory threshold), the LRU hit ratio
and the cost against the instance count, for uniform or Zipf popularity. The scenario lives in the URL."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.draw import draw
from app_pages.shared import (
    PRICE_FIELDS,
    fraction,
    gpu_memory_series,
    json_and_prices,
    keep_scenario,
    mme_popularity,
    mme_recommendation,
    nonnegative_count,
    one_of,
    open_page,
    parse_price_overrides,
    positive_count,
    price_catalog,
    price_widgets,
    table,
    url_scenario,
    whole,
    widget_values,
)
from planner.charts import mme_instances_chart, mme_memory_chart, short_instance_type, short_usd
from planner.errors import PlannerError
from planner.recommend import DEFAULT_MAX_UTILIZATION
from planner.recommend.mme import MmeRecommendation, rationale

PREFIX = "mme"
POPULARITIES = ("zipf", "uniform")
MAX_MODELS = 5000
MAX_TRAFFIC_BYTES = 5 * 2**20  # an uploaded per-model traffic CSV
# URL key -> (default, parser); each is the widget keyed "mme_<key>". 0 for tps_per_instance, p99_ms and
# cold_load_ms: not given (fitted capacity, no SLA, the measured ModelLoadingWaitTime).
FIELDS: dict[str, tuple[object, object]] = {
    "tps": (500.0, positive_count), "models": (200, whole(1, MAX_MODELS)), "popularity": ("zipf", one_of(POPULARITIES)),
    "zipf_s": (1.1, fraction(0, 3)), "tps_per_instance": (0.0, nonnegative_count), "p99_ms": (0.0, nonnegative_count),
    "threshold": (0.9, fraction(0.05, 1)), "miss": (0.01, fraction(0, 1)), "util": (DEFAULT_MAX_UTILIZATION, fraction(0.05, 1)),
    "cold_load_ms": (0.0, nonnegative_count), **PRICE_FIELDS}
# Money first (issue #14): the variant, its monthly cost and instance count, then how they were sized.
VARIANT_COLUMNS = {
    "label": st.column_config.TextColumn("variant"),
    "usd_per_month": st.column_config.NumberColumn("USD/month", format="%,.0f"),
    "instances": st.column_config.NumberColumn("instances"),
    "max_models_per_instance": st.column_config.NumberColumn("models per instance"),
    "gpu_memory_per_model_mb": st.column_config.NumberColumn("MiB per model", format="%.0f"),
    "tps_per_instance": st.column_config.NumberColumn("TPS per instance", format="%.1f", help="— : no fitted throughput for this variant (see Not an option)"),
    "instances_for_memory": st.column_config.NumberColumn("instances (memory)"),
    "instances_for_throughput": st.column_config.NumberColumn("instances (TPS)"),
    "hit_ratio": st.column_config.NumberColumn("hit ratio", format="percent"),
    "latency_p99_ms": st.column_config.NumberColumn("p99 (ms)", format="%.0f", help="— : unknown (no latency curve for this variant, or a cold load of unknown duration; see its notes)"),
}


def _sidebar() -> dict[str, object]:
    side = st.sidebar
    side.header("Models and traffic")
    side.number_input("Peak throughput over all models (TPS)", min_value=0.1, max_value=1e7, step=50.0, format="%g",
                      key="mme_tps")
    measured = side.file_uploader("Measured per-model traffic (CSV: model,requests)", type=["csv"],
                                  key="mme_traffic", help="As `planner mme --popularity FILE`: sets the models and "
                                  "their shares (not carried by the page's link).") is not None
    side.slider("Models hosted (M)", 1, MAX_MODELS, key="mme_models", disabled=measured)
    side.radio("Popularity", POPULARITIES, key="mme_popularity", horizontal=True, disabled=measured,
               help="How requests spread over the models: Zipf (a few hot models) or uniform.")
    side.slider("Zipf exponent S", 0.0, 3.0, step=0.05, key="mme_zipf_s",
                disabled=measured or st.session_state["mme_popularity"] != "zipf")
    side.header("Limits")
    side.slider("GPU memory threshold", 0.05, 1.0, step=0.05, key="mme_threshold",
                help="Fraction of GPU memory models may fill (the benchmark stops at 90 %).")
    side.number_input("Largest miss ratio", min_value=0.0, max_value=1.0, step=0.005, format="%g", key="mme_miss",
                      help="Share of requests that may wait for a cold load (0.01 keeps cold loads out of the p99).")
    side.slider("Utilisation cap per instance", 0.05, 1.0, step=0.05, key="mme_util")
    side.number_input("p99 target (ms, 0: none)", min_value=0.0, step=50.0, format="%g", key="mme_p99_ms")
    side.number_input("TPS per instance (0: fitted)", min_value=0.0, step=10.0, format="%g",
                      key="mme_tps_per_instance")
    side.number_input("Cold load (ms, 0: measured)", min_value=0.0, step=500.0, format="%g", key="mme_cold_load_ms")
    side.header("Prices")
    price_widgets("mme")
    return widget_values(PREFIX, FIELDS)


def popularity_spec(values: dict[str, object]) -> str:
    """The ``--popularity`` text of the scenario: ``uniform`` or ``zipf:S``."""
    return "uniform" if values["popularity"] == "uniform" else f"zipf:{values['zipf_s']:g}"


def _traffic_file() -> dict[str, str]:
    """The uploaded per-model traffic as ``traffic_csv`` / ``traffic_name`` arguments (none: {})."""
    upload = st.session_state.get("mme_traffic")
    if upload is None:
        return {}
    if upload.size > MAX_TRAFFIC_BYTES:
        raise ValueError(f"{upload.name}: expected a traffic CSV of at most {MAX_TRAFFIC_BYTES // 2**20} MB, found "
                         f"{upload.size / 2**20:.1f} MB")
    return {"traffic_csv": upload.getvalue().decode("utf-8-sig", errors="replace"), "traffic_name": upload.name}


def library_args(values: dict[str, object], traffic: dict[str, str] | None = None) -> dict[str, object]:
    """The scenario (and an uploaded traffic file) as :func:`app_pages.shared.mme_recommendation`'s keyword
    arguments."""
    return {**(traffic or {}), "target_tps": values["tps"], "models": int(values["models"]),
            "popularity": popularity_spec(values),
            "tps_per_instance": values["tps_per_instance"] or None, "latency_target_ms": values["p99_ms"] or None,
            "max_utilization": values["util"], "memory_threshold": values["threshold"],
            "max_miss_ratio": values["miss"], "cold_load_ms": values["cold_load_ms"] or None,
            "region": values["region"], "discount": values["discount"],
            "overrides": parse_price_overrides(str(values["prices"]), str(values["region"]))}


def _headline(rec: MmeRecommendation) -> None:
    best = rec.variants[0]
    cols = st.columns([1.5, 1, 1, 1, 1])
    cols[0].metric("Recommended", f"{best.instances} × {short_instance_type(best.instance_type)}",
                   help=f"{best.instances} × {best.instance_type} ({best.label})")
    cols[1].metric("Models per instance", f"{best.max_models_per_instance}",
                   help=f"at {rec.memory_threshold:.0%} GPU memory")
    cols[2].metric("Hit ratio", f"{best.hit_ratio:.1%}", help=f"{rec.models} models, {rec.popularity}")
    cols[3].metric("Predicted p99", "—" if best.latency_p99_ms is None else f"{best.latency_p99_ms:.0f} ms",
                   help="no latency measured for this instance type" if best.latency_p99_ms is None else None)
    cols[4].metric("Cost per month", short_usd(best.usd_per_month), help=f"${best.usd_per_month:,.2f}/month")


def page() -> None:
    opened = open_page("Multi-model endpoints", lambda: url_scenario(PREFIX, FIELDS, _sidebar))
    if opened is None:
        return
    choice, version, values = opened
    try:
        args = library_args(values, _traffic_file())
        with st.spinner("Computing (the first visit fits every run of the collection; later changes are instant)…"):
            rec = mme_recommendation(choice.root, version, **args)
        shares = mme_popularity(args["popularity"], args["models"], args.get("traffic_csv"),
                                args.get("traffic_name", "traffic.csv")).shares
    except (PlannerError, ValueError) as exc:
        st.error(str(exc))
        return
    _headline(rec)
    st.markdown(rationale(rec))
    catalog = price_catalog(str(values["region"]), float(values["discount"]), args["overrides"])
    left, right = st.columns(2)
    with left:
        draw(mme_memory_chart(rec, gpu_memory_series(choice.root, version), catalog))
    with right:
        draw(mme_instances_chart(rec, shares))
    variants = pd.DataFrame([v.to_dict() for v in rec.variants])[list(VARIANT_COLUMNS)]
    table(variants, VARIANT_COLUMNS)
    with st.expander(f"Not an option ({len(rec.rejected)})"):
        for label, reason in rec.rejected:
            st.markdown(f"- **{label}**: {reason}")
    with st.expander("Notes"):
        for note in rec.to_dict()["notes"]:
            st.markdown(f"- {note}")
    json_and_prices("planner mme", rec.to_dict(), rec.price_catalog.text, rec.hours_per_month)
    keep_scenario(PREFIX, values)


page()
