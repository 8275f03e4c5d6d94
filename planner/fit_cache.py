"""A disk cache of configuration fits and of each run's steps, so repeated sizing calls skip
seconds of bootstrap and the re-reading of every run's tables.

A fit is keyed by the configuration's steps (a content hash of every row and column), the fit
options, the source of the whole ``planner`` package and the versions of Python and the numeric
libraries; a run's steps (under ``steps/``) by its whole manifest (run id, generation, labels: a
generation's tables never change), the step rules and the same code fingerprint. Any change to one
of them is a miss, never a stale answer. Entries are pickles this user wrote; one that cannot be
read counts as a miss and is rewritten.

Where: ``$PLANNER_CACHE_DIR``, else ``$XDG_CACHE_HOME/planner/fits``, else ``~/.cache/planner/fits``;
``PLANNER_CACHE_DIR=off`` turns caching off.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from planner.capacity import ConfigurationFit
    from planner.steps import StepRules
    from planner.store import RunRecord

MAX_ENTRIES = 2000  # oldest entries beyond this are removed when one is written


@functools.cache
def _code_fingerprint() -> str:
    """Hash of the planner sources and the versions whose change can change a fit or its pickle."""
    versions = [version(name) for name in ("numpy", "scipy", "pandas", "statsmodels")]
    digest = hashlib.sha256("|".join([sys.version, *versions]).encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class FitCache:
    """Pickled :class:`~planner.capacity.ConfigurationFit` objects under ``directory``."""

    directory: Path

    @classmethod
    def default(cls) -> FitCache | None:
        """The cache the environment names (see the module docstring); None when turned off."""
        named = os.environ.get("PLANNER_CACHE_DIR")
        if named:
            return None if named.strip().lower() == "off" else cls(Path(named))
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return cls(Path(base) / "planner" / "fits")

    def keys(self, groups: Sequence[pd.DataFrame], options: Mapping[str, Any]) -> list[str]:
        """Entry names for fitting each of ``groups`` (steps frames with the same columns) with
        ``options`` (keyword arguments of the fit): one content hash per group."""
        if not groups:
            return []
        frame = pd.concat(groups, ignore_index=True)
        frame = frame.astype({c: str for c in frame.columns if frame[c].dtype == object})  # None, dicts, mixed
        rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        common = hashlib.sha256(_code_fingerprint().encode())
        common.update(json.dumps([list(map(str, frame.columns)), list(map(str, frame.dtypes)), dict(options)],
                                 sort_keys=True, default=repr).encode())
        out, start = [], 0
        for group in groups:
            digest = common.copy()
            digest.update(rows[start:start + len(group)].tobytes())
            out.append(digest.hexdigest())
            start += len(group)
        return out

    def load(self, key: str) -> ConfigurationFit | None:
        """The cached fit, or None when absent or unreadable."""
        return _read(self.directory / f"{key}.pickle")

    def save(self, key: str, fit: ConfigurationFit) -> None:
        """Write an entry atomically; a cache that cannot be written is skipped, not an error."""
        _write(self.directory, key, fit)

    @staticmethod
    def steps_key(record: RunRecord, rules: StepRules) -> str:
        """Entry name of one committed run's steps under ``rules``."""
        digest = hashlib.sha256(_code_fingerprint().encode())
        digest.update(json.dumps([record.to_dict(), asdict(rules)], sort_keys=True, default=repr).encode())
        return digest.hexdigest()

    def load_steps(self, key: str) -> pd.DataFrame | None:
        """A run's cached steps, or None when absent or unreadable."""
        return _read(self.directory / "steps" / f"{key}.pickle")

    def save_steps(self, key: str, steps: pd.DataFrame) -> None:
        _write(self.directory / "steps", key, steps)


def _read(path: Path) -> Any:
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except Exception:  # noqa: BLE001 - absent, truncated or foreign: a miss, rewritten on save
        return None


def _write(directory: Path, key: str, value: Any) -> None:
    """Pickle ``value`` to ``directory/key.pickle`` atomically, then keep the newest MAX_ENTRIES."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(fh.name, directory / f"{key}.pickle")
        entries = sorted(directory.glob("*.pickle"), key=lambda p: p.stat().st_mtime)
        for path in entries[:-MAX_ENTRIES]:
            path.unlink(missing_ok=True)
    except OSError:
        return
