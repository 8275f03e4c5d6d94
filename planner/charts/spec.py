"""Pieces every chart shares: the SLA line and labelled vertical rules, Vega-Lite templates filled with
each call's data, and saving a chart to a file."""

from __future__ import annotations

import json
from pathlib import Path

import altair as alt
import pandas as pd

from planner.errors import PlannerError


def _sla_layers(sla_ms: float, label: str) -> list[alt.Chart]:
    """A red dashed horizontal rule at the latency target, labelled."""
    data = pd.DataFrame({"sla_ms": [sla_ms], "text": [f"SLA: {label} ≤ {sla_ms:g} ms"]})
    rule = alt.Chart(data).mark_rule(color="red", strokeDash=[6, 3], size=2).encode(y=alt.Y("sla_ms:Q"))
    text = alt.Chart(data).mark_text(color="red", align="left", dx=4, dy=-7, fontWeight="bold").encode(
        y=alt.Y("sla_ms:Q"), x=alt.XValue(0), text=alt.Text("text:N"))
    return [rule, text]


def _vertical_rule(x_value: float, text: str, color: str, dash: list[int] | None = None,
                   row: int = 0) -> list[alt.Chart]:
    """A vertical rule at ``x_value`` labelled near the top (``row`` staggers labels that could overlap)."""
    data = pd.DataFrame({"x": [x_value], "text": [text]})
    rule = alt.Chart(data).mark_rule(color=color, strokeDash=dash or [], size=2).encode(x=alt.X("x:Q"))
    label = alt.Chart(data).mark_text(color=color, align="left", dx=4, fontWeight="bold").encode(
        x=alt.X("x:Q"), y=alt.YValue(10 + 16 * row), text=alt.Text("text:N"))
    return [rule, label]


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (missing values as None)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


class _ScriptSafeJSON(json.JSONEncoder):
    """JSON that can sit inside an HTML ``<script>``: ``<``, ``>`` and ``&`` as ``\\u`` escapes, so no
    string in it (an endpoint named ``</script><script>...``, a ``<!--``) ends the script or opens
    markup; JavaScript reads the same strings back."""

    def encode(self, o: object) -> str:
        text = super().encode(o)
        for char in "<>&\u2028\u2029":
            text = text.replace(char, f"\\u{ord(char):04x}")
        return text


def save_chart(chart: alt.TopLevelMixin | dict, path: Path) -> Path:
    """Save an altair chart or a Vega-Lite spec (dict) as .html (self-contained spec, every string in it
    escaped for its ``<script>``), .png or .svg (rendered by vl-convert) or .json."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".png", ".svg", ".json"):
        raise PlannerError(f"{path}: expected a .html, .png, .svg or .json chart file name, found {path.suffix!r}")
    if isinstance(chart, dict):
        kind = next((k for k in ("layer", "vconcat", "hconcat", "concat") if k in chart), "")
        classes: dict[str, type[alt.LayerChart | alt.VConcatChart | alt.HConcatChart | alt.ConcatChart | alt.Chart]]
        classes = {"layer": alt.LayerChart, "vconcat": alt.VConcatChart, "hconcat": alt.HConcatChart,
                   "concat": alt.ConcatChart}
        chart = classes.get(kind, alt.Chart).from_dict(chart)
    try:
        chart.save(str(path), json_kwds={"cls": _ScriptSafeJSON} if path.suffix.lower() == ".html" else {})
    except (ValueError, ImportError) as exc:
        raise PlannerError(f"{path}: cannot write chart: {exc}") from None
    return path


def _filled(template: str, datasets: dict[str, pd.DataFrame | list], title: str | dict) -> dict:
    """A cached Vega-Lite template (JSON) with this call's named datasets and title."""
    spec = json.loads(template)
    spec["datasets"] = {name: _records(data) if isinstance(data, pd.DataFrame) else data
                        for name, data in datasets.items()}
    spec["title"] = title
    return spec


def container_views(spec: dict) -> list[dict]:
    """A Vega-Lite spec as views that each fit the width of the element they are drawn in.

    A concatenation is split into its views (each keeps the spec's datasets, config and params); a single or
    layered view gets ``width="container"``; a facet keeps its panel width (Vega-Lite cannot fit a facet).
    """
    shared = {k: v for k, v in spec.items() if k in ("$schema", "datasets", "config", "params", "data")}
    kind = next((k for k in ("hconcat", "vconcat", "concat") if k in spec), None)
    if kind is not None:
        return [view for part in spec[kind] for view in container_views(shared | part)]
    if "facet" in spec:
        return [spec]
    return [spec | {"width": "container", "autosize": {"type": "fit-x", "contains": "padding"}}]
