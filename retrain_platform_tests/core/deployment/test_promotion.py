"""Verify before promotion: the child process decides before `champion` moves; failures after the
move (and any exception in the gate) put the champion back, recorded with the reason.

Against a real local MLflow registry (small boosters) and a Delta decision history on tmp_path.
Tests that are about the gate's control flow replace the child with a canned verdict; the others
run the real child. No service is started (the health stage has its tests in serving/).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retrain_platform.core.deployment import promotion
from retrain_platform.core.deployment.decisions import ROLLBACK, read_decisions
from retrain_platform.core.deployment.registry import (
    CHAMPION,
    PREVIOUS,
    TAG_ROLLED_BACK,
    alias_version,
    promote,
)
from retrain_platform.core.deployment.verification import Budgets, Verification
from retrain_platform_tests.fixtures.registry import register, rows, small_booster, tmp_store

NAME = "promotion"
AT = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    store = tmp_store(tmp_path_factory.mktemp("promotion"))
    boosters = {v: small_booster(seed=v) for v in (1, 2)}
    for version, booster in boosters.items():
        assert register(store, NAME, booster) == version
    return store, boosters


@pytest.fixture
def champion_1(registry, tmp_path):
    store, _ = registry
    client = store.client()
    client.set_registered_model_alias(NAME, CHAMPION, "1")
    for alias in (PREVIOUS,):
        try:
            client.delete_registered_model_alias(NAME, alias)
        except Exception:  # noqa: BLE001, S110 - absent already
            pass
    client.delete_model_version_tag(NAME, "2", TAG_ROLLED_BACK)
    return str(tmp_path / "decisions")


def _gate(store, decisions, **options):  # noqa: ANN001, ANN003, ANN202
    sample = rows(10)
    return promotion.promote_with_health_gate(
        store,
        NAME,
        2,
        sample.tolist(),
        decisions_uri=decisions,
        dataset="toy",
        now=lambda: AT,
        **options,
    )


def test_the_child_verifies_before_the_champion_moves(registry, champion_1, monkeypatch):
    store, boosters = registry
    client = store.client()
    seen = []
    real = promotion.verify_in_child

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(alias_version(client, NAME, CHAMPION))
        return real(*args, **kwargs)

    monkeypatch.setattr(promotion, "verify_in_child", spy)
    moves = []
    outcome = _gate(
        store,
        champion_1,
        expected_scores=boosters[2].predict(rows(10)).tolist(),
        budgets=Budgets(max_p99_ms=50_000, max_model_mb=200),
        on_promoted=moves.append,
    )
    assert outcome.passed and outcome.stage == "done" and outcome.moved, outcome.reason
    assert seen == [1]  # the champion was still version 1 while the child verified version 2
    assert [(m.champion, m.replaced) for m in moves] == [(2, 1)]
    assert alias_version(client, NAME, CHAMPION) == 2
    verification = outcome.verification
    assert verification is not None and verification.p99_ms is not None
    assert verification.model_mb is not None and 0 < verification.model_mb < 1
    assert "10 golden requests match" in outcome.reason


@pytest.mark.parametrize(
    ("budgets", "perturb", "expected"),
    [
        (Budgets(max_model_mb=1e-6), 0.0, "size: model"),
        (Budgets(max_p99_ms=1e-9), 0.0, "latency: p99"),
        (Budgets(), 0.01, "golden: 10 of 10 predictions differ"),
    ],
)
def test_a_version_that_fails_verification_never_becomes_champion(
    registry, champion_1, budgets, perturb, expected
):
    store, boosters = registry
    offline = [s + perturb for s in boosters[2].predict(rows(10))]
    moves = []
    outcome = _gate(
        store, champion_1, expected_scores=offline, budgets=budgets, on_promoted=moves.append
    )
    assert not outcome.passed and outcome.stage == "smoke" and not outcome.moved
    assert expected in outcome.reason and outcome.rolled_back_to is None
    assert moves == [] and alias_version(store.client(), NAME, CHAMPION) == 1
    assert read_decisions(champion_1).is_empty()  # nothing moved, nothing rolled back


def _passing(*_args, **_kwargs) -> Verification:
    return Verification(True, "verified: canned", p99_ms=1.0, model_mb=0.01)


def test_an_exception_after_the_move_restores_the_champion(registry, champion_1, monkeypatch):
    store, _ = registry
    monkeypatch.setattr(promotion, "verify_in_child", _passing)

    def broken(_move):  # noqa: ANN001, ANN202
        msg = "the recorder is down"
        raise RuntimeError(msg)

    outcome = _gate(store, champion_1, on_promoted=broken)
    assert not outcome.passed and outcome.moved and outcome.stage == "promote"
    assert outcome.rolled_back_to == 1
    assert "RuntimeError('the recorder is down')" in outcome.reason
    client = store.client()
    assert alias_version(client, NAME, CHAMPION) == 1
    assert client.get_model_version(NAME, "2").tags[TAG_ROLLED_BACK] == "true"
    (row,) = read_decisions(champion_1).to_dicts()
    assert (row["event"], row["champion_before"], row["champion_after"]) == (ROLLBACK, 2, 1)
    assert row["reason"] == outcome.reason and row["decided_at"] == AT
    history = client.get_model_version(NAME, "2").description  # the version's own story
    assert history.endswith(
        f"**Champion** since {AT.isoformat()} (replaced v1).\n\n"
        f"**Rolled back** at {AT.isoformat()}: {outcome.reason}"
    )


def test_an_exception_in_the_verification_itself_fails_the_gate(registry, champion_1, monkeypatch):
    store, _ = registry

    def explode(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        msg = "no space left on device"
        raise OSError(msg)

    monkeypatch.setattr(promotion, "verify_in_child", explode)
    outcome = _gate(store, champion_1)
    assert not outcome.passed and outcome.stage == "smoke" and not outcome.moved
    assert "OSError" in outcome.reason
    assert alias_version(store.client(), NAME, CHAMPION) == 1


def test_a_first_deployment_failing_after_the_move_leaves_no_champion(
    registry, champion_1, monkeypatch
):
    store, _ = registry
    client = store.client()
    client.delete_registered_model_alias(NAME, CHAMPION)
    monkeypatch.setattr(promotion, "verify_in_child", _passing)

    def broken(_move):  # noqa: ANN001, ANN202
        msg = "down"
        raise RuntimeError(msg)

    outcome = _gate(store, champion_1, on_promoted=broken)
    assert not outcome.passed and outcome.rolled_back_to is None
    assert alias_version(client, NAME, CHAMPION) is None
    (row,) = read_decisions(champion_1).to_dicts()
    assert (row["champion_before"], row["champion_after"]) == (2, None)


def test_a_version_moved_there_by_hand_that_fails_is_rolled_back(registry, champion_1):
    store, _ = registry
    client = store.client()
    promote(client, NAME, 2)  # by hand, before the gate ran
    outcome = _gate(store, champion_1, budgets=Budgets(max_model_mb=1e-6))
    assert not outcome.passed and outcome.rolled_back_to == 1
    assert alias_version(client, NAME, CHAMPION) == 1
    (row,) = read_decisions(champion_1).to_dicts()
    assert row["event"] == ROLLBACK and "size: model" in row["reason"]
