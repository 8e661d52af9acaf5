"""Whether to retrain now, and why: the retraining triggers as one pure function.

The retrain sensor gathers what it sees (the champion, its drift reports and live performance
per partition, the retrain runs in flight and those it requested before) into a `TriggerState`;
`decide` turns that into one `Decision`. Keeping the rules here, without Dagster, makes every
path testable with plain values.

Rules, in this order:

1. no champion: nothing to monitor (the first model is trained by hand or by the CLI);
2. a retrain run of the dataset queued or running: wait for it;
3. triggers in priority order, the first that fires and is not already handled wins:
   - drift: the newest drift report has a feature PSI above the policy's threshold or a
     prediction KS statistic above its threshold. An *episode* is the run of consecutive
     drifted partitions ending at the newest one; it is retrained once (run key
     `drift:<champion>:<first drifted partition>`) unless its max PSI has since grown by
     `worsening_factor` over the value it had when it was last retrained;
   - performance: the newest labelled partition's ROC-AUC is under the policy's floor (episode
     = consecutive partitions under the floor, retrained once);
   - age: the deployed model's freshness policy failed (`FreshnessObservation` FAIL: the
     deployment is older than the fail window, the policy's `max_model_age`), once per
     champion. The sensor reads that state from Dagster's freshness evaluation (or, on a
     simulated clock, evaluates the same rule at the clock's now);
   - new data (off unless the policy sets `retrain_on_new_labelled_rows`): at least that many
     labelled rows arrived after the champion's training window ended, i.e. rows of later
     partitions whose labels are due. Retrained once per multiple of the threshold (episode
     `<champion>:<rows // threshold>`), so a challenger the gate rejects is retried only after
     as many new rows again;
4. cooldown: a trigger that fires within `cooldown` of the last automatic retrain is held.

Drift counts as persistent once `persistence` of the last `persistence_window` reports drifted
(the newest among them); each report's PSI is the trigger's statistic (the champion's important
features when the policy says so, `drift_importance`). While a persistent drift episode not yet
retrained has fewer than `min_post_drift_labelled` labelled partitions from its onset, nothing is
retrained (code `deferred`): a challenger trained and gated before the new regime's labels
arrive is judged on the old regime.

Every outcome carries a `state_key`: the sensor records a "no retrain" decision only when that
key changes, so the decision history grows per state change, not per tick.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from retrain_platform.core.monitoring.trigger_inputs import (
    AGE,
    COOLDOWN,
    DEFAULT_COOLDOWN,
    DEFAULT_WORSENING_FACTOR,
    DEFERRED,
    DRIFT,
    FRESHNESS_FAIL,
    HANDLED,
    HEALTHY,
    IN_FLIGHT,
    NEW_DATA,
    NO_CHAMPION,
    PERFORMANCE,
    RETRAIN,
    TRIGGERS,
    Decision,
    DriftObservation,
    FreshnessObservation,
    PastRetrain,
    PerformanceObservation,
    TriggerPolicy,
    TriggerState,
)

__all__ = [
    "AGE",
    "COOLDOWN",
    "DEFAULT_COOLDOWN",
    "DEFERRED",
    "DEFAULT_WORSENING_FACTOR",
    "DRIFT",
    "Decision",
    "DriftObservation",
    "FreshnessObservation",
    "HANDLED",
    "HEALTHY",
    "IN_FLIGHT",
    "NEW_DATA",
    "NO_CHAMPION",
    "PERFORMANCE",
    "PastRetrain",
    "PerformanceObservation",
    "RETRAIN",
    "TRIGGERS",
    "TriggerPolicy",
    "TriggerState",
    "decide",
]


@dataclass(frozen=True)
class _Candidate:
    trigger: str
    episode: str
    run_key: str
    reason: str
    max_psi: float | None = None


def drifted(observation: DriftObservation, policy: TriggerPolicy) -> bool:
    """Any feature PSI above the threshold, or the prediction KS statistic above its threshold."""
    ks = observation.prediction_ks
    return observation.max_psi > policy.psi_threshold or (
        ks is not None and ks > policy.ks_threshold
    )


_T = TypeVar("_T", DriftObservation, PerformanceObservation)


def _episode(observations: Sequence[_T], bad: Callable[[_T], bool]) -> list[_T]:
    """The consecutive bad observations ending at the newest partition (empty if it is fine)."""
    ordered = sorted(observations, key=lambda o: o.partition)
    run: list[_T] = []
    for observation in reversed(ordered):
        if not bad(observation):
            break
        run.append(observation)
    return run[::-1]


def _describe_drift(observation: DriftObservation, policy: TriggerPolicy) -> str:
    parts = [
        f"max PSI {observation.max_psi:.3f}"
        + (f" ({observation.max_psi_feature})" if observation.max_psi_feature else "")
        + f" vs threshold {policy.psi_threshold:g}"
    ]
    if observation.prediction_ks is not None:
        parts.append(
            f"prediction KS {observation.prediction_ks:.3f} vs threshold {policy.ks_threshold:g}"
        )
    return ", ".join(parts)


def _past(state: TriggerState, trigger: str, episode: str) -> list[PastRetrain]:
    return [p for p in state.past if p.trigger == trigger and p.episode == episode]


def _persistent(observations: Sequence[DriftObservation], policy: TriggerPolicy) -> set[str]:
    """Partitions whose report drifted with at least `persistence` drifted reports among the
    `persistence_window` reports up to it (every drifted one when persistence is 1)."""
    ordered = sorted(observations, key=lambda o: o.partition)
    flags = [drifted(o, policy) for o in ordered]
    window = policy.persistence_window
    return {
        o.partition
        for i, o in enumerate(ordered)
        if flags[i] and sum(flags[max(0, i - window + 1) : i + 1]) >= policy.persistence
    }


def _drift_candidate(
    state: TriggerState, policy: TriggerPolicy, champion: int, handled: list[str]
) -> _Candidate | None:
    persistent = _persistent(state.drift, policy)
    run = _episode(state.drift, lambda o: o.partition in persistent)
    if not run:
        return None
    first, latest = run[0], run[-1]
    episode = f"{champion}:{first.partition}"
    base_key = f"{DRIFT}:{episode}"
    reason = (
        f"drift on {latest.partition}: {_describe_drift(latest, policy)}; drifted since "
        f"{first.partition} ({len(run)} partition(s)), champion v{champion}"
        + (
            f"; persistent: {policy.persistence} of the last {policy.persistence_window} reports"
            if policy.persistence > 1
            else ""
        )
    )
    earlier = _past(state, DRIFT, episode)
    if not earlier:
        return _Candidate(DRIFT, episode, base_key, reason, latest.max_psi)
    worst = max((p.max_psi or 0.0) for p in earlier)
    if worst > 0 and latest.max_psi >= worst * policy.worsening_factor:
        return _Candidate(
            DRIFT,
            episode,
            f"{base_key}:{len(earlier)}",
            f"{reason}; worsened from max PSI {worst:.3f} at the last retrain "
            f"(factor {policy.worsening_factor:g})",
            latest.max_psi,
        )
    handled.append(
        f"drift episode since {first.partition} already retrained (max PSI {worst:.3f}, "
        f"now {latest.max_psi:.3f}, re-trigger at x{policy.worsening_factor:g})"
    )
    return None


def _performance_candidate(
    state: TriggerState, policy: TriggerPolicy, champion: int, handled: list[str]
) -> _Candidate | None:
    run = _episode(state.performance, lambda o: o.roc_auc < policy.min_roc_auc)
    if not run:
        return None
    first, latest = run[0], run[-1]
    episode = f"{champion}:{first.partition}"
    if _past(state, PERFORMANCE, episode):
        handled.append(f"performance episode since {first.partition} already retrained")
        return None
    reason = (
        f"live ROC-AUC {latest.roc_auc:.3f} on {latest.partition} ({latest.rows} labelled "
        f"rows) under the floor {policy.min_roc_auc:g}; under since {first.partition}, "
        f"champion v{champion}"
    )
    return _Candidate(PERFORMANCE, episode, f"{PERFORMANCE}:{episode}", reason)


def _days(window: timedelta) -> str:
    days = window / timedelta(days=1)
    return f"{days:g} day{'s' if days != 1 else ''}"


def _age_candidate(
    state: TriggerState, policy: TriggerPolicy, champion: int, handled: list[str]
) -> _Candidate | None:
    freshness = state.freshness
    if freshness is None or freshness.state != FRESHNESS_FAIL:
        return None
    episode = str(champion)
    if _past(state, AGE, episode):
        handled.append(f"age retrain of champion v{champion} already requested")
        return None
    deployed = (
        f", deployed {freshness.last_deployed:%Y-%m-%d %H:%M}" if freshness.last_deployed else ""
    )
    since = f" since {freshness.since:%Y-%m-%d %H:%M}" if freshness.since else ""
    reason = (
        f"freshness policy failed: model older than {_days(policy.max_model_age)} "
        f"(champion v{champion}{deployed}; FAIL{since}, evaluated by {freshness.evaluated_by})"
    )
    return _Candidate(AGE, episode, f"{AGE}:{episode}", reason)


def _new_data_candidate(
    state: TriggerState, policy: TriggerPolicy, champion: int, handled: list[str]
) -> _Candidate | None:
    threshold = policy.new_labelled_rows
    rows = state.new_labelled_rows
    if threshold is None or rows < threshold:
        return None
    episode = f"{champion}:{rows // threshold}"
    if _past(state, NEW_DATA, episode):
        handled.append(
            f"new-data retrain of champion v{champion} at {rows // threshold} x {threshold} "
            "labelled rows already requested"
        )
        return None
    window_end = (
        f" (after {state.champion_window_end:%Y-%m-%d %H:%M})"
        if state.champion_window_end is not None
        else ""
    )
    reason = (
        f"{rows} labelled rows arrived since champion v{champion}'s training window ended"
        f"{window_end}, threshold {threshold}"
    )
    return _Candidate(NEW_DATA, episode, f"{NEW_DATA}:{episode}", reason)


def _deferred(
    state: TriggerState, policy: TriggerPolicy, champion: int, seen: str
) -> Decision | None:
    """While a drift episode waits for labelled partitions of the new regime, no retrain of
    any trigger: a challenger would be trained and judged on the old regime only."""
    if policy.min_post_drift_labelled <= 0:
        return None
    persistent = _persistent(state.drift, policy)
    run = _episode(state.drift, lambda o: o.partition in persistent)
    if not run or _past(state, DRIFT, f"{champion}:{run[0].partition}"):
        return None
    onset = run[0].partition
    labelled = sorted({o.partition for o in state.performance if o.partition >= onset})
    if len(labelled) >= policy.min_post_drift_labelled:
        return None
    reason = (
        f"drift since {onset} ({_describe_drift(run[-1], policy)}), champion v{champion}: "
        f"deferred until {policy.min_post_drift_labelled} partition(s) from the onset are "
        f"labelled ({len(labelled)} so far), so the gate judges the new regime"
    )
    return Decision(
        False, DRIFT, reason, None, DEFERRED, f"{DEFERRED}|{onset}|{len(labelled)}|{seen}"
    )


def _latest(observations: Sequence[DriftObservation] | Sequence[PerformanceObservation]) -> str:
    return max((o.partition for o in observations), default="-")


def decide(state: TriggerState, policy: TriggerPolicy, now: datetime) -> Decision:
    """Apply the rules of the module docstring to `state` at time `now` (timezone-aware)."""
    champion = state.champion_version
    seen = f"{champion}|{_latest(state.drift)}|{_latest(state.performance)}"
    if policy.new_labelled_rows is not None:
        seen += f"|{state.new_labelled_rows // policy.new_labelled_rows}"
    if champion is None:
        reason = "no champion deployed yet: nothing to monitor"
        return Decision(False, None, reason, None, NO_CHAMPION, f"{NO_CHAMPION}|{seen}")
    if state.in_flight:
        return Decision(
            False,
            None,
            f"retrain run(s) {', '.join(r[:8] for r in state.in_flight)} in flight",
            None,
            IN_FLIGHT,
            f"{IN_FLIGHT}|{seen}",
        )
    handled: list[str] = []
    waiting = _deferred(state, policy, champion, seen)
    if waiting is not None:
        return waiting
    candidate = (
        _drift_candidate(state, policy, champion, handled)
        or _performance_candidate(state, policy, champion, handled)
        or _age_candidate(state, policy, champion, handled)
        or _new_data_candidate(state, policy, champion, handled)
    )
    if candidate is None:
        code = HANDLED if handled else HEALTHY
        reason = "; ".join(handled) if handled else "no drift, performance or age trigger"
        if not handled and policy.new_labelled_rows is not None:
            reason = (
                f"no drift, performance, age or new-data trigger ({state.new_labelled_rows} "
                f"new labelled rows of {policy.new_labelled_rows})"
            )
        return Decision(False, None, reason, None, code, f"{code}|{seen}")
    last = max((p.requested_at for p in state.past), default=None)
    if last is not None and now - last < policy.cooldown:
        return Decision(
            False,
            candidate.trigger,
            f"{candidate.reason}; held by cooldown until {last + policy.cooldown:%Y-%m-%d %H:%M}"
            f" (last automatic retrain {last:%Y-%m-%d %H:%M})",
            None,
            COOLDOWN,
            f"{COOLDOWN}|{candidate.run_key}|{seen}",
            candidate.episode,
            candidate.max_psi,
        )
    return Decision(
        True,
        candidate.trigger,
        candidate.reason,
        candidate.run_key,
        RETRAIN,
        f"{RETRAIN}|{candidate.run_key}",
        candidate.episode,
        candidate.max_psi,
    )
