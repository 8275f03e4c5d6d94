"""Shared parts of the ``planner`` command: the app, consoles, options, argument parsers, progress.

Errors the library raises on purpose (:class:`PlannerError`) become one line on stderr and exit
code 1; usage errors exit 2. Every read command takes ``--json``.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from planner import __version__
from planner.errors import PlannerError, PlannerWarning

app = typer.Typer(help="Capacity planning and cost modelling for ML inference endpoints.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)

out = Console(soft_wrap=True, markup=False, highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)

StoreOpt = Annotated[str | None, typer.Option("--store", envvar="PLANNER_STORE", show_envvar=True,
                                              help="Run collection: a directory or s3://bucket/prefix "
                                                   "[default: ./planner-store]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (stable keys, see README) instead of tables.")]


def emit_json(data: Any) -> None:
    """Strict JSON on stdout: infinities and NaN (unbounded, undefined) become null (:mod:`planner.jsonable`)."""
    from planner.jsonable import dumps

    sys.stdout.write(dumps(data) + "\n")


def emit_result(result: Any, as_json: bool, show: Callable[[], None], why_infeasible: str) -> None:
    """Print a recommendation (``result.to_dict()`` as JSON, or ``show()``); when it is not ``feasible``,
    say ``why_infeasible`` on stderr (tables only) and exit with code 1."""
    if as_json:
        emit_json(result.to_dict())
    else:
        show()
    if not result.feasible:
        if not as_json:
            err.print(why_infeasible)
        raise typer.Exit(1)


def write_store(store: str | None):
    from planner.store import DEFAULT_STORE, RunStore

    return RunStore(store or DEFAULT_STORE)


def open_source(store: str | None):
    """The runs to read (:func:`planner.scenarios.open_runs`), saying on stderr when the bundled sample
    stands in for a missing ./planner-store."""
    from planner.scenarios.source import SAMPLE_STORE, open_runs

    source = open_runs(store)
    if source.fell_back:
        err.print(f"no ./planner-store: using the bundled sample collection ({SAMPLE_STORE})", style="dim")
    return source


def read_store(store: str | None):
    """The run collection to read (see :func:`open_source`)."""
    return open_source(store).store


def parse_labels(labels: list[str]) -> dict[str, str]:
    parsed = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, found {item!r}", param_hint="--label")
        parsed[key.strip()] = value.strip()
    return parsed


RegionOpt = Annotated[str, typer.Option(help="AWS region of the prices.")]
PriceFileOpt = Annotated[Path | None, typer.Option("--price-file", help="Prices to use instead (JSON catalog or "
                                                   "CSV instance_type,usd_per_hour), e.g. negotiated rates.")]
DiscountOpt = Annotated[float, typer.Option(min=0, max=0.99, help="Fraction off compute prices (Savings Plans...).")]


@dataclass(frozen=True)
class PriceArgs:
    """The price options a pricing command takes: ``--region``, ``--price-file``, ``--discount``."""

    region: str = "us-east-1"
    price_file: Path | None = None
    discount: float = 0.0

    def catalog(self):
        """The :class:`planner.catalog.PriceCatalog` they select (loaded when called)."""
        from planner.catalog import load_catalog

        return load_catalog(self.region, price_file=self.price_file, discount=self.discount)


def print_prices(result: Any) -> None:
    """The line under every priced table: which prices (``result.price_catalog``, a
    :class:`planner.catalog.PriceProvenance`) and how many hours a month (``result.hours_per_month``)."""
    out.print(f"Prices: {result.price_catalog.text}; months of {result.hours_per_month:g} h.", style="dim")


PriceArgsArg = Any  # a PriceArgs: the ``prices`` parameter :func:`price_options` fills

# The price options (parameter name, annotation, default): the same on every command that prices.
_PRICE_OPTIONS = (("region", RegionOpt, "us-east-1"), ("price_file", PriceFileOpt, None),
                  ("discount", DiscountOpt, 0.0))


def _option_group(parameter: str, options: tuple[tuple[str, Any, Any], ...], build):
    """A decorator giving a command the keyword ``options`` (name, annotation, default) in place of its
    ``parameter``, which receives ``build(**their values)``: one option set shared by every command."""
    def decorate(command):
        signature = inspect.signature(command, eval_str=True)
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
                 for name, annotation, default in options]

        @functools.wraps(command)
        def wrapped(*args, **kwargs):
            given = {name: kwargs.pop(name) for name, *_ in options}
            return command(*args, **{parameter: build(**given)}, **kwargs)

        wrapped.__signature__ = signature.replace(
            parameters=[*(p for p in signature.parameters.values() if p.name != parameter), *added])
        wrapped.__annotations__ = {p.name: p.annotation for p in wrapped.__signature__.parameters.values()}
        return wrapped

    return decorate


price_options = _option_group("prices", _PRICE_OPTIONS, PriceArgs)
price_options.__doc__ = """Give a command that prices ``--region``, ``--price-file`` and ``--discount`` as one ``prices``
argument (a :class:`PriceArgs`; ``prices.catalog()`` loads them)."""


def positive_arg(parse, text: str, option: str, what: str) -> float:
    """A positive quantity parsed by a :mod:`planner.units` parser, or a usage error naming ``option``."""
    from planner.units import UnitError

    try:
        value = parse(text)
    except UnitError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None
    if value <= 0:
        raise typer.BadParameter(f"expected a positive {what}, found {text!r}", param_hint=option)
    return value


def duration_ms_arg(text: str, option: str) -> float:
    from planner.units import parse_duration_ms

    return positive_arg(parse_duration_ms, text, option, "duration")


def count_arg(text: str, option: str) -> float:
    from planner.units import parse_count

    return positive_arg(parse_count, text, option, "number")


def bytes_arg(text: str, option: str) -> float:
    """A payload size in bytes (``512B``; ``40KB`` = 40,000; ``1KiB`` = 1,024), >= 0, or a usage error
    naming ``option``."""
    from planner.units import UnitError, parse_bytes

    try:
        value = parse_bytes(text)
    except UnitError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None
    if value < 0:
        raise typer.BadParameter(f"expected a number of bytes >= 0, found {text!r}", param_hint=option)
    return value


def percentile_arg(text: str) -> float:
    from planner.units import UnitError, parse_percentile

    try:
        return parse_percentile(text)
    except UnitError as exc:
        raise typer.BadParameter(str(exc), param_hint="--percentile") from None


# The step-rule options (name, option, StepRules field, type, default, help); the defaults are StepRules'.
_STEP_RULE_OPTIONS = (
    ("trim_s", "--trim-s", "trim_s", float, 2.0,
     "Seconds trimmed off the start of each load level (at least; 5 mean response times when longer)."),
    ("min_step_s", "--min-step-s", "min_duration_s", float, 5.0,
     "Seconds a step needs; shorter load levels (ramps, short holds) are merged into bins."),
    ("min_step_requests", "--min-step-requests", "min_requests", int, 200,
     "Requests a step needs; levels with fewer are merged into bins."),
)


StepRulesArg = Any  # a planner.steps.StepRules: the ``rules`` parameter :func:`step_rule_options` fills


def _step_rules(**given):
    from planner.steps import StepRules

    return StepRules(**{field: given[name] for name, _, field, *_ in _STEP_RULE_OPTIONS})


step_rule_options = _option_group(
    "rules", tuple((name, Annotated[kind, typer.Option(flag, min=0, help=text)], default)
                   for name, flag, _, kind, default, text in _STEP_RULE_OPTIONS), _step_rules)
step_rule_options.__doc__ = """Give a command that fits ``--trim-s``, ``--min-step-s`` and ``--min-step-requests`` as one
``rules`` argument (a :class:`planner.steps.StepRules`)."""


class progress:
    """A spinner/bar on stderr when it is a terminal; silent when piped."""

    def __init__(self, what: str, total: int | None) -> None:
        self.what, self.total = what, total
        self.progress = None

    def __enter__(self):
        if not sys.stderr.isatty():
            return lambda *a: None
        from rich.progress import Progress

        self.progress = Progress(console=err, transient=True)
        self.progress.start()
        task = self.progress.add_task(self.what, total=self.total)
        return lambda advance=1: self.progress.advance(task, advance)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()


def _version(value: bool) -> None:
    if value:
        out.print(f"planner {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Show the version and exit.")] = False) -> None:
    """planner: how much inference capacity you need, and what it costs."""


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
                  line: str | None = None, _default=warnings.showwarning) -> None:
    """planner's own warnings (e.g. a run skipped: its manifest is unreadable) as one line on stderr."""
    if issubclass(category, PlannerWarning):
        err.print(f"planner: warning: {message}")
    else:
        _default(message, category, filename, lineno, file, line)


def main() -> None:
    """Entry point: run the app, turning PlannerError into one line on stderr and exit code 1."""
    warnings.showwarning = _show_warning
    try:
        app()
    except PlannerError as exc:
        sys.stderr.write(f"planner: error: {exc}\n")
        sys.exit(1)


