"""Stop signals as an exception, so that a collection cleans up whichever signal ends it.

Python turns only SIGINT into an exception (KeyboardInterrupt); SIGTERM (what process managers,
``kill`` and container runtimes send) and SIGHUP (a closed terminal or SSH session) end the process
at once, skipping every ``finally``: Locust kept running and a sweep's endpoints kept billing.
Inside :func:`raising_on_stop_signals` the first of SIGINT, SIGTERM or SIGHUP raises
:class:`Interrupted` in the main thread, so :func:`planner.collect.load.run_locust` stops Locust's
process group and :func:`planner.collect.sweep.run_sweep` deletes what it created. Later stop
signals are ignored until the block ends, so that cleanup (which may wait minutes for an endpoint
still ``Creating``) is not cut short; SIGKILL remains the way to abandon it. A signal ignored when
the block starts (``nohup``) stays ignored.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from planner.errors import PlannerError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(PlannerError):
    """A stop signal ended the work; ``exit_code`` is the shell's convention, 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


@contextlib.contextmanager
def raising_on_stop_signals() -> Iterator[None]:
    """Within the block, raise :class:`Interrupted` on the first stop signal (see the module docstring).
    Does nothing outside the main thread, where Python cannot install signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if not raised:
            raised.append(signum)
            raise Interrupted(signum)

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig, before in previous.items():
        if before is not signal.SIG_IGN:
            signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, signal.SIG_DFL if before is None else before)
