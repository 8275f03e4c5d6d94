"""Altair charts (never Streamlit): fitted curves with bands and the SLA line. Axes name their units.

One module per thing charted: :mod:`~planner.charts.fits` (latency and USL fits),
:mod:`~planner.charts.sizing` (the capacity planner's cost and option-latency what-ifs),
:mod:`~planner.charts.serverless`, :mod:`~planner.charts.multi_model`, :mod:`~planner.charts.autoscale`
and :mod:`~planner.charts.comparison`; :mod:`~planner.charts.spec` holds what they share.
"""

from planner.charts.autoscale import autoscale_chart
from planner.charts.comparison import comparison_chart
from planner.charts.fits import (
    FITTED,
    HELD_OUT,
    PAST_KNEE,
    curve_frame,
    fit_chart,
    fit_report_chart,
    measured_frame,
    usl_chart,
    usl_frame,
)
from planner.charts.headline import saving_against_next, short_instance_type, short_number, short_usd
from planner.charts.multi_model import (
    mme_instances_chart,
    mme_instances_frame,
    mme_memory_chart,
    mme_memory_frames,
)
from planner.charts.serverless import (
    serverless_concurrency_chart,
    serverless_concurrency_frame,
    serverless_cost_chart,
    serverless_cost_frame,
    serverless_memory_chart,
    serverless_memory_frame,
)
from planner.charts.sizing import (
    HA_LOST,
    MEETS,
    OVER_CAP,
    OVER_LATENCY,
    cost_chart,
    cost_frame,
    option_latency_chart,
    option_latency_frame,
)
from planner.charts.spec import container_views, save_chart

__all__ = [
    "FITTED",
    "HA_LOST",
    "HELD_OUT",
    "MEETS",
    "OVER_CAP",
    "OVER_LATENCY",
    "PAST_KNEE",
    "autoscale_chart",
    "comparison_chart",
    "container_views",
    "cost_chart",
    "cost_frame",
    "curve_frame",
    "fit_chart",
    "fit_report_chart",
    "measured_frame",
    "mme_instances_chart",
    "mme_instances_frame",
    "mme_memory_chart",
    "mme_memory_frames",
    "option_latency_chart",
    "option_latency_frame",
    "save_chart",
    "saving_against_next",
    "serverless_concurrency_chart",
    "serverless_concurrency_frame",
    "serverless_cost_chart",
    "serverless_cost_frame",
    "serverless_memory_chart",
    "serverless_memory_frame",
    "short_instance_type",
    "short_number",
    "short_usd",
    "usl_chart",
    "usl_frame",
]
