"""Champion moves made outside the platform: noticed, recorded, and rollback returns to the
version that served before them.

A real local MLflow registry whose versions have no artifacts (aliases and tags only) and a Delta
decision history on tmp_path; nothing is loaded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from retrain_platform.core.deployment import record_external_alias_moves
from retrain_platform.core.deployment.alias_moves import EXTERNAL, last_recorded_champion
from retrain_platform.core.deployment.decisions import (
    ALIAS_MOVE,
    RETRAIN,
    Decision,
    append_decision,
    champion_at,
    read_decisions,
)
from retrain_platform.core.deployment.registry import (
    CHAMPION,
    PREVIOUS,
    TAG_PREVIOUS_CHAMPION,
    alias_version,
    promote,
    rollback,
)
from retrain_platform_tests.fixtures.registry import tmp_store

T0 = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_store(tmp_path_factory.mktemp("moves"))


@pytest.fixture
def world(store, tmp_path):
    """A registered model of three versions (no artifacts) of its own, and an empty history."""
    name = f"moves_{tmp_path.name}"
    client = store.client()
    client.create_registered_model(name)
    for _ in range(3):
        client.create_model_version(name, source=(tmp_path / "none").as_uri())
    return client, str(tmp_path / "decisions"), name


def _promoted(uri: str, at: datetime, before: int | None, after: int) -> None:
    append_decision(
        uri,
        Decision(at, RETRAIN, "toy", "drift", "psi", True, before, after, model_version=after),
    )


def _observed(uri: str, at: datetime, champion: int) -> None:
    """A row that only copies the registry's champion (a "no retrain" row of the sensor)."""
    append_decision(uri, Decision(at, "no retrain", "toy", "none", "ok", False, champion, champion))


def test_nothing_is_recorded_when_the_registry_agrees(world):
    client, uri, name = world
    assert record_external_alias_moves(client, name, uri, dataset="toy", now=T0) is None
    promote(client, name, 1)
    _promoted(uri, T0, None, 1)
    assert record_external_alias_moves(client, name, uri, dataset="toy", now=T0) is None
    assert read_decisions(uri).height == 1


def test_a_hand_move_is_recorded_and_rollback_returns_to_the_version_that_served(world):
    client, uri, name = world
    promote(client, name, 1)
    _promoted(uri, T0, None, 1)
    promote(client, name, 2)
    _promoted(uri, T0 + timedelta(days=1), 1, 2)
    client.set_registered_model_alias(name, CHAMPION, "3")  # by hand; `previous` still says 1
    _observed(uri, T0 + timedelta(days=2), 3)  # the sensor copied it without noticing
    noticed = record_external_alias_moves(
        client, name, uri, dataset="toy", now=T0 + timedelta(days=3)
    )
    assert noticed is not None
    assert (noticed.event, noticed.trigger) == (ALIAS_MOVE, EXTERNAL)
    assert (noticed.champion_before, noticed.champion_after, noticed.previous_after) == (2, 3, 2)
    assert "from version 2 to version 3" in noticed.reason
    assert alias_version(client, name, PREVIOUS) == 2
    assert client.get_model_version(name, "3").tags[TAG_PREVIOUS_CHAMPION] == "2"
    history = read_decisions(uri)
    assert history.get_column("event").to_list()[-1] == ALIAS_MOVE
    assert last_recorded_champion(history) == (True, 3)
    assert champion_at(history, T0 + timedelta(days=3, hours=1)) == 3
    assert record_external_alias_moves(client, name, uri, dataset="toy", now=T0) is None  # once
    move = rollback(client, name)
    assert (move.replaced, move.champion, move.previous) == (3, 2, 1)


def test_a_champion_removed_by_hand_is_recorded(world):
    client, uri, name = world
    promote(client, name, 1)
    _promoted(uri, T0, None, 1)
    client.delete_registered_model_alias(name, CHAMPION)
    noticed = record_external_alias_moves(client, name, uri, dataset="toy", now=T0)
    assert noticed is not None and (noticed.champion_before, noticed.champion_after) == (1, None)


def test_a_champion_set_before_any_recorded_move_is_recorded(world):
    client, uri, name = world
    _observed(uri, T0, 1)  # copies of the registry are not moves
    client.set_registered_model_alias(name, CHAMPION, "2")
    noticed = record_external_alias_moves(client, name, uri, dataset="toy", now=T0)
    assert noticed is not None and (noticed.champion_before, noticed.champion_after) == (None, 2)
    assert alias_version(client, name, PREVIOUS) is None
