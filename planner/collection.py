"""Ingest files into a run collection, re-derive a collection's tables from its raw inputs, and sum a
run up (:func:`run_summary`).

This is where parsing (:mod:`planner.ingest`) meets the store (:mod:`planner.store`). One call is
all-or-nothing: every input is parsed and validated before the store is touched, and if a later
run of the same call fails while streaming, the runs this call already committed are removed.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from planner import __version__
from planner.errors import InputError, RunExistsError, StoreError
from planner.ingest import ParsedRun, parse_paths
from planner.ingest.base import merge_runs
from planner.ingest.secrets import TEXT_SUFFIXES, redact
from planner.schema import ORIGINS, RUN_FIELDS, SCHEMA_VERSION
from planner.store import RunRecord, RunScan, RunStore, TableWrite, input_sha256, run_id_for, utc_now

# Metadata a user may set on the command line (``--instance-type`` ...), overriding the parser.
USER_FIELDS = ("endpoint", "variant", "instance_type", "instance_count", "memory_mb", "max_concurrency",
               "provisioned_concurrency", "model", "framework")


@dataclass(frozen=True)
class IngestOutcome:
    """What happened to one run: ``added``, ``present`` (same bytes ingested before), ``skipped``
    (a file inside a directory that is no format planner reads; ``reason`` says what it was),
    ``reparsed``, or ``unreadable`` (not reparsed: its manifest cannot be read; ``reason`` says why)."""

    run_id: str
    status: str
    source: str
    format: str
    inputs: tuple[str, ...]
    tables: Mapping[str, int] = field(default_factory=dict)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"run_id": self.run_id, "status": self.status, "source": self.source, "format": self.format,
               "inputs": list(self.inputs), "tables": dict(self.tables)}
        return {**out, "reason": self.reason} if self.reason else out


def ingest(store: RunStore, paths: Iterable[Path], *, fmt: str = "auto", meta: Mapping[str, Any] | None = None,
           labels: Mapping[str, str] | None = None, origin: str = "measured", source_ref: str | None = None,
           on_run: Callable[[IngestOutcome], None] | None = None, recursive: bool = False) -> list[IngestOutcome]:
    """Parse ``paths`` and commit one run per parsed run; return what happened to each.

    ``meta`` holds user-given run fields (see :data:`USER_FIELDS`); ``labels`` free key=value
    pairs; ``origin`` is measured | emulated | published; ``recursive``: a directory's directories too.
    """
    if origin not in ORIGINS:
        raise InputError("--origin", "value", " | ".join(ORIGINS), repr(origin))
    overrides = {k: v for k, v in (meta or {}).items() if v is not None}
    unknown = sorted(set(overrides) - set(USER_FIELDS))
    if unknown:
        raise InputError("--meta", "field", "one of " + ", ".join(USER_FIELDS), ", ".join(unknown))
    skipped: list[tuple[Path, str]] = []
    parsed = parse_paths([Path(p) for p in paths], fmt, skipped, recursive=recursive)
    if not parsed:
        raise InputError(", ".join(str(p) for p in paths), "content", "at least one file in a format planner reads",
                         "none (" + "; ".join(f"{p.name}: {why}" for p, why in skipped) + ")")
    for run in parsed:  # before anything is written
        _settle_measured(run, overrides)
    store.create()
    outcomes: list[IngestOutcome] = []
    committed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="planner-redacted-") as tmp:
        kept = _kept_inputs({p for run in parsed for p in run.inputs}, Path(tmp))
        try:
            for run in parsed:
                options = {"fmt": fmt, "overrides": overrides, "labels": dict(labels or {}), "origin": origin,
                           "source_ref": source_ref}
                outcome = _commit(store, run, kept, options)
                if outcome.status == "added":
                    committed.append(outcome.run_id)
                outcomes.append(outcome)
                if on_run:
                    on_run(outcome)
        except BaseException:
            for run_id in committed:
                store.remove(run_id)
            raise
    return outcomes + [IngestOutcome("", "skipped", "", "", (p.name,), reason=why) for p, why in skipped]


@dataclass(frozen=True)
class KeptInput:
    """What the collection keeps of one input: the file whose bytes it copies (the input itself, or a
    copy with its secret values replaced, :func:`planner.ingest.secrets.redact`), their SHA-256 and
    how many secret values were replaced."""

    path: Path
    sha256: str
    secrets_redacted: int = 0


def _kept_inputs(paths: Iterable[Path], tmp: Path) -> dict[Path, KeptInput]:
    """Each input's :class:`KeptInput` (redacted copies written under ``tmp``, one folder per input)."""
    kept = {}
    for i, path in enumerate(sorted(paths)):
        data, count = redact(path.read_bytes(), path.name) if path.name.lower().endswith(TEXT_SUFFIXES) else (b"", 0)
        copy = path
        if count:
            (tmp / str(i)).mkdir()
            copy = tmp / str(i) / path.name
            copy.write_bytes(data)
        kept[path] = KeptInput(copy, input_sha256(copy), count)
    return kept


