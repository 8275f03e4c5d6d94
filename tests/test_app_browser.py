"""End to end in a real browser: `planner app` (streamlit run) on loopback, driven by headless Chromium.

Changing the target TPS in the page must change the recommended instance count and the URL; a
screenshot of the planner page is kept under test-artifacts/ (ignored by git).
"""

from __future__ import annotations

import contextlib
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
from typer.testing import CliRunner

from planner.cli import app as cli_app
from tests.test_app_llm import GPTOSS_G7E, KIMI_P5E, QWEN14_G7E, QWEN32_G7E

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


@contextlib.contextmanager
def _serving(store: Path, tmp_path: Path):
    """`planner app --store <store>` on a free loopback port; stopped (its process group) after."""
    port = _free_port()
    log = tmp_path / "streamlit.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "planner.cli", "app", "--store", str(store), "--port",
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
def app_url(tmp_path):
    """The app on the bundled sample."""
    with _serving(SAMPLE, tmp_path) as url:
        yield url


@pytest.fixture
def llm_app_url(tmp_path):
    """The app on a collection of four real LLM benchmark-suite files (the LLM page's inputs)."""
    store = tmp_path / "llm-store"
    done = CliRunner().invoke(cli_app, ["ingest", *(str(p) for p in LLM_FILES), "--store", str(store)])
    assert done.exit_code == 0, done.output
    with _serving(store, tmp_path) as url:
        yield url


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


# Every page at the two widths a capacity planner's laptop and desktop show it (issue #14): path, and the text
# the page's headline metric must contain ("" = the page's first metric, whatever it says; None = no metric).
PAGES = (("?tps=1000&sla_ms=200", "×"), ("serverless?peak_tps=40", " MB"),
         ("multi-model?models=100", " × "), ("compare?p99_ms=800", ""), ("runs", None),
         ("runs?run=8655be92da9d0ed8", None), ("upload", None))  # the sample's c5 run: its load-test timeline
LLM_FILES = (QWEN32_G7E, QWEN14_G7E, KIMI_P5E, GPTOSS_G7E)
LLM_PAGE = ("llm?load=2&input_tokens=520&output_tokens=600&e2e_ms=40000", " × ")
WIDTHS_PX = (1280, 1600, 1920)
BAD_TEXT = re.compile(r"\bNone\b|\bnan\b|\bNaN\b|Traceback")
# The drawn width of every chart, the main column's inner width, and every metric value's scroll and
# client widths, measured in the page (CSS pixels).
MEASURE_JS = """
const main = document.querySelector('[data-testid="stMainBlockContainer"]');
const style = getComputedStyle(main);
const column = main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"] canvas, '
                                             + '[data-testid="stVegaLiteChart"] svg.marks')]
    .map(e => ({width: e.getBoundingClientRect().width,
                title: (e.closest('[data-testid="stVegaLiteChart"]').getAttribute('aria-label') || '')}));
const metrics = [...document.querySelectorAll('[data-testid="stMetricValue"]')]
    .map(e => { const inner = e.querySelector('div') || e;
                return {text: e.innerText, scroll: inner.scrollWidth, client: inner.clientWidth}; });
return {column: column, charts: charts, metrics: metrics, text: main.innerText};
"""


# True once the script run is over (no status widget, no stale element) and every chart has drawn.
ALL_DRAWN_JS = """
if (document.querySelector('[data-testid="stStatusWidget"], [data-stale="true"]')) return false;
return [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .every(c => c.querySelector('canvas, svg.marks'));
"""


def _settled(driver, wait, metric_text: str | None) -> bool:
    """Wait for the page to finish its script run (its title on screen, nothing running, vega-embed drawn);
    -> whether the headline metric (containing ``metric_text``) appeared within 20 s."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    headline = True
    if metric_text is not None:
        try:
            WebDriverWait(driver, 20, poll_frequency=0.1).until(lambda d: _recommended(d) and metric_text in
                                                                 _recommended(d))
        except TimeoutException:
            headline = False
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stMainBlockContainer"] h1, '
                                                          '[data-testid="stMainBlockContainer"] h2'))
    wait.until(lambda d: d.execute_script(ALL_DRAWN_JS))
    time.sleep(1.0)  # vega-embed draws after the script run ends
    return headline


def _layout_problems(browser, app_url: str, pages, width_px: int) -> dict[str, list[str]]:
    """Open each of ``pages`` (path, headline text) at ``width_px``: a screenshot each, and what is wrong."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(width_px, 2300)
    wait = WebDriverWait(browser, 60, poll_frequency=0.1)
    ARTIFACTS.mkdir(exist_ok=True)
    found = {}
    for path, metric_text in pages:
        browser.get(f"{app_url}/{path}")
        headline = _settled(browser, wait, metric_text)
        if "run=" in path:  # the timeline's three panels, then the USL and latency fits (after the bootstrap)
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"]')) >= 5
                       and d.execute_script(ALL_DRAWN_JS))
        page = (path.split("?")[0] or "planner") + ("-timeline" if "run=" in path else "")
        shot = ARTIFACTS / f"app_{page}_{width_px}px.png"
        browser.save_screenshot(str(shot))
        m = browser.execute_script(MEASURE_JS)
        problems = [f"chart {c['title']!r} drawn {c['width']:.0f} px wide in a {m['column']:.0f} px column"
                    for c in m["charts"] if c["width"] > m["column"] + 1]
        problems += [f"metric {v['text']!r} cut ({v['scroll']} px of text in {v['client']} px)"
                     for v in m["metrics"] if v["scroll"] > v["client"]]
        problems += [f"text {hit.group(0)!r} in {m['text'][max(0, hit.start() - 60):hit.end() + 60]!r}"
                     for hit in BAD_TEXT.finditer(m["text"])]
        if not headline:
            problems.append(f"no headline metric containing {metric_text!r}")
        if browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]'):
            problems.append("an exception is shown")
        if problems:
            found[path] = problems
    return found


@pytest.mark.parametrize("width_px", WIDTHS_PX)
def test_every_page_holds_its_layout(app_url, browser, width_px):
    """Issue #14's proof, measured in the DOM of every page: charts within the main column, metric values not
    cut, no None/nan/Traceback text, the headline metric present; a screenshot per page and width."""
    found = _layout_problems(browser, app_url, PAGES, width_px)
    assert not found, "\n".join(f"{width_px} px /{p}: {x}" for p, xs in found.items() for x in xs)


@pytest.mark.parametrize("width_px", WIDTHS_PX)
def test_the_llm_page_holds_its_layout(llm_app_url, browser, width_px):
    """The same proof for the LLM page, on a collection of real LLM benchmark results."""
    found = _layout_problems(browser, llm_app_url, (LLM_PAGE,), width_px)
    assert not found, "\n".join(f"{width_px} px /{p}: {x}" for p, xs in found.items() for x in xs)
