"""The ``planner`` command: the only place that prints or exits.

Errors the library raises on purpose (:class:`PlannerError`) become one line on stderr and exit
code 1; usage errors exit 2. Every read command takes ``--json``. Each module registers its
commands on the one :data:`app`.
"""

from planner.cli import autoscale, collect, explore, export, llm, mme, prices, runs, serverless, sizing  # noqa: F401
from planner.cli.common import app, main

__all__ = ["app", "main"]