def ingest_together(store: RunStore, runs: Sequence[ParsedRun], *, meta: Mapping[str, Any] | None = None,
                    labels: Mapping[str, str] | None = None, origin: str = "measured",
                    source_ref: str | None = None) -> IngestOutcome:
    """Commit runs parsed from different sources of one test (the first is the base, e.g. Locust,
    then its CloudWatch pages) as ONE run; the parse record lists ``merged_sources`` so that
    :func:`reparse` merges them again."""
    if origin not in ORIGINS:
        raise InputError("--origin", "value", " | ".join(ORIGINS), repr(origin))
    merged = runs[0]
    for extra in runs[1:]:
        merged = merge_runs(merged, extra)
    store.create()
    options = {"fmt": "auto", "overrides": {k: v for k, v in (meta or {}).items() if v is not None},
               "labels": dict(labels or {}), "origin": origin, "source_ref": source_ref,
               "merged_sources": [r.source for r in runs]}
    with tempfile.TemporaryDirectory(prefix="planner-redacted-") as tmp:
        return _commit(store, merged, _kept_inputs(merged.inputs, Path(tmp)), options)


def _run_fields(run: ParsedRun, options: Mapping[str, Any], kept: Mapping[Path, KeptInput]) -> dict[str, Any]:
    fields: dict[str, Any] = {k: None for k in RUN_FIELDS}
    fields.update({k: v for k, v in run.meta.items() if k in RUN_FIELDS})
    _settle_measured(run, options["overrides"])
    fields.update(options["overrides"])
    fields.update(
        source=run.source, format=run.format,
        # A parser that recognises a known public file says so; an explicit --origin still wins.
        origin=run.meta.get("origin") if options["origin"] == "measured" and run.meta.get("origin") else options["origin"],
        source_ref=options["source_ref"] or run.meta.get("source_ref"),
        labels={**dict(run.meta.get("labels") or {}), **options["labels"]},
        # The same dict the parser holds: a streaming parser may still fill it while the store
        # consumes its tables; the store serialises the manifest only after that.
        notes=run.notes,
        inputs=[_input_entry(p.name, kept[p]) for p in run.inputs],
        ingested_at=utc_now(), schema_version=SCHEMA_VERSION,
    )
    for key in ("started_at", "ended_at"):
        if fields.get(key) is not None:
            fields[key] = str(fields[key])
    return fields


def _input_entry(name: str, kept: KeptInput) -> dict[str, Any]:
    """One ``inputs`` entry of a run's manifest: name, SHA-256 and size of the kept bytes, and how many
    secret values were replaced in them (only when some were)."""
    entry = {"name": name, "sha256": kept.sha256, "bytes": kept.path.stat().st_size}
    return {**entry, "secrets_redacted": kept.secrets_redacted} if kept.secrets_redacted else entry


def _settle_measured(run: ParsedRun, overrides: Mapping[str, Any]) -> None:
    """A field given at ingest that the input measured (``notes["measured_fields"]``: {field: {value,
    file, where, found}}) must agree with it (InputError naming both); one the input could only assume
    (``notes["assumed_fields"]``: {field: why}) is no longer assumed. Merged sources' notes too."""
    for notes in [run.notes, *(v for v in run.notes.values() if isinstance(v, dict))]:
        for name, fact in (notes.get("measured_fields") or {}).items():
            given = overrides.get(name)
            if given is not None and given != fact["value"]:
                path = next((p for p in run.inputs if p.name == fact["file"]), fact["file"])
                raise InputError(path, fact["where"], f"{name} {given} as given at ingest", fact["found"])
        assumed = notes.get("assumed_fields") or {}
        for name in [n for n in assumed if overrides.get(n) is not None]:
            del assumed[name]
        if "assumed_fields" in notes and not assumed and isinstance(notes, MutableMapping):  # parsers' are dicts
            del notes["assumed_fields"]


