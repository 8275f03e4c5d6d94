"""What planner opens to the network: `planner app` and the Locust master of `collect --processes N` listen on
loopback unless told otherwise; an explicit `--address 0.0.0.0` is warned about."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from planner.collect.endpoint import EndpointSettings, LocalEndpoint
from planner.collect.load import collect_http, parse_shape

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(root: psutil.Process, port: int | None = None, itself: bool = True) -> set[str]:
    """Addresses ``root`` (unless not ``itself``) or its descendants listen on over TCP (on ``port`` when given)."""
    found = set()
    for proc in [root] * itself + root.children(recursive=True):
        try:
            conns = proc.net_connections(kind="tcp")
        except psutil.Error:
            continue
        found |= {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN and port in (None, c.laddr.port)}
    return found


def _serve_app(tmp_path: Path, port: int, *extra: str) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"app-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "planner.cli", "app", "--store", str(REPO / "data" / "sample-store"),
                                 "--port", str(port), "--headless", *extra], cwd=tmp_path, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def _wait_listening(proc: subprocess.Popen, port: int, log: Path, timeout_s: float = 60) -> set[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"planner app exited early:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
                if resp.read().strip() == b"ok":
                    return _listening(psutil.Process(proc.pid), port)
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"planner app not healthy after {timeout_s} s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize(("extra", "addresses", "warned"), [
    ((), {"127.0.0.1"}, False),
    (("--address", "0.0.0.0"), {"0.0.0.0"}, True),
])
def test_planner_app_listens_on_loopback_unless_told(tmp_path, extra, addresses, warned):
    port = _free_port()
    proc, log = _serve_app(tmp_path, port, *extra)
    try:
        assert _wait_listening(proc, port, log) == addresses
    finally:
        _stop(proc)
    text = log.read_text()
    assert ("warning: listening on 0.0.0.0: anyone who can reach this machine can read the collection and upload "
            "runs" in text) is warned, text


def test_the_master_of_local_processes_listens_on_loopback_only(tmp_path):
    seen: set[str] = set()
    with LocalEndpoint(EndpointSettings(workers=4, service_ms=5.0, service_dist="const")) as ep:
        done = threading.Event()
        outcome: list = []

        def run() -> None:
            try:
                outcome.append(collect_http(ep.url, parse_shape("stairs:users=2,hold=6s,spawn-rate=20"),
                                            out_dir=tmp_path / "out", max_duration_s=15, processes=2))
            finally:
                done.set()

        thread = threading.Thread(target=run)
        thread.start()
        me = psutil.Process()
        while not done.is_set():  # the master listens while the run lasts
            seen |= _listening(me, itself=False)  # Locust's processes, not this one's endpoint
            time.sleep(0.2)
        thread.join()
    assert outcome and outcome[0].request_count > 0 and outcome[0].processes == 2
    assert seen == {"127.0.0.1"}, seen
