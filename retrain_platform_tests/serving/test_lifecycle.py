"""Hot reload, canary, shadow, the prediction log and the health-gated promotion, each against a
real uvicorn server and the real registry."""

from __future__ import annotations

import json
import threading

import httpx
import numpy as np
import polars as pl

from retrain_platform.core.deployment.decisions import read_decisions
from retrain_platform.core.deployment.promotion import promote_with_health_gate
from retrain_platform.core.deployment.registry import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS,
    alias_version,
    promote,
)
from retrain_platform.core.lake import table_uri
from retrain_platform.core.models.inputs import feature_matrix
from retrain_platform.serving import prediction_log as plog
from retrain_platform.serving.models import CANARY
from retrain_platform.serving.routing import entity_bucket
from retrain_platform_tests.serving.conftest import running_server, wait_for


def _health(client: httpx.Client) -> dict:
    return client.get("/health").json()


def _log(world) -> pl.DataFrame:  # noqa: ANN001
    return pl.read_delta(plog.predictions_uri(world.home.lake_uri, world.contract))


def test_reload_on_alias_move_drops_no_request(world, champion_is_1):
    client_ = world.store.client()
    entities = [world.entity(i) for i in range(10)]
    results: list[tuple[int, int | None]] = []
    stop = threading.Event()
    with running_server(world.settings(shadow=False)) as url:

        def hammer() -> None:
            with httpx.Client(base_url=url) as client:
                i = 0
                while not stop.is_set():
                    answer = client.post("/predict", json={"entities": [entities[i % 10]]})
                    version = (
                        answer.json()["predictions"][0]["model_version"]
                        if answer.status_code == 200
                        else None
                    )
                    results.append((answer.status_code, version))
                    i += 1

        worker = threading.Thread(target=hammer)
        worker.start()
        try:
            wait_for(lambda: len(results) >= 20, 30, "requests before the move")
            client_.set_registered_model_alias(world.name, CHAMPION, "2")
            with httpx.Client(base_url=url) as client:
                wait_for(lambda: _health(client)["model_version"] == 2, 30, "version 2 served")
            seen = len(results)
            wait_for(lambda: len(results) >= seen + 20, 30, "requests after the move")
        finally:
            stop.set()
            worker.join(30)
    assert all(status == 200 for status, _ in results), {s for s, _ in results}
    versions = [v for _, v in results]
    assert versions[0] == 1 and versions[-1] == 2
    switch = versions.index(2)
    assert set(versions[:switch]) == {1} and set(versions[switch:]) == {2}  # one clean switch


def test_canary_share_is_deterministic_by_entity(world, champion_is_1):
    world.store.client().set_registered_model_alias(world.name, CANARY, "2")
    share = 0.2
    key = world.view.entity_keys[0]
    rows = world.online.head(1).to_dicts()[0]
    names = [*world.view.entity_keys, *world.view.feature_names(world.contract.label_name)]
    base = {
        k: (None if isinstance(v, float) and np.isnan(v) else v)
        for k, v in rows.items()
        if k in names
    }
    payload_rows = [{**base, key: 1_000_000 + i} for i in range(2000)]
    with (
        running_server(world.settings(canary_share=share, shadow=False)) as url,
        httpx.Client(base_url=url) as client,
    ):
        wait_for(lambda: _health(client)["canary_version"] == 2, 30, "the canary loaded")
        # full rows are ~2 kB each: 250 a request stays under the default 1 MiB body limit
        first = []
        for start in range(0, len(payload_rows), 250):
            answer = client.post("/predict", json={"rows": payload_rows[start : start + 250]})
            assert answer.status_code == 200, answer.text[:500]
            first += answer.json()["predictions"]
        again = client.post("/predict", json={"rows": payload_rows[:250]}).json()["predictions"]
        metrics = client.get("/metrics").text
    routes = [p["route"] for p in first]
    canary_share = routes.count("canary") / len(routes)
    assert abs(canary_share - share) < 0.04, canary_share
    assert [p["route"] for p in again] == routes[:250]  # an entity sticks to its route
    for p in first:
        expected = "canary" if entity_bucket({key: p[key]}, [key]) < share else "champion"
        assert p["route"] == expected
        assert p["model_version"] == (2 if expected == "canary" else 1)
    offline = {
        v: world.boosters[v].predict(feature_matrix(pl.DataFrame([base]), world.features))[0]
        for v in (1, 2)
    }
    assert {round(p["score"], 12) for p in first} == {round(offline[1], 12), round(offline[2], 12)}
    assert 'retrain_serving_predictions_total{route="canary"}' in metrics


