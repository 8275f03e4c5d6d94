"""End to end in a real browser: `planner app` (streamlit run) on loopback, driven by headless Chromium.

Changing the target TPS in the page must change the recommended instance count and the URL; a
screenshot of the planner page is kept under test-artifacts/ (ignored by git).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample-store"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1600,2300")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                                reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium); "
                                       "in CI (.ci/run installs them) this test always runs")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 40) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"planner app exited early:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"planner app not healthy after {timeout_s} s:\n{log.read_text()}")


@pytest.fixture
def app_url(tmp_path):
    """`planner app --store <bundled sample>` on a free loopback port; stopped (its process group) after."""
    port = _free_port()
    log = tmp_path / "streamlit.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "planner.cli", "app", "--store", str(SAMPLE), "--port",
                                 str(port), "--address", "127.0.0.1", "--headless"],
                                cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def browser(tmp_path, monkeypatch):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _recommended(driver) -> str:
    from selenium.webdriver.common.by import By

    values = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricValue"]')
    return values[0].text if values else ""


def test_changing_the_target_tps_changes_the_recommendation(app_url, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{app_url}/?tps=1000&sla_ms=200")
    wait = WebDriverWait(browser, 45, poll_frequency=0.05)
    wait.until(lambda d: "×" in _recommended(d))
    _charts_drawn(browser, wait)
    before = _recommended(browser)
    elapsed_ms = _set_target_tps(browser, wait, "4000", before)
    after = _recommended(browser)
    count = [int(re.match(r"(\d+) ×", text).group(1)) for text in (before, after)]
    assert count[1] > count[0], (before, after)
    wait.until(lambda d: "tps=4000" in d.current_url)  # the URL is written at the end of the same rerun
    _charts_drawn(browser, wait)
    again_ms = _set_target_tps(browser, wait, "1000", after)  # warm: every cache but this scenario's is filled
    assert _recommended(browser) == before
    _set_target_tps(browser, wait, "4000", before)
    _charts_drawn(browser, wait)
    time.sleep(1.0)  # let vega-embed finish drawing before the screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "app_planner.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    print(f"recommendation {before!r} -> {after!r}: first change {elapsed_ms:.0f} ms, warm change "
          f"{again_ms:.0f} ms (Enter to new number on screen, polled every 50 ms); screenshot: {shot}")
    for path, expected in (("serverless?peak_tps=40", " MB"), ("multi-model?models=100", " × "),
                           ("compare?p99_ms=800", "")):
        _page_renders(browser, wait, f"{app_url}/{path}", expected)


def _page_renders(driver, wait, url: str, metric_text: str) -> None:
    """The page at ``url`` draws its charts (and a metric containing ``metric_text``) without an exception."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"] canvas, '
                                                          '[data-testid="stVegaLiteChart"] svg'))
    if metric_text:
        wait.until(lambda d: metric_text in _recommended(d))
    assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]'), url


def _set_target_tps(driver, wait, value: str, shown: str) -> float:
    """Type ``value`` into the target TPS box; ms until the recommendation differs from ``shown``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Target throughput (TPS)"]')
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(value, Keys.ENTER)
    start = time.perf_counter()
    wait.until(lambda d: _recommended(d) not in ("", shown))
    return 1000 * (time.perf_counter() - start)


def _charts_drawn(driver, wait) -> None:
    from selenium.webdriver.common.by import By

    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"] canvas, '
                                                               '[data-testid="stVegaLiteChart"] svg')) >= 2)
