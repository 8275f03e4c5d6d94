"""The bundled sample collection as tests find things in it (run ids change when it is rebuilt)."""

from __future__ import annotations

from pathlib import Path

from planner.store import RunStore

SAMPLE_STORE = Path(__file__).resolve().parents[1] / "data" / "sample-store"


def profile_run(profile: str) -> str:
    """Id of the sample's emulated run of a ``planner serve-local`` profile."""
    return next(r.run_id for r in RunStore(SAMPLE_STORE).records()
                if (r.run.get("labels") or {}).get("profile") == profile)
