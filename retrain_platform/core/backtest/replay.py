"""The backtest end to end: read the source, featurize it once, fit what is needed, replay.

1. the source is read, typed and validated once (`source.prepare_source`) and the contract's
   feature view computed over it once (`history.build_history`);
2. the models the fixed schedules and the oracle need are known in advance: they are queued on
   worker processes (`fitting.FitPool`, one thread each), fitted in step order and scored on
   every later partition; a contract policy's retrains are looked up there, or fitted when
   first needed;
3. meanwhile the policies are replayed here, all of them a step at a time together
   (`loop.PolicyReplay`), each step waiting only for the models it needs; then the oracle's
   frontier is computed from the bank (`oracle.oracle_frontier`) and its schedule at each
   contract policy's fit count is replayed too, for the table.

Policies whose overrides change the window, the decision threshold or the drift sample get a
bank of their own; the others share one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.backtest.bank import Matrix, ModelBank
from retrain_platform.core.backtest.fitting import FitPool
from retrain_platform.core.backtest.history import ReplayHistory, build_history
from retrain_platform.core.backtest.loop import PolicyReplay
from retrain_platform.core.backtest.oracle import oracle_frontier
from retrain_platform.core.backtest.policies import (
    CONTRACT,
    EVERY,
    ORACLE,
    BacktestOptions,
    RetrainPolicy,
)
from retrain_platform.core.backtest.results import BacktestResult, PolicyResult, StepRecord
from retrain_platform.core.backtest.source import PreparedSource, prepare_source
from retrain_platform.core.datasets.window import window_spec
from retrain_platform.core.progress import ProgressCallback


@dataclass
class _Banks:
    """One bank per distinct (window, decision threshold, drift sample) setting."""

    history: ReplayHistory
    options: BacktestOptions
    matrix: Matrix

    def __post_init__(self) -> None:
        self.by_key: dict[tuple[object, ...], ModelBank] = {}

    def for_contract(self, contract: DatasetContract) -> ModelBank:
        spec = window_spec(contract)
        policy = contract.policy
        key = (spec, policy.decision_threshold, policy.drift_row_cap)
        if key not in self.by_key:
            self.by_key[key] = ModelBank(
                self.history, spec, self.options.training, contract, self.matrix
            )
        return self.by_key[key]


def first_fit_step(bank: ModelBank, options: BacktestOptions) -> int:
    """The step of the first fit: the given partition, else the first with a full window."""
    partitions = bank.history.partitions
    if options.first_fit is not None:
        if options.first_fit not in partitions:
            msg = f"first fit partition {options.first_fit} is not in the source"
            raise ValueError(msg)
        step = partitions.index(options.first_fit)
        if bank.window(step) is None:
            msg = f"no training window at {options.first_fit}: too few labelled partitions"
            raise ValueError(msg)
        return step
    for step in range(len(partitions) - 1):
        window = bank.window(step)
        if window is not None and len(window.partitions) >= bank.spec.partitions:
            return step
    msg = (
        f"the source has {len(partitions)} partition(s): a window of {bank.spec.partitions} "
        "labelled partitions leaves none to evaluate"
    )
    raise ValueError(msg)


def _schedule_steps(policy: RetrainPolicy, first: int, last: int) -> list[int]:
    if policy.kind == EVERY:
        return list(range(first, last, policy.every))
    if policy.kind == ORACLE:
        return list(range(first, last))
    return [first]


def schedule_result(
    bank: ModelBank, schedule: Sequence[int], first: int, label: str
) -> PolicyResult:
    """The steps of a fixed list of fit steps (no gate): who serves each partition, its scores."""
    result = PolicyResult(RetrainPolicy(ORACLE), label=label)
    fits = set(schedule)
    serving, version = first, 1
    for step in range(first + 1, len(bank.history.partitions)):
        roc_auc, accuracy = bank.score(serving, step)
        record = StepRecord(bank.history.partitions[step], version, roc_auc, accuracy)
        if step in fits:
            record.fit = record.promoted = True
            record.trigger, serving, version = ORACLE, step, version + 1
        result.steps.append(record)
    return result


def _replay_together(
    policies: Sequence[RetrainPolicy],
    banks: _Banks,
    contract: DatasetContract,
    first: int,
    options: BacktestOptions,
    progress: ProgressCallback | None,
) -> list[PolicyResult]:
    """Every policy but the oracle replayed step by step, all advancing together, each
    result's `seconds` the time spent on its own steps."""
    replays = []
    for policy in (p for p in policies if p.kind != ORACLE):
        variant = policy.contract_for(contract)
        bank = banks.for_contract(variant)
        replays.append(
            PolicyReplay(policy, bank, variant, first, gate=options.gate, progress=progress)
        )
    spent = [0.0] * len(replays)
    for step in range(first + 1, len(banks.history.partitions)):
        for i, replay in enumerate(replays):
            began = time.perf_counter()
            replay.advance(step)
            spent[i] += time.perf_counter() - began
    for replay, seconds in zip(replays, spent, strict=True):
        replay.result.seconds = seconds
    return [r.result for r in replays]


