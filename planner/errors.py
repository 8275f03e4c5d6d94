"""One exception tree for the whole library, rooted in :class:`PlannerError`.

The library raises these and never prints or exits; the CLI maps them to one line on
stderr and exit code 1.
"""

from __future__ import annotations


class PlannerError(Exception):
    """Root of every error planner raises on purpose."""


class InputError(PlannerError):
    """An input file is not what it claims to be.

    The message is one line: ``FILE: WHERE: expected EXPECTED, found FOUND``.
    """

    def __init__(self, path: object, where: str, expected: str, found: str) -> None:
        self.path = str(path)
        self.where = where
        self.expected = expected
        self.found = found
        super().__init__(f"{self.path}: {where}: expected {expected}, found {found}")


class SchemaError(PlannerError):
    """A table does not match the canonical schema (a bug or an incompatible store)."""


class StoreError(PlannerError):
    """The run collection cannot be opened, read or written."""


class RunExistsError(StoreError):
    """The same input bytes were ingested before; carries the existing run id."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id} already present (same input bytes)")


class FitError(PlannerError):
    """A model cannot be fitted to the data it was given."""


class InfeasibleError(PlannerError):
    """No configuration meets the target; carries what comes closest."""

    def __init__(self, message: str, closest: object = None) -> None:
        self.closest = closest
        super().__init__(message)


class PriceError(PlannerError):
    """A price is missing from the catalog or the Pricing API answer is unusable."""


class PlannerWarning(UserWarning):
    """Root of planner's warnings."""


class ExtrapolationWarning(PlannerWarning):
    """A prediction lies outside the measured range."""
