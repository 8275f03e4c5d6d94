"""Every real public sample in tests/datasets (a copy of the shared inputs) ingests, folder by folder, into the right runs."""

from __future__ import annotations

import shutil

import pytest

from planner.collection import ingest
from planner.store import RunStore

EXPECTED_RUNS = {
    # folder: (runs, {source: runs})
    "locust": (6, {"locust": 6}),  # 4 CSV prefixes + the re-typed stats table + the --json file (see _folder)
    "recommender": (4, {"recommender": 4}),  # default + advanced repr, and the derived JSON's two jobs
    "serverless-toolkit": (2, {"serverless_toolkit": 2}),  # smsb_cost_constants.csv is prices: skipped
    "perf_analyzer": (1, {"perf_analyzer": 1}),
    "usl": (3, {"points": 3}),
    "sagemaker-mme-gpu": (6, {"mme_gpu": 6}),  # PyTorch and TensorRT runs from each of the 3 files
}


def _folder(datasets, folder: str, tmp_path):
    """The folder's files; locust's without nogibjj's run that never started (User Count 0 in every row:
    refused, see test_ingest_locust)."""
    if folder != "locust":
        return datasets / folder
    kept = tmp_path / folder
    kept.mkdir()
    for path in (datasets / folder).iterdir():
        if not path.name.startswith("nogibjj_wine-prediction-app__"):
            shutil.copy(path, kept / path.name)
    return kept


@pytest.mark.parametrize("folder", sorted(EXPECTED_RUNS))
def test_every_dataset_folder_ingests(folder, datasets, tmp_path):
    store = RunStore(tmp_path / "store")
    source = _folder(datasets, folder, tmp_path)
    outcomes = ingest(store, [source], origin="published")
    skipped = [o.inputs[0] for o in outcomes if o.status == "skipped"]
    outcomes = [o for o in outcomes if o.status != "skipped"]
    assert set(skipped) <= {"published_fits.md", "smsb_cost_constants.csv"}
    runs, by_source = EXPECTED_RUNS[folder]
    assert [o.status for o in outcomes] == ["added"] * runs
    found: dict[str, int] = {}
    for o in outcomes:
        found[o.source] = found.get(o.source, 0) + 1
    assert found == by_source
    assert all(sum(o.tables.values()) > 0 or o.source == "locust" for o in outcomes)
    again = [o for o in ingest(store, [source], origin="published") if o.status != "skipped"]
    assert [o.status for o in again] == ["present"] * runs
    assert len(store.run_ids()) == runs


def test_a_named_file_must_be_recognised_even_if_a_directory_may_hold_others(datasets, tmp_path):
    from planner.errors import InputError

    with pytest.raises(InputError, match="published_fits.md"):
        ingest(RunStore(tmp_path / "store"), [datasets / "usl" / "published_fits.md"])
    assert not (tmp_path / "store").exists()
