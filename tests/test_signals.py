"""Stop signals from a terminal or a process manager, sent for real to a real `planner` process (issue #13,
item 15): `collect` stops Locust (forked workers included) and deletes what a serverless sweep created, also
when the endpoint is still Creating; `planner app` passes the signal on to Streamlit. Each exits 128 + the signal.

The AWS side is moto's server over HTTP. moto makes endpoints InService at once, so the Creating case puts a
small HTTP front between planner and moto that behaves as SageMaker does while an endpoint is being created:
DescribeEndpoint says Creating and DeleteEndpoint is refused, until the test lets the creation finish.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import psutil
import pytest

from planner.cli.explore import run_passing_signals_on
from planner.collect.endpoint import EndpointSettings, LocalEndpoint

REPO = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/planner-test"
LONG = "stairs:users=2,hold=120s,spawn-rate=20"  # outlasts every test: only the signal ends it


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_survivors():
    """Whatever a failing test leaves running is killed (the group of each planner process it started)."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            for child in _descendants(proc):
                with contextlib.suppress(psutil.Error):
                    child.kill()
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def _planner(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`planner ARGS` in its own session (the signal goes to it alone), stdin an open pipe nobody writes to."""
    _STARTED.append(subprocess.Popen([sys.executable, "-m", "planner.cli", *args], cwd=tmp_path,
                                     env={**os.environ, **(env or {})}, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True))
    return _STARTED[-1]


def _until(condition, proc: subprocess.Popen, what: str, timeout_s: float = 60.0):
    """Poll ``condition`` until it is truthy; fail if ``proc`` exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if proc.poll() is not None:
            try:
                _, stderr = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                stderr = b"(its output is held open by a process it left running)"
            pytest.fail(f"planner exited ({proc.returncode}) before {what}:\n{stderr.decode()[-2000:]}")
        time.sleep(0.2)
    pytest.fail(f"still waiting for {what} after {timeout_s:g} s")


def _descendants(proc: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _running(procs: list[psutil.Process], word: str) -> list[psutil.Process]:
    """Those of ``procs`` alive with ``word`` in their command line."""
    found = []
    for p in procs:
        try:
            if word in " ".join(p.cmdline()):
                found.append(p)
        except psutil.Error:  # gone, or a zombie
            continue
    return found


def _locust(proc: subprocess.Popen, count: int) -> list[psutil.Process]:
    """Once ``count`` Locust processes run under ``proc``: every descendant."""
    def found():
        tree = _descendants(proc)
        return tree if len(_running(tree, "locust")) >= count else None

    return _until(found, proc, f"{count} Locust processes")


def _stopped(proc: subprocess.Popen, sig: int, tree: list[psutil.Process]) -> str:
    """Send ``sig`` to ``proc`` alone; -> its stderr once it exited with 128 + sig and every process of ``tree``
    is gone."""
    os.kill(proc.pid, sig)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # the pipes stay open while a process of the tree holds them
        for child in tree:
            with contextlib.suppress(psutil.Error):
                child.kill()
        pytest.fail(f"planner or a child still running 60 s after {signal.Signals(sig).name}")
    text = stderr.decode()
    assert proc.returncode == 128 + sig, text[-2000:]
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], [p.cmdline() for p in alive]
    return text


# ---------------------------------------------------------------------------- planner collect http://


def test_sigterm_stops_locust_and_its_forked_workers(tmp_path):
    with LocalEndpoint(EndpointSettings(workers=4, service_ms=5)) as endpoint:
        proc = _planner(["collect", endpoint.url, "--processes", "2", "--shape", LONG, "--store",
                         str(tmp_path / "s"), "--out-dir", str(tmp_path / "out")], tmp_path)
        tree = _locust(proc, 3)  # the master and two workers
        _until(lambda: endpoint.stats().served > 0, proc, "load on the endpoint")
        stderr = _stopped(proc, signal.SIGTERM, tree)
    assert "stopped by SIGTERM: Locust was stopped and nothing was ingested" in stderr
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------------------- planner collect --serverless-sweep


@pytest.fixture
def model(aws_env) -> str:
    name = f"model-{os.urandom(4).hex()}"
    boto3.client("sagemaker").create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"})
    return name


def _sweep_names() -> set[str]:
    """Endpoints and endpoint configs a sweep made (named planner-sweep-...) in moto."""
    client = boto3.client("sagemaker")
    names = [e["EndpointName"] for e in client.list_endpoints(MaxResults=100)["Endpoints"]]
    names += [c["EndpointConfigName"] for c in client.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]]
    return {n for n in names if n.startswith("planner-sweep-")}


