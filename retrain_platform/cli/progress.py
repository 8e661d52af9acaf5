"""Progress bars for the long commands (demo, backtest, generate), drawn by `rich` on stderr.

The core and demo functions report `(what, done, total)` through a `ProgressCallback`; `Bars`
turns each `what` into one bar. Bars are drawn only when stderr is a terminal and the command
was not given `--no-progress`, so logs, pipes and tests get the plain output and no control codes.
While bars are drawn and stdout is the same terminal, lines printed to stdout appear above them.
"""

from __future__ import annotations

import argparse
import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """`--no-progress`: no progress bars even on a terminal."""
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="draw no progress bars (they are drawn on stderr only when it is a terminal)",
    )


class Bars:
    """One rich progress bar per piece of work reported; draws nothing when disabled."""

    def __init__(self, *, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.enabled,
            redirect_stdout=sys.stdout.isatty(),
            redirect_stderr=False,
        )
        self._tasks: dict[str, TaskID] = {}

    @classmethod
    def for_args(cls, args: argparse.Namespace) -> Bars:
        """Bars for a command run with `args` (off with `--no-progress`)."""
        return cls(enabled=not getattr(args, "no_progress", False))

    def __enter__(self) -> Bars:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.enabled:
            self._progress.stop()

    def __call__(self, what: str, done: int, total: int) -> None:
        """The `ProgressCallback`: advance the bar of `what` to `done` of `total`."""
        if not self.enabled:
            return
        if what not in self._tasks:
            self._tasks[what] = self._progress.add_task(what, total=total)
        self._progress.update(self._tasks[what], completed=done, total=total)
