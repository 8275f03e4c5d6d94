"""Store integrity (issue 13): gc never collects a committed run, gc and ingest are safe against each
other, tables and raw inputs are verified on read, one broken manifest does not break the store, and
run-id prefixes resolve once, everywhere."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.collection import ingest, reparse
from planner.errors import PlannerWarning, StoreError
from planner.store import RunStore, TableWrite
from tests.synth import PERCENTILES, history_table

PLANNER = [sys.executable, "-m", "planner.cli"]
HOURS_AGO_S = 2 * 3600


def _cli(*args: str, store: Path, check_rc: int | None = 0) -> subprocess.CompletedProcess:
    result = subprocess.run([*PLANNER, *args, "--store", str(store)], capture_output=True, text=True)
    if check_rc is not None:
        assert result.returncode == check_rc, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _age(paths, seconds: float = HOURS_AGO_S) -> None:
    """Make files/directories look ``seconds`` old (what gc's ``min_age_s`` looks at)."""
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


def _raw_intact(store: RunStore) -> list[str]:
    """The invariant: every committed run's raw inputs exist with their bytes. Returns what is missing."""
    missing = []
    for rec in store.records():
        for item in rec.run["inputs"]:
            if store.raw_size(item["sha256"]) != item["bytes"]:
                missing.append(f"{rec.run_id}: {item['name']}")
    return missing


def _monotone_history(path: Path, rows: int, seed: int = 0) -> Path:
    """A synthetic history whose per-row percentiles never decrease (the parser refuses those that do)."""
    table = history_table(rows, seed)
    ordered = np.maximum.accumulate(np.column_stack([table[p].to_numpy() for p in PERCENTILES]), axis=1)
    for i, name in enumerate(PERCENTILES):
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(ordered[:, i]))
    pacsv.write_csv(table, path)
    return path


@pytest.fixture
def two_runs(tmp_path, store_path):
    """A store with two small Locust history runs (instance types known) and their input files."""
    files = [_monotone_history(tmp_path / f"svc{i}_stats_history.csv", rows=1_500, seed=i) for i in range(2)]
    ids = [ingest(RunStore(store_path), [f], meta={"instance_type": t})[0].run_id
           for f, t in zip(files, ["ml.m5.xlarge", "ml.c5.xlarge"], strict=True)]
    return store_path, ids, files


# ---------------------------------------------------------------- 1. gc keeps committed runs
BROKEN_MANIFESTS = {
    "not-utf8": b"\xff\xfe\x00garbage",
    "truncated-json": b'{"run_id": "x", "run": {',
    "json-list": b"[1, 2, 3]",
    "missing-keys": b'{"run": {}}',
    "bad-version": b'{"run_id": "x", "run": {}, "tables": {}, "parse": {}, "generation": "g1", '
                   b'"schema_version": "one"}',
    "tables-not-a-mapping": b'{"run_id": "x", "run": {"inputs": []}, "tables": [1], "parse": {}, '
                            b'"generation": "g1", "schema_version": 1}',
}


def test_gc_keeps_a_run_whose_manifest_is_unreadable(two_runs):
    store_path, (good, bad), _ = two_runs
    manifest = store_path / "runs" / bad / "manifest.json"
    original = manifest.read_bytes()
    manifest.write_bytes(b"\xff\xfe\x00garbage")
    _age([*store_path.glob("raw/*"), *store_path.glob("runs/*/g*")])
    before = sorted(p.relative_to(store_path) for p in store_path.rglob("*"))
    result = _cli("runs", "gc", "--json", store=store_path)
    report = json.loads(result.stdout)
    assert report["generations"] == 0 and report["raw"] == 0
    assert [b["run_id"] for b in report["broken"]] == [bad]
    assert sorted(p.relative_to(store_path) for p in store_path.rglob("*")) == before, "gc deleted something"
    text = _cli("runs", "gc", store=store_path)
    assert bad in text.stdout + text.stderr
    manifest.write_bytes(original)  # the manifest repaired: the run is whole again
    (outcome,) = reparse(RunStore(store_path), [bad])
    assert outcome.status == "reparsed" and not _raw_intact(RunStore(store_path))