def _sweep(model: str, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return _planner(["collect", "--serverless-sweep", "1024", "--model-name", model, "--yes", "--shape", LONG,
                     "--no-cloudwatch", "--region", "us-east-1", "--store", str(tmp_path / "s"), "--out-dir",
                     str(tmp_path / "out")], tmp_path, env)


def test_sighup_during_a_sweeps_load_stops_locust_and_deletes_the_endpoint_and_its_config(model, tmp_path):
    before = _sweep_names()
    proc = _sweep(model, tmp_path)
    tree = _locust(proc, 1)
    made = _sweep_names() - before
    assert len(made) == 1  # endpoint and config share the name
    stderr = _stopped(proc, signal.SIGHUP, tree)
    assert "stopped by SIGHUP" in stderr and "endpoint configs deleted" in stderr
    assert _sweep_names() == before


class _Creating:
    """An HTTP front for moto's SageMaker: an endpoint created through it stays Creating (DescribeEndpoint says
    so, DeleteEndpoint is refused with SageMaker's ValidationException) until :meth:`finish`."""

    def __init__(self, moto_url: str) -> None:
        self.moto = urlsplit(moto_url).netloc
        self.creating: set[str] = set()
        self.described = threading.Event()
        self.refused = threading.Event()
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the JSON protocol: every call is a POST naming its X-Amz-Target
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                action = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                name = json.loads(body or b"{}").get("EndpointName")
                if action == "DeleteEndpoint" and name in front.creating:
                    front.refused.set()
                    self._reply(400, json.dumps({"__type": "ValidationException", "message": (
                        f"Cannot delete endpoint {name} while it is in Creating status")}).encode(), {})
                    return
                status, data, headers = front.forward(self.path, body, dict(self.headers))
                if action == "CreateEndpoint" and status == 200:
                    front.creating.add(name)
                if action == "DescribeEndpoint" and name in front.creating:
                    front.described.set()
                    data = json.dumps({**json.loads(data), "EndpointStatus": "Creating"}).encode()
                self._reply(status, data, headers)

            def _reply(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key in ("Content-Type", "x-amzn-RequestId"):
                    if key in headers:
                        self.send_header(key, headers[key])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        connection = http.client.HTTPConnection(self.moto, timeout=30)
        try:
            connection.request("POST", path, body, {k: v for k, v in headers.items() if k.lower() != "host"})
            response = connection.getresponse()
            return response.status, response.read(), dict(response.getheaders())
        finally:
            connection.close()

    def finish(self) -> None:
        self.creating.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_sigterm_while_the_endpoint_is_creating_waits_for_it_then_deletes_it(model, tmp_path, moto_endpoint):
    before = _sweep_names()
    front = _Creating(moto_endpoint)
    try:
        proc = _sweep(model, tmp_path, {"AWS_ENDPOINT_URL_SAGEMAKER": front.url})
        _until(front.described.is_set, proc, "a DescribeEndpoint of the endpoint being created")
        os.kill(proc.pid, signal.SIGTERM)
        _until(front.refused.is_set, proc, "a DeleteEndpoint refused while Creating")
        assert len(_sweep_names() - before) == 1  # still there: SageMaker refused to delete it
        front.finish()
        stderr = _stopped(proc, signal.SIGTERM, [])  # a second SIGTERM, as an impatient manager sends: ignored
    finally:
        front.close()
    assert "stopped by SIGTERM" in stderr and not list((tmp_path / "out").glob("**/locust*"))
    assert _sweep_names() == before


# ---------------------------------------------------------------------------- planner app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
            return resp.read().strip() == b"ok"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_planner_app_passes_the_signal_on_to_streamlit_and_exits_with_it(tmp_path, sig):
    """Without --headless and with a home Streamlit has never seen (its first-run e-mail prompt would wait on
    stdin), the app must still serve; the signal then ends Streamlit too and frees the port."""
    home, browser = tmp_path / "home", tmp_path / "bin"
    home.mkdir()
    browser.mkdir()
    (browser / "xdg-open").write_text("#!/bin/sh\nexit 0\n")  # no real browser on a test machine
    (browser / "xdg-open").chmod(0o755)
    port = _free_port()
    proc = _planner(["app", "--store", str(REPO / "data" / "sample-store"), "--port", str(port)], tmp_path,
                    {"HOME": str(home), "PATH": f"{browser}{os.pathsep}{os.environ['PATH']}"})
    _until(lambda: _healthy(port), proc, f"an answer on 127.0.0.1:{port}")
    streamlit = _running(_descendants(proc), "streamlit")
    assert streamlit
    _stopped(proc, sig, streamlit)
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))


def test_a_child_that_ignores_the_signal_is_killed_after_the_grace_period(tmp_path):
    """Streamlit ignores SIGTERM once its stdout is a broken pipe (its handler's print fails): planner app must
    not wait for it forever. A child ignoring SIGTERM stands in for it; the signal is sent to this process."""
    ready = tmp_path / "pid"
    cmd = [sys.executable, "-c", "import os, pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
           "pathlib.Path(sys.argv[1]).write_text(str(os.getpid())); time.sleep(600)", str(ready)]
    survived = []

    def signal_once_ready() -> None:
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = psutil.Process(int(ready.read_text()))
        os.kill(os.getpid(), signal.SIGTERM)  # our handlers are in place: they were installed before the child
        with contextlib.suppress(psutil.TimeoutExpired):
            child.wait(timeout=30)
        if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
            survived.append(child.pid)
            child.kill()

    before = signal.getsignal(signal.SIGTERM)
    sender = threading.Thread(target=signal_once_ready)
    sender.start()
    try:
        code = run_passing_signals_on(cmd, dict(os.environ), grace_s=0.5)
    finally:
        sender.join()
    assert not survived and code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before  # restored
