"""Calibration: the trigger settings that would have served the history best, for a cost alpha.

`calibrate` replays contract variants (the contract's policy with trigger keys overridden, as
`contract:key=value` policies) over the history and scores each by UPF's C_alpha = mean metric -
alpha x retrains per partition. Against overfitting the history, the evaluated partitions are
split in time: the search replays and scores the variants on the first `split` share only (on a
history cut there, so nothing later is even read), and the chosen variant is then reported on
the rest, beside the contract's current policy, `never`, the grain's fixed schedules and the
hindsight oracle with as many fits over the same partitions (its first fit at the report part's
start).

The search is coordinate descent (one key at a time, the others held at the best so far, two
passes) from the contract's own values over `SEARCH_GRID`, not the full product: a few dozen
replays. Every variant shares one model bank (the keys searched change when to retrain, not
what a retrain fits), so each step's model is fitted once, in parallel, before the search.
`calibrate_policy` holds the grid, renders the recommended `policy:` block and writes it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import Policy
from retrain_platform.core.backtest.bank import Matrix, ModelBank
from retrain_platform.core.backtest.calibrate_policy import checked_grid, default_grid, yaml_value
from retrain_platform.core.backtest.calibrate_results import Calibration, Score, score_of
from retrain_platform.core.backtest.fitting import prefit
from retrain_platform.core.backtest.history import ReplayHistory, build_history
from retrain_platform.core.backtest.loop import replay_policy
from retrain_platform.core.backtest.oracle import oracle_frontier
from retrain_platform.core.backtest.policies import (
    CONTRACT,
    DEFAULT_SCHEDULES,
    EVERY,
    NEVER,
    BacktestOptions,
    RetrainPolicy,
)
from retrain_platform.core.backtest.replay import first_fit_step, schedule_result
from retrain_platform.core.backtest.results import BacktestResult, PolicyResult
from retrain_platform.core.backtest.source import PreparedSource, prepare_source
from retrain_platform.core.datasets.window import window_spec
from retrain_platform.core.models.gate import GateVerdict
from retrain_platform.core.progress import ProgressCallback, report

SEARCHING = "search trigger settings"
REPORTING = "replay on the report part"
CALIBRATED, CURRENT = "calibrated", "contract"


# Policy keys the gate does not read (`models.gate`): variants that differ only in these get the
# same verdict for the same challenger and champion.
TRIGGER_ONLY = (
    "drift_psi_threshold",
    "drift_ks_threshold",
    "retrain_cooldown_hours",
    "max_model_age_days",
    "retrain_on_new_labelled_rows",
    "drift_worsening_factor",
    "drift_persistence",
)


@dataclass(eq=False)
class _GateSharingBank(ModelBank):
    """A bank whose gate verdicts are kept: most of a variant's replay time is the gate, and
    the variants of a search share most (challenger, champion) pairs."""

    verdicts: dict[tuple[object, ...], GateVerdict] = field(default_factory=dict)

    def gate(self, challenger: int, champion: int, contract: DatasetContract) -> GateVerdict:
        policy = contract.policy
        neutral = {k: getattr(Policy, k) for k in TRIGGER_ONLY if hasattr(Policy, k)}
        key = (challenger, champion, replace(policy, **neutral))
        if key not in self.verdicts:
            self.verdicts[key] = super().gate(challenger, champion, contract)
        return self.verdicts[key]


def _cut(bank: _GateSharingBank, last: int) -> _GateSharingBank:
    """The bank over the history up to step `last` only: the models fitted so far and the gate
    verdicts (a verdict reads the challenger's window, all before its step) shared."""
    history = replace(bank.history, partitions=bank.history.partitions[: last + 1])
    return _GateSharingBank(
        history,
        bank.spec,
        bank.options,
        bank.contract,
        Matrix.of(history),
        dict(bank.fitted),
        verdicts=bank.verdicts,
    )


def _variant(
    settings: dict[str, str], current: dict[str, str], contract: DatasetContract
) -> tuple[RetrainPolicy, DatasetContract]:
    overrides = tuple((k, v) for k, v in settings.items() if current[k] != v)
    policy = RetrainPolicy(CONTRACT, overrides=overrides)
    return policy, policy.contract_for(contract)


def _search(
    bank: ModelBank,
    contract: DatasetContract,
    grid: dict[str, tuple[str, ...]],
    first: int,
    alpha: float,
    options: BacktestOptions,
    *,
    passes: int,
    most: int,
    progress: ProgressCallback | None,
) -> tuple[dict[str, str], list[Score]]:
    """Coordinate descent over `grid` from the contract's values, at most `most` variants
    replayed; the best settings and every variant's score."""
    current = {key: yaml_value(getattr(contract.policy, key)) for key in grid}
    scores: dict[tuple[tuple[str, str], ...], Score] = {}

    def score(settings: dict[str, str]) -> Score:
        policy, variant = _variant(settings, current, contract)
        if policy.overrides not in scores and len(scores) < most:
            result = replay_policy(policy, bank, variant, first, gate=options.gate)
            scores[policy.overrides] = score_of(
                result, options.metric, alpha, overrides=policy.overrides
            )
            report(progress, SEARCHING, len(scores), most)
        return scores.get(policy.overrides, Score("", 0, math.nan, -math.inf))

    best = dict(current)
    best_score = score(best)
    for _ in range(passes):
        for key, values in grid.items():
            for value in (current[key], *values):
                candidate = {**best, key: value}
                found = score(candidate)
                if found.c_alpha > best_score.c_alpha:
                    best, best_score = candidate, found
    report(progress, SEARCHING, most, most)
    return best, list(scores.values())


def _history(
    source: Path | PreparedSource | ReplayHistory,
    contract: DatasetContract,
    options: BacktestOptions,
    progress: ProgressCallback | None,
) -> ReplayHistory:
    if isinstance(source, ReplayHistory):
        return source
    prepared = (
        source
        if isinstance(source, PreparedSource)
        else prepare_source(Path(source), contract, progress=progress)
    )
    return build_history(prepared, contract, view=options.view, progress=progress)


def calibrate(
    source: Path | PreparedSource | ReplayHistory,
    contract: DatasetContract,
    *,
    alpha: float,
    grid: Mapping[str, Sequence[object]] | None = None,
    split: float = 0.6,
    options: BacktestOptions | None = None,
    passes: int = 2,
    max_variants: int = 60,
    progress: ProgressCallback | None = None,
) -> Calibration:
    """Choose the trigger settings of best C_alpha on the search part, report them on the rest
    (module docstring). `grid`: key -> candidate values instead of the default grid."""
    started = time.perf_counter()
    options = options or BacktestOptions()
    if not 0 < split < 1:
        msg = f"split must be between 0 and 1 (exclusive), got {split}"
        raise ValueError(msg)
    if not math.isfinite(alpha) or alpha < 0:
        msg = f"alpha must be a non-negative number, got {alpha}"
        raise ValueError(msg)
    checked = checked_grid(grid) if grid is not None else None
    history = _history(source, contract, options, progress)
    bank = _GateSharingBank(
        history, window_spec(contract), options.training, contract, Matrix.of(history)
    )
    first = first_fit_step(bank, options)
    last = len(history.partitions) - 1
    split_step = first + round(split * (last - first))  # the search part's last partition
    if not first < split_step < last:
        msg = (
            f"{last - first} evaluated partition(s) cannot be split {split:.0%} / "
            f"{1 - split:.0%}: both parts need at least one"
        )
        raise ValueError(msg)
    stages = [("prepare", time.perf_counter() - started)]
    prefit(bank, range(first, last), options.workers or os.cpu_count() or 1, progress)
    stages.append(("fit", time.perf_counter() - started - sum(s for _, s in stages)))
    chosen_grid = checked if checked is not None else default_grid(history, contract.policy)
    search_bank = _cut(bank, split_step)
    chosen, search = _search(
        search_bank, contract, chosen_grid, first, alpha, options,
        passes=passes, most=max_variants, progress=progress,
    )  # fmt: skip
    stages.append(("search", time.perf_counter() - started - sum(s for _, s in stages)))
    current = {key: yaml_value(getattr(contract.policy, key)) for key in chosen_grid}
    result = _report(bank, contract, chosen, current, first, split_step, options, progress)
    stages.append(("report", time.perf_counter() - started - sum(s for _, s in stages)))
    partitions = history.partitions
    return Calibration(
        dataset=contract.dataset,
        alpha=alpha,
        metric=options.metric,
        chosen=tuple(chosen.items()),
        changed=tuple((k, v) for k, v in chosen.items() if current[k] != v),
        search=tuple(search),
        report=tuple(
            score_of(r, options.metric, alpha, oracle=result.frontier.get(r.fits, math.nan))
            for r in result.policies
        ),
        search_partitions=(partitions[first + 1], partitions[split_step]),
        report_partitions=(partitions[split_step + 1], partitions[last]),
        report_result=result,
        seconds=time.perf_counter() - started,
        stage_seconds=tuple(stages),
    )


def _report(
    bank: ModelBank,
    contract: DatasetContract,
    chosen: dict[str, str],
    current: dict[str, str],
    first: int,
    split_step: int,
    options: BacktestOptions,
    progress: ProgressCallback | None,
) -> BacktestResult:
    """The calibrated policy, the current one, never and the fixed schedules, each replayed
    from the first fit and cut to the report part; the oracle over the report part."""
    chosen_policy, chosen_contract = _variant(chosen, current, contract)
    schedules = DEFAULT_SCHEDULES[bank.history.grain]
    runs = [
        (CALIBRATED, chosen_policy, chosen_contract),
        (CURRENT, RetrainPolicy(CONTRACT), contract),
        ("", RetrainPolicy(NEVER), contract),
        *(("", RetrainPolicy(EVERY, n), contract) for n in schedules),
    ]
    results = []
    for done, (label, policy, variant) in enumerate(runs, 1):
        full = replay_policy(policy, bank, variant, first, gate=options.gate)
        results.append(PolicyResult(policy, full.steps[split_step - first :], label=str(label)))
        report(progress, REPORTING, done, len(runs))
    last = len(bank.history.partitions) - 1
    most = max(r.fits for r in results)
    oracle = oracle_frontier(bank, split_step, last, options.metric, max(most, 2))
    fits = results[0].fits
    if fits in oracle.schedules:
        tail = schedule_result(bank, oracle.schedules[fits], split_step, f"oracle<={fits}")
        results.append(tail)
    spec = bank.spec
    return BacktestResult(
        dataset=contract.dataset,
        partitions=bank.history.partitions[split_step + 1 :],
        policies=results,
        frontier=oracle.means,
        metric=options.metric,
        floor=contract.policy.min_roc_auc,
        alpha_max=options.alpha_max,
        onsets=tuple(o for o in options.onsets if o in bank.history.partitions[split_step + 1 :]),
        window=f"{spec.kind} {spec.partitions} ({spec.validation} validation, "
        f"{spec.holdout} holdout)",
        fitted_models=len(bank.fitted),
        fit_seconds=sum(f.seconds for f in bank.fitted.values()),
    )
