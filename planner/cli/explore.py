"""`planner app`: the Streamlit what-if explorer (app_streamlit.py) on a run collection."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from planner.cli.common import StoreOpt, app, err
from planner.errors import PlannerError

APP_SCRIPT = Path(__file__).resolve().parents[2] / "app_streamlit.py"
MAX_UPLOAD_MB = 200
DEFAULT_ADDRESS = "127.0.0.1"  # the app has no authentication and an Upload page: this machine only


def streamlit_command(store: str | None, port: int | None, address: str | None,
                      headless: bool) -> tuple[list[str], dict[str, str]]:
    """The ``streamlit run`` command line and environment: the store goes to the app as PLANNER_STORE,
    usage statistics are off, uploads are capped at MAX_UPLOAD_MB, and it listens on ``address``
    (DEFAULT_ADDRESS, loopback, when None)."""
    if not APP_SCRIPT.is_file():
        raise PlannerError(f"{APP_SCRIPT}: the explorer's script is missing (run `planner app` from a source "
                           "checkout: pip install -e .)")
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT), "--browser.gatherUsageStats", "false",
           "--server.maxUploadSize", str(MAX_UPLOAD_MB), "--server.headless", str(headless).lower()]
    if port is not None:
        cmd += ["--server.port", str(port)]
    cmd += ["--server.address", address or DEFAULT_ADDRESS]
    env = dict(os.environ)
    if store:
        env["PLANNER_STORE"] = store
    return cmd, env


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
    upload. Ctrl-C stops it."""
    cmd, env = streamlit_command(store, port, address, headless)
    if address and not _loopback(address):
        err.print(f"warning: listening on {address}: anyone who can reach this machine can read the collection and "
                  "upload runs (the app has no authentication)", style="yellow")
    try:
        code = subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code)
