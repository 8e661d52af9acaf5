"""The progress callback long work reports through: `(what, done, total)` after each unit.

Core and demo functions that run for minutes (a backtest, generating files, the demo's backfill
and days) take one as an optional argument and call it once per unit of work done: a partition,
a file, a day. `what` names the piece of work (a policy, "validate", "days"), `done` counts the
units finished so far out of `total`. Drawing is the caller's business (the command line draws
progress bars on a terminal); nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[str, int, int], None]


def report(progress: ProgressCallback | None, what: str, done: int, total: int) -> None:
    """Call `progress` when there is one."""
    if progress is not None:
        progress(what, done, total)
