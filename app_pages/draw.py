"""Drawing a planner chart in the app: every view as wide as the column it is drawn in (issue #14)."""

from __future__ import annotations

import streamlit as st

from planner.charts import container_views


def draw(spec: dict) -> None:
    """The chart's views one under another, each fitted to the column's width (facets keep their panel width)."""
    for view in container_views(spec):
        st.vega_lite_chart(view, width="content" if "facet" in view else "stretch")