def run_backtest(
    source: Path | PreparedSource,
    contract: DatasetContract,
    policies: Sequence[RetrainPolicy],
    options: BacktestOptions | None = None,
    *,
    steps: ProgressCallback | None = None,
) -> BacktestResult:
    """Replay every policy over the source (module docstring); `steps` reports progress: files
    read, features computed, models fitted, then each policy's partitions."""
    started = time.perf_counter()
    options = options or BacktestOptions()
    prepared = (
        source
        if isinstance(source, PreparedSource)
        else prepare_source(source, contract, progress=steps)
    )
    history = build_history(prepared, contract, view=options.view, progress=steps)
    banks = _Banks(history, options, Matrix.of(history))
    base = banks.for_contract(contract)
    base.references = any(
        banks.for_contract(p.contract_for(contract)) is base for p in policies if p.kind == CONTRACT
    )
    first = first_fit_step(base, options)
    last = len(history.partitions) - 1
    workers = options.workers or os.cpu_count() or 1
    wanted = sorted({s for p in policies for s in _schedule_steps(p, first, last)})
    with FitPool(base, workers, steps) as pool:
        pool.queue(wanted)
        results = _replay_together(policies, banks, contract, first, options, steps)
    frontier: dict[int, float] = {}
    if any(p.kind == ORACLE for p in policies):
        most = max((r.fits for r in results), default=1)
        frontier_fits = options.oracle_max_fits or max(most, 2)
        oracle = oracle_frontier(base, first, last, options.metric, frontier_fits)
        frontier = oracle.means
        shown: set[tuple[int, ...]] = set()
        for fits in sorted({r.fits for r in results if r.policy.kind == CONTRACT} or {most}):
            if fits in oracle.schedules and oracle.schedules[fits] not in shown:
                shown.add(oracle.schedules[fits])
                label = f"oracle<={fits}"
                results.append(schedule_result(base, oracle.schedules[fits], first, label))
    evaluated = history.partitions[first + 1 :]
    spec = base.spec
    return BacktestResult(
        dataset=contract.dataset,
        partitions=evaluated,
        policies=results,
        frontier=frontier,
        metric=options.metric,
        floor=contract.policy.min_roc_auc,
        alpha_max=options.alpha_max,
        onsets=tuple(o for o in options.onsets if o in evaluated),
        window=f"{spec.kind} {spec.partitions} ({spec.validation} validation, "
        f"{spec.holdout} holdout)",
        seconds=time.perf_counter() - started,
        fitted_models=sum(len(b.fitted) for b in banks.by_key.values()),
        fit_seconds=sum(f.seconds for b in banks.by_key.values() for f in b.fitted.values()),
    )
