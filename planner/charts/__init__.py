"""Altair charts (never Streamlit): fitted curves with bands and the SLA line. Axes name their units.

One module per thing charted: :mod:`~planner.charts.fits` (latency and USL fits),
:mod:`~planner.charts.sizing` (the capacity planner's cost and option-latency what-ifs),
:mod:`~planner.charts.serverless`, :mod:`~planner.charts.multi_model`, :mod:`~planner.charts.autoscale`,
:mod:`~planner.charts.comparison` and :mod:`~planner.charts.timeline` (the load test over time);
:mod:`~planner.charts.spec` holds what they share, :mod:`~planner.charts.palette` the colours.
"""

from planner.charts.autoscale import autoscale_chart
from planner.charts.comparison import comparison_chart
from planner.charts.fits import (
    FITTED,
    HELD_OUT,
    MEETS_SLA,
    MISSES_SLA,
    PAST_KNEE,
    curve_frame,
    fit_chart,
    fit_report_chart,
    measured_frame,
    plotted_statistic,
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
from planner.charts.timeline import metrics_timeline_chart, past_knee_steps, timeline_chart, timeline_frames

__all__ = [
    "FITTED",
    "HA_LOST",
    "HELD_OUT",
    "MEETS",
    "MEETS_SLA",
    "MISSES_SLA",
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
    "past_knee_steps",
    "plotted_statistic",
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
    "metrics_timeline_chart",
    "timeline_chart",
    "timeline_frames",
    "usl_chart",
    "usl_frame",
]
