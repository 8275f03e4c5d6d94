"""The run collection's guarantees: atomic, idempotent, concurrent-safe, lossless, versioned; local and S3."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pandas as pd
import pytest

from planner.collection import ingest, reparse
from planner.errors import InputError, RunExistsError, StoreError
from planner.schema import SCHEMA_VERSION
from planner.store import RunStore, TableWrite, run_id_for
from tests.synth import write_history

PLANNER = [sys.executable, "-m", "planner.cli"]


def _locust_set(datasets: Path, tmp_path: Path, prefix: str = "louskac_deep-vision__results") -> list[Path]:
    files = sorted((datasets / "locust").glob(prefix + "_*.csv"))
    files = [f for f in files if "optimized" not in f.name or "optimized" in prefix]
    out = []
    for f in files:
        shutil.copy(f, tmp_path / f.name)
        out.append(tmp_path / f.name)
    return out


def _consistent(store: RunStore) -> int:
    """Every committed run reads back completely, with the row counts its manifest promises."""
    for rec in store.records():
        for name, entry in rec.tables.items():
            frame = store.table(name, [rec.run_id])
            assert len(frame) == entry["rows"], (rec.run_id, name)
            assert set(frame["run_id"]) <= {rec.run_id}
        for item in rec.run["inputs"]:
            assert store.raw_size(item["sha256"]) == item["bytes"]
    return len(store.run_ids())


def test_commit_round_trip_keeps_nulls_and_types(store_path):
    store = RunStore(store_path).create()
    frame = pd.DataFrame({"request_count": pd.array([3, None], dtype="Int64"),
                          "name": pd.array(["/a", None], dtype="string"),
                          "latency_p99_ms": pd.array([12.5, None], dtype="Float64")})
    store.commit("0" * 16, {"source": "test", "inputs": []}, [TableWrite("requests", frame)], {})
    back = store.table("requests")
    assert back["request_count"].tolist()[0] == 3 and back["request_count"].isna().tolist() == [False, True]
    assert back["name"].isna().tolist() == [False, True]
    assert str(back["latency_p99_ms"].dtype) == "Float64"
    assert back["run_id"].unique().tolist() == ["0" * 16]
    with pytest.raises(RunExistsError):
        store.commit("0" * 16, {"inputs": []}, [TableWrite("requests", frame)], {})


def test_failed_write_leaves_nothing_visible(store_path):
    store = RunStore(store_path).create()

    def broken_stream():
        frame = pd.DataFrame({"x": [1.0, 2.0]})
        import pyarrow as pa

        yield pa.RecordBatch.from_pandas(frame, preserve_index=False)
        raise InputError("f.csv", "row 3", "a number", "'abc'")

    with pytest.raises(InputError):
        store.commit("1" * 16, {"inputs": []}, [TableWrite("history", broken_stream())], {})
    assert store.run_ids() == []
    assert list((store_path / "runs" / ("1" * 16)).glob("g*")) == []


def test_run_id_depends_on_bytes_not_order():
    assert run_id_for(["a", "b"]) == run_id_for(["b", "a"])
    assert run_id_for(["a"], "pt") != run_id_for(["a"], "trt")


def test_idempotent_ingest_reports_already_present(datasets, tmp_path, store_path):
    files = _locust_set(datasets, tmp_path)
    first = ingest(RunStore(store_path), files)
    assert [o.status for o in first] == ["added"]
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for f in files:  # same bytes under other names: still the same run
        shutil.copy(f, renamed / f.name.replace("louskac", "copy"))
    again = ingest(RunStore(store_path), [renamed])
    assert [(o.status, o.run_id) for o in again] == [("present", first[0].run_id)]
    assert RunStore(store_path).run_ids() == [first[0].run_id]
    cli = subprocess.run([*PLANNER, "ingest", str(renamed), "--store", str(store_path)], capture_output=True,
                         text=True, check=True)
    assert "already present" in cli.stdout and first[0].run_id in cli.stdout


def test_bad_input_writes_nothing_and_says_one_line(datasets, tmp_path, store_path):
    good = _locust_set(datasets, tmp_path)
    bad = tmp_path / "bad_stats.csv"
    bad.write_text("Type,Name,Request Count\nGET,/x,not-a-number\n")
    result = subprocess.run([*PLANNER, "ingest", *map(str, good), str(bad), "--store", str(store_path)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad_stats.csv" in lines[0], result.stderr
    assert not store_path.exists(), "a failed ingest must not even create the store"


def test_lossless_raw_kept_and_reparse_rebuilds_tables(datasets, tmp_path, store_path):
    files = _locust_set(datasets, tmp_path)
    store = RunStore(store_path)
    (outcome,) = ingest(store, files, meta={"instance_type": "ml.m5.xlarge"}, labels={"team": "vision"})
    before = {name: store.table(name, [outcome.run_id]) for name in store.get(outcome.run_id).tables}
    for item in store.get(outcome.run_id).run["inputs"]:
        assert store.read_raw(item["sha256"]) == (tmp_path / item["name"]).read_bytes()
    generation = store.get(outcome.run_id).generation
    shutil.rmtree(store_path / "runs" / outcome.run_id / generation)  # derived data lost
    with pytest.raises(StoreError):
        store.table("history", [outcome.run_id])
    (again,) = reparse(store)
    rec = store.get(outcome.run_id)
    assert again.status == "reparsed" and rec.generation != generation
    assert rec.run["instance_type"] == "ml.m5.xlarge" and rec.run["labels"] == {"team": "vision"}
    for name, frame in before.items():
        pd.testing.assert_frame_equal(store.table(name, [outcome.run_id]), frame)


def test_schema_version_is_recorded_and_newer_refused(store_path):
    RunStore(store_path).create()
    assert json.loads((store_path / "planner-store.json").read_text())["schema_version"] == SCHEMA_VERSION
    (store_path / "planner-store.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(StoreError, match="newer"):
        RunStore(store_path).schema_version()


def test_runs_cli_list_show_rm_json(datasets, tmp_path, store_path):
    files = _locust_set(datasets, tmp_path)
    (outcome,) = ingest(RunStore(store_path), files)
    listed = json.loads(subprocess.run([*PLANNER, "runs", "list", "--json", "--store", str(store_path)],
                                       capture_output=True, text=True, check=True).stdout)
    assert [r["run_id"] for r in listed["runs"]] == [outcome.run_id]
    assert listed["runs"][0]["tables"]["history"] == 26
    shown = json.loads(subprocess.run([*PLANNER, "runs", "show", outcome.run_id[:6], "--json", "--store",
                                       str(store_path)], capture_output=True, text=True, check=True).stdout)
    assert shown["run"]["source"] == "locust" and len(shown["run"]["inputs"]) == len(files)
    subprocess.run([*PLANNER, "runs", "rm", outcome.run_id, "--store", str(store_path)], check=True,
                   capture_output=True)
    assert RunStore(store_path).run_ids() == []
    missing = subprocess.run([*PLANNER, "runs", "show", outcome.run_id, "--store", str(store_path)],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "no run" in missing.stderr


def _writing(store_path: Path, known: set[str]) -> bool:
    """True once a new run's table generation directory exists (the ingest is writing tables)."""
    return any(p.parent.name not in known for p in (store_path / "runs").glob("*/g*"))


