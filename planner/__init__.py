"""planner: capacity planning and cost modelling for ML inference endpoints."""

__version__ = "0.1.0"
