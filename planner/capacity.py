"""Per-configuration curves over a collection's steps: group, fit, measure, and size at an SLA.

A *configuration* is what a capacity answer is about: an instance type running a model with a
framework (and, for serverless, a memory size) in one setup: runs whose user labels (``--label
key=value``) differ are different setups, so different configurations. Runs of the same
configuration are pooled on a per-instance basis (throughput and concurrency divided by the run's
instance count).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner.errors import FitError, InputError
from planner.fit import CapacityEstimate, LatencyModel, LatencySummary
from planner.schema import CONFIG_FIELDS
from planner.steps import MIN_LOAD_LEVELS
from planner.usl import USLFit, USLSummary

if TYPE_CHECKING:
    from planner.fit_cache import FitCache
    from planner.steps import StepRules
    from planner.store import RunStore

# Steps not trusted for fitting unless asked: too short to be steady, with errors, or measured
# while the load generator itself was saturated.
DEFAULT_EXCLUDE = ("too_short", "errors", "generator_saturated")
# Fraction of the highest measured throughput from which a closed-loop staircase is at its knee.
KNEE_FRACTION = 0.95
KEY_FIELDS = tuple(f for f in CONFIG_FIELDS if f != "instance_count")  # fits are per instance
ALL_FAILED = "every request failed"  # the note of a configuration whose steps all have error rate 1
# Labels planner itself writes on the runs it collects (planner/collect/load.py run_labels,
# collect/sagemaker.py, collect/sweep.py; a ``*`` ends a prefix: EndpointSettings.labels): they tell how a
# run was made (target URL, shape, stop reason, saturated generator levels, the emulator's settings),
# not the setup measured, so runs differing only in them stay one configuration. Every other label
# is a user's ``--label`` and sets a configuration apart.
RUN_LABELS = ("target_url", "shape", "stop_reason", "collector", "arrivals", "locust_processes",
              "locust_remote_workers", "generator_saturated_users", "endpoint_config", "aws_region", "sweep",
              "serve_local_*")


@dataclass(frozen=True)
class Configuration:
    """What was measured: instance type, framework, model, endpoint, serverless memory (MB), and
    ``setup_labels``: the user labels telling its runs apart from runs of an otherwise identical
    configuration (sorted ``(key, value)`` pairs; value None where such a run has no such label)."""

    instance_type: str | None = None
    framework: str | None = None
    model: str | None = None
    endpoint: str | None = None
    memory_mb: float | None = None
    run_id: str | None = None  # only when nothing else tells this configuration apart
    setup_labels: tuple[tuple[str, str | None], ...] = ()

    @property
    def label(self) -> str:
        parts: list[str | None] = ([f"run {self.run_id[:8]} (unknown instance)"] if self.run_id else
                                   [self.instance_type or "unknown instance", self.framework,
                                    self.model or self.endpoint])
        if self.memory_mb:
            parts.append(f"{self.memory_mb:g} MB")
        if self.setup_labels:
            parts.append(", ".join(f"{k}={v}" if v is not None else f"no {k}" for k, v in self.setup_labels))
        return " / ".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in (*KEY_FIELDS, "run_id")}, "setup_labels": dict(self.setup_labels)}


@dataclass(frozen=True)
class RecommenderPoint:
    """SageMaker Inference Recommender's one point per instance type: where throughput first plateaus."""

    throughput_rps_per_instance: float
    model_latency_ms: float  # ModelLatency (a mean over the plateau's minutes, not a percentile)
    instance_count_tested: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class _FittedConfiguration:
    """What every fitted configuration has: its identity, its steps and what was noted fitting them.

    ``instance_counts``: the distinct instance counts its steps were measured on (a missing count
    counts as 1, as in the per-instance pooling); ``labels``: the ``key=value`` labels all its runs
    share (set by :func:`fit_store`, which reads them from the runs; empty otherwise);
    ``excluded_by_flag``: how many of its steps carry each excluding flag.
    """

    config: Configuration
    run_ids: tuple[str, ...]
    origin: str
    n_steps: int
    n_steps_used: int
    notes: tuple[str, ...]
    steps: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    instance_counts: tuple[int, ...] = ()
    labels: dict[str, Any] = field(default_factory=dict)
    excluded_by_flag: dict[str, int] = field(default_factory=dict)  # set by :func:`fit_collection_steps`

    def _identity_dict(self) -> dict[str, Any]:
        return {"config": {**self.config.to_dict(), "instance_counts": list(self.instance_counts),
                           "labels": dict(self.labels)},
                "label": self.config.label, "run_ids": list(self.run_ids), "origin": self.origin,
                "n_steps": self.n_steps, "n_steps_used": self.n_steps_used}


