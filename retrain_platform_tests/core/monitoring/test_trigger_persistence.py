"""Drift that matters: persistent drift (k of the last m reports), the champion's important
features, and a drift retrain deferred until labels of the new regime have arrived."""

from dataclasses import replace

import pytest

from retrain_platform.contracts.model import Policy
from retrain_platform.contracts.policy import override_policy
from retrain_platform.core.monitoring import triggers as t
from retrain_platform.core.monitoring.drift import DriftSummary, FeatureDrift
from retrain_platform.core.monitoring.drift_importance import important_features, trigger_psi
from retrain_platform.core.monitoring.triggers import TriggerPolicy, decide
from retrain_platform_tests.core.monitoring.test_triggers import NOW, drift, past, perf, state

BASE = Policy(min_roc_auc=0.75, max_model_age_days=30)


def _policy(**changes: object) -> TriggerPolicy:
    return TriggerPolicy.from_policy(replace(BASE, **changes))


DAYS = [f"2026-04-{d:02d}" for d in range(20, 31)]


def test_a_single_drifted_report_fires_only_without_persistence():
    reports = tuple(drift(d, 0.1) for d in DAYS[:-1]) + (drift(DAYS[-1], 0.9),)
    assert decide(state(drift=reports), _policy(), NOW).retrain
    held = decide(
        state(drift=reports), _policy(drift_persistence=2, drift_persistence_window=3), NOW
    )
    assert not held.retrain and held.code == t.HEALTHY


def test_two_of_three_fires_on_the_second_drifted_report_with_its_onset():
    pattern = [0.1] * 8 + [0.9, 0.1, 0.9]  # drifted, calm, drifted: 2 of the last 3
    reports = tuple(drift(d, psi) for d, psi in zip(DAYS, pattern, strict=True))
    decision = decide(
        state(drift=reports), _policy(drift_persistence=2, drift_persistence_window=3), NOW
    )
    assert decision.retrain and decision.trigger == t.DRIFT
    assert decision.episode == f"3:{DAYS[-1]}"
    assert "persistent: 2 of the last 3 reports" in decision.reason


def test_a_drift_retrain_waits_for_labelled_partitions_from_the_onset():
    reports = tuple(drift(d, 0.1) for d in DAYS[:8]) + tuple(drift(d, 0.9) for d in DAYS[8:])
    onset = DAYS[8]
    policy = _policy(min_post_drift_labelled_partitions=2)
    labelled_before = (perf(DAYS[6], 0.9), perf(DAYS[7], 0.9))
    waiting = decide(state(drift=reports, performance=labelled_before), policy, NOW)
    assert not waiting.retrain and waiting.code == t.DEFERRED and waiting.trigger == t.DRIFT
    assert f"drift since {onset}" in waiting.reason and "0 so far" in waiting.reason
    # a lower-priority trigger does not slip through while the drift waits
    aged = decide(
        state(drift=reports, performance=labelled_before, new_labelled_rows=10**6),
        TriggerPolicy.from_policy(
            replace(BASE, min_post_drift_labelled_partitions=2, retrain_on_new_labelled_rows=10)
        ),
        NOW,
    )
    assert aged.code == t.DEFERRED
    ready = decide(
        state(
            drift=reports, performance=(*labelled_before, perf(DAYS[8], 0.6), perf(DAYS[9], 0.6))
        ),
        policy,
        NOW,
    )
    assert ready.retrain and ready.trigger == t.DRIFT
    retrained = decide(
        state(drift=reports, performance=labelled_before, past=(past(t.DRIFT, f"3:{onset}", 0.9),)),
        policy,
        NOW,
    )
    assert retrained.code != t.DEFERRED  # once retrained, the episode no longer waits


def _summary(psis: dict[str, float]) -> DriftSummary:
    features = tuple(
        FeatureDrift(name, "numeric", psi, psi > 0.25, None, None, 0.0, 0.0)
        for name, psi in psis.items()
    )
    return DriftSummary(features, 0.25, 0.2, 100, 100, "x")


def test_the_trigger_reads_the_features_carrying_the_importance_share():
    names, gains = ["amount", "hour", "visibility"], [70.0, 25.0, 5.0]
    assert important_features(names, gains, None) is None
    assert important_features(names, gains, 0.7) == ("amount",)
    assert important_features(names, gains, 0.9) == ("amount", "hour")
    assert important_features(names, gains, 1.0) == ("amount", "hour", "visibility")
    assert important_features(names, [0.0, 0.0, 0.0], 0.5) == tuple(names)
    summary = _summary({"amount": 0.1, "hour": 0.2, "visibility": 3.0})
    assert trigger_psi(summary, None) == (3.0, "visibility")
    assert trigger_psi(summary, ("amount", "hour")) == (0.2, "hour")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("drift_importance_share", "1.5"),
        ("drift_persistence", "0"),
        ("drift_persistence_window", "0"),
    ],
)
def test_bad_trigger_settings_are_refused(key: str, value: str):
    with pytest.raises(ValueError, match=key.split("_window")[0]):
        override_policy(BASE, {key: value})
    assert override_policy(BASE, {"drift_importance_share": "null"}).drift_importance_share is None
