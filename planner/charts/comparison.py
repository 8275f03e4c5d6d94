"""The cost comparison: every deployment option's monthly cost as a bar."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

from planner.charts.palette import deployment_kind, deployment_scale
from planner.charts.spec import _filled


@functools.cache
def _comparison_template() -> str:
    y = alt.Y("option:N", title=None, sort=alt.EncodingSortField(field="rank", op="min"),
              axis=alt.Axis(labelLimit=420))
    x = alt.X("usd_per_month:Q", title="total cost (USD/month)")
    data = alt.Chart(alt.NamedData("lines"))
    bars = data.mark_bar().encode(
        x=x, y=y, color=alt.Color("kind:N", title="deployment", scale=deployment_scale()),
        opacity=alt.Opacity("sla:N", title="", scale=alt.Scale(domain=["meets the SLA", "misses the SLA"],
                                                               range=[1.0, 0.35])),
        tooltip=[alt.Tooltip("option:N"), alt.Tooltip("deployment:N"),
                 alt.Tooltip("usd_per_month:Q", title="USD/month", format=",.2f"),
                 alt.Tooltip("usd_per_year:Q", title="USD/year", format=",.0f"),
                 alt.Tooltip("predicted_latency_ms:Q", title="predicted latency (ms)", format=".0f"),
                 alt.Tooltip("sla:N")])
    text = data.mark_text(align="left", dx=4).encode(x=x, y=y, text=alt.Text("usd_per_month:Q", format="$,.0f"))
    return json.dumps(alt.layer(bars, text).properties(width=560).to_dict())


def comparison_chart(options: Sequence[Mapping[str, Any]]) -> dict:
    """Every option's monthly cost as a bar, in the given order (a cost comparison's ``to_dict()["options"]``:
    SLA-meeting first, cheapest first); options that miss the SLA faded. A Vega-Lite spec (dict), as
    :func:`cost_chart`."""
    frame = pd.DataFrame([{**line, "rank": i, "sla": "meets the SLA" if line["sla_met"] else "misses the SLA",
                           "kind": deployment_kind(line["deployment"])} for i, line in enumerate(options)])
    spec = _filled(_comparison_template(), {"lines": frame}, "Monthly cost of every option")
    spec["height"] = {"step": 24}
    return spec
