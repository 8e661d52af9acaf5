"""A bank's models fitted in worker processes while the replay goes on.

Fixed schedules and the oracle say in advance which steps they fit; those steps are queued, in
step order and in chunks, on a pool of spawned worker processes (one LightGBM thread each), and
the bank fetches a queued step from the pool when a policy first needs it, waiting only if the
workers have not got there yet. The replay in this process thus runs beside the fitting instead
of after it.

The history is handed to the workers through a pickle file each worker loads when it starts,
not as a spawn argument: a spawn argument is written down a pipe the new process reads only
once it has imported its modules, which kept this process waiting seconds per worker.
"""

from __future__ import annotations

import multiprocessing
import pickle
import tempfile
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType

from retrain_platform.core.backtest.bank import Fitted, Matrix, ModelBank, fit_step
from retrain_platform.core.progress import ProgressCallback, report

FITTING = "fit models"
MAX_CHUNK = 16  # steps per task: small enough that the first models arrive early
_WORKER: dict[str, object] = {}


def _init_worker(path: str) -> None:
    with Path(path).open("rb") as file:
        history, spec, options, contract, references = pickle.load(file)  # noqa: S301
    _WORKER.update(
        history=history,
        matrix=Matrix.of(history),
        spec=spec,
        options=options,
        contract=contract,
        references=references,
    )


def _fit_in_worker(steps: tuple[int, ...]) -> list[Fitted]:
    return [fit_step(step=step, **_WORKER) for step in steps]  # type: ignore[arg-type]


class FitPool:
    """Worker processes fitting a bank's queued steps; the bank fetches them (`ModelBank.fetch`).

    Use as a context manager: leaving it waits for every queued fit and stores it in the bank
    (or, on an error, cancels what has not started) and stops the workers.
    """

    def __init__(
        self, bank: ModelBank, workers: int, progress: ProgressCallback | None = None
    ) -> None:
        self.bank, self.workers, self.progress = bank, max(1, workers), progress
        self._pending: dict[int, Future[list[Fitted]]] = {}
        self._queued = self._done = 0
        self._pool: ProcessPoolExecutor | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> FitPool:
        self.bank.fetch = self.fetch
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self.finish()
        finally:
            self.bank.fetch = None
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            if self._folder is not None:
                self._folder.cleanup()

    def queue(self, steps: Iterable[int]) -> None:
        """Queue the steps not fitted or queued yet; fit them here when there are too few to
        pay for starting workers (fewer than four per worker) or a single worker is asked."""
        todo = sorted(set(steps) - set(self.bank.fitted) - set(self._pending))
        if not todo:
            return
        if self._pool is None and (self.workers <= 1 or len(todo) < 4 * self.workers):
            for step in todo:
                self.bank.fit(step)
                self._count(1, len(todo))
            return
        pool = self._start()
        self._queued += len(todo)
        size = max(1, min(MAX_CHUNK, len(todo) // (self.workers * 8)))
        for start in range(0, len(todo), size):
            chunk = tuple(todo[start : start + size])
            future = pool.submit(_fit_in_worker, chunk)
            self._pending.update(dict.fromkeys(chunk, future))

    def fetch(self, step: int) -> bool:
        """Store the step's model in the bank when it is queued (waiting for it); False when
        it is not queued."""
        future = self._pending.get(step)
        if future is None:
            return False
        chunk = future.result()
        for fitted in chunk:
            self.bank.fitted[fitted.step] = fitted
            del self._pending[fitted.step]
        self._count(len(chunk), self._queued)
        return True

    def finish(self) -> None:
        """Wait for every queued step and store it in the bank."""
        while self._pending:
            self.fetch(min(self._pending))

    def _count(self, fitted: int, total: int) -> None:
        self._done += fitted
        report(self.progress, FITTING, self._done, max(total, self._done))

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._folder = tempfile.TemporaryDirectory(prefix="retrain-backtest-")
            path = Path(self._folder.name) / "history.pickle"
            bank = self.bank
            with path.open("wb") as file:
                state = (bank.history, bank.spec, bank.options, bank.contract, bank.references)
                pickle.dump(state, file)
            self._pool = ProcessPoolExecutor(
                self.workers,
                # spawn, not fork: polars' thread pool does not survive a fork
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(str(path),),
            )
        return self._pool


def prefit(
    bank: ModelBank, steps: Iterable[int], workers: int, progress: ProgressCallback | None
) -> None:
    """Fit `steps` not fitted yet, in `workers` processes, and wait for them all."""
    with FitPool(bank, workers, progress) as pool:
        pool.queue(steps)