@dataclass(frozen=True, kw_only=True)
class CurveFit(_FittedConfiguration):
    """A configuration's steps fitted as curves: the latency model (``latency``, the fitted estimator
    itself, and its ``latency_summary``) and the USL throughput curve (``usl``, ``usl_model``), each
    None when the steps could not give it (the notes say why); ``plateau_rps``: the per-instance
    throughput plateau, when a knee was measured."""

    usl: USLSummary | None = None
    latency_summary: LatencySummary | None = None
    latency: LatencyModel | None = field(default=None, repr=False, compare=False)
    plateau_rps: float | None = None
    usl_model: USLFit | None = field(default=None, repr=False, compare=False)

    @property
    def fitted(self) -> bool:
        """Whether anything was fitted: a latency model or a USL fit."""
        return self.latency_summary is not None or self.usl is not None

    @property
    def saturation_rps(self) -> float:
        """Per-instance saturation throughput: the latency model's, never above a measured plateau.

        A closed-loop staircase at or below the worker count shows flat latency, so the queue fit
        alone can put saturation far above what the instance delivered; the plateau is evidence.
        """
        model = float(self.latency.queue_.saturation_rps) if self.latency is not None else math.inf
        return min(model, self.plateau_rps) if self.plateau_rps else model

    def capacity_at_sla(self, latency_target_ms: float, percentile: float | str,
                        max_utilization: float) -> CapacityEstimate:
        """The latency model's capacity at the SLA, capped at ``max_utilization`` × the saturation."""
        if self.latency is None:
            raise ValueError(f"{self.config.label}: no fitted latency model")
        cap = self.latency.capacity_at_sla(latency_target_ms, percentile, max_utilization)
        limit = max_utilization * self.saturation_rps
        if not cap.feasible or cap.capacity_rps <= limit:
            return cap
        return replace(cap, capacity_rps=limit, binding="throughput plateau",
                       capacity_rps_ci_lower=min(cap.capacity_rps_ci_lower or limit, limit),
                       capacity_rps_ci_upper=min(cap.capacity_rps_ci_upper or limit, limit),
                       saturation_rps=self.saturation_rps, extrapolated=limit > cap.max_measured_rps)

    @property
    def heldout_error(self) -> float | None:
        if self.latency_summary is None:
            return None
        value = self.latency_summary.heldout_error
        return None if value is None or not math.isfinite(value) else float(value)

    def to_dict(self, capacity: CapacityEstimate | None = None) -> dict[str, Any]:
        """The ``planner fit --json`` shape (keys documented in the README); ``capacity``: the capacity at
        the SLA ``planner fit`` was asked for (the fit itself knows no SLA)."""
        usl = None
        if self.usl is not None:
            u = self.usl.to_dict()
            usl = {k: u[k] for k in ("sigma", "kappa", "sigma_ci_lower", "sigma_ci_upper", "kappa_ci_lower",
                                     "kappa_ci_upper", "lambda_ci_lower", "lambda_ci_upper", "amdahl_ceiling_rps",
                                     "amdahl_ceiling_rps_ci_lower", "amdahl_ceiling_rps_ci_upper",
                                     "residual_std_error_rps", "interval", "sigma_se", "kappa_se", "lambda_se",
                                     "heldout_error", "heldout_points")}
            usl["lambda"] = u["lambda_rps"]
        return {
            **self._identity_dict(),
            "usl": usl,
            "peak_concurrency": self.usl.peak_concurrency if self.usl else None,
            "peak_throughput_rps": self.usl.peak_throughput_rps if self.usl else None,
            **{f"{name}_ci_{end}": getattr(self.usl, f"{name}_ci_{end}") if self.usl else None
               for name in ("peak_concurrency", "peak_throughput_rps") for end in ("lower", "upper")},
            "latency_model": self.latency_summary.to_dict() if self.latency_summary else None,
            "heldout_error": self.heldout_error,
            "capacity_at_sla_rps": capacity.capacity_rps if capacity else None,
            "capacity": capacity.to_dict() if capacity else None,
            "recommender": None,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, kw_only=True)
