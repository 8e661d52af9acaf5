"""One policy replayed step by step: what lands, what monitoring reports, what is decided.

A step is a partition landing at its time (`ReplayHistory.now`). For the `contract` policy the
step does what the platform does then, in its order:

1. the drift report of the new partition against the champion (`drift.drift_summary` and
   `drift_prediction.prediction_drift`, windowed features warming up or over a refused partition
   left out, as the drift asset does);
2. live performance of every partition whose labels fell due since the last step, scored by the
   champion (`monitoring/<dataset>_performance` materializes as labels fall due);
3. the retrain sensor's `triggers.decide` on the same `TriggerState` it gathers (observations
   made against the current champion among the newest reports it reads, new labelled rows since
   the champion's window, the retrains requested before, the model's freshness on the clock);
4. a retrain fits the step's window (the policy's `select_window`, the platform's candidate
   search), the gate compares it with the champion on its holdout, a pass deploys it.

The first model is fitted at the first step with a full window and always serves; monitoring then
catches up on the partitions before it, as automation does after the demo's backfill. Fixed
schedules (`never`, `every:N`) fit on their schedule and pass the same gate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.backtest.bank import ModelBank
from retrain_platform.core.backtest.policies import CONTRACT, EVERY, NEVER, RetrainPolicy
from retrain_platform.core.backtest.results import PolicyResult, StepRecord
from retrain_platform.core.monitoring.drift import drift_summary
from retrain_platform.core.monitoring.drift_importance import important_features, trigger_psi
from retrain_platform.core.monitoring.drift_prediction import prediction_drift
from retrain_platform.core.monitoring.drift_profile import SAMPLE_SEED, sample_rows
from retrain_platform.core.monitoring.drift_warm_up import left_out
from retrain_platform.core.monitoring.trigger_inputs import (
    FreshnessObservation,
    time_window_state,
)
from retrain_platform.core.monitoring.triggers import (
    DriftObservation,
    PastRetrain,
    PerformanceObservation,
    TriggerPolicy,
    TriggerState,
    decide,
)
from retrain_platform.core.partitions import partition_end, partition_start
from retrain_platform.core.progress import ProgressCallback, report

REPORTS_READ = 200  # as the retrain sensor: newest reports read per monitoring asset
RUNS_READ = 100  # newest retrain runs read
WARN_SHARE = 0.8  # the model freshness policy's WARN share of its fail window
BY_CLOCK = "the backtest's clock"


@dataclass
class _Serving:
    """The deployed model: the step it was fitted at, its version and when it was deployed."""

    step: int
    version: int
    deployed_at: datetime


@dataclass
class _Monitor:
    """What monitoring has recorded so far, each report with the champion it was made against."""

    drift: list[tuple[int, DriftObservation]] = field(default_factory=list)
    performance: list[tuple[int, PerformanceObservation]] = field(default_factory=list)
    scored: set[int] = field(default_factory=set)  # partitions whose labels were scored
    reported: set[int] = field(default_factory=set)  # partitions with a drift report
    past: list[PastRetrain] = field(default_factory=list)


def _drift(
    bank: ModelBank, contract: DatasetContract, serving: _Serving, index: int
) -> DriftObservation | None:
    """The drift report of partition `index` against the serving model, computed once per bank
    (its numbers depend on the model, the partition, the sample cap and the minimum values,
    not on the thresholds that judge them)."""
    policy = contract.policy
    key = (
        serving.step,
        index,
        policy.drift_row_cap,
        policy.drift_min_values,
        policy.drift_importance_share,
    )
    if key not in bank.drift_reports:
        bank.drift_reports[key] = _drift_report(bank, contract, serving, index)
    return bank.drift_reports[key]  # type: ignore[return-value]


def _drift_report(
    bank: ModelBank, contract: DatasetContract, serving: _Serving, index: int
) -> DriftObservation | None:
    history, policy = bank.history, contract.policy
    current = history.featured[history.partitions[index]]
    if current.is_empty():
        return None
    reference = bank.reference(serving.step)
    start = partition_start(history.partitions[index], history.grain)
    warm = left_out(history.reach, history.history_start, history.gaps(), start)
    cap = policy.drift_row_cap
    summary = drift_summary(
        current,
        reference.profile,
        row_cap=cap,
        seed=SAMPLE_SEED,
        psi_threshold=policy.drift_psi_threshold,
        ks_threshold=policy.drift_ks_threshold,
        warming_up=warm,
        min_values=policy.drift_min_values,
        pvalues=False,  # the triggers read statistics only
    )
    scores = bank.predict(serving.step, sample_rows(current, cap, SAMPLE_SEED))
    prediction = prediction_drift(
        scores, reference.scores, ks_threshold=policy.drift_ks_threshold, pvalue=False
    )
    booster = bank.booster(serving.step)
    important = important_features(
        booster.feature_name(), booster.feature_importance("gain"), policy.drift_importance_share
    )
    statistic, feature = trigger_psi(summary, important)
    return DriftObservation(
        partition=history.partitions[index],
        max_psi=statistic,
        max_psi_feature=feature,
        prediction_ks=None if warm else prediction.ks_statistic,
    )


def _monitor(
    bank: ModelBank, contract: DatasetContract, serving: _Serving, monitor: _Monitor, step: int
) -> None:
    """Drift of partitions without a report yet, performance of those whose labels are due."""
    history, now = bank.history, bank.history.now(step)
    for index in range(step + 1):
        if index not in monitor.reported:
            monitor.reported.add(index)
            observation = _drift(bank, contract, serving, index)
            if observation is not None:
                monitor.drift.append((serving.version, observation))
        partition = history.partitions[index]
        if index not in monitor.scored and history.labels_known_at(partition) <= now:
            monitor.scored.add(index)
            roc_auc, _ = bank.score(serving.step, index)
            rows = history.scoring[partition].height
            if rows and math.isfinite(roc_auc):
                monitor.performance.append(
                    (serving.version, PerformanceObservation(partition, roc_auc, rows))
                )


def _state(
    bank: ModelBank, contract: DatasetContract, serving: _Serving, monitor: _Monitor, step: int
) -> TriggerState:
    """The `TriggerState` the retrain sensor would gather at this step."""
    history, now = bank.history, bank.history.now(step)
    window = bank.window(serving.step)
    assert window is not None
    window_end = partition_end(window.partitions[-1], history.grain)
    landed = history.partitions[: step + 1][-REPORTS_READ:]
    new_rows = sum(
        history.rows(p)
        for p in landed
        if partition_start(p, history.grain) >= window_end and history.labels_known_at(p) <= now
    )
    fail = timedelta(days=contract.policy.max_model_age_days)
    state = time_window_state(serving.deployed_at, now, fail, fail * WARN_SHARE)
    return TriggerState(
        champion_version=serving.version,
        champion_window_end=window_end,
        drift=tuple(o for v, o in monitor.drift[-REPORTS_READ:] if v == serving.version),
        performance=tuple(
            o for v, o in monitor.performance[-REPORTS_READ:] if v == serving.version
        ),
        past=tuple(monitor.past[-RUNS_READ:]),
        new_labelled_rows=new_rows,
        freshness=FreshnessObservation(
            state, serving.deployed_at, None, f"{BY_CLOCK} at {now:%Y-%m-%d %H:%M}"
        ),
    )


def _scheduled(policy: RetrainPolicy, step: int, first: int) -> tuple[bool, str]:
    if policy.kind == EVERY and (step - first) % policy.every == 0:
        return True, f"every {policy.every}"
    return False, ""


class PolicyReplay:
    """One policy's replay, advanced a step at a time (`advance`), so that several policies can
    move through the history together while the models they need are still being fitted."""

    def __init__(
        self,
        policy: RetrainPolicy,
        bank: ModelBank,
        contract: DatasetContract,
        first: int,
        *,
        gate: bool = True,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.policy, self.bank, self.contract, self.first = policy, bank, contract, first
        self.gate, self.progress = gate, progress
        self.serving = _Serving(first, 1, bank.history.now(first))
        self.monitor = _Monitor()
        self.triggers = TriggerPolicy.from_policy(contract.policy)
        self.watching = policy.kind == CONTRACT
        self.result = PolicyResult(policy)
        self.last = len(bank.history.partitions) - 1
        if self.watching:
            _monitor(bank, contract, self.serving, self.monitor, first)

    def advance(self, step: int) -> None:
        """Replay step `step` (the next one: `first + 1` first, up to the last partition)."""
        bank, history, serving = self.bank, self.bank.history, self.serving
        roc_auc, accuracy = bank.score(serving.step, step)
        record = StepRecord(
            partition=history.partitions[step],
            version=serving.version,
            roc_auc=roc_auc,
            accuracy=accuracy,
        )
        if self.watching:
            _monitor(bank, self.contract, serving, self.monitor, step)
            state = _state(bank, self.contract, serving, self.monitor, step)
            decision = decide(state, self.triggers, history.now(step))
            refit, record.code, record.trigger = decision.retrain, decision.code, decision.trigger
            record.reason = decision.reason
            if decision.retrain:
                self.monitor.past.append(
                    PastRetrain(
                        decision.trigger or "",
                        decision.episode or "",
                        decision.max_psi,
                        history.now(step),
                    )
                )
        else:
            refit, record.reason = _scheduled(self.policy, step, self.first)
            record.trigger = self.policy.name if refit else None
        # a schedule's fit at the last partition would serve nothing; a decided retrain runs
        if refit and self.policy.kind != NEVER and (self.watching or step < self.last):
            record.fit = True
            passed = True
            if self.gate:
                verdict = bank.gate(step, serving.step, self.contract)
                passed, record.gate_reasons = verdict.passed, tuple(verdict.messages)
            if passed:
                self.serving = _Serving(step, serving.version + 1, history.now(step))
                record.promoted = True
        self.result.steps.append(record)
        report(self.progress, self.policy.name, step - self.first, self.last - self.first)


def replay_policy(
    policy: RetrainPolicy,
    bank: ModelBank,
    contract: DatasetContract,
    first: int,
    *,
    gate: bool = True,
    progress: ProgressCallback | None = None,
) -> PolicyResult:
    """Replay `policy` (its thresholds those of `contract`, its models the bank's) from the
    first fit at step `first` to the last partition."""
    replay = PolicyReplay(policy, bank, contract, first, gate=gate, progress=progress)
    for step in range(first + 1, replay.last + 1):
        replay.advance(step)
    return replay.result
