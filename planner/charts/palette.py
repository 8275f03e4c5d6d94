"""One colour per deployment type on every chart, so "serverless" is the same orange on every page."""

from __future__ import annotations

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
