"""The decision history table: append-only rows, read back in order, champion at a time."""

from datetime import UTC, datetime, timedelta

from retrain_platform.core.deployment.decisions import (
    RETRAIN,
    ROLLBACK,
    Decision,
    append_decision,
    champion_at,
    read_decisions,
    trigger_and_reason,
)

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _cycle(at: datetime, version: int, before: int | None, promoted: bool) -> Decision:
    return Decision(
        decided_at=at,
        event=RETRAIN,
        dataset="transactions",
        trigger="drift",
        reason="psi 0.31",
        promoted=promoted,
        champion_before=before,
        champion_after=version if promoted else before,
        model_version=version,
        gate_passed=promoted,
        gate_failures=[] if promoted else ["below_minimum: roc_auc ...", "regression: ..."],
    )


def test_history_keeps_every_cycle_and_answers_champion_at(tmp_path):
    uri = str(tmp_path / "deployment" / "transactions_decisions")
    assert read_decisions(uri).is_empty()
    append_decision(uri, _cycle(T0, 1, None, promoted=True))
    append_decision(uri, _cycle(T0 + timedelta(days=1), 2, 1, promoted=False))
    append_decision(uri, _cycle(T0 + timedelta(days=2), 3, 1, promoted=True))
    append_decision(
        uri,
        Decision(
            decided_at=T0 + timedelta(days=3),
            event=ROLLBACK,
            dataset="transactions",
            trigger="manual",
            reason="bad canary",
            promoted=False,
            champion_before=3,
            champion_after=1,
            model_version=1,
        ),
    )
    history = read_decisions(uri)
    assert history.get_column("event").to_list() == [RETRAIN] * 3 + [ROLLBACK]
    assert history.get_column("promoted").to_list() == [True, False, True, False]
    assert history.get_column("gate_failures")[1].to_list()[0].startswith("below_minimum")
    assert champion_at(history, T0 - timedelta(seconds=1)) is None
    assert champion_at(history, T0 + timedelta(hours=30)) == 1  # the failed cycle changed nothing
    assert champion_at(history, T0 + timedelta(days=2, hours=1)) == 3
    assert champion_at(history, T0 + timedelta(days=4)) == 1


def test_trigger_and_reason_default_to_manual():
    assert trigger_and_reason({}) == ("manual", "manual")
    assert trigger_and_reason({"retrain/trigger": "drift"}) == ("drift", "drift")
    assert trigger_and_reason({"retrain/trigger": "age", "retrain/reason": "31 d"}) == (
        "age",
        "31 d",
    )
