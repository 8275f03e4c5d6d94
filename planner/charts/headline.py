"""Short forms of headline values (a metric tile is ~150 px wide at 1280 px); the full value goes in its tooltip."""

from __future__ import annotations

import math

_SUFFIXES = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def short_number(value: float) -> str:
    """``61_277_372 -> '61.3M'``, ``8_220 -> '8.22k'``, ``156.2 -> '156'``, ``8.2 -> '8.2'``; ``'—'`` if missing."""
    if value is None or not math.isfinite(value):
        return "—"
    for scale, suffix in _SUFFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}" if abs(value) >= 1 else f"{value:.2g}"


def short_usd(usd: float) -> str:
    """``8_220 -> '$8.22k'``, ``8.2 -> '$8.20'``, ``0.004 -> '$0.004'``; ``'—'`` if missing."""
    if usd is None or not math.isfinite(usd):
        return "—"
    if 1 <= abs(usd) < 100:
        return f"${usd:.2f}"
    return "$" + short_number(usd)


def short_instance_type(instance_type: str) -> str:
    """``'ml.c5.2xlarge' -> 'c5.2xl'``, ``'ml.g4dn.xlarge' -> 'g4dn.xl'``, ``'m5.large' -> 'm5.l'``."""
    name = instance_type.removeprefix("ml.")
    return name.replace("xlarge", "xl").replace(".large", ".l").replace(".medium", ".m")


def saving_against_next(options: list[dict]) -> tuple[dict, dict | None, float | None] | None:
    """A cost comparison's options (``to_dict()["options"]``) -> (the cheapest option meeting the SLA, the
    next cheapest meeting it, what the first saves against it in USD/month); None when none meets the SLA."""
    meeting = sorted((o for o in options if o["sla_met"]), key=lambda o: o["usd_per_month"])
    if not meeting:
        return None
    if len(meeting) == 1:
        return meeting[0], None, None
    return meeting[0], meeting[1], meeting[1]["usd_per_month"] - meeting[0]["usd_per_month"]
