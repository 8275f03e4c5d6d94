"""`planner collect http://user:password@host`: the requests authenticate with the password; nothing stored,
printed or put on a command line carries it (the user name may stay)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.collect.load import public_url

SECRET = "S3cret"
EXPECTED_AUTH = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()


class _Guarded(BaseHTTPRequestHandler):
    """200 to POSTs carrying alice's Basic credentials, 401 to others; notes any process showing the password."""

    protocol_version = "HTTP/1.1"
    seen: dict[str, int] = {"ok": 0, "refused": 0}
    exposed: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ok = self.headers.get("Authorization") == EXPECTED_AUTH
        self.seen["ok" if ok else "refused"] += 1
        if self.seen["ok"] == 1:  # Locust is running: is the password on any command line?
            for proc in psutil.process_iter(["cmdline"]):
                if SECRET in " ".join(proc.info["cmdline"] or []):
                    self.exposed.append(" ".join(proc.info["cmdline"]))
        body = b"{}" if ok else b""
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def guarded():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Guarded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("url", "shown"), [
    ("http://alice:S3cret@host:8080/x?y=1", "http://alice@host:8080/x?y=1"),
    ("https://alice:p%40ss@host/", "https://alice@host/"),
    ("http://host:8080/invocations", "http://host:8080/invocations"),
    ("http://:S3cret@host", "http://@host"),
])
def test_public_url_drops_only_the_password(url, shown):
    assert public_url(url) == shown


def test_collect_authenticates_but_never_stores_or_prints_the_password(guarded, tmp_path):
    store, out_dir = tmp_path / "store", tmp_path / "out"
    url = f"http://alice:{SECRET}@127.0.0.1:{guarded}/invocations"
    result = CliRunner().invoke(app, ["collect", url, "--shape", "stairs:users=2,hold=4s,spawn-rate=20",
                                      "--max-duration-s", "15", "--store", str(store), "--out-dir", str(out_dir),
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert _Guarded.seen["ok"] > 10 and _Guarded.seen["refused"] == 0  # the real requests used the password
    data = json.loads(result.stdout)
    public = f"http://alice@127.0.0.1:{guarded}/invocations"
    assert data["collect"]["url"] == public
    assert SECRET not in result.output
    manifest = next(p for p in store.rglob("*.json") if data["run"]["run_id"] in p.read_text(errors="replace"))
    assert public in manifest.read_text()
    for path in [*store.rglob("*"), *out_dir.rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert _Guarded.exposed == []


def test_a_bad_target_is_refused_without_its_password(tmp_path):
    result = CliRunner().invoke(app, ["collect", f"ftp://alice:{SECRET}@host/", "--store", str(tmp_path / "s")])
    assert result.exit_code == 2 and "ftp://alice@host/" in result.output and SECRET not in result.output
