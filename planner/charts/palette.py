"""One colour per deployment type and per instance family on every chart, so "serverless" is the same
orange and g4dn the same green on every page."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import altair as alt

DEPLOYMENT_COLORS = {"real-time": "#4c78a8", "serverless": "#f58518", "serverless, provisioned": "#9d755d",
                     "multi-model": "#b279a2"}


def deployment_kind(name: str) -> str:
    """A deployment or option name (``"real-time (also HA)"``, ``"serverless + 12 provisioned"``,
    ``"multi-model (100 models)"``) -> its key in :data:`DEPLOYMENT_COLORS` (the name itself if none fits)."""
    if name.startswith("serverless"):
        return "serverless, provisioned" if "provisioned" in name else "serverless"
    return next((kind for kind in ("real-time", "multi-model") if name.startswith(kind)), name)


def deployment_scale() -> alt.Scale:
    """The colour scale for a field holding :func:`deployment_kind` values."""
    return alt.Scale(domain=list(DEPLOYMENT_COLORS), range=list(DEPLOYMENT_COLORS.values()))


# One hue per instance family on every chart (so g4dn is the same green on the Runs, Multi-model and Planner
# pages); families not listed take a colour from FALLBACK_COLORS chosen by a hash of the name.
FAMILY_COLORS = {"c5": "#1f77b4", "c6i": "#4a98c9", "c7i": "#08519c", "m5": "#ff7f0e", "m6i": "#fdae6b",
                 "m7i": "#d94801", "r5": "#8c564b", "r6i": "#c49c94", "t2": "#7f7f7f", "t3": "#bcbd22",
                 "g4dn": "#2ca02c", "g5": "#d62728", "g6": "#9467bd", "g6e": "#e377c2", "g7e": "#17becf",
                 "p3": "#393b79", "p4d": "#637939", "p5": "#843c39", "p5e": "#ad494a", "inf1": "#7b4173",
                 "inf2": "#a55194", "trn1": "#5254a3"}
FALLBACK_COLORS = ("#6b6ecf", "#b5cf6b", "#e7ba52", "#d6616b", "#ce6dbd", "#9c9ede", "#8ca252", "#bd9e39")
UNKNOWN_FAMILY = "unknown"


def instance_family(instance_type: str | None) -> str:
    """``ml.g4dn.2xlarge`` (or ``g4dn.2xlarge``) -> ``g4dn``; :data:`UNKNOWN_FAMILY` when none is recorded."""
    if not instance_type:
        return UNKNOWN_FAMILY
    parts = str(instance_type).removeprefix("ml.").split(".")
    return parts[0].lower() or UNKNOWN_FAMILY


def family_color(family: str) -> str:
    """The family's colour: :data:`FAMILY_COLORS`, else one of :data:`FALLBACK_COLORS` picked by a hash of the
    name (the same in every process, unlike ``hash()``); grey for :data:`UNKNOWN_FAMILY`."""
    if family == UNKNOWN_FAMILY:
        return "#999999"
    if family in FAMILY_COLORS:
        return FAMILY_COLORS[family]
    return FALLBACK_COLORS[int(hashlib.sha256(family.encode()).hexdigest(), 16) % len(FALLBACK_COLORS)]


def _lighter(color: str, amount: float) -> str:
    """``color`` (#rrggbb) mixed with white by ``amount`` (0: unchanged, 1: white)."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in rgb)


def family_scale(instance_by_label: Mapping[str, str | None]) -> alt.Scale:
    """A colour scale for a field holding configuration or variant labels: each label in its instance
    family's colour (:func:`family_color`); a second, third… label of the same family in lighter shades of it,
    so they stay apart while keeping the family's hue."""
    seen: dict[str, int] = {}
    colors = []
    for label in instance_by_label:
        family = instance_family(instance_by_label[label])
        colors.append(_lighter(family_color(family), min(0.6, 0.3 * seen.get(family, 0))))
        seen[family] = seen.get(family, 0) + 1
    return alt.Scale(domain=list(instance_by_label), range=colors)


def with_family_colors(spec: dict, field: str, instance_by_label: Mapping[str, str | None]) -> dict:
    """``spec`` with every colour encoding of ``field`` given :func:`family_scale` (in place; returned)."""
    scale = family_scale(instance_by_label).to_dict()
    stack: list = [spec]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            color = node.get("color")
            if isinstance(color, dict) and color.get("field") == field:
                color["scale"] = scale
            stack.extend(v for k, v in node.items() if k != "datasets")
        elif isinstance(node, list):
            stack.extend(node)
    return spec