def _tables(run: ParsedRun) -> list[TableWrite]:
    return [TableWrite(name, src if not callable(src) else src()) for name, src in run.tables.items()]


def _commit(store: RunStore, run: ParsedRun, kept: Mapping[Path, KeptInput], options: Mapping[str, Any]) -> IngestOutcome:
    run_id = run_id_for((kept[p].sha256 for p in run.inputs), run.key)
    names = tuple(p.name for p in run.inputs)
    if store.has_run(run_id):
        return IngestOutcome(run_id, "present", run.source, run.format, names)
    fields = _run_fields(run, options, kept)
    parse = {**options, "key": run.key, "parser_version": __version__}
    try:
        record = store.commit(run_id, fields, _tables(run), parse, [(kept[p].path, kept[p].sha256) for p in run.inputs])
    except RunExistsError:
        return IngestOutcome(run_id, "present", run.source, run.format, names)
    return IngestOutcome(run_id, "added", run.source, run.format, names,
                         {k: v["rows"] for k, v in record.tables.items()})


def reparse(store: RunStore, run_ids: Iterable[str] | None = None) -> list[IngestOutcome]:
    """Rebuild runs' derived tables from their kept raw inputs with the current parsers.

    Each run swaps to its new tables atomically; user metadata, labels and origin are kept. By
    default every run: one whose manifest cannot be read is reported ``unreadable`` (with the reason).
    """
    scan = store.scan() if run_ids is None else RunScan(tuple(store.get(r) for r in run_ids), ())
    outcomes = [IngestOutcome(b.run_id, "unreadable", "", "", (), reason=b.reason) for b in scan.broken]
    for rec in scan.records:
        inputs = rec.run.get("inputs") or []
        with tempfile.TemporaryDirectory(prefix="planner-reparse-") as tmp:
            paths = []
            for item in inputs:
                path = Path(tmp) / item["name"]
                path.write_bytes(store.read_raw(item["sha256"]))
                paths.append(path)
            kept = {p: KeptInput(p, item["sha256"], item.get("secrets_redacted", 0))
                    for p, item in zip(paths, inputs, strict=True)}
            matches = [r for r in _parse_again(paths, rec.parse)
                       if set(r.inputs) == set(paths) and r.key == rec.parse.get("key", "")]
            if len(matches) != 1:
                raise StoreError(f"{store.root}: run {rec.run_id}: its raw inputs no longer parse into one run "
                                 f"(found {len(matches)})")
            run = matches[0]
            fields = _run_fields(run, rec.parse, kept)
            fields["ingested_at"] = rec.run.get("ingested_at")
            fields["reparsed_at"] = utc_now()
            new = store.replace_tables(rec.run_id, fields, _tables(run), {**rec.parse, "parser_version": __version__})
        outcomes.append(IngestOutcome(rec.run_id, "reparsed", run.source, run.format, tuple(p.name for p in paths),
                                      {k: v["rows"] for k, v in new.tables.items()}))
    return outcomes


def _parse_again(paths: list[Path], parse: Mapping[str, Any]) -> list[ParsedRun]:
    """The runs ``paths`` parse into now; a run merged from several sources is merged again."""
    runs = parse_paths(paths, parse.get("fmt", "auto"))
    sources = parse.get("merged_sources") or []
    if len(sources) < 2:
        return runs
    by_source = {r.source: r for r in runs}
    if sorted(by_source) != sorted(sources) or len(runs) != len(sources):
        return []
    merged = by_source[sources[0]]
    for source in sources[1:]:
        merged = merge_runs(merged, by_source[source])
    return [merged]


# ------------------------------------------------------------------------------------ run summary

