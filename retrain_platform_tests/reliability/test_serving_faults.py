"""The prediction service's fault matrix, each fault against a real uvicorn server and registry.

NaN and Infinity literals in a payload, a row missing the derived model inputs, a 2 MB body
(declared and chunked), an exclusively locked sqlite online store with parallel requests, a
truncated `model.lgb` for a new version, and a truncated champion at start-up. Each asserts the
outcome: a 4xx/503 that names the problem, the old model kept, the service alive.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import numpy as np
import pytest

from retrain_platform.core.deployment.registry import CHAMPION
from retrain_platform.serving.limits import TOO_LARGE
from retrain_platform_tests.serving import conftest as serving
from retrain_platform_tests.serving.conftest import _register, running_server, wait_for

# The serving tests' fixtures, here too: a registry with versions 1-3 and a populated store of
# this module's own (changes made here do not reach the serving tests' world).
world = serving.world
champion_is_1 = serving.champion_is_1
MB = 1 << 20


def _strict(text: str) -> dict:
    """Parse as RFC 8259 JSON: a NaN or Infinity literal in an answer is an error."""

    def refuse(token: str) -> None:
        msg = f"non-compliant JSON literal {token} in the answer"
        raise ValueError(msg)

    return json.loads(text, parse_constant=refuse)


def _row(world, i: int) -> dict:  # noqa: ANN001
    names = [*world.view.entity_keys, *world.view.feature_names(world.contract.label_name)]
    row = world.online.select(names).row(i, named=True)
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}


def _float_input(world) -> str:  # noqa: ANN001
    """A model input of the contract typed float (e.g. `amount`)."""
    return next(c.name for c in world.contract.features if c.dtype.startswith("float"))


def _sample(metrics: str, name: str, labels: str = "") -> float:
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    lines = [x for x in metrics.splitlines() if x.startswith(prefix)]
    return float(lines[0].split()[-1]) if lines else 0.0


def _post_raw(client: httpx.Client, text: str) -> httpx.Response:
    return client.post("/predict", content=text, headers={"content-type": "application/json"})


@pytest.fixture(scope="module")
def url(world) -> Iterator[str]:  # noqa: ANN001
    world.store.client().set_registered_model_alias(world.name, CHAMPION, "1")
    with running_server(world.settings(shadow=False)) as base:
        yield base


def test_nan_and_infinity_literals_are_a_422_naming_the_field(world, url):
    amount = _float_input(world)
    key = world.view.entity_keys[0]
    row = _row(world, 0)
    with httpx.Client(base_url=url) as client:
        for literal, echoed in (("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf")):
            text = json.dumps({"rows": [row, row]}).replace(
                f'"{amount}": {json.dumps(row[amount])}', f'"{amount}": {literal}', 2
            )
            assert literal in text
            answer = _post_raw(client, text)
            assert answer.status_code == 422, (literal, answer.status_code, answer.text[:300])
            body = _strict(answer.text)
            fields = {d["field"]: d for d in body["detail"]}
            assert {f"rows[0].{amount}", f"rows[1].{amount}"} <= set(fields), fields
            assert fields[f"rows[0].{amount}"]["input"] == echoed
            answer = _post_raw(client, f'{{"entities": [{{"{key}": {literal}}}]}}')
            assert answer.status_code == 422, answer.text[:300]
            assert f"entities[0].{key}" in {d["field"] for d in _strict(answer.text)["detail"]}
        health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_a_row_without_the_derived_model_inputs_is_a_422_naming_each(world, url):
    contract_names = {c.name for c in world.contract.columns}
    row = {k: v for k, v in _row(world, 0).items() if k in contract_names}
    derived = [n for n in world.features if n not in contract_names]
    nullable = next(
        c.name for c in world.contract.columns if c.name in world.features and c.nullable
    )
    with httpx.Client(base_url=url) as client:
        answer = client.post("/predict", json={"rows": [row]})
        without_nullable = client.post(
            "/predict", json={"rows": [{k: v for k, v in _row(world, 0).items() if k != nullable}]}
        )
        full = client.post("/predict", json={"rows": [_row(world, 0)]})
    assert answer.status_code == 422, answer.text[:300]
    missing = {d["field"] for d in answer.json()["detail"] if d["type"] == "missing"}
    assert missing == {f"rows[0].{n}" for n in derived}
    assert without_nullable.status_code == 422
    assert without_nullable.json()["detail"][0]["field"] == f"rows[0].{nullable}"
    assert full.status_code == 200, full.text[:300]


def test_a_2mb_body_is_a_413_and_the_service_goes_on(world, url):
    row = _row(world, 0)
    text = json.dumps({"rows": [row] * (2 * MB // len(json.dumps(row)) + 1)})
    assert len(text) > 2 * MB
    with httpx.Client(base_url=url, timeout=30) as client:
        answer = _post_raw(client, text)
        assert answer.status_code == 413, answer.text[:300]
        assert answer.json()["reason"] == TOO_LARGE
        assert answer.json()["detail"][0]["limit_bytes"] == MB
        after = client.post("/predict", json={"entities": [world.entity(0)]})
    assert after.status_code == 200


def test_a_chunked_body_over_the_limit_is_a_413_and_one_within_it_is_served(world, url):
    def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
        sent = 0
        yield b'{"rows": ['
        while sent < total:
            yield b" " * size
            sent += size
        yield b"]}"

    payload = json.dumps({"entities": [world.entity(1)]}).encode()
    with httpx.Client(base_url=url, timeout=30) as client:
        over = client.post("/predict", content=chunks(4 * MB))
        assert over.status_code == 413, over.text[:300]
        assert "chunked" in over.json()["detail"][0]["msg"]
        within = client.post(
            "/predict",
            content=iter([payload[:5], payload[5:]]),
            headers={"content-type": "application/json"},
        )
        metrics = client.get("/metrics").text
    assert "content-length" not in {k.lower() for k in over.request.headers}
    assert within.status_code == 200, within.text[:300]
    assert _sample(metrics, "retrain_serving_errors_total", f'reason="{TOO_LARGE}"') >= 1


@contextmanager
def _locked(world) -> Iterator[None]:  # noqa: ANN001
    """Hold an exclusive lock on the sqlite online store (as a writer that never commits)."""
    table = world.feast.online_table(world.contract, world.view, world.feast.config())
    conn = sqlite3.connect(table.db_path, isolation_level=None, timeout=10)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_a_locked_store_is_a_503_while_health_and_parallel_requests_go_on(world, champion_is_1):
    wait = 3.0  # seconds a request waits for the lock (the default is 1)
    parallel = 4
    settings = world.settings(shadow=False, store_timeout=wait)
    entity = {"entities": [world.entity(2)]}
    with running_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/health").status_code == 200
        answers: list[httpx.Response] = []
        with _locked(world):
            single = client.post("/predict", json=entity)

            def call() -> None:
                with httpx.Client(base_url=base, timeout=30) as own:
                    answers.append(own.post("/predict", json=entity))

            workers = [threading.Thread(target=call) for _ in range(parallel)]
            for worker in workers:
                worker.start()
            in_flight = "retrain_serving_predict_in_flight"
            # every request waits for the lock at the same time (none queued behind another)
            wait_for(
                lambda: _sample(client.get("/metrics").text, in_flight) == parallel,
                30,
                f"{parallel} predicts in flight at once",
            )
            health = client.get("/health", timeout=wait)  # answers before the requests end
            live = client.get("/live", timeout=wait)
            for worker in workers:
                worker.join(60)
        released = client.get("/health")
        after = client.post("/predict", json=entity)
    assert single.status_code == 503, single.text[:300]
    detail = single.json()["detail"][0]
    assert single.json()["reason"] == "online_store_unavailable"
    assert "database is locked" in detail["msg"] and f"at most {wait:g}s" in detail["msg"]
    assert [a.status_code for a in answers] == [503] * parallel
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "degraded" and body["online_store"] is False
    assert "the online store does not answer" in body["degraded_reasons"]
    assert body["loaded"] is True and body["model_version"] == 1
    assert live.status_code == 200
    assert released.status_code == 200 and released.json()["online_store"] is True
    assert after.status_code == 200


def _truncate_new_version(world) -> int:  # noqa: ANN001
    """A new registered version whose `model.lgb` lost its last quarter (a torn upload): raw
    LightGBM dies of SIGSEGV parsing it."""
    version = _register(world.store, world.name, world.boosters[2])
    uri = world.store.client().get_model_version_download_uri(world.name, str(version))
    path = Path(unquote(urlparse(uri).path)) / "model.lgb"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])
    return version


@pytest.fixture(scope="module")
def truncated(world) -> int:  # noqa: ANN001
    return _truncate_new_version(world)


def test_a_truncated_new_version_is_rejected_and_the_old_model_kept(
    world, url, champion_is_1, truncated
):
    rejected = "retrain_serving_model_reloads_rejected_total"
    with httpx.Client(base_url=url) as client:
        assert client.get("/health").json()["model_version"] == 1
        world.store.client().set_registered_model_alias(world.name, CHAMPION, str(truncated))

        def rejection() -> dict | None:
            return client.get("/health").json()["rejected_reloads"].get(CHAMPION)

        seen = wait_for(rejection, 120, f"version {truncated} rejected")
        polls = client.get("/health").json()["registry_polls"]
        wait_for(lambda: client.get("/health").json()["registry_polls"] >= polls + 3, 30, "polls")
        health = client.get("/health")
        answer = client.post("/predict", json={"entities": [world.entity(0)]})
        metrics = client.get("/metrics").text
    assert seen["version"] == truncated
    assert seen["reason"].startswith("the check process"), seen["reason"]
    assert health.status_code == 200 and health.json()["model_version"] == 1
    assert f"version {truncated} rejected" in health.json()["reload_error"]
    assert answer.status_code == 200
    assert {p["model_version"] for p in answer.json()["predictions"]} == {1}
    assert _sample(metrics, rejected, f'alias="{CHAMPION}"') == 1  # once, not once per poll
    assert 'retrain_serving_model_version{alias="champion"} 1.0' in metrics


def test_a_truncated_champion_at_startup_leaves_the_service_up_and_degraded(
    world, champion_is_1, truncated
):
    client_ = world.store.client()
    client_.set_registered_model_alias(world.name, CHAMPION, str(truncated))
    with (
        running_server(world.settings(shadow=False)) as base,
        httpx.Client(base_url=base) as client,
    ):
        live = client.get("/live")
        health = client.get("/health")
        refused = client.post("/predict", json={"entities": [world.entity(0)]})
        client_.set_registered_model_alias(world.name, CHAMPION, "1")  # still polling
        recovered = wait_for(
            lambda: (h := client.get("/health")).status_code == 200 and h.json(),
            120,
            "version 1 served after the alias moved",
        )
    assert live.status_code == 200
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "degraded" and body["loaded"] is False
    assert "no champion model is loaded" in body["degraded_reasons"]
    assert body["rejected_reloads"][CHAMPION]["version"] == truncated
    assert refused.status_code == 503 and refused.json()["reason"] == "no_model"
    assert recovered["model_version"] == 1 and recovered["rejected_reloads"] == {}
    assert not math.isnan(float(recovered["registry_polls"]))