class RecommenderFit(_FittedConfiguration):
    """A configuration measured by SageMaker Inference Recommender: one point (its plateau), no curve."""

    recommender: RecommenderPoint

    @property
    def fitted(self) -> bool:
        """Always: the point is what was fitted."""
        return True

    def to_dict(self, capacity: CapacityEstimate | None = None) -> dict[str, Any]:
        """The ``planner fit --json`` shape: a curve fit's keys, the curve's null (no SLA capacity either)."""
        return {**self._identity_dict(), "usl": None, "peak_concurrency": None, "peak_throughput_rps": None,
                **{f"{name}_ci_{end}": None for name in ("peak_concurrency", "peak_throughput_rps")
                   for end in ("lower", "upper")},
                "latency_model": None, "heldout_error": None, "capacity_at_sla_rps": None, "capacity": None,
                "recommender": self.recommender.to_dict(), "notes": list(self.notes)}


ConfigurationFit = CurveFit | RecommenderFit
"""A fitted configuration: curves from its steps, or an Inference Recommender point."""


def curve_fits(fits: Iterable[ConfigurationFit]) -> list[CurveFit]:
    """The ``fits`` that are curve fits (not Inference Recommender points), in order."""
    return [f for f in fits if isinstance(f, CurveFit)]


def _config_of(row: pd.Series) -> Configuration:
    """The configuration of one step row; its ``setup_labels`` column (JSON text, see
    :func:`with_setup_labels`) when there."""
    def text(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else str(v)

    memory = row.get("memory_mb")
    memory = None if memory is None or pd.isna(memory) else float(memory)
    labels = row.get("setup_labels")
    setup = tuple(sorted(json.loads(labels).items())) if isinstance(labels, str) else ()
    config = Configuration(text(row.get("instance_type")), text(row.get("framework")), text(row.get("model")),
                           text(row.get("endpoint")), memory, setup_labels=setup)
    if not any(getattr(config, k) for k in KEY_FIELDS):
        config = Configuration(run_id=text(row.get("run_id")), setup_labels=setup)
    return config


def is_setup_label(key: str) -> bool:
    """Whether a run label sets a configuration apart: any label but :data:`RUN_LABELS`."""
    return not any(key.startswith(name[:-1]) if name.endswith("*") else key == name for name in RUN_LABELS)


def with_setup_labels(steps: pd.DataFrame, labels_of: Callable[[str], Mapping[str, Any]]) -> pd.DataFrame:
    """``steps`` with a ``setup_labels`` column (JSON text) for :func:`configurations` to split on: per
    run (``labels_of(run_id)``: its labels), the setup labels (:func:`is_setup_label`) whose values
    differ between runs of an otherwise identical configuration (None where a run lacks one).

    Labels every such run shares split nothing, so they are left out: the configuration label names
    only what tells runs apart (``ml.g4dn.xlarge / resnet50 / variant=trt``).
    """
    if steps.empty:
        return steps
    setup = {run: {k: str(v) for k, v in (labels_of(run) or {}).items() if is_setup_label(k)}
             for run in steps["run_id"].astype(str).unique()}
    column = pd.Series("{}", index=steps.index, dtype=object)
    for _, group in steps.groupby(_base_keys(steps), sort=False):
        runs = group["run_id"].astype(str).unique()
        keys = sorted(set().union(*(setup[r] for r in runs)))
        varying = [k for k in keys if len({setup[r].get(k) for r in runs}) > 1]
        text = {r: json.dumps({k: setup[r].get(k) for k in varying}, sort_keys=True) for r in runs}
        column[group.index] = group["run_id"].astype(str).map(text)
    return steps.assign(setup_labels=column)


def _base_keys(steps: pd.DataFrame) -> pd.Series:
    """Per step row, its configuration key without setup labels."""
    frame = steps.drop(columns="setup_labels", errors="ignore")
    keys = frame.apply(lambda r: json.dumps(_config_of(r).to_dict(), sort_keys=True, default=str), axis=1)
    if "source" in frame and (frame["source"] == "recommender").any():  # IR rows carry their own instance types
        keys = keys + frame["source"].astype(str)
    return keys


def _origin(values: Sequence[str]) -> str:
    found = sorted({v for v in values if v})
    return found[0] if len(found) == 1 else "mixed (" + ", ".join(found) + ")"


def _instance_counts(steps: pd.DataFrame) -> tuple[int, ...]:
    """Distinct instance counts of ``steps`` (missing = 1, as :func:`_per_instance` assumes)."""
    raw = steps["instance_count"] if "instance_count" in steps else pd.Series(1, index=steps.index)
    count = pd.to_numeric(raw, errors="coerce").fillna(1).clip(lower=1)
    return tuple(sorted({int(c) for c in count}))


def _per_instance(steps: pd.DataFrame) -> pd.DataFrame:
    """Throughput and concurrency of one instance (runs on N instances divided by N)."""
    raw = steps["instance_count"] if "instance_count" in steps else pd.Series(1.0, index=steps.index)
    count = pd.to_numeric(raw, errors="coerce").fillna(1).clip(lower=1).astype(float)
    out = steps.copy()
    out["throughput_rps"] = pd.to_numeric(steps["throughput_rps"], errors="coerce").astype(float) / count
    if "concurrency" in out:
        out["concurrency"] = pd.to_numeric(steps["concurrency"], errors="coerce").astype(float) / count
    return out


def flag_saturated(steps: pd.DataFrame) -> pd.Series:
    """Closed-loop steps past the knee: more concurrency than the first step that reached
    ``KNEE_FRACTION`` of the highest throughput. Their throughput is the plateau and their latency
    is ``N/X − Z`` (waiting at the client), not a point on the latency-vs-offered-load curve: the
    queueing model fits them at their user count (they pin ``c/S``), the monotone curve skips them.
    Open-loop steps (``arrivals`` = open) are never past a knee in this sense."""
    if "concurrency" not in steps or steps["concurrency"].isna().all():
        return pd.Series(False, index=steps.index)
    if "arrivals" in steps:
        closed = steps["arrivals"].astype(str) == "closed"
        flagged = pd.Series(False, index=steps.index)
        if closed.any():
            flagged[closed] = flag_saturated(steps[closed].drop(columns="arrivals"))
        return flagged
    ordered = steps.sort_values("concurrency")
    reached = ordered["throughput_rps"] >= KNEE_FRACTION * ordered["throughput_rps"].max()
    knee = ordered.loc[reached, "concurrency"].min()
    return (steps["concurrency"] > knee).fillna(False)


def _load_levels(steps: pd.DataFrame) -> int:
    """Distinct load levels: user counts of closed-loop steps, throughputs of the others."""
    load = steps["throughput_rps"]
    if "arrivals" in steps and "concurrency" in steps:
        load = steps["concurrency"].where(steps["arrivals"].astype(str) == "closed", load)
    return int(load.nunique())


def fit_configuration(steps: pd.DataFrame, *, exclude: Sequence[str] = DEFAULT_EXCLUDE,
                      bootstrap_resamples: int = 200, seed: int = 0, with_usl: bool = True,
                      latency_only_with_instance_type: bool = False) -> ConfigurationFit:
    """Fit one configuration's steps (all rows share a :class:`Configuration`).

    ``with_usl=False`` skips the throughput-vs-concurrency fit and
    ``latency_only_with_instance_type=True`` the latency model of configurations that name no
    instance type: sizing needs neither, and both cost seconds of bootstrap.
    """
    config = _config_of(steps.iloc[0])
    notes: list[str] = []
    origin = _origin(steps["origin"].dropna().astype(str).tolist() if "origin" in steps else [])
    run_ids = tuple(sorted(steps["run_id"].astype(str).unique()))
    if "source" in steps and (steps["source"] == "recommender").all():
        return replace(_recommender_fit(steps, config, run_ids, origin), instance_counts=_instance_counts(steps))
    data = _per_instance(steps)
    flagged = np.zeros(len(data), dtype=bool)
    for flag in exclude:
        if flag in data:
            flagged |= data[flag].fillna(False).astype(bool).to_numpy()
    used = data[~flagged & data["throughput_rps"].notna().to_numpy()].copy()
    used["saturated"] = flag_saturated(used)
    errors = pd.to_numeric(data.get("error_rate", pd.Series(dtype=float)), errors="coerce").dropna()
    if len(errors) and (errors >= 1).all():
        notes.append(ALL_FAILED)
    if flagged.any():
        notes.append(f"{int(flagged.sum())} of {len(data)} steps excluded as " + ", ".join(
            f"{f} ({int(data[f].fillna(False).astype(bool).sum())})" for f in exclude
            if f in data and data[f].fillna(False).astype(bool).any()))
    usl = usl_fit = None
    if not with_usl:
        pass
    elif "concurrency" in used and used["concurrency"].notna().sum() >= 4:
        try:
            usl_fit = USLFit().fit(used["concurrency"].dropna(), used.loc[used["concurrency"].notna(), "throughput_rps"])
            usl = usl_fit.bootstrap(n_resamples=bootstrap_resamples, seed=seed).summary()
        except FitError as exc:
            usl_fit = None
            notes.append(f"USL not fitted: {exc}")
    else:
        notes.append("USL not fitted: fewer than 4 steady steps with a concurrency")
    latency = summary = None
    has_latency = any(c == "latency_mean_ms" or c.startswith("latency_p") for c in used.columns
                      if used[c].notna().any())
    if latency_only_with_instance_type and not config.instance_type:
        notes.append("latency model not fitted: no instance type to size")
    elif has_latency and _load_levels(used) >= MIN_LOAD_LEVELS:
        try:
            if used["saturated"].any():
                notes.append(f"{int(used['saturated'].sum())} closed-loop steps past the throughput knee: fitted at "
                             "their user count (they pin the saturation c/S), not by the monotone curve")
            latency = LatencyModel().fit(used).bootstrap(n_resamples=bootstrap_resamples, seed=seed)
            summary = latency.summary()
        except (FitError, ValueError) as exc:  # ValueError: scipy refusing degenerate data
            latency = summary = None
            notes.append(f"latency model not fitted: {exc}")
    else:
        notes.append(f"latency model not fitted: fewer than {MIN_LOAD_LEVELS} steady load levels with latency")
    plateau = float(used["throughput_rps"].max()) if used["saturated"].any() else None
    return CurveFit(config=config, run_ids=run_ids, origin=origin, n_steps=len(steps), n_steps_used=len(used),
                    usl=usl, latency_summary=summary, notes=tuple(notes), latency=latency, steps=used,
                    plateau_rps=plateau, usl_model=usl_fit, instance_counts=_instance_counts(steps))


def _recommender_fit(steps: pd.DataFrame, config: Configuration, run_ids: tuple[str, ...],
                     origin: str) -> ConfigurationFit:
    """Inference Recommender gives one point per instance type (its plateau), not a curve; a configuration
    whose benchmarks all failed without metrics has none, and is returned unfitted with the reason."""
    count = pd.to_numeric(steps["instance_count"], errors="coerce").fillna(1).clip(lower=1)
    per_instance = (pd.to_numeric(steps["throughput_rps"], errors="coerce") / count).astype(float)
    if not np.isfinite(per_instance.to_numpy()).any():
        return CurveFit(config=config, run_ids=run_ids, origin=origin, n_steps=len(steps), n_steps_used=0,
                        notes=(_no_recommender_point(steps),), steps=steps.iloc[:0])
    best = int(np.nanargmax(per_instance.to_numpy()))
    point = RecommenderPoint(throughput_rps_per_instance=float(per_instance.iloc[best]),
                             model_latency_ms=float(steps["latency_mean_ms"].iloc[best]),
                             instance_count_tested=int(count.iloc[best]))
    notes = ("Inference Recommender reports one point per instance type (where throughput first plateaus) "
             "and its ModelLatency is not a percentile: no curve, no held-out error",)
    return RecommenderFit(config=config, run_ids=run_ids, origin=origin, n_steps=len(steps),
                          n_steps_used=len(steps), recommender=point, notes=notes, steps=steps)


def _no_recommender_point(steps: pd.DataFrame) -> str:
    """Why Inference Recommender rows give no point: each failed benchmark's status and reason."""
    reasons = []
    for row in steps.itertuples():
        status = getattr(row, "status", None)
        reason = getattr(row, "failure_reason", None)
        text = f"benchmark {status if isinstance(status, str) else 'without status'}"
        reasons.append(f"{text}: {reason}" if isinstance(reason, str) and reason else text)
    return ("no Inference Recommender point (no MaxInvocations measured): "
            + "; ".join(dict.fromkeys(reasons)))


def configurations(steps: pd.DataFrame) -> list[tuple[Configuration, pd.DataFrame]]:
    """Split a collection's steps into configurations (stable order: by label); with a
    ``setup_labels`` column (:func:`with_setup_labels`), runs whose setup labels differ are split."""
    if steps.empty:
        return []
    keys = _base_keys(steps)
    if "setup_labels" in steps:
        keys = keys + steps["setup_labels"].astype(str)
    groups = [(_config_of(g.iloc[0]), g) for _, g in steps.groupby(keys, sort=False)]
    return sorted(groups, key=lambda cg: cg[0].label)


def select_configurations(groups: list[tuple[Configuration, pd.DataFrame]], wanted: Sequence[str],
                          source: object) -> list[tuple[Configuration, pd.DataFrame]]:
    """The ``groups`` (from :func:`configurations`) whose label contains one of ``wanted``
    (case-insensitive) or whose instance type equals it. Every one of ``wanted`` must match
    something, else :class:`InputError` naming ``source`` (the store) and the labels there are."""
    def matches(config: Configuration, text: str) -> bool:
        text = text.strip().lower()
        return text in config.label.lower() or text == (config.instance_type or "").lower()

    for text in wanted:
        if not any(matches(config, text) for config, _ in groups):
            labels = "; ".join(config.label for config, _ in groups) or "none (no steps)"
            raise InputError(source, "--config", f"part of a configuration label or an instance type ({labels})",
                             repr(text))
    return [(config, g) for config, g in groups if any(matches(config, text) for text in wanted)]


def fit_collection_steps(steps: pd.DataFrame, *, cache: FitCache | None = None,
                         **kwargs: Any) -> list[ConfigurationFit]:
    """Fit every configuration in ``steps``; see :func:`fit_configuration` for the options.

    With a ``cache``, a configuration whose steps and fitting options were fitted before is read
    back. A fit knows no SLA: one entry serves every question.
    """
    groups = [group for _, group in configurations(steps)]
    exclude = kwargs.get("exclude", DEFAULT_EXCLUDE)
    if cache is None:
        return [replace(fit_configuration(group, **kwargs), excluded_by_flag=flag_counts(group, exclude))
                for group in groups]
    fits = []
    for group, key in zip(groups, cache.keys(groups, kwargs), strict=True):
        found = cache.load(key)
        if found is None:
            found = fit_configuration(group, **kwargs)
            cache.save(key, found)
        fits.append(replace(found, excluded_by_flag=flag_counts(group, exclude)))
    return fits


def flag_counts(steps: pd.DataFrame, flags: Sequence[str] = DEFAULT_EXCLUDE) -> dict[str, int]:
    """How many of ``steps`` carry each of ``flags`` (0 for a flag they have no column for)."""
    return {f: int(steps[f].fillna(False).astype(bool).sum()) if f in steps else 0 for f in flags}


@dataclass(frozen=True)
class UnfittedConfiguration:
    """A configuration with neither a latency model, nor a USL fit, nor an Inference Recommender
    point: why (its fit's notes), its steps and how many of them each excluding flag removed."""

    label: str
    run_ids: tuple[str, ...]
    reason: str
    n_steps: int
    excluded_by_flag: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """One entry of ``planner fit --json`` ``unfitted`` (keys documented in the README)."""
        return {"label": self.label, "run_ids": list(self.run_ids), "reason": self.reason,
                "n_steps": self.n_steps, "excluded_by_flag": dict(self.excluded_by_flag)}


def unfitted_configurations(fits: Sequence[ConfigurationFit]) -> list[UnfittedConfiguration]:
    """The ``fits`` that fitted nothing (see :attr:`ConfigurationFit.fitted`), with their reasons."""
    return [UnfittedConfiguration(f.config.label, f.run_ids, "; ".join(f.notes) or "no steps to fit", f.n_steps,
                                  dict(f.excluded_by_flag)) for f in fits if not f.fitted]


def fit_store(store: RunStore, run_ids: Sequence[str] | None = None, *, for_sizing: bool = False, cache: FitCache | None = None,
              configs: Sequence[str] | None = None, rules: StepRules | None = None) -> list[ConfigurationFit]:
    """Fit every configuration of the runs in ``store`` (all runs by default; with ``configs``,
    only the configurations :func:`select_configurations` picks), with the labels its runs share;
    runs whose user labels differ are different configurations (:func:`with_setup_labels`).

    ``for_sizing`` skips the USL fit and keeps latency models only for configurations whose instance
    type is known: what the recommenders need, at a fraction of the cost. ``rules``: how steps are
    detected (default :class:`~planner.steps.StepRules`).
    """
    from planner.steps import StepRules, for_collection

    steps = for_collection(store, list(run_ids) if run_ids else None, rules=rules or StepRules(), cache=cache)
    steps = with_setup_labels(steps, lambda run: store.get(run).run.get("labels") or {})
    if configs:  # before fitting: the others' bootstrap costs seconds
        steps = pd.concat([g for _, g in select_configurations(configurations(steps), configs, store.root)])
    fits = fit_collection_steps(steps, cache=cache, with_usl=not for_sizing,
                                latency_only_with_instance_type=for_sizing)
    return [replace(f, labels=shared_labels(store, f.run_ids)) for f in fits]


def shared_labels(store: RunStore, run_ids: Sequence[str]) -> dict[str, Any]:
    """The ``key=value`` labels every one of ``run_ids`` carries (empty without runs)."""
    labels = [store.get(r).run.get("labels") or {} for r in run_ids]
    if not labels:
        return {}
    return {k: v for k, v in labels[0].items() if all(other.get(k) == v for other in labels[1:])}