def test_gc_still_collects_true_leftovers(two_runs, tmp_path):
    store_path, (good, bad), files = two_runs
    store = RunStore(store_path)
    store.remove(bad)
    leftover = store_path / "runs" / good / "g0-killed"
    leftover.mkdir()
    (leftover / "history.parquet").write_bytes(b"half a table")
    _age([*store_path.glob("raw/*"), leftover])
    removed = store.gc()
    assert (removed.generations_removed, removed.raw_removed) == (1, 1)
    assert not leftover.exists() and store.run_ids() == [good] and not _raw_intact(store)


# ---------------------------------------------------------------- 2. gc against a concurrent ingest
def _writing(store_path: Path) -> bool:
    return any(store_path.glob("runs/*/g*"))


def test_gc_keeps_raw_inputs_an_ingest_in_flight_has_named(two_runs):
    """An ingest names its raw inputs (inputs.json) in its generation before it looks for them: gc
    keeps those, however old, until that generation is committed or collected."""
    store_path, (first, second), _ = two_runs
    store = RunStore(store_path)
    sha = store.get(second).run["inputs"][0]["sha256"]
    store.remove(second)
    in_flight = store_path / "runs" / second / "g1-in-flight"
    in_flight.mkdir(parents=True)
    (in_flight / "inputs.json").write_text(json.dumps([sha]))
    _age(store_path.glob("raw/*"))
    assert store.gc().raw_removed == 0 and (store_path / "raw" / sha).exists()
    _age([in_flight, *in_flight.iterdir()])  # the ingest died long ago: its generation goes, then its raw
    first_pass = store.gc()
    assert first_pass.generations_removed == 1 and not in_flight.exists()
    assert first_pass.raw_removed == 1 and not (store_path / "raw" / sha).exists()


def test_gc_puts_back_what_a_killed_gc_moved_aside(two_runs):
    store_path, (first, _), _ = two_runs
    store = RunStore(store_path)
    sha = store.get(first).run["inputs"][0]["sha256"]
    (store_path / "raw" / sha).rename(store_path / "raw" / f".gc-{sha}-0badc0de")  # killed between its steps
    assert _raw_intact(store) == [f"{first}: {store.get(first).run['inputs'][0]['name']}"]
    assert store.gc(min_age_s=0).raw_removed == 0
    assert _raw_intact(store) == [] and not list(store_path.glob("raw/.gc-*"))
    assert store.verify().problems == ()


