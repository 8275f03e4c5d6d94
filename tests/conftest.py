"""Shared fixtures: where the real public datasets live, and a fresh store per test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("PLANNER_DATASETS", REPO / "tests" / "datasets"))  # a copy: see its README
# One fit cache for the session (CLI subprocesses inherit it), never the user's ~/.cache.
os.environ["PLANNER_CACHE_DIR"] = tempfile.mkdtemp(prefix="planner-fit-cache-")


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The real public inputs (tests/datasets, read-only: copy what a test changes)."""
    assert DATASETS.is_dir(), f"datasets not found at {DATASETS}"
    return DATASETS


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture(scope="session")
def moto_endpoint():
    """A real moto server on loopback (HTTP), for boto3 and pyarrow's S3 client alike."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch) -> dict[str, str]:
    """Environment that points boto3 and pyarrow at the moto server (also for subprocesses)."""
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": moto_endpoint, "AWS_EC2_METADATA_DISABLED": "true"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return env
