"""The retrain sensor's tick log: what it read and what it decided, one line per tick.

Dagster's "View logs" of a sensor tick shows only what the tick logged; a skip reason alone
appears on hover. So every tick logs its decision (`triggers.decide`: outcome, trigger, reason)
and the inputs it decided on (the champion, the newest drift and live-performance observations
against their thresholds, the deployed model's freshness state, runs in flight, earlier
triggered retrains, new labelled rows), in one
line that reads on its own.
"""

from __future__ import annotations

from datetime import datetime

from retrain_platform.core.bounded import clip_text
from retrain_platform.core.monitoring.triggers import Decision, TriggerPolicy, TriggerState

REASON_CHARS = 1_000  # a reason names partitions and features: longer than one value, bounded


def _drift(state: TriggerState, policy: TriggerPolicy) -> str:
    if not state.drift:
        return "drift: no report against this champion"
    latest = max(state.drift, key=lambda o: o.partition)
    worst = max(state.drift, key=lambda o: o.max_psi)
    text = (
        f"drift: {len(state.drift)} partition(s), latest {latest.partition} max PSI "
        f"{latest.max_psi:.3f}"
        + (f" ({clip_text(latest.max_psi_feature)})" if latest.max_psi_feature else "")
        + (
            f", prediction KS {latest.prediction_ks:.3f} (threshold {policy.ks_threshold:g})"
            if latest.prediction_ks is not None
            else ", no prediction KS (not reported, or warming up)"
        )
        + f", highest PSI {worst.max_psi:.3f} on {worst.partition} "
        f"(threshold {policy.psi_threshold:g})"
    )
    return text


def _performance(state: TriggerState, policy: TriggerPolicy) -> str:
    if not state.performance:
        return "live performance: no partition with known labels"
    latest = max(state.performance, key=lambda o: o.partition)
    return (
        f"live performance: {len(state.performance)} partition(s), latest {latest.partition} "
        f"ROC-AUC {latest.roc_auc:.3f} on {latest.rows} rows (minimum {policy.min_roc_auc:g})"
    )


def tick_message(
    sensor: str, state: TriggerState, decision: Decision, policy: TriggerPolicy, now: datetime
) -> str:
    """`<sensor> at <now>: <outcome> [<trigger>] (<code>): <reason> | inputs: ...`."""
    outcome = "retrain" if decision.retrain else "no retrain"
    trigger = f" [{decision.trigger}]" if decision.trigger else ""
    if state.champion_version is None:
        champion = "champion: none"
    else:
        window = (
            f", training window ends {state.champion_window_end:%Y-%m-%d}"
            if state.champion_window_end
            else ""
        )
        champion = f"champion v{state.champion_version}{window}"
    inputs = [champion, _drift(state, policy), _performance(state, policy)]
    if state.freshness is not None:
        inputs.append(
            f"model freshness: {state.freshness.state} (fail window "
            f"{policy.max_model_age.days} days, {state.freshness.evaluated_by})"
        )
    inputs.append(f"retrain runs in flight: {len(state.in_flight)}")
    inputs.append(f"earlier triggered retrains: {len(state.past)}")
    if policy.new_labelled_rows is not None:
        inputs.append(f"new labelled rows: {state.new_labelled_rows} of {policy.new_labelled_rows}")
    return (
        f"{sensor} at {now:%Y-%m-%d %H:%M:%S %Z}: {outcome}{trigger} ({decision.code}): "
        f"{clip_text(decision.reason, REASON_CHARS)} | inputs: " + "; ".join(inputs)
    )
