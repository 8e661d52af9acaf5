"""The pure trigger rules: each path, priority, cooldown, in-flight and episode de-duplication."""

from datetime import UTC, datetime, timedelta

import pytest

from retrain_platform.contracts.model import Policy
from retrain_platform.core.monitoring import triggers as t
from retrain_platform.core.monitoring.trigger_inputs import time_window_state
from retrain_platform.core.monitoring.triggers import (
    DriftObservation,
    FreshnessObservation,
    PastRetrain,
    PerformanceObservation,
    TriggerPolicy,
    TriggerState,
    decide,
)

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
POLICY = TriggerPolicy.from_policy(Policy(min_roc_auc=0.75, max_model_age_days=30))
FRESH = NOW - timedelta(days=3)


def freshness(state: str) -> FreshnessObservation:
    return FreshnessObservation(state, NOW - timedelta(days=31), NOW, "Dagster's freshness daemon")


FAILED = freshness("FAIL")


def drift(partition: str, max_psi: float, ks: float | None = 0.05) -> DriftObservation:
    return DriftObservation(partition, max_psi, "amount", ks)


def perf(partition: str, auc: float) -> PerformanceObservation:
    return PerformanceObservation(partition, auc, 1000)


def state(**changes) -> TriggerState:
    values = {"champion_version": 3, "champion_window_end": FRESH, **changes}
    values.setdefault("freshness", freshness("PASS"))
    return TriggerState(**values)


def past(trigger: str, episode: str, max_psi: float | None = None, hours: float = 24):
    return PastRetrain(trigger, episode, max_psi, NOW - timedelta(hours=hours))


def test_healthy_state_does_not_retrain():
    d = decide(
        state(
            drift=(drift("2026-04-29", 0.1), drift("2026-04-30", 0.2)),
            performance=(perf("2026-04-28", 0.9),),
        ),
        POLICY,
        NOW,
    )
    assert not d.retrain and d.code == t.HEALTHY and d.run_key is None


def test_feature_psi_above_threshold_triggers_drift_with_the_episode_run_key():
    d = decide(
        state(drift=(drift("2026-04-28", 0.1), drift("2026-04-29", 0.4), drift("2026-04-30", 0.6))),
        POLICY,
        NOW,
    )
    assert d.retrain and d.trigger == t.DRIFT
    assert d.run_key == "drift:3:2026-04-29"
    assert "max PSI 0.600 (amount)" in d.reason and "since 2026-04-29" in d.reason
    assert d.max_psi == pytest.approx(0.6)


def test_prediction_ks_alone_triggers_drift():
    d = decide(state(drift=(drift("2026-04-30", 0.1, ks=0.35),)), POLICY, NOW)
    assert d.retrain and d.trigger == t.DRIFT and "prediction KS 0.350" in d.reason


def test_drift_only_on_an_older_partition_is_over():
    d = decide(state(drift=(drift("2026-04-29", 0.9), drift("2026-04-30", 0.1))), POLICY, NOW)
    assert not d.retrain and d.code == t.HEALTHY


def test_low_live_roc_auc_triggers_performance():
    d = decide(state(performance=(perf("2026-04-27", 0.8), perf("2026-04-28", 0.6))), POLICY, NOW)
    assert d.retrain and d.trigger == t.PERFORMANCE
    assert d.run_key == "performance:3:2026-04-28" and "0.600" in d.reason


def test_a_failed_model_freshness_policy_triggers_age():
    d = decide(state(freshness=FAILED), POLICY, NOW)
    assert d.retrain and d.trigger == t.AGE and d.run_key == "age:3"
    assert d.reason.startswith("freshness policy failed: model older than 30 days (champion v3")
    assert "evaluated by Dagster's freshness daemon" in d.reason


@pytest.mark.parametrize("observed", ["PASS", "WARN", "UNKNOWN", None])
def test_any_other_freshness_state_does_not_trigger_age(observed):
    """The state alone decides: an old training window does not fire without a FAIL."""
    old = state(
        champion_window_end=NOW - timedelta(days=90),
        freshness=freshness(observed) if observed else None,
    )
    d = decide(old, POLICY, NOW)
    assert not d.retrain and d.code == t.HEALTHY


def test_the_time_window_rule_matches_dagsters_states():
    day = timedelta(days=1)
    assert time_window_state(None, NOW, 30 * day, 24 * day) == "UNKNOWN"
    assert time_window_state(NOW - 10 * day, NOW, 30 * day, 24 * day) == "PASS"
    assert time_window_state(NOW - 25 * day, NOW, 30 * day, 24 * day) == "WARN"
    assert time_window_state(NOW - 30 * day, NOW, 30 * day, 24 * day) == "FAIL"
    assert time_window_state(NOW - 25 * day, NOW, 30 * day) == "PASS"


def test_priority_is_drift_then_performance_then_age():
    everything = state(
        freshness=FAILED,
        drift=(drift("2026-04-30", 0.5),),
        performance=(perf("2026-04-28", 0.55),),
    )
    assert decide(everything, POLICY, NOW).trigger == t.DRIFT
    no_drift = state(freshness=FAILED, performance=(perf("2026-04-28", 0.55),))
    assert decide(no_drift, POLICY, NOW).trigger == t.PERFORMANCE


