"""Recommendations: pure functions over fits, traffic and the price catalog, returning frozen dataclasses.

No decision reads a store, a cache, a file or an ingest parser (the import contract in pyproject.toml
says so); :mod:`planner.scenarios` gathers their inputs.
"""

# The share of its capacity an instance is sized to run at: the default cap of every decision.
DEFAULT_MAX_UTILIZATION = 0.7
