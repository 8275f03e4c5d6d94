"""Quantities with units: payload sizes are bytes (B, KB = 1000, KiB = 1024), counts keep k/M/B."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.costs import GIB_BYTES
from planner.units import UnitError, parse_bytes, parse_count, parse_memory_mb

SIZE_FACTORS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
SAMPLE = ["--store", "data/sample-store"]


def _cases(unit: str) -> st.SearchStrategy[str]:
    """``unit`` in any mix of upper and lower case."""
    return st.tuples(*[st.sampled_from((c.lower(), c.upper())) for c in unit]).map("".join)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(SIZE_FACTORS)).flatmap(
    lambda unit: st.tuples(st.just(unit), _cases(unit))), st.sampled_from(["", " "]))
def test_sizes_are_bytes_in_any_case(number, units, space):
    unit, spelled = units
    assert parse_bytes(f"{number}{space}{spelled}") == number * SIZE_FACTORS[unit]


def test_sizes_and_counts_differ_only_where_they_must():
    assert parse_bytes("512B") == 512 and parse_count("3B") == 3e9  # B: bytes here, a billion there
    assert parse_bytes("10KB") == 10_000 and parse_bytes("10KiB") == 10_240 and parse_bytes("1.5MiB") == 1.5 * 2**20
    assert parse_bytes("40k") == parse_count("40k") == 40_000 and parse_bytes("2048") == 2048
    assert parse_memory_mb("2GB") == 2048  # serverless memory: AWS's 1 GB = 1024 MB, unchanged


@pytest.mark.parametrize("text", ["10 parsecs", "KB", "1e400B", "1e308GB", "nan", "5 kB/s"])
def test_bad_sizes_name_what_was_found(text):
    with pytest.raises(UnitError, match="expected a"):
        parse_bytes(text)


def test_a_count_too_large_to_represent_is_refused():
    with pytest.raises(UnitError, match="finite count"):
        parse_count("1e308B")


def _json(args: list[str]) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(("text", "expected_bytes"), [("512B", 512), ("10KB", 10_000), ("10kib", 10_240)])
def test_serverless_request_bytes_are_bytes(text, expected_bytes):
    data = _json(["serverless", "--monthly-invocations", "3M", "--peak-tps", "40", "--p99", "300ms", *SAMPLE,
                  "--run", "cc3eabf4cffd606a", "--request-bytes", text, "--response-bytes", text])
    assert data["request_bytes"] == data["response_bytes"] == expected_bytes


def test_export_data_processing_of_512_bytes_is_cents_not_millions(tmp_path):
    data = _json(["export", "costs", "--target-tps", "40", "--p99", "300ms", "--monthly-invocations", "3M",
                  "--out", str(tmp_path / "c.csv"), *SAMPLE, "--request-bytes", "512B"])
    payload = next(a for a in data["assumptions"] if a["item"] == "request payload")
    assert payload["value"] == 512 and payload["unit"] == "bytes"
    expected_usd = 512 * 3e6 / GIB_BYTES * 0.016  # 3M requests of 512 B at 0.016 USD/GB
    assert data["options"] and all(o["data_processing_usd_per_month"] == pytest.approx(expected_usd)
                                   for o in data["options"])