@pytest.mark.slow
def test_gc_racing_a_reingest_never_loses_raw_inputs(tmp_path, store_path):
    """A run is removed (its raw input stays, old), then the same bytes are ingested again while
    `runs gc` runs at a random moment: whoever wins, the committed run keeps its raw input."""
    big = _monotone_history(tmp_path / "big_stats_history.csv", rows=300_000)
    store = RunStore(store_path)
    rng = random.Random(13)
    lost = []
    for attempt in range(8):
        for run_id in store.run_ids():
            store.remove(run_id)
        if not any(store_path.glob("raw/*")):
            ingest(store, [big])
            store.remove(store.run_ids()[0])
        _age(store_path.glob("raw/*"))
        proc = subprocess.Popen([*PLANNER, "ingest", str(big), "--store", str(store_path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if attempt % 2:  # while the tables are written (after the ingest checked for the raw copy)
            deadline = time.monotonic() + 60
            while not _writing(store_path) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.1))
        else:  # anywhere: start-up, hashing, parsing, writing
            time.sleep(rng.uniform(0.2, 1.5))
        store.gc()
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
        lost += _raw_intact(store)
        assert len(store.run_ids()) == 1
    assert lost == [], f"committed runs without their raw input: {lost}"


# ---------------------------------------------------------------- 3. verified reads
def _table_file(store: RunStore, run_id: str, name: str) -> Path:
    return Path(store.root) / "runs" / run_id / store.get(run_id).tables[name]["file"]


def test_every_flipped_byte_of_a_table_is_refused(two_runs):
    store_path, (run_id, _), _ = two_runs
    store = RunStore(store_path)
    path = _table_file(store, run_id, "history")
    original = path.read_bytes()
    expected = store.table("history", [run_id])

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(offset=st.integers(0, len(original) - 1), mask=st.integers(1, 255))
    def flipped(offset: int, mask: int) -> None:
        data = bytearray(original)
        data[offset] ^= mask
        path.write_bytes(bytes(data))
        try:
            with pytest.raises(StoreError) as info:
                got = store.table("history", [run_id])
                assert not got.equals(expected), "a flipped byte read back as the same table?"
            message = str(info.value)
            assert run_id in message and "history" in message and path.name in message and "\n" not in message
        finally:
            path.write_bytes(original)

    flipped()
    pd.testing.assert_frame_equal(store.table("history", [run_id]), expected)


def test_cli_reports_a_corrupt_table_in_one_line(two_runs):
    store_path, (run_id, _), _ = two_runs
    store = RunStore(store_path)
    path = _table_file(store, run_id, "history")
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))
    result = _cli("fit", "--json", store=store_path, check_rc=1)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert run_id in lines[0] and "history" in lines[0] and "sha256" in lines[0], result.stderr


