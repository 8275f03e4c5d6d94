"""`planner app`: the Streamlit what-if explorer (app_streamlit.py) on a run collection."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from planner.cli.common import StoreOpt, app, err
from planner.errors import PlannerError

APP_SCRIPT = Path(__file__).resolve().parents[2] / "app_streamlit.py"
MAX_UPLOAD_MB = 200
DEFAULT_ADDRESS = "127.0.0.1"  # the app has no authentication and an Upload page: this machine only
PASSED_ON = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # what a terminal or a process manager sends to stop
STOP_GRACE_S = 10.0  # after passing a signal on, how long Streamlit may take to stop before it is killed


def streamlit_command(store: str | None, port: int | None, address: str | None,
                      headless: bool) -> tuple[list[str], dict[str, str]]:
    """The ``streamlit run`` command line and environment: the store goes to the app as PLANNER_STORE,
    usage statistics are off, Streamlit's first-run e-mail prompt is off (without ``headless`` it would
    block the start until someone answers it on the terminal), uploads are capped at MAX_UPLOAD_MB, and
    it listens on ``address`` (DEFAULT_ADDRESS, loopback, when None)."""
    if not APP_SCRIPT.is_file():
        raise PlannerError(f"{APP_SCRIPT}: the explorer's script is missing (run `planner app` from a source "
                           "checkout: pip install -e .)")
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT), "--browser.gatherUsageStats", "false",
           "--server.showEmailPrompt", "false", "--client.toolbarMode", "minimal",
           "--server.maxUploadSize", str(MAX_UPLOAD_MB), "--server.headless", str(headless).lower()]
    if port is not None:
        cmd += ["--server.port", str(port)]
    cmd += ["--server.address", address or DEFAULT_ADDRESS]
    env = dict(os.environ)
    if store:
        env["PLANNER_STORE"] = store
    return cmd, env


def run_passing_signals_on(cmd: list[str], env: dict[str, str], grace_s: float = STOP_GRACE_S) -> int:
    """Run ``cmd`` until it exits, passing SIGINT, SIGTERM and SIGHUP on to it (one ignored here, as under
    ``nohup``, stays ignored) and killing it if it has not exited ``grace_s`` after the first (Streamlit ignores
    SIGTERM once its stdout is a broken pipe); -> 128 + the first signal passed on, else its exit code (128 + N
    when signal N ended it)."""
    child: list[subprocess.Popen] = []
    received: list[tuple[int, float]] = []  # (signal, when)

    def pass_on(signum: int, frame: object) -> None:
        received.append((signum, time.monotonic()))
        if child:
            with contextlib.suppress(ProcessLookupError):
                child[0].send_signal(signum)

    previous = {sig: signal.getsignal(sig) for sig in PASSED_ON}
    handled = [sig for sig, before in previous.items() if before is not signal.SIG_IGN]
    for sig in handled:
        signal.signal(sig, pass_on)
    try:
        child.append(subprocess.Popen(cmd, env=env))
        if received:  # arrived while it was starting
            child[0].send_signal(received[0][0])
        while (code := child[0].poll()) is None:
            if received and time.monotonic() - received[0][1] > grace_s:
                child[0].kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child[0].wait(timeout=0.5)
    finally:
        for sig in handled:
            signal.signal(sig, signal.SIG_DFL if previous[sig] is None else previous[sig])
        if child and child[0].poll() is None:  # only on an error of our own
            child[0].kill()
            child[0].wait()
    if received:
        return 128 + received[0][0]
    return 128 - code if code < 0 else code


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return address.lower() == "localhost"


@app.command("app")
def explore(
    store: StoreOpt = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port to serve on (default 8501).")] = None,
    address: Annotated[str | None, typer.Option(help="Address to listen on [default: 127.0.0.1, this machine only]; "
                                                     "0.0.0.0 serves every network, unauthenticated.")] = None,
    headless: Annotated[bool, typer.Option("--headless", help="Do not open a browser.")] = False,
) -> None:
    """Open the what-if explorer (Streamlit): runs, capacity planner, serverless, multi-model, compare & export,
    upload. Ctrl-C, SIGTERM or SIGHUP stops it (and Streamlit with it), exit code 128 + the signal."""
    cmd, env = streamlit_command(store, port, address, headless)
    if address and not _loopback(address):
        err.print(f"warning: listening on {address}: anyone who can reach this machine can read the collection and "
                  "upload runs (the app has no authentication)", style="yellow")
    raise typer.Exit(run_passing_signals_on(cmd, env))