def test_shadow_is_scored_and_logged_without_changing_the_answer(world, champion_is_1):
    world.store.client().set_registered_model_alias(world.name, CHALLENGER, "2")
    n = 30
    entities = [world.entity(i) for i in range(n)]
    before = _log(world).height if _table_exists(world) else 0
    with running_server(world.settings(shadow=True)) as url, httpx.Client(base_url=url) as client:
        wait_for(lambda: _health(client)["shadow_version"] == 2, 30, "the shadow loaded")
        answer = client.post("/predict", json={"entities": entities}).json()
    frame = world.online.head(n)
    np.testing.assert_allclose(
        [p["score"] for p in answer["predictions"]], world.offline(1, frame), rtol=0, atol=1e-12
    )
    logged = _log(world).filter(pl.col(plog.REQUEST_ID) == answer["request_id"])
    assert logged.height == n and _log(world).height == before + n
    key = world.view.entity_keys[0]
    logged = logged.sort(key)
    expected = world.offline(2, frame.sort(key))
    np.testing.assert_allclose(logged[plog.SHADOW_SCORE].to_numpy(), expected, rtol=0, atol=1e-12)
    assert set(logged[plog.SHADOW_VERSION].to_list()) == {2}
    assert set(logged[plog.ROUTE].to_list()) == {"champion"}


def _table_exists(world) -> bool:  # noqa: ANN001
    from retrain_platform.core.lake import table_exists

    return table_exists(plog.predictions_uri(world.home.lake_uri, world.contract))


def test_every_prediction_is_in_the_log_after_shutdown(world, champion_is_1):
    before = _log(world).height if _table_exists(world) else 0
    request_ids = []
    settings = world.settings(shadow=False, log_max_rows=100_000, log_max_seconds=3600)
    with running_server(settings) as url, httpx.Client(base_url=url) as client:
        for i in range(60):
            answer = client.post("/predict", json={"entities": [world.entity(i % 40)]})
            request_ids.append(answer.json()["request_id"])
        assert _health(client)["prediction_log_pending"] == 60  # nothing flushed yet
    log = _log(world)
    assert log.height == before + 60
    mine = log.filter(pl.col(plog.REQUEST_ID).is_in(request_ids))
    assert sorted(mine[plog.REQUEST_ID].to_list()) == sorted(request_ids)
    ts = world.contract.timestamp_name
    assert mine[ts].null_count() == 0 and mine[plog.MODEL_VERSION].unique().to_list() == [1]
    for text in mine[plog.FEATURES].to_list():
        assert list(json.loads(text)) == world.features


def test_a_failed_smoke_test_rolls_the_champion_back(world, champion_is_1):
    client = world.store.client()
    promote(client, world.name, 3)  # version 3 takes three features: it cannot score these
    assert alias_version(client, world.name, PREVIOUS) == 1
    decisions = table_uri(world.home.lake_uri, "deployment", f"{world.contract.dataset}_gate")
    sample = feature_matrix(world.online.head(5), world.features).tolist()
    outcome = promote_with_health_gate(
        world.store,
        world.name,
        3,
        sample,
        decisions_uri=decisions,
        dataset=world.contract.dataset,
        timeout=60,
    )
    assert not outcome.passed and outcome.stage == "smoke" and outcome.rolled_back_to == 1
    assert "columns" in outcome.reason or "feature" in outcome.reason, outcome.reason
    assert alias_version(client, world.name, CHAMPION) == 1
    (row,) = read_decisions(decisions).to_dicts()
    assert row["event"] == "rollback" and row["champion_before"] == 3
    assert row["champion_after"] == 1 and row["model_version"] == 3
    assert row["reason"] == outcome.reason


def test_promotion_waits_for_the_service_and_rolls_back_when_it_never_serves(world, champion_is_1):
    client = world.store.client()
    decisions = table_uri(world.home.lake_uri, "deployment", f"{world.contract.dataset}_gate2")
    sample = feature_matrix(world.online.head(5), world.features).tolist()
    with running_server(world.settings(shadow=False)) as url:
        promote(client, world.name, 2)
        ok = promote_with_health_gate(
            world.store,
            world.name,
            2,
            sample,
            service_url=url,
            decisions_uri=decisions,
            dataset=world.contract.dataset,
            timeout=30,
        )
        assert ok.passed and ok.stage == "done", ok.reason
    assert alias_version(client, world.name, CHAMPION) == 2
    # A service that never reloads (poll interval longer than the timeout): rolled back.
    client.set_registered_model_alias(world.name, CHAMPION, "1")
    with running_server(world.settings(shadow=False, poll_seconds=3600)) as url:
        promote(client, world.name, 2)
        failed = promote_with_health_gate(
            world.store,
            world.name,
            2,
            sample,
            service_url=url,
            decisions_uri=decisions,
            dataset=world.contract.dataset,
            timeout=2,
        )
    assert not failed.passed and failed.stage == "health" and failed.rolled_back_to == 1
    assert "not served" in failed.reason
    assert alias_version(client, world.name, CHAMPION) == 1
    assert read_decisions(decisions)["event"].to_list() == ["rollback"]