def test_no_champion_means_nothing_to_monitor():
    d = decide(TriggerState(None, None, drift=(drift("2026-04-30", 0.9),)), POLICY, NOW)
    assert not d.retrain and d.code == t.NO_CHAMPION


def test_a_retrain_in_flight_suppresses_a_second():
    d = decide(state(drift=(drift("2026-04-30", 0.9),), in_flight=("abcdef123456",)), POLICY, NOW)
    assert not d.retrain and d.code == t.IN_FLIGHT and "abcdef12" in d.reason


def test_cooldown_holds_a_firing_trigger():
    s = state(
        drift=(drift("2026-04-30", 0.9),),
        past=(past(t.AGE, "2", hours=2),),
    )
    d = decide(s, POLICY, NOW)
    assert not d.retrain and d.code == t.COOLDOWN and d.trigger == t.DRIFT
    assert "held by cooldown until 2026-05-01 16:00" in d.reason
    assert decide(s, POLICY, NOW + timedelta(hours=5)).retrain


def test_an_episode_is_retrained_once_unless_it_worsens():
    episode = (drift("2026-04-29", 0.4), drift("2026-04-30", 0.5))
    handled = state(drift=episode, past=(past(t.DRIFT, "3:2026-04-29", max_psi=0.4),))
    d = decide(handled, POLICY, NOW)
    assert not d.retrain and d.code == t.HANDLED and "already retrained" in d.reason
    worse = state(
        drift=(*episode, drift("2026-05-01", 0.61)),
        past=(past(t.DRIFT, "3:2026-04-29", max_psi=0.4),),
    )
    d = decide(worse, POLICY, NOW)
    assert d.retrain and d.run_key == "drift:3:2026-04-29:1" and "worsened" in d.reason


def test_a_handled_drift_episode_falls_through_to_the_next_trigger():
    s = state(
        freshness=FAILED,
        drift=(drift("2026-04-30", 0.5),),
        past=(past(t.DRIFT, "3:2026-04-30", max_psi=0.5),),
    )
    d = decide(s, POLICY, NOW)
    assert d.retrain and d.trigger == t.AGE


def test_a_new_champion_starts_a_new_episode():
    s = state(
        champion_version=4,
        drift=(drift("2026-04-30", 0.5),),
        past=(past(t.DRIFT, "3:2026-04-30", max_psi=0.5),),
    )
    d = decide(s, POLICY, NOW)
    assert d.retrain and d.run_key == "drift:4:2026-04-30"


def test_state_key_changes_with_a_new_partition_but_not_per_tick():
    s = state(drift=(drift("2026-04-30", 0.1),))
    first = decide(s, POLICY, NOW)
    assert decide(s, POLICY, NOW + timedelta(minutes=1)).state_key == first.state_key
    later = state(drift=(drift("2026-04-30", 0.1), drift("2026-05-01", 0.1)))
    assert decide(later, POLICY, NOW).state_key != first.state_key


NEW_ROWS = TriggerPolicy.from_policy(
    Policy(min_roc_auc=0.75, max_model_age_days=30, retrain_on_new_labelled_rows=10_000)
)


def test_new_labelled_rows_trigger_is_off_by_default():
    assert POLICY.new_labelled_rows is None
    d = decide(state(new_labelled_rows=10**9), POLICY, NOW)
    assert not d.retrain and d.code == t.HEALTHY


def test_new_labelled_rows_fire_at_the_threshold_and_not_below():
    below = decide(state(new_labelled_rows=9_999), NEW_ROWS, NOW)
    assert not below.retrain and "9999 new labelled rows of 10000" in below.reason
    d = decide(state(new_labelled_rows=12_500), NEW_ROWS, NOW)
    assert d.retrain and d.trigger == t.NEW_DATA and d.run_key == "new_data:3:1"
    assert "12500 labelled rows arrived since champion v3" in d.reason


def test_new_labelled_rows_are_the_lowest_priority():
    s = state(freshness=FAILED, new_labelled_rows=50_000)
    assert decide(s, NEW_ROWS, NOW).trigger == t.AGE
    s = state(performance=(perf("2026-04-28", 0.6),), new_labelled_rows=50_000)
    assert decide(s, NEW_ROWS, NOW).trigger == t.PERFORMANCE


def test_new_labelled_rows_retrain_once_per_multiple_of_the_threshold_with_cooldown():
    handled = state(new_labelled_rows=15_000, past=(past(t.NEW_DATA, "3:1", hours=24),))
    d = decide(handled, NEW_ROWS, NOW)
    assert not d.retrain and d.code == t.HANDLED and "already requested" in d.reason
    again = state(new_labelled_rows=20_000, past=(past(t.NEW_DATA, "3:1", hours=2),))
    held = decide(again, NEW_ROWS, NOW)
    assert not held.retrain and held.code == t.COOLDOWN and held.trigger == t.NEW_DATA
    d = decide(again, NEW_ROWS, NOW + timedelta(hours=5))
    assert d.retrain and d.run_key == "new_data:3:2"
