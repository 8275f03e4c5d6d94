"""Recommendations: pure functions over fits, traffic and the price catalog, returning frozen dataclasses.

No decision reads a store, a cache, a file or an ingest parser (the import contract in pyproject.toml
says so); :mod:`planner.scenarios` gathers their inputs.
"""

# The share of its capacity an instance is sized to run at: the default cap of every decision.
DEFAULT_MAX_UTILIZATION = 0.7
# The one-sided quantile of a predicted latency that a real-time instance count is judged by (0.5: the
# estimate itself). On the emulated matrix (README, bench/closed_loop.py) 0.9 turned every miss of the
# estimate between 2 and 3 instances into the right count and over-provisioned none.
DEFAULT_CONFIDENCE = 0.9