@dataclass(frozen=True)
class RunSummary:
    """A run as a whole: requests and failures (``totals_from``: the table they come from; None when the
    source counts no requests, e.g. Inference Recommender), the fraction failed, its span in seconds
    (first to last timestamp in the data), and its load levels: how many, and the range of users
    (Locust users, points' concurrency, LLM closed-loop concurrency) or of the rate (CloudWatch periods,
    points' request rate, LLM offered rates other than ``inf``)."""

    run_id: str
    request_count: int | None
    failure_count: int | None
    failure_rate: float | None
    duration_s: float | None
    load_levels: int
    load_users_min: float | None
    load_users_max: float | None
    load_rate_min_rps: float | None
    load_rate_max_rps: float | None
    totals_from: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_summary(store: RunStore, record: RunRecord) -> RunSummary:
    """Totals, duration and load levels of one committed run, from its own tables (a Locust history,
    ready-made points, CloudWatch metrics or LLM load levels, in that order of preference). Requests and failures come
    from whichever of Locust's final totals and the history's counters (summed over counter resets)
    counts more: the history misses the last seconds, the totals a restarted master's earlier part."""
    tables = record.tables
    read = {name: store.table(name, [record.run_id]) for name in ("history", "requests", "points", "metrics",
                                                                    "llm_steps") if name in tables}
    totals: list[tuple[float, float | None, str]] = []  # (requests, failures, table); the first of equal counts wins
    users = rates = pd.Series(dtype="float64")
    levels = 0
    if "requests" in read:
        total = read["requests"][read["requests"]["is_aggregate"].fillna(False).astype(bool)]
        if len(total):
            totals.append((float(total["request_count"].iloc[0]), float(total["failure_count"].fillna(0).iloc[0]),
                           "requests"))
    if "history" in read:
        rows = read["history"]
        rows = rows[rows["is_aggregate"].fillna(False).astype(bool)].sort_values("row")
        count = rows["total_request_count"].astype("float64").dropna()
        segment = (count.diff() < 0).cumsum()
        fails = rows["total_failure_count"].astype("float64").reindex(count.index).fillna(0)
        totals.append((count.groupby(segment).last().sum(), fails.groupby(segment).last().sum(), "history"))
        users = rows["user_count"].astype("float64")
        users = users[users > 0]
        levels = users.nunique()
    if "points" in read and not levels:
        points = read["points"]
        users = points["concurrency"].astype("float64").dropna()
        if "request_rate_rps" in points:
            rates = points["request_rate_rps"].astype("float64").dropna()
        levels = len(points)
        if "request_count" in points:
            n = points["request_count"].astype("float64")
            rate = points["error_rate"].astype("float64") if "error_rate" in points else pd.Series(0.0, n.index)
            totals.append((n.sum(), (n * rate).fillna(0).round().sum(), "points"))
    if "metrics" in read and not levels:
        metrics = read["metrics"]
        sagemaker = metrics[metrics["namespace"] == "AWS/SageMaker"]
        summed = sagemaker[sagemaker["statistic"] == "Sum"].groupby(["metric_name", "timestamp"])["value"].sum()
        invocations = summed.get("Invocations", pd.Series(dtype="float64"))
        period_s = sagemaker.groupby("timestamp")["period_s"].max().reindex(invocations.index).astype("float64")
        rates = (invocations / period_s).dropna()
        levels = len(rates)
        if len(invocations):
            errors = sum(float(summed.get(m, pd.Series(dtype="float64")).sum())
                         for m in ("Invocation4XXErrors", "Invocation5XXErrors"))
            totals.append((float(invocations.sum()), errors, "metrics"))
    if "llm_steps" in read and not levels:
        llm = read["llm_steps"]
        closed = llm["load_kind"] == "concurrency"
        users = llm.loc[closed, "concurrency"].astype("float64").dropna()
        rates = llm.loc[~closed, "request_rate_rps"].astype("float64")
        rates = rates[rates.map(math.isfinite)]  # inf: every request sent at once, no rate
        levels = len(llm)
        failed = llm["failure_count"].astype("float64")  # null where the tool does not count failures
        totals.append((float(llm["request_count"].astype("float64").fillna(0).sum()),
                       float(failed.fillna(0).sum()) if failed.notna().any() else None, "llm_steps"))
    if "recommender" in tables and not levels:
        levels = tables["recommender"]["rows"]
    requests, failures, source = max(totals, key=lambda t: t[0]) if totals else (None, None, None)
    return RunSummary(
        run_id=record.run_id, request_count=None if requests is None else int(requests),
        failure_count=None if failures is None else int(failures),
        failure_rate=failures / requests if requests and failures is not None else None,
        duration_s=_span_s(record.run),
        load_levels=int(levels), load_users_min=_end(users, "min"), load_users_max=_end(users, "max"),
        load_rate_min_rps=_end(rates, "min"), load_rate_max_rps=_end(rates, "max"), totals_from=source)


def _span_s(run: Mapping[str, Any]) -> float | None:
    if not run.get("started_at") or not run.get("ended_at"):
        return None
    span = (pd.Timestamp(run["ended_at"]) - pd.Timestamp(run["started_at"])).total_seconds()
    return span if math.isfinite(span) else None


def _end(values: pd.Series, which: str) -> float | None:
    return float(getattr(values, which)()) if len(values) else None
