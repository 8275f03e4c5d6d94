"""Recommendations: pure functions over fits and the price catalog, returning frozen dataclasses."""
