"""Upload page: add Locust / CloudWatch / Inference Recommender (and every other `planner formats`) files to
the collection through :func:`planner.collection.ingest`, the code behind `planner ingest`, so the
validation and messages are the same. Files are only parsed, never executed; each at most
Streamlit's server.maxUploadSize (200 MB under `planner app`).

Uploads go where `planner ingest` writes: ``--store`` / ``PLANNER_STORE``, else ./planner-store. The
bundled sample collection is never modified: when it is what the app shows, the first upload creates
./planner-store, which the app (like the CLI) shows from then on.

A run that is added but cannot give a fit says why at once (no load, every step too short for the step
rules, every request failed), from the library's step detection (:func:`planner.steps.for_run`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages.shared import default_store, max_upload_mb, store_banner, table
from planner.collection import ingest
from planner.errors import PlannerError
from planner.ingest import SOURCES, formats
from planner.ingest.locust import FORMATS as LOCUST_FORMATS
from planner.ingest.locust import run_prefix
from planner.schema import ORIGINS
from planner.steps import for_run, why_unfittable
from planner.store import RunStore


def parse_labels(text: str) -> dict[str, str]:
    """``team=ml, run=nightly`` -> labels, as ``planner ingest --label`` takes them."""
    labels = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"labels: expected key=value, found {item!r}")
        labels[key.strip()] = value.strip()
    return labels


def _metadata() -> dict:
    cols = st.columns(3)
    fmt = cols[0].selectbox("Format", ["auto", *SOURCES, *formats()],
                            help="auto sniffs each file's content, as `planner ingest --format auto`.")
    origin = cols[1].selectbox("Origin", ORIGINS)
    count = cols[2].number_input("Instance count (0: not recorded)", min_value=0, step=1)
    cols = st.columns(4)
    meta = {"instance_type": cols[0].text_input("Instance type", placeholder="ml.m5.xlarge"),
            "endpoint": cols[1].text_input("Endpoint"), "model": cols[2].text_input("Model"),
            "framework": cols[3].text_input("Framework")}
    meta = {k: v.strip() or None for k, v in meta.items()}
    meta["instance_count"] = int(count) or None
    labels = st.text_input("Labels", placeholder="team=ml, scenario=nightly")
    return {"fmt": fmt, "origin": origin, "meta": meta, "labels": labels}


MAX_NAME_BYTES = 120  # file systems allow 255; the raw input is stored under its sha256 whatever the name
_ENDING_BYTES = 24  # room kept for the ending (``_stats_history.csv``, ``.json.gz``...) of a shortened name
_UNSAFE = re.compile(r"[^\w.\- ]")
_EXTENSION = re.compile(r"(\.[A-Za-z0-9]{1,8}){1,2}$")


def stored_name(name: str) -> str:
    """The name an upload is stored (and ingested) under: the client's base name with characters other
    than letters, digits, ``_.- `` replaced by ``_``; over :data:`MAX_NAME_BYTES`, its run prefix (the part
    before ``_stats.csv`` and Locust's other endings, else before the extension) is cut and tagged with a
    hash of the whole prefix, so the files of one Locust run still share a prefix and the ending stays."""
    name = _UNSAFE.sub("_", Path(name).name)
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    prefix = min((run_prefix(Path(name), fmt) for fmt in LOCUST_FORMATS if fmt != "locust-json"), key=len)
    if prefix == name:
        extension = _EXTENSION.search(name)
        prefix = name[:extension.start()] if extension else name
    ending = name[len(prefix):][-_ENDING_BYTES:]
    tag = "-" + hashlib.sha256(prefix.encode()).hexdigest()[:12]
    room = MAX_NAME_BYTES - len(tag) - _ENDING_BYTES  # the same for every ending: one run keeps one prefix
    return prefix.encode()[:room].decode(errors="ignore") + tag + ending


def _reason(exc: OSError) -> str:
    """The system's reason, never the message (which names server paths)."""
    return os.strerror(exc.errno) if exc.errno else type(exc).__name__


def _save(files, directory: Path) -> list[Path]:
    """Write the uploads under :func:`stored_name` (never a path from the client); refuse oversize files."""
    paths = []
    for f in files:
        name = stored_name(f.name)
        if f.size > max_upload_mb() * 2**20:
            raise ValueError(f"{name}: size: expected at most {max_upload_mb()} MB, found {f.size / 2**20:,.1f} MB")
        if not name or name.startswith(".") or (directory / name).exists():
            raise ValueError(f"{name or '(no name)'}: name: expected a distinct, visible file name, found {f.name!r}")
        try:
            (directory / name).write_bytes(f.getvalue())
        except OSError as exc:
            raise ValueError(f"{name}: cannot store the upload ({_reason(exc)})") from None
        paths.append(directory / name)
    return paths


OUTCOME_COLUMNS = {
    "run_id": st.column_config.TextColumn("run id"), "status": st.column_config.TextColumn("status"),
    "source": st.column_config.TextColumn("source"), "format": st.column_config.TextColumn("format"),
    "inputs": st.column_config.TextColumn("files"), "tables": st.column_config.TextColumn("tables stored"),
    "reason": st.column_config.TextColumn("why skipped")}


def _ingest(files, options: dict, target: str) -> pd.DataFrame:
    """Ingest the uploads into ``target``; messages name the uploaded files, not the temporary copies."""
    with tempfile.TemporaryDirectory(prefix="planner-upload-") as tmp:
        try:
            paths = _save(files, Path(tmp))
            outcomes = ingest(RunStore(target), paths, fmt=options["fmt"], meta=options["meta"],
                              labels=parse_labels(options["labels"]), origin=options["origin"])
        except (PlannerError, ValueError) as exc:
            raise ValueError(str(exc).replace(f"{tmp}/", "")) from None
        except OSError as exc:  # the collection cannot be written: the reason, not the server's paths
            raise ValueError(f"cannot add the upload to the collection ({_reason(exc)})") from None
    return pd.DataFrame([{**o.to_dict(), "inputs": ", ".join(o.inputs),
                          "tables": ", ".join(f"{name} {rows:,} rows" for name, rows in o.tables.items()) or None}
                         for o in outcomes])


def _warn_unfittable(outcomes: pd.DataFrame, target: str) -> None:
    """One warning per added (or already present) run that cannot give a fit, naming its files and why."""
    store = RunStore(target)
    for _, outcome in outcomes[outcomes["status"].isin(["added", "present"])].iterrows():
        reason = why_unfittable(for_run(store, outcome["run_id"]))
        if reason is not None:
            st.warning(f"{outcome['inputs']}: stored, but it cannot give a fit — {reason}.")


def page() -> None:
    st.title("Upload runs")
    choice = default_store()
    store_banner(choice)
    if choice.upload_root is None:
        st.error(f"`{choice.root}` is the bundled sample collection, which is never modified. Start the app "
                 "with `planner app --store DIR` (or PLANNER_STORE=DIR) to add runs to DIR.")
        return
    if choice.upload_root != choice.root:
        st.info(f"The bundled sample collection is read-only: uploads go to `{choice.upload_root}` (as "
                "`planner ingest` without --store), which the app shows instead of the sample once it exists.")
    else:
        st.caption(f"Uploads go to `{choice.upload_root}`.")
    files = st.file_uploader(f"Load-test results (Locust CSV/JSON, CloudWatch JSON/CSV, Inference Recommender JSON, "
                             f"…; at most {max_upload_mb()} MB each)", accept_multiple_files=True)
    options = _metadata()
    if not st.button("Ingest", type="primary", disabled=not files):
        return
    try:
        outcomes = _ingest(files, options, choice.upload_root)
    except ValueError as exc:
        st.error(str(exc))
        return
    added = int((outcomes["status"] == "added").sum())
    st.success(f"{added} run(s) added to `{choice.upload_root}`; {len(outcomes) - added} already present or "
               "skipped.")
    _warn_unfittable(outcomes, choice.upload_root)
    table(outcomes, OUTCOME_COLUMNS)


page()