def test_runs_verify_is_clean_then_lists_every_problem(two_runs):
    store_path, (first, second), files = two_runs
    clean = _cli("runs", "verify", "--json", store=store_path)
    report = json.loads(clean.stdout)
    assert report["problems"] == [] and report["runs"] == 2 and report["tables"] >= 2 and report["raw"] == 2
    assert "0 problems" in _cli("runs", "verify", store=store_path).stdout
    store = RunStore(store_path)
    table = _table_file(store, first, "history")
    data = bytearray(table.read_bytes())
    data[len(data) // 2] ^= 0x40
    table.write_bytes(bytes(data))
    sha = store.get(second).run["inputs"][0]["sha256"]
    raw = store_path / "raw" / sha
    raw.write_bytes(raw.read_bytes().replace(b"Aggregated", b"Aggregatex", 1))
    result = _cli("runs", "verify", "--json", store=store_path, check_rc=1)
    problems = json.loads(result.stdout)["problems"]
    assert {(p["run_id"], p["what"]) for p in problems} == {(first, "table history"), (second, f"raw {sha}")}
    text = _cli("runs", "verify", store=store_path, check_rc=1)
    assert first in text.stdout and sha in text.stdout and "2 problems" in text.stdout
    assert "Usage:" in _cli("runs", "verify", "--help", store=store_path).stdout


def test_reparse_refuses_raw_bytes_that_do_not_match_their_name(two_runs):
    store_path, (run_id, _), _ = two_runs
    store = RunStore(store_path)
    sha = store.get(run_id).run["inputs"][0]["sha256"]
    raw = store_path / "raw" / sha
    raw.write_bytes(raw.read_bytes().replace(b"Aggregated", b"Aggregatex", 1))
    generation = store.get(run_id).generation
    with pytest.raises(StoreError, match=f"raw input {sha}.*sha256"):
        reparse(store, [run_id])
    assert store.get(run_id).generation == generation, "nothing was rebuilt from bad bytes"
    result = _cli("runs", "reparse", run_id[:8], store=store_path, check_rc=1)
    assert sha in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_tables_carry_sha256_and_page_checksums(two_runs):
    import pyarrow.parquet as pq

    store_path, (run_id, _), _ = two_runs
    store = RunStore(store_path)
    entry = store.get(run_id).tables["history"]
    path = _table_file(store, run_id, "history")
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    pq.read_table(path, page_checksum_verification=True)
    assert store.get(run_id).schema_version >= 2


def test_old_runs_without_hashes_stay_readable(two_runs):
    """A manifest written before tables carried hashes (schema version 1) is read unverified."""
    store_path, (run_id, _), _ = two_runs
    manifest = store_path / "runs" / run_id / "manifest.json"
    data = json.loads(manifest.read_text())
    expected = RunStore(store_path).table("history", [run_id])
    for entry in data["tables"].values():
        del entry["sha256"]
    missing = dict(data, schema_version=2)
    manifest.write_text(json.dumps(missing))
    with pytest.raises(StoreError, match="sha256"):
        RunStore(store_path).table("history", [run_id])
    manifest.write_text(json.dumps(dict(data, schema_version=1)))
    pd.testing.assert_frame_equal(RunStore(store_path).table("history", [run_id]), expected)
    assert _cli("runs", "verify", store=store_path).returncode == 0


def test_bundled_sample_store_reads_and_verifies():
    from planner.scenarios.source import SAMPLE_STORE

    store = RunStore(SAMPLE_STORE)
    assert store.records() and not store.scan().broken
    assert store.verify().problems == ()


# ---------------------------------------------------------------- 4. one broken manifest
@pytest.mark.parametrize("kind", BROKEN_MANIFESTS)
def test_one_broken_manifest_is_named_and_the_rest_works(two_runs, kind):
    store_path, (good, bad), _ = two_runs
    (store_path / "runs" / bad / "manifest.json").write_bytes(BROKEN_MANIFESTS[kind])
    store = RunStore(store_path)
    scan = store.scan()
    assert [r.run_id for r in scan.records] == [good]
    assert [b.run_id for b in scan.broken] == [bad] and "\n" not in scan.broken[0].reason
    with pytest.raises(StoreError, match=f"run {bad}.*manifest"):
        store.get(bad)
    with pytest.warns(PlannerWarning, match=bad):
        assert store.table("history")["run_id"].unique().tolist() == [good]

    listed = _cli("runs", "list", "--json", store=store_path)
    data = json.loads(listed.stdout)
    assert [r["run_id"] for r in data["runs"]] == [good] and [b["run_id"] for b in data["broken"]] == [bad]
    text = _cli("runs", "list", store=store_path)
    assert good in text.stdout and bad in text.stdout + text.stderr
    fitted = _cli("fit", "--json", store=store_path)
    assert json.loads(fitted.stdout)["configs"]
    assert [line for line in fitted.stderr.splitlines() if bad in line], fitted.stderr
    recommended = _cli("recommend", "--target-tps", "100", "--p99", "2s", "--json", store=store_path,
                       check_rc=None)
    assert recommended.returncode in (0, 1) and "Traceback" not in recommended.stderr
    assert [line for line in recommended.stderr.splitlines() if bad in line], recommended.stderr
    reparsed = _cli("runs", "reparse", "--json", store=store_path, check_rc=1)
    statuses = {o["run_id"]: o["status"] for o in json.loads(reparsed.stdout)["runs"]}
    assert statuses == {good: "reparsed", bad: "unreadable"}
    assert len(_cli("runs", "show", bad, store=store_path, check_rc=1).stderr.strip().splitlines()) == 1
    _cli("runs", "rm", bad[:6], store=store_path)
    assert RunStore(store_path).run_ids() == [good] and not (store_path / "runs" / bad).exists()
    assert json.loads(_cli("runs", "list", "--json", store=store_path).stdout)["broken"] == []


# ---------------------------------------------------------------- 5. run-id prefixes
def test_runs_rm_by_prefix_deletes_the_run(two_runs):
    store_path, (first, second), _ = two_runs
    result = _cli("runs", "rm", first[:5], "--json", store=store_path)
    assert json.loads(result.stdout) == {"removed": [first]}
    assert RunStore(store_path).run_ids() == [second] and not (store_path / "runs" / first).exists()
    gone = _cli("runs", "rm", first, store=store_path, check_rc=1)
    assert f"no run {first}" in gone.stderr and "removed" not in gone.stdout


def test_runs_show_says_why_a_prefix_does_not_resolve(two_runs):
    store_path, (first, second), _ = two_runs
    short = _cli("runs", "show", first[:3], store=store_path, check_rc=1).stderr
    assert "too short" in short and "at least 4" in short and first in short
    unknown = "eeee" if first.startswith("ffff") or second.startswith("ffff") else "ffff"
    none = _cli("runs", "show", unknown, store=store_path, check_rc=1)
    assert "no run id starts with" in none.stderr
    bad = _cli("runs", "show", "xyz-1", store=store_path, check_rc=1).stderr
    assert "hex" in bad


RUN_IDS = ["b18a000000000001", "b18a000000000002", "b18b000000000003", "c0ffee0000000004", "d000000000000005"]


@pytest.fixture(scope="module")
def id_store(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("ids") / "store").create()
    frame = pd.DataFrame({"x": [1.0]})
    for run_id in RUN_IDS:
        store.commit(run_id, {"inputs": []}, [TableWrite("points", frame)], {})
    return store


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.one_of(st.sampled_from(RUN_IDS).flatmap(lambda r: st.integers(1, 16).map(lambda n: r[:n])),
                      st.text("0123456789abcdefB", min_size=1, max_size=17)))