@pytest.mark.slow
def test_kill_9_at_random_points_leaves_a_consistent_store(tmp_path, store_path):
    big = write_history(tmp_path / "big_stats_history.csv", rows=600_000)
    small = tmp_path / "other_stats_history.csv"
    write_history(small, rows=2_000, seed=7)
    (kept,) = ingest(RunStore(store_path), [small])
    rng = random.Random(20261123)
    killed_mid_ingest = 0
    for attempt in range(6):
        proc = subprocess.Popen([*PLANNER, "ingest", str(big), "--store", str(store_path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if attempt % 2 == 0:  # anywhere early: start-up, hashing, parsing, the raw copy
            time.sleep(rng.uniform(0.05, 2.0))
        else:  # while the tables are being written, at a random moment
            deadline = time.monotonic() + 60
            while not _writing(store_path, {kept.run_id}) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_mid_ingest += proc.returncode == -signal.SIGKILL
        store = RunStore(store_path)
        count = _consistent(store)
        assert count in (1, 2)
        if count == 2:  # the kill came after the commit: the run is whole
            store.remove([r for r in store.run_ids() if r != kept.run_id][0])
    assert killed_mid_ingest >= 3, "the kills should land while the ingest is running"
    (done,) = ingest(RunStore(store_path), [big])
    assert done.status == "added" and done.tables["history"] == 600_000
    RunStore(store_path).gc(min_age_s=0)
    leftovers = [p for p in (store_path / "runs").glob("*/g*") if p.name != RunStore(store_path).get(
        p.parent.name).generation]
    assert leftovers == [] and _consistent(RunStore(store_path)) == 2
    assert not list((store_path / "raw").glob(".tmp-*")), "no half-copied raw input survives gc"


@pytest.mark.slow
def test_concurrent_ingests_lose_and_duplicate_nothing(tmp_path, store_path):
    files = [write_history(tmp_path / f"r{i}_stats_history.csv", rows=20_000, seed=i) for i in range(3)]
    # five processes at once: three different runs, two of them ingested twice
    jobs = [files[0], files[1], files[2], files[0], files[1]]
    procs = [subprocess.Popen([*PLANNER, "ingest", str(f), "--store", str(store_path), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in jobs]
    results = [p.communicate() + (p.returncode,) for p in procs]
    assert [rc for _, _, rc in results] == [0] * 5, [e for _, e, _ in results]
    statuses = sorted(json.loads(o)["runs"][0]["status"] for o, _, _ in results)
    assert statuses == ["added"] * 3 + ["present"] * 2
    store = RunStore(store_path)
    assert _consistent(store) == 3
    assert len(store.table("history")) == 60_000


def test_s3_store_against_moto_server(datasets, tmp_path, aws_env):
    boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"]).create_bucket(Bucket="runs-bucket")
    files = _locust_set(datasets, tmp_path)
    store = RunStore("s3://runs-bucket/team/planner")
    (outcome,) = ingest(store, files)
    assert ingest(store, files)[0].status == "present"
    assert _consistent(store) == 1
    assert store.table("history", [outcome.run_id])["total_request_count"].max() == 51423
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"]).list_objects_v2(
        Bucket="runs-bucket", Prefix="team/planner/")["Contents"]]
    assert f"team/planner/runs/{outcome.run_id}/manifest.json" in keys
    raw = [k for k in keys if k.startswith("team/planner/raw/") and not k.endswith("/")]
    assert len(raw) == len(files)
    cli = subprocess.run([*PLANNER, "runs", "list", "--json", "--store", "s3://runs-bucket/team/planner"],
                         capture_output=True, text=True, env={**os.environ, **aws_env}, check=True)
    assert [r["run_id"] for r in json.loads(cli.stdout)["runs"]] == [outcome.run_id]
