"""Names in `--plot` HTML are data, never markup: an endpoint named `</script><script>...` stays a string in
the chart's spec, checked by opening the files in headless Chromium (as tests/test_app_browser.py runs it)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage")
# Without quotes: json.dumps turns "PWNED" into \"PWNED\", a syntax error that would hide the injection.
EVIL = "</script><script>document.title=/PWNED/.source</script><!--"
POINTS = ("concurrency,throughput_rps,latency_mean_ms,latency_p99_ms\n1,48,21,30\n2,95,21,32\n4,180,22,40\n"
          "8,300,27,70\n12,340,35,120\n16,350,46,190\n")


@pytest.fixture(scope="module")
def plots(tmp_path_factory) -> dict[str, Path]:
    """`planner fit --plot` and `planner export costs --plot` of a run whose endpoint is named EVIL."""
    tmp = tmp_path_factory.mktemp("plots")
    (tmp / "points.csv").write_text(POINTS)
    store = str(tmp / "store")
    runner = CliRunner()
    commands = {
        "ingest": ["ingest", str(tmp / "points.csv"), "--store", store, "--instance-type", "ml.m5.large",
                   "--endpoint", EVIL],
        "fit": ["fit", "--store", store, "--plot", str(tmp / "fit.html")],
        "export": ["export", "costs", "--target-tps", "500", "--p99", "500ms", "--out", str(tmp / "costs.csv"),
                   "--store", store, "--plot", str(tmp / "costs.html")],
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLANNER_CACHE_DIR", "off")
        for name, args in commands.items():
            result = runner.invoke(app, args)
            assert result.exit_code == 0, (name, result.output)
    return {"fit": tmp / "fit.html", "export": tmp / "costs.html"}


@pytest.mark.parametrize("command", ["fit", "export"])
def test_the_name_is_kept_as_data_in_the_spec(plots, command):
    html = plots[command].read_text()
    assert html.count("<script") == html.count("</script>") == 4  # vega, vega-lite, vega-embed, the spec
    spec = json.loads(re.search(r"var spec = (.*?);\n", html).group(1))
    assert any(EVIL in text for text in _strings(spec))  # JavaScript reads the exact name back


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                    reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium)")
def test_the_name_does_not_run_in_a_browser(plots, tmp_path, monkeypatch):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    monkeypatch.setenv("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        for command, path in plots.items():
            driver.get(path.as_uri())
            assert driver.execute_script("return document.title") == "", command
            assert len(driver.find_elements(By.TAG_NAME, "script")) == 4, command
    finally:
        driver.quit()