def test_resolve_returns_the_one_match_or_says_why_not(id_store, text):
    matches = [r for r in RUN_IDS if r.startswith(text.lower())]
    if len(text) >= 4 and len(matches) == 1 and re.fullmatch(r"[0-9a-fA-F]+", text):
        assert id_store.resolve(text) == matches[0]
        assert id_store.get(text).run_id == matches[0]
        return
    with pytest.raises(StoreError) as info:
        id_store.resolve(text)
    message = str(info.value)
    assert "\n" not in message
    if not re.fullmatch(r"[0-9a-fA-F]+", text) or len(text) > 16:
        assert "hex" in message
    elif len(text) < 4:
        assert "too short" in message and all(m in message for m in matches[:5])
    elif matches:
        assert "ambiguous" in message and all(m in message for m in matches)
    else:
        assert "no run" in message



# ---------------------------------------------------------------- the same on S3 (moto server)
def test_s3_store_verifies_tables_and_gc_keeps_broken_runs(two_runs, aws_env):
    import boto3

    local_path, (first, second), files = two_runs
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    s3.create_bucket(Bucket="integrity")
    store = RunStore("s3://integrity/team")
    for f in files:
        ingest(store, [f])
    assert store.run_ids() == [first, second] and store.verify().problems == ()
    key = f"team/runs/{first}/{store.get(first).tables['history']['file']}"
    body = bytearray(s3.get_object(Bucket="integrity", Key=key)["Body"].read())
    body[len(body) // 2] ^= 0x08
    s3.put_object(Bucket="integrity", Key=key, Body=bytes(body))
    with pytest.raises(StoreError, match=f"run {first}: table history .*sha256"):
        store.table("history", [first])
    assert [(p.run_id, p.what) for p in store.verify().problems] == [(first, "table history")]
    s3.put_object(Bucket="integrity", Key=f"team/runs/{second}/manifest.json", Body=b"\xff not json")
    kept = store.gc(min_age_s=0)
    assert [b.run_id for b in kept.broken] == [second] and kept.raw_removed == 0
    assert store.remove(second[:6]) == second and store.run_ids() == [first]
    removed = store.gc(min_age_s=0)  # now its raw input is unreferenced: moved aside, then deleted
    assert removed.raw_removed == 1 and not _raw_intact(store)
    raw = [o["Key"] for o in s3.list_objects_v2(Bucket="integrity", Prefix="team/raw/")["Contents"]]
    assert len([k for k in raw if not k.endswith("/")]) == 1
