"""App re-render benchmark: a widget change against a page's first render, on the bundled sample
(the LLM page on four real benchmark-suite files).

For each page, through ``streamlit.testing.v1.AppTest`` (the script run, without a browser):
the cold first render (an empty disk fit cache: a collection's very first visit, what the spinner
covers), the first render in a fresh session (library caches of this process cleared, so it includes
steps and sizing, with fits read from the disk fit cache), then the median and maximum of
``--repeat`` reruns after a widget change. Target: re-render < 300 ms.

Usage: python bench/app_render.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(REPO / "app_streamlit.py")
SAMPLE = str(REPO / "data" / "sample-store")
SUITE = REPO / "tests" / "datasets" / "llm" / "sagemaker-benchmark-suite"
LLM_FILES = ("bench-v2-qwen3-vanilla_g7e2xl_g7e2xlarge_multiturn_chat_uswest2_20260310_001220.csv",
             "qwen3-14b_vanilla_g7e2xl_multiturn_chat_uswest2_20260331_130747.csv",
             "kimi-k2.5_p5e_p5e48xlarge_multiturn_chat_uswest2_20260310_185604.csv",
             "gpt-oss-20b_g7e_g7e2xlarge_multiturn_chat_uswest2_20260310_175533.csv")
TARGET_MS = 300.0
C5_RUN = "8655be92da9d0ed8"  # the sample's ml.c5.2xlarge Locust run
# page, its link's parameters, widget key, values the widget visits (each differs from the previous one)
PAGES = [
    ("planner", {}, "plan_util", (0.5, 0.55, 0.6, 0.65, 0.75, 0.8, 0.85)),
    ("serverless", {}, "sls_max_conc", (12, 25, 30, 18, 40, 22, 35)),
    ("multi_model", {}, "mme_models", (150, 250, 300, 350, 400, 200, 120)),
    ("compare", {}, "cmp_util", (0.6, 0.65, 0.75, 0.8, 0.85, 0.5, 0.55)),
    ("llm", {"e2e_ms": "40000"}, "llm_load", (1.0, 2.0, 3.0, 1.5, 2.5, 4.0, 0.5)),
    ("runs", {"run": C5_RUN}, "runs_sla_ms", (100.0, 150.0, 200.0, 80.0, 120.0, 250.0, 60.0)),
]


def _widget(at: AppTest, key: str):
    kinds = ("slider", "number_input")
    return next(w for kind in kinds for w in [*at.sidebar.get(kind), *at.main.get(kind)] if w.key == key)


def _timed_run(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    elapsed_ms = 1000 * (time.perf_counter() - start)
    if at.exception:
        raise SystemExit(f"the page raised: {[e.value for e in at.exception]}")
    return elapsed_ms


def _first_render(page: str, params: dict, cache_dir: str) -> tuple[AppTest, float]:
    """A fresh session on ``page`` opened from a link with ``params``, the fit cache in ``cache_dir``
    -> (app, ms). The app opens on the planner (its navigation is known only after a run): that run
    is untimed, without the disk cache, and the process caches are cleared after it."""
    os.environ["PLANNER_CACHE_DIR"] = "off"
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    st.cache_data.clear()
    st.cache_resource.clear()
    os.environ["PLANNER_CACHE_DIR"] = cache_dir
    at.query_params.clear()
    at.query_params.update(params)
    at.switch_page(f"app_pages/{page}.py")
    return at, _timed_run(at)


def measure(page: str, params: dict, key: str, values: tuple, repeat: int) -> tuple[float, float, float, float]:
    """-> (cold first render ms, first render ms, median rerun ms, max rerun ms)."""
    with tempfile.TemporaryDirectory() as cache:
        _, cold_ms = _first_render(page, params, cache)
        at, first_ms = _first_render(page, params, cache)
        timings = []
        for value in values[:repeat]:
            _widget(at, key).set_value(value)
            timings.append(_timed_run(at))
    return cold_ms, first_ms, statistics.median(timings), max(timings)


def _llm_store(root: Path) -> str:
    from typer.testing import CliRunner

    from planner.cli import app

    store = str(root / "llm-store")
    done = CliRunner().invoke(app, ["ingest", *(str(SUITE / name) for name in LLM_FILES), "--store", store])
    if done.exit_code:
        raise SystemExit(done.output)
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="widget changes per page (at most 7)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # Streamlit's bare-mode warnings (no runtime, no ScriptRunContext)
    print(f"{'page':<14}{'cold first ms':>15}{'first render ms':>17}{'rerun median ms':>17}{'rerun max ms':>14}"
          f"{'target':>10}{'met':>6}")
    with tempfile.TemporaryDirectory() as work:
        llm_store = _llm_store(Path(work))
        for page, params, key, values in PAGES:
            os.environ["PLANNER_STORE"] = llm_store if page == "llm" else SAMPLE
            cold_ms, first_ms, median_ms, max_ms = measure(page, params, key, values, args.repeat)
            met = "yes" if median_ms < TARGET_MS else "no"
            print(f"{page:<14}{cold_ms:>15.0f}{first_ms:>17.0f}{median_ms:>17.0f}{max_ms:>14.0f}{'< 300':>10}"
                  f"{met:>6}", flush=True)

if __name__ == "__main__":
    main()
