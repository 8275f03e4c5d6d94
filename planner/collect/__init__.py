"""Collect runs: drive load tests against endpoints, pull their metrics, and emulate endpoints locally."""
