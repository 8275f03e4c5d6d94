"""`planner explore`: (being built)."""

from planner.cli.common import app  # noqa: F401
