"""Gate rejection rate over the decision history."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment import decisions
from retrain_platform.core.deployment.pipeline_health import (
    EVENT_COLUMN,
    GATE_PASSED_COLUMN,
    champion_metric_trend,
    check_gate_rejection_rate,
    gate_rejection_rate,
    health_metadata,
    with_pending_cycle,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def _history(
    verdicts: list[bool | None],
    *,
    rollback_after: int | None = None,
    champion_aucs: list[float | None] | None = None,
):
    base = decisions.Decision(
        decided_at=START,
        event=decisions.RETRAIN,
        dataset="weather",
        trigger="schedule",
        reason="test",
        promoted=False,
        champion_before=None,
        champion_after=None,
    )
    aucs = champion_aucs or [None] * len(verdicts)
    rows = [
        replace(
            base,
            decided_at=START + timedelta(days=i),
            gate_passed=v,
            promoted=bool(v),
            champion_roc_auc=auc,
        )
        for i, (v, auc) in enumerate(zip(verdicts, aucs, strict=True))
    ]
    if rollback_after is not None:
        rows.append(
            replace(
                base,
                decided_at=START + timedelta(days=rollback_after, hours=1),
                event=decisions.ROLLBACK,
            )
        )
    # Shuffled order: the rate must follow decided_at, not row order.
    return decisions.to_frame(rows[::-1])


def test_columns_read_are_the_decision_history_columns() -> None:
    assert {EVENT_COLUMN, GATE_PASSED_COLUMN, decisions.DECIDED_AT} <= set(decisions.SCHEMA)


def test_rate_over_the_most_recent_cycles() -> None:
    # oldest ... newest: two old rejections, then 3 passes and 1 rejection
    history = _history([False, False, True, True, False, True], rollback_after=3)
    assert gate_rejection_rate(history, 4) == pytest.approx(0.25)
    assert gate_rejection_rate(history, 6) == pytest.approx(0.5)
    assert gate_rejection_rate(history, 100) == pytest.approx(0.5)
    assert gate_rejection_rate(history, 1) == 0.0


def test_cycles_without_a_verdict_and_empty_history() -> None:
    assert gate_rejection_rate(_history([None, False]), 5) == 1.0
    assert math.isnan(gate_rejection_rate(_history([]), 5))
    with pytest.raises(ValueError, match="last_n"):
        gate_rejection_rate(_history([True]), 0)
    with pytest.raises(ValueError, match="lacks column"):
        gate_rejection_rate(_history([True]).drop(GATE_PASSED_COLUMN), 5)


def test_alert_above_the_policy_threshold(weather_contract: DatasetContract) -> None:
    quiet = check_gate_rejection_rate(_history([True] * 9 + [False]), weather_contract.policy)
    assert quiet.threshold == weather_contract.policy.max_gate_rejection_rate == 0.2
    assert quiet.rate == pytest.approx(0.1) and not quiet.alert
    loud = check_gate_rejection_rate(_history([True] * 7 + [False] * 3), weather_contract.policy)
    assert loud.rate == pytest.approx(0.3) and loud.alert
    assert not check_gate_rejection_rate(_history([]), weather_contract.policy).alert


def test_champion_metric_trend_over_the_last_cycles() -> None:
    history = _history(
        [True, False, False, True, False],
        champion_aucs=[None, 0.91, 0.90, 0.86, 0.84],
        rollback_after=2,
    )
    trend = champion_metric_trend(history, 3)
    assert trend.values == (0.90, 0.86, 0.84)
    assert trend.latest == 0.84 and trend.change == pytest.approx(-0.06)
    assert champion_metric_trend(history, 10).values == (0.91, 0.90, 0.86, 0.84)
    single = champion_metric_trend(_history([True], champion_aucs=[0.9]), 5)
    assert single.latest == 0.9 and math.isnan(single.change)


def test_health_metadata_is_plain_numbers_and_counts_a_pending_cycle(
    weather_contract: DatasetContract,
) -> None:
    policy = weather_contract.policy
    assert health_metadata(_history([]), policy) == {
        "health_window_cycles": 10,
        "max_gate_rejection_rate": 0.2,
        "gate_rejection_rate_alert": False,
        "champion_roc_auc_cycles": 0,
    }
    history = _history([True, False, True, False], champion_aucs=[None, 0.9, 0.88, 0.85])
    meta = health_metadata(history, policy)
    assert meta["gate_rejection_rate"] == pytest.approx(0.5) and meta["gate_rejection_rate_alert"]
    assert meta["champion_roc_auc_latest"] == 0.85
    assert meta["champion_roc_auc_change"] == pytest.approx(-0.05)
    # a passing cycle whose row the deployment writes later already counts at the gate
    pending = with_pending_cycle(
        history, decided_at=START + timedelta(days=9), gate_passed=True, champion_roc_auc=0.8
    )
    meta = health_metadata(pending, policy, last_n=4)
    assert meta["gate_rejection_rate"] == pytest.approx(0.5)
    assert meta["champion_roc_auc_latest"] == 0.8
    assert all(isinstance(v, int | float) for v in meta.values())
