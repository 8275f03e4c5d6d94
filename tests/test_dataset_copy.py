"""The repository's copy of the shared public inputs is byte for byte the shared original."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import REPO

COPY = REPO / "tests" / "datasets"
SHARED = REPO.parent / "shared" / "datasets"


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "README.md"
            and "derived" not in p.relative_to(root).parts}  # derived fixtures say how in their README


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared dataset folder beside this clone")
def test_every_copied_dataset_matches_the_shared_original():
    copied = _digests(COPY)
    shared = _digests(SHARED)
    assert len(copied) >= 30
    assert {name: shared.get(name) for name in copied} == copied


def test_the_copy_names_its_sources_and_licence():
    text = (COPY / "README.md").read_text()
    assert "Licence" in text and "repository @ commit : path" in text
    for folder in sorted(p.name for p in COPY.iterdir() if p.is_dir()):
        assert f"## {folder}/" in text, folder
