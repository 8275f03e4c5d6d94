"""App re-render benchmark: a slider change against a page's first render, on the bundled sample.

For each page, through ``streamlit.testing.v1.AppTest`` (the script run, without a browser):
the baseline is the page's first render in a fresh session (library caches of this process
cleared first, so it includes steps and sizing, with fits read from the disk fit cache), then the
median and maximum of ``--repeat`` reruns after a slider change. Target: re-render < 300 ms.

Usage: python bench/app_render.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(REPO / "app_streamlit.py")
os.environ["PLANNER_STORE"] = str(REPO / "data" / "sample-store")
TARGET_MS = 300.0
# page, slider key, values the slider visits (each differs from the previous one)
PAGES = [
    ("planner", "plan_util", (0.5, 0.55, 0.6, 0.65, 0.75, 0.8, 0.85)),
    ("serverless", "sls_max_conc", (12, 25, 30, 18, 40, 22, 35)),
    ("multi_model", "mme_models", (150, 250, 300, 350, 400, 200, 120)),
    ("compare", "cmp_util", (0.6, 0.65, 0.75, 0.8, 0.85, 0.5, 0.55)),
]


def _slider(at: AppTest, key: str):
    return next(w for w in [*at.sidebar.slider, *at.main.slider] if w.key == key)


def _timed_run(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    elapsed_ms = 1000 * (time.perf_counter() - start)
    if at.exception:
        raise SystemExit(f"the page raised: {[e.value for e in at.exception]}")
    return elapsed_ms


def measure(page: str, key: str, values: tuple, repeat: int) -> tuple[float, float, float]:
    """-> (first render ms, median rerun ms, max rerun ms)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=300)
    if page != "planner":
        at.run()
        at.switch_page(f"app_pages/{page}.py")
    first_ms = _timed_run(at)
    timings = []
    for value in values[:repeat]:
        _slider(at, key).set_value(value)
        timings.append(_timed_run(at))
    return first_ms, statistics.median(timings), max(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="slider changes per page (at most 7)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # Streamlit's bare-mode warnings (no runtime, no ScriptRunContext)
    print(f"{'page':<14}{'first render ms':>17}{'rerun median ms':>17}{'rerun max ms':>14}"
          f"{'target':>10}{'met':>6}")
    for page, key, values in PAGES:
        first_ms, median_ms, max_ms = measure(page, key, values, args.repeat)
        met = "yes" if median_ms < TARGET_MS else "no"
        print(f"{page:<14}{first_ms:>17.0f}{median_ms:>17.0f}{max_ms:>14.0f}{'< 300':>10}{met:>6}")


if __name__ == "__main__":
    main()
