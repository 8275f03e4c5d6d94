"""The run collection: the only code that reads or writes it (a local path or ``s3://bucket/prefix``).

Layout under the root::

    planner-store.json                  {"schema_version": N, "created_at": ...}
    raw/<sha256>                        every input file, byte for byte (content-addressed)
    runs/<run_id>/manifest.json         the commit point: run metadata, inputs, tables (+ sha256), generation
    runs/<run_id>/<generation>/inputs.json      the raw inputs an ingest holds (written before it copies them)
    runs/<run_id>/<generation>/<table>.parquet

Guarantees:

* **atomic** – a run exists exactly when its ``manifest.json`` exists, and the manifest is written
  last, in one step (a rename on local disks, one PUT on S3). Table files of a run that was never
  committed (killed ingest) are invisible to readers and removed by :meth:`RunStore.gc`, which never
  touches a committed run (one whose manifest is unreadable included) and keeps every raw input while a
  manifest is unreadable.
* **idempotent** – the run id is derived from the input bytes, so the same inputs map to the same
  run; committing it again raises :class:`RunExistsError`.
* **concurrent** – runs never share a file; the first commit of a run id is exclusive
  (``os.link`` on local disks), so two processes ingesting the same bytes produce one run.
  (S3 has no exclusive create through pyarrow: the check-then-put window there is documented.)
* **lossless** – the raw inputs are kept under ``raw/``; :meth:`RunStore.replace_tables`
  swaps a run to a new generation atomically (used by ``planner runs reparse``). gc and ingest are
  safe against each other: an ingest names its raw inputs (``inputs.json``) before it looks for them,
  and gc first moves a blob aside (``raw/.gc-*``), then looks for references again and puts back any
  that gained one; whichever comes first, the other sees it.
* **verified** – since schema version 2 every table's sha256 is in the manifest and is checked on
  every read (parquet page checksums are written and checked too); raw inputs are checked against
  their sha256 name when read. Version-1 runs are read unverified. :meth:`RunStore.verify` checks all.
* **degraded, not broken** – a run whose manifest cannot be read is reported (:meth:`RunStore.scan`)
  and skipped with a warning by collection-wide reads; the other runs keep working.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from planner.errors import PlannerWarning, RunExistsError, StoreError
from planner.schema import SCHEMA_VERSION

DEFAULT_STORE = "./planner-store"
_MARKER = "planner-store.json"
_RUN_ID = re.compile(r"^[0-9a-f]{16}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MIN_PREFIX = 4  # shortest run-id prefix accepted (of 16 hex characters)
HASHED_SINCE = 2  # manifests of this schema version on carry each table's sha256
_INTENT = "inputs.json"
_TOMBSTONE = ".gc-"
_BLOCK_BYTES = 1 << 20
GC_AGE_S = 3600.0
ROW_GROUP_ROWS = 256_000


def input_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def run_id_for(shas: Iterable[str], key: str = "") -> str:
    """Run id: 16 hex chars of SHA-256 over the sorted input hashes and the sub-key."""
    text = "\n".join(sorted(shas)) + "\0" + key
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunRecord:
    """A committed run as its manifest describes it."""

    run_id: str
    run: Mapping[str, Any]
    tables: Mapping[str, Mapping[str, Any]]
    parse: Mapping[str, Any]
    generation: str
    schema_version: int

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "run": dict(self.run), "tables": {k: dict(v) for k, v in self.tables.items()},
                "parse": dict(self.parse), "generation": self.generation, "schema_version": self.schema_version}


@dataclass(frozen=True)
class TableWrite:
    """One table to write: a DataFrame or a one-shot iterator of RecordBatches."""

    name: str
    source: pd.DataFrame | Iterator[pa.RecordBatch]


@dataclass(frozen=True)
class BrokenRun:
    """A committed run (its manifest exists) whose manifest cannot be read; ``reason`` is one line."""

    run_id: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"run_id": self.run_id, "reason": self.reason}


@dataclass(frozen=True)
class RunScan:
    """Committed runs as found: the readable ones and the broken ones, each sorted by run id."""

    records: tuple[RunRecord, ...]
    broken: tuple[BrokenRun, ...]


@dataclass(frozen=True)
class GcResult:
    """What :meth:`RunStore.gc` removed, and the broken runs it kept (raw inputs are then all kept)."""

    generations_removed: int
    raw_removed: int
    broken: tuple[BrokenRun, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"generations": self.generations_removed, "raw": self.raw_removed,
                "broken": [b.to_dict() for b in self.broken]}


@dataclass(frozen=True)
class Problem:
    """One integrity problem: ``what`` is ``manifest``, ``table <name>`` or ``raw <sha256>``."""

    run_id: str | None
    what: str
    path: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "what": self.what, "path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class VerifyReport:
    """:meth:`RunStore.verify`: how many runs, tables and raw inputs were checked, and what is wrong."""

    runs: int
    tables: int
    raw: int
    problems: tuple[Problem, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "tables": self.tables, "raw": self.raw,
                "problems": [p.to_dict() for p in self.problems]}


class _HashingSink:
    """A write-only file that passes bytes on to ``sink`` and hashes them (sha256) on the way."""

    def __init__(self, sink: Any) -> None:
        self.sink, self.digest, self.position, self.closed = sink, hashlib.sha256(), 0, False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        self.sink.write(view)
        self.position += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        """Nothing buffered here."""

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass
class _Backend:
    """A thin layer over pyarrow filesystems with the two atomic steps the store needs."""

    fs: pafs.FileSystem
    root: str
    local: bool

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts]) if self.root else "/".join(parts)

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def read_bytes(self, path: str) -> bytes:
        with self.fs.open_input_stream(path) as fh:
            return fh.read()

    def listdir(self, path: str) -> list[pafs.FileInfo]:
        try:
            return self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def makedirs(self, path: str) -> None:
        self.fs.create_dir(path, recursive=True)

    def write_bytes(self, path: str, data: bytes, *, exclusive: bool) -> bool:
        """Write ``data`` at ``path`` in one visible step; with ``exclusive``, return False if it exists."""
        if not self.local:
            if exclusive and self.exists(path):
                return False
            with self.fs.open_output_stream(path) as fh:
                fh.write(data)
            return True
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if exclusive:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    return False
            else:
                os.replace(tmp, path)
            return True
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def copy_in(self, src: Path, path: str) -> bool:
        """Copy a local file to ``path`` unless it exists; return True if this call created it."""
        if self.exists(path):
            return False
        if self.local:
            directory = os.path.dirname(path)
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
            os.close(fd)
            try:
                shutil.copyfile(src, tmp)
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    return False
            finally:
                os.unlink(tmp)
            return True
        with open(src, "rb") as fh, self.fs.open_output_stream(path) as out:
            while block := fh.read(_BLOCK_BYTES * 8):
                out.write(block)
        return True

    def sha256(self, path: str) -> str:
        """SHA-256 of a file's bytes, hex, read in blocks."""
        digest = hashlib.sha256()
        with self.fs.open_input_stream(path) as fh:
            while block := fh.read(_BLOCK_BYTES * 8):
                digest.update(block)
        return digest.hexdigest()

    def move(self, src: str, dst: str) -> bool:
        """Rename ``src`` to ``dst`` (replacing it); False if ``src`` is gone."""
        try:
            self.fs.move(src, dst)
        except FileNotFoundError:
            return False
        return True

    def delete_file(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(path)

    def delete_dir(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(path)


def _backend(root: str | os.PathLike) -> _Backend:
    text = str(root)
    if "://" not in text:
        path = os.path.abspath(text)
        return _Backend(pafs.LocalFileSystem(), path, local=True)
    if text.startswith("s3://") and "?" not in text:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        bucket_prefix = text.removeprefix("s3://").rstrip("/")
        kwargs: dict[str, Any] = {"region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
        if endpoint:
            scheme, _, host = endpoint.partition("://")
            kwargs.update(endpoint_override=host, scheme=scheme)
        return _Backend(pafs.S3FileSystem(**kwargs), bucket_prefix, local=False)
    try:
        fs, path = pafs.FileSystem.from_uri(text)
    except (pa.ArrowInvalid, ValueError) as exc:
        raise StoreError(f"{text}: cannot open store: {exc}") from None
    return _Backend(fs, path, local=isinstance(fs, pafs.LocalFileSystem))


def _with_run_id(batch: pa.RecordBatch, run_id: str, schema: pa.Schema) -> pa.RecordBatch:
    """Append a constant, dictionary-encoded ``run_id`` column (costs ~nothing in parquet)."""
    run_col = pa.DictionaryArray.from_arrays(pa.array(np.zeros(batch.num_rows, dtype=np.int32)), pa.array([run_id]))
    return pa.RecordBatch.from_arrays([*batch.columns, run_col], schema=schema)


def _nullable(dtype: pa.DataType) -> Any:
    """pyarrow -> pandas nullable dtypes, so that missing values stay missing (not NaN/None mixes)."""
    if pa.types.is_integer(dtype):
        return pd.Int64Dtype()
    if pa.types.is_floating(dtype):
        return pd.Float64Dtype()
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return pd.StringDtype()
    if pa.types.is_boolean(dtype):
        return pd.BooleanDtype()
    return None


class RunStore:
    """A run collection at ``root`` (local directory or ``s3://bucket/prefix``)."""

    def __init__(self, root: str | os.PathLike = DEFAULT_STORE) -> None:
        self.root = str(root)
        self._b = _backend(root)

    # ------------------------------------------------------------------ opening
    def exists(self) -> bool:
        """True if a store has been created at the root."""
        return self._b.exists(self._b.path(_MARKER))

    def schema_version(self) -> int:
        """The schema version the store was created with."""
        try:
            info = json.loads(self._b.read_bytes(self._b.path(_MARKER)))
        except FileNotFoundError:
            raise StoreError(f"{self.root}: no run collection here (no {_MARKER})") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{self.root}/{_MARKER}: unreadable: {exc}") from None
        version = int(info.get("schema_version", 0))
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.root}: schema version {version} is newer than this planner ({SCHEMA_VERSION}); upgrade")
        return version

    def create(self) -> RunStore:
        """Create the store if needed (idempotent, safe to race)."""
        self._b.makedirs(self._b.path("runs"))
        self._b.makedirs(self._b.path("raw"))
        marker = {"schema_version": SCHEMA_VERSION, "created_at": utc_now()}
        self._b.write_bytes(self._b.path(_MARKER), json.dumps(marker).encode(), exclusive=True)
        self.schema_version()
        return self

    # ------------------------------------------------------------------ writing
    def has_run(self, run_id: str) -> bool:
        return self._b.exists(self._manifest_path(run_id))

    def add_raw(self, path: Path, sha256: str) -> bool:
        """Keep an input file's bytes under raw/<sha256>; return True if this call stored them."""
        return self._b.copy_in(path, self._b.path("raw", sha256))

    def commit(self, run_id: str, run: Mapping[str, Any], tables: Iterable[TableWrite],
               parse: Mapping[str, Any], raw_inputs: Sequence[tuple[Path, str]] = ()) -> RunRecord:
        """Keep the raw inputs and write a new run's tables, then commit its manifest exclusively.

        ``raw_inputs`` are ``(path, sha256)`` pairs, named in the generation's ``inputs.json`` first
        (so gc keeps them), then copied under raw/ in a background thread while the tables are written
        (the copy is I/O; the tables are CPU). Raises RunExistsError if the run id is already committed
        (checked first, and again at the commit itself, so a concurrent ingest of the same bytes loses
        cleanly). Any error leaves nothing visible: the partial generation and the raw copies this call
        made are removed.
        """
        if self.has_run(run_id):
            raise RunExistsError(run_id)
        return self._write_generation(run_id, run, tables, parse, exclusive=True, raw_inputs=raw_inputs)

    def replace_tables(self, run_id: str, run: Mapping[str, Any], tables: Iterable[TableWrite],
                       parse: Mapping[str, Any]) -> RunRecord:
        """Swap a run (id or unique prefix) to a freshly written generation (atomic manifest replace)."""
        old = self.get(run_id)
        record = self._write_generation(old.run_id, run, tables, parse, exclusive=False)
        self._b.delete_dir(self._b.path("runs", old.run_id, old.generation))
        return record

    def _write_generation(self, run_id: str, run: Mapping[str, Any], tables: Iterable[TableWrite],
                          parse: Mapping[str, Any], *, exclusive: bool,
                          raw_inputs: Sequence[tuple[Path, str]] = ()) -> RunRecord:
        generation = f"g{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
        gen_dir = self._b.path("runs", run_id, generation)
        self._b.makedirs(gen_dir)
        created: list[str] = []
        try:
            if raw_inputs:  # the intent comes before the copy: see the module docstring
                shas = sorted({sha for _, sha in raw_inputs})
                self._b.write_bytes(f"{gen_dir}/{_INTENT}", json.dumps(shas).encode(), exclusive=False)
            with ThreadPoolExecutor(max_workers=1) as pool:
                copying = pool.submit(lambda: created.extend(s for p, s in raw_inputs if self.add_raw(p, s)))
                written = {t.name: self._write_table(gen_dir, t, run_id) for t in tables}
                copying.result()
            record = RunRecord(run_id=run_id, run={**run, "run_id": run_id}, tables=written, parse=dict(parse),
                               generation=generation, schema_version=SCHEMA_VERSION)
            data = json.dumps(record.to_dict(), indent=1, sort_keys=True, default=str).encode()
            if not self._b.write_bytes(self._manifest_path(run_id), data, exclusive=exclusive):
                raise RunExistsError(run_id)
        except BaseException:
            self._b.delete_dir(gen_dir)
            self._collect_raw(created)
            raise
        return record

    def _write_table(self, gen_dir: str, table: TableWrite, run_id: str) -> dict[str, Any]:
        if isinstance(table.source, pd.DataFrame):
            frame = pa.Table.from_pandas(table.source, preserve_index=False)
            schema, batches = frame.schema, iter(frame.to_batches(max_chunksize=1 << 16))
        else:
            batches = iter(table.source)
            first = next(batches, None)
            if first is None:
                raise StoreError(f"table {table.name!r} produced no batches")
            schema, batches = first.schema, _chain(first, batches)
        target = pa.schema([*schema, pa.field("run_id", pa.dictionary(pa.int32(), pa.string()))])
        path = f"{gen_dir}/{table.name}.parquet"
        # lz4 and dictionaries only for text: ~1.5x faster to write than zstd everywhere, for
        # files ~1.3x larger; row groups of >= ROW_GROUP_ROWS rows.
        text = [f.name for f in target if pa.types.is_string(f.type) or pa.types.is_dictionary(f.type)]
        rows, pending, pending_rows = 0, [], 0
        # One row group is encoded and written on a second thread while the next is parsed on this
        # one (both release the GIL for most of their work); at most one write is in flight.
        with self._b.fs.open_output_stream(path) as sink:
            hashing = _HashingSink(sink)
            with (pq.ParquetWriter(hashing, target, compression="lz4", use_dictionary=text,
                                   write_page_checksum=True) as out,
                  ThreadPoolExecutor(max_workers=1) as writer):
                in_flight = None
                for batch in batches:
                    pending.append(_with_run_id(batch, run_id, target))
                    pending_rows += batch.num_rows
                    if pending_rows >= ROW_GROUP_ROWS:
                        group = pa.Table.from_batches(pending, target)
                        if in_flight is not None:
                            in_flight.result()
                        in_flight = writer.submit(out.write_table, group)
                        rows, pending, pending_rows = rows + pending_rows, [], 0
                if in_flight is not None:
                    in_flight.result()
                out.write_table(pa.Table.from_batches(pending, target))
                rows += pending_rows
        return {"file": f"{gen_dir.rsplit('/', 1)[-1]}/{table.name}.parquet", "rows": rows,
                "sha256": hashing.digest.hexdigest()}

    def remove(self, run_id: str) -> str:
        """Delete a run (id or unique prefix; its manifest may be unreadable): un-commit (manifest
        first), then its files; return the full run id. Raw inputs stay (see gc)."""
        run_id = self.resolve(run_id)
        self._b.delete_file(self._manifest_path(run_id))
        self._b.delete_dir(self._b.path("runs", run_id))
        return run_id

    def gc(self, min_age_s: float = GC_AGE_S) -> GcResult:
        """Remove uncommitted generations and unreferenced raw inputs older than ``min_age_s``.

        A committed run is never touched, even when its manifest cannot be read; while any manifest
        cannot be read, no raw input is removed (it might be that run's) and the run is reported.
        """
        now = time.time()

        def old(info: pafs.FileInfo) -> bool:
            return info.mtime is None or now - info.mtime.timestamp() >= min_age_s

        self._restore_tombstones()
        generations, broken = 0, []
        for children, record, problem in self._run_dirs():
            if problem is not None:
                broken.append(problem)
                continue
            if record is None and any(c.base_name == "manifest.json" for c in children):  # removed since the listing
                continue
            current = record.generation if record is not None else None
            for child in children:
                stale = (child.type == pafs.FileType.Directory and child.base_name != current) or \
                    child.base_name.startswith(".tmp-")  # a manifest write killed half-way
                if stale and old(child) and child.type == pafs.FileType.Directory:
                    self._b.delete_dir(child.path)
                    generations += 1
                elif stale and old(child):
                    self._b.delete_file(child.path)
        raw = 0
        if not broken:
            referenced, broken = self._raw_references()
            blobs = [i for i in self._b.listdir(self._b.path("raw")) if old(i)]
            for info in blobs:
                if info.base_name.startswith(".tmp-"):  # a copy killed half-way
                    self._b.delete_file(info.path)
            if not broken:
                raw = self._collect_raw([i.base_name for i in blobs
                                         if _SHA256.match(i.base_name) and i.base_name not in referenced])
        return GcResult(generations, raw, tuple(sorted(broken, key=lambda b: b.run_id)))

    def _raw_references(self) -> tuple[set[str], list[BrokenRun]]:
        """Raw inputs named by committed manifests or by any other generation's ``inputs.json``
        (an ingest in flight), and the runs whose manifest cannot be read."""
        referenced: set[str] = set()
        broken = []
        for children, record, problem in self._run_dirs():
            if problem is not None:
                broken.append(problem)
            current = None
            if record is not None:
                current = record.generation
                referenced.update(i["sha256"] for i in record.run.get("inputs") or [])
            for child in children:
                if child.type == pafs.FileType.Directory and child.base_name != current:
                    referenced.update(self._intent(child.path))
        return referenced, broken

    def _run_dirs(self) -> Iterator[tuple[list[pafs.FileInfo], RunRecord | None, BrokenRun | None]]:
        """Every run directory's children, its committed record (None without a manifest, or
        when it was removed since the listing) and the problem reading it, if any."""
        for info in self._b.listdir(self._b.path("runs")):
            children = self._b.listdir(info.path)
            record, problem = None, None
            if any(c.base_name == "manifest.json" for c in children):
                try:
                    record = self._load(info.base_name)
                except StoreError as exc:
                    problem = BrokenRun(info.base_name, _reason(exc))
            yield children, record, problem

    def _intent(self, gen_dir: str) -> list[str]:
        try:
            names = json.loads(self._b.read_bytes(f"{gen_dir}/{_INTENT}"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):  # a torn intent: keep every raw input this pass
            return [i.base_name for i in self._b.listdir(self._b.path("raw"))]
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    def _collect_raw(self, candidates: Iterable[str]) -> int:
        """Remove the raw inputs ``candidates`` unless a reference appears meanwhile; return how many.

        Each is first moved aside, then references are read again: an ingest that named one before
        that second look gets it put back; one that names it later finds it missing and copies it.
        """
        token = uuid.uuid4().hex[:8]
        moved = {sha: self._b.path("raw", f"{_TOMBSTONE}{sha}-{token}") for sha in candidates}
        moved = {sha: tomb for sha, tomb in moved.items() if self._b.move(self._b.path("raw", sha), tomb)}
        if not moved:
            return 0
        referenced, broken = self._raw_references()
        removed = 0
        for sha, tomb in moved.items():
            if sha in referenced or broken:
                self._put_back(sha, tomb)
            else:
                self._b.delete_file(tomb)
                removed += 1
        return removed

    def _put_back(self, sha: str, tomb: str) -> None:
        if self._b.exists(self._b.path("raw", sha)):  # an ingest copied it again meanwhile
            self._b.delete_file(tomb)
        else:
            self._b.move(tomb, self._b.path("raw", sha))

    def _restore_tombstones(self) -> None:
        """Put back raw inputs a gc moved aside and did not finish with (killed, or running now)."""
        for info in self._b.listdir(self._b.path("raw")):
            if info.base_name.startswith(_TOMBSTONE):
                self._put_back(info.base_name[len(_TOMBSTONE):].rsplit("-", 1)[0], info.path)

    # ------------------------------------------------------------------ reading
    def _manifest_path(self, run_id: str) -> str:
        return self._b.path("runs", run_id, "manifest.json")

    def run_ids(self) -> list[str]:
        """Ids of committed runs (readable manifest or not), sorted."""
        ids = [i.base_name for i in self._b.listdir(self._b.path("runs")) if _RUN_ID.match(i.base_name)]
        return sorted(i for i in ids if self.has_run(i))

    def get(self, run_id: str) -> RunRecord:
        """The committed run ``run_id`` (or a unique prefix, see :meth:`resolve`)."""
        run_id = self.resolve(run_id)
        record = self._load(run_id)
        if record is None:
            raise StoreError(f"{self.root}: no run {run_id}")
        return record

    def _load(self, run_id: str) -> RunRecord | None:
        """The run's record; None if it has no manifest; StoreError (one line) if that is unreadable."""
        try:
            data = self._b.read_bytes(self._manifest_path(run_id))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.root}: run {run_id}: manifest.json unreadable: {_one_line(exc)}") \
                from None
        try:
            return _record(run_id, data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            why = f"no {exc.args[0]!r} field" if isinstance(exc, KeyError) else _one_line(exc)
            raise StoreError(f"{self.root}: run {run_id}: manifest.json unreadable: {why}; remove the run "
                             f"(`planner runs rm {run_id}`) or restore the file") from None

    def resolve(self, run_id: str) -> str:
        """The full id of a committed run given its id or a unique prefix of at least MIN_PREFIX hex
        characters (any case); StoreError saying why not otherwise."""
        text = run_id.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{1,16}", text):
            raise StoreError(f"{self.root}: {run_id!r} is not a run id: expected 16 hex characters, or a "
                             f"unique prefix of at least {MIN_PREFIX}")
        if len(text) == 16:
            if self.has_run(text):
                return text
            raise StoreError(f"{self.root}: no run {text}")
        matches = [i for i in self.run_ids() if i.startswith(text)]
        if len(text) < MIN_PREFIX:
            raise StoreError(f"{self.root}: run id prefix {run_id!r} is too short: give at least "
                             f"{MIN_PREFIX} hex characters ({_candidates(matches)})")
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise StoreError(f"{self.root}: no run {run_id!r}: no run id starts with it")
        raise StoreError(f"{self.root}: run id prefix {run_id!r} is ambiguous ({_candidates(matches)})")

    def scan(self) -> RunScan:
        """Every committed run: the readable records and the runs whose manifest is not."""
        records, broken = [], []
        for run_id in self.run_ids():
            try:
                record = self._load(run_id)
            except StoreError as exc:
                broken.append(BrokenRun(run_id, _reason(exc)))
                continue
            if record is not None:
                records.append(record)
        return RunScan(tuple(records), tuple(broken))

    def records(self, run_ids: Iterable[str] | None = None) -> list[RunRecord]:
        """The given runs' records (ids or unique prefixes; an unreadable one raises StoreError), or by
        default every readable committed run's, sorted: each unreadable one is skipped with a
        :class:`PlannerWarning` naming it."""
        if run_ids is not None:
            return [self.get(i) for i in run_ids]
        scan = self.scan()
        for run in scan.broken:
            warnings.warn(f"{self.root}: run {run.run_id} skipped: {run.reason}", PlannerWarning,
                          stacklevel=2)
        return list(scan.records)

    def runs(self) -> pd.DataFrame:
        """The ``runs`` table: one row per readable committed run (labels/notes/inputs as JSON text)."""
        rows = []
        for rec in self.records():
            row = dict(rec.run)
            for key in ("labels", "notes", "inputs"):
                row[key] = json.dumps(row.get(key) or ({} if key != "inputs" else []), sort_keys=True)
            row["tables"] = ",".join(sorted(rec.tables))
            rows.append(row)
        return pd.DataFrame(rows).convert_dtypes() if rows else pd.DataFrame(columns=["run_id"])

    def table(self, name: str, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Table ``name`` across the given (default: all readable) committed runs, with a ``run_id``
        column; every file is verified against its manifest's sha256 (StoreError if it differs)."""
        parts = [self._read_table(rec, name) for rec in self.records(run_ids) if name in rec.tables]
        if not parts:
            return pd.DataFrame(columns=["run_id"])
        merged = pa.concat_tables([p.cast(_decode_dictionary(p.schema)) for p in parts], promote_options="permissive")
        return merged.to_pandas(types_mapper=_nullable)

    def _read_table(self, rec: RunRecord, name: str) -> pa.Table:
        entry = rec.tables[name]
        where = f"{self.root}: run {rec.run_id}: table {name} ({entry['file']})"
        try:
            data = self._b.read_bytes(self._b.path("runs", rec.run_id, entry["file"]))
        except FileNotFoundError:
            raise StoreError(f"{where}: cannot read: file missing; `planner runs reparse {rec.run_id}` "
                             "rebuilds it") from None
        except OSError as exc:
            raise StoreError(f"{where}: cannot read: {_one_line(exc)}") from None
        if "sha256" in entry:  # every table since schema HASHED_SINCE (see _record)
            found = hashlib.sha256(data).hexdigest()
            if found != entry["sha256"]:
                raise StoreError(f"{where}: sha256 {found[:16]}… differs from the manifest's "
                                 f"{entry['sha256'][:16]}…: the file is corrupt; `planner runs reparse "
                                 f"{rec.run_id}` rebuilds it from the raw inputs")
        try:
            return pq.read_table(pa.BufferReader(data), page_checksum_verification=True)
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"{where}: cannot read: {_one_line(exc)}") from None

    def read_raw(self, sha256: str) -> bytes:
        """The raw bytes of an input kept by the store, checked against their sha256 name."""
        try:
            data = self._b.read_bytes(self._b.path("raw", sha256))
        except FileNotFoundError:
            raise StoreError(f"{self.root}: raw input {sha256} is missing") from None
        found = hashlib.sha256(data).hexdigest()
        if found != sha256:
            raise StoreError(f"{self.root}: raw input {sha256}: its bytes have sha256 {found[:16]}…, not "
                             "their name: the file is corrupt; restore the original input there")
        return data

    def raw_size(self, sha256: str) -> int:
        return self._b.fs.get_file_info(self._b.path("raw", sha256)).size or 0

    # ------------------------------------------------------------------ checking
    def verify(self) -> VerifyReport:
        """Check the whole store: every manifest, every table against its sha256, every raw input
        against its sha256 name (and that each run's raw inputs exist)."""
        scan = self.scan()
        problems = [Problem(b.run_id, "manifest", self._manifest_path(b.run_id), b.reason)
                    for b in scan.broken]
        tables = 0
        owners: dict[str, str] = {}  # raw input sha256 -> first run that names it
        for rec in scan.records:
            for name in rec.tables:
                tables += 1
                try:
                    self._read_table(rec, name)
                except StoreError as exc:
                    where = self._b.path("runs", rec.run_id, rec.tables[name]["file"])
                    problems.append(Problem(rec.run_id, f"table {name}", where, _reason(exc)))
            for item in rec.run.get("inputs") or []:
                owners.setdefault(item["sha256"], rec.run_id)
        blobs = {i.base_name: i.path for i in self._b.listdir(self._b.path("raw"))
                 if _SHA256.match(i.base_name)}
        for sha, run_id in owners.items():
            if sha not in blobs:
                problems.append(Problem(run_id, f"raw {sha}", self._b.path("raw", sha), "missing"))
        for sha, path in blobs.items():
            found = self._b.sha256(path)
            if found != sha:
                problems.append(Problem(owners.get(sha), f"raw {sha}", path,
                                        f"its bytes have sha256 {found[:16]}…, not their name"))
        return VerifyReport(len(scan.records) + len(scan.broken), tables, len(blobs), tuple(problems))


def _record(run_id: str, data: bytes) -> RunRecord:
    """A manifest's bytes as a RunRecord; ValueError/KeyError/TypeError if they are not a valid one."""
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object, found {type(doc).__name__}")
    version = int(doc["schema_version"])
    if version > SCHEMA_VERSION:
        raise ValueError(f"written by a newer planner (schema {version} > {SCHEMA_VERSION}); upgrade")
    if doc["run_id"] != run_id:
        raise ValueError(f"it names run {doc['run_id']!r}")
    tables = doc["tables"]
    for key, expected in (("run", dict), ("tables", dict), ("parse", dict), ("generation", str)):
        if not isinstance(doc[key], expected):
            raise ValueError(f"{key!r} should be a {expected.__name__}, found {type(doc[key]).__name__}")
    for name, entry in tables.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("file"), str)
                and isinstance(entry.get("rows"), int)):
            raise ValueError(f"table {name!r}: expected file and rows, found {entry!r}")
        if version >= HASHED_SINCE and not _SHA256.match(str(entry.get("sha256"))):
            raise ValueError(f"table {name!r}: no sha256 (schema {version} has one for every table)")
    return RunRecord(run_id=run_id, run=doc["run"], tables=tables, parse=doc["parse"],
                     generation=doc["generation"], schema_version=version)


def _reason(exc: StoreError) -> str:
    """A StoreError's message without the leading ``<root>: run <id>: `` (for listings per run)."""
    return re.sub(r"^.*?: run [0-9a-f]{16}: ", "", str(exc), count=1)


def _candidates(run_ids: Sequence[str], limit: int = 10) -> str:
    if not run_ids:
        return "no run id starts with it"
    shown = ", ".join(run_ids[:limit]) + (", …" if len(run_ids) > limit else "")
    if len(run_ids) == 1:
        return f"1 run starts with it: {shown}"
    return f"{len(run_ids)} runs start with it: {shown}"


def _decode_dictionary(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                      for f in schema])


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def utc_now() -> str:
    """Now, UTC, ISO-8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")
