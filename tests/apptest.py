"""Opening the explorer's pages under streamlit.testing.v1.AppTest, shared by the app test files."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample-store"
APP = str(REPO / "app_streamlit.py")
WIDGET_KINDS = ("number_input", "slider", "checkbox", "text_input", "selectbox", "radio")


def open_planner(**params) -> AppTest:
    """The planner (the app's first page) opened from a link carrying ``params``."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(url_path: str, **params) -> AppTest:
    """The app on page ``url_path`` opened from a link carrying ``params`` (and nothing another page left)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.query_params.clear()
    at.query_params.update(params)
    at.switch_page(f"app_pages/{url_path}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def widget(at: AppTest, key: str):
    """The sidebar or main-column widget with ``key``."""
    return next(w for kind in WIDGET_KINDS for w in [*at.sidebar.get(kind), *at.main.get(kind)] if w.key == key)


def metric(at: AppTest, label_start: str):
    """The first metric tile whose label starts with ``label_start``."""
    return next(m for m in at.metric if m.label.startswith(label_start))


def as_json(at: AppTest) -> dict:
    """The page's "as JSON" block."""
    return json.loads(at.code[0].value)
