"""`POST /predict` on a real uvicorn server: offline-equal scores, contract validation, freshness,
health, metrics and the OpenAPI document."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import numpy as np
import pytest

from retrain_platform.serving.app import FLAG
from retrain_platform_tests.serving.conftest import running_server


@pytest.fixture(scope="module")
def base_url(world):
    from retrain_platform.core.deployment.registry import CHAMPION

    world.store.client().set_registered_model_alias(world.name, CHAMPION, "1")
    with running_server(world.settings(shadow=False)) as url:
        yield url


def _row(world, i: int) -> dict:
    """Row `i` of the online frame as a full-row payload (JSON types, the view's features)."""
    names = [*world.view.entity_keys, *world.view.feature_names(world.contract.label_name)]
    row = world.online.select(names).row(i, named=True)
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}


def test_entity_predictions_equal_offline_predictions(world, base_url):
    n = 50
    entities = [world.entity(i) for i in range(n)]
    with httpx.Client(base_url=base_url) as client:
        batch = client.post("/predict", json={"entities": entities})
        single = client.post("/predict", json={"entities": entities[:1]})
    assert batch.status_code == 200, batch.text
    got = [p["score"] for p in batch.json()["predictions"]]
    expected = world.offline(1, world.online.head(n))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert {p["model_version"] for p in batch.json()["predictions"]} == {1}
    assert single.json()["predictions"][0]["score"] == pytest.approx(expected[0], abs=1e-12)
    threshold = world.contract.policy.decision_threshold
    assert [p["decision"] for p in batch.json()["predictions"]] == list(expected >= threshold)
    for header in ("X-Online-Lookup-Ms", "X-Model-Ms", "X-Request-Id"):
        assert header in single.headers


def test_parallel_requests_on_request_threads_score_like_offline(world, base_url):
    """`/predict` runs on several request threads at once: each answer is still its own."""
    n, threads = 40, 4
    expected = world.offline(1, world.online.head(n))
    answers: dict[int, list[float]] = {}

    def worker(offset: int) -> None:
        with httpx.Client(base_url=base_url) as client:
            for i in range(offset, n, threads):
                answer = client.post("/predict", json={"entities": [world.entity(i)]})
                assert answer.status_code == 200, answer.text[:300]
                answers[i] = [p["score"] for p in answer.json()["predictions"]]

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    assert sorted(answers) == list(range(n))
    np.testing.assert_allclose([answers[i][0] for i in range(n)], expected, rtol=0, atol=1e-12)


def test_full_rows_score_like_entities(world, base_url):
    rows = [_row(world, i) for i in range(20)]
    with httpx.Client(base_url=base_url) as client:
        answer = client.post("/predict", json={"rows": rows})
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(
        [p["score"] for p in answer.json()["predictions"]],
        world.offline(1, world.online.head(20)),
        rtol=0,
        atol=1e-12,
    )
    assert "X-Online-Lookup-Ms" not in answer.headers


def _first_feature(world, predicate) -> str:  # noqa: ANN001
    return next(
        c.name for c in world.contract.features if c.name in world.view.passthrough and predicate(c)
    )


def _bad_payloads(world) -> list[tuple[str, dict, list]]:
    key = world.view.entity_keys[0]
    ranged = _first_feature(world, lambda c: c.is_numeric and c.min is not None and not c.nullable)
    low = world.contract.column(ranged).min
    categorical = _first_feature(world, lambda c: c.categories is not None)
    integer = _first_feature(world, lambda c: c.dtype.startswith("int"))
    required = world.features[0]
    row = _row(world, 0)
    return [
        ("key of wrong type", {"entities": [{key: "abc"}]}, ["body", "entities", 0, key]),
        ("missing key", {"entities": [{}]}, ["body", "entities", 0, key]),
        ("unknown field", {"entities": [{key: 1, "bogus": 2}]}, ["body", "entities", 0, "bogus"]),
        ("below range", {"rows": [{**row, ranged: low - 1}]}, ["body", "rows", 0, ranged]),
        (
            "not a category",
            {"rows": [{**row, categorical: "nope"}]},
            ["body", "rows", 0, categorical],
        ),
        ("float for int", {"rows": [{**row, integer: 1.5}]}, ["body", "rows", 0, integer]),
        (
            "missing model feature",
            {"rows": [{k: v for k, v in row.items() if k != required}]},
            ["body", "rows", 0, required],
        ),
        ("string for number", {"rows": [{**row, ranged: "12"}]}, ["body", "rows", 0, ranged]),
        ("empty batch", {"entities": []}, ["body", "entities"]),
        ("neither entities nor rows", {}, ["body"]),
    ]


def test_each_kind_of_bad_payload_is_a_422_naming_the_field(world, base_url):
    with httpx.Client(base_url=base_url) as client:
        for label, payload, loc in _bad_payloads(world):
            answer = client.post("/predict", json=payload)
            assert answer.status_code == 422, (label, answer.status_code, answer.text)
            locs = [d["loc"] for d in answer.json()["detail"]]
            assert loc in locs, (label, locs)
        garbage = client.post(
            "/predict", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert garbage.status_code == 422


def test_an_entity_without_online_features_is_a_404_naming_it(world, base_url):
    key = world.view.entity_keys[0]
    unknown = int(world.online[key].max()) + 10_000
    with httpx.Client(base_url=base_url) as client:
        answer = client.post("/predict", json={"entities": [world.entity(0), {key: unknown}]})
    assert answer.status_code == 404
    (detail,) = answer.json()["detail"]
    assert detail["loc"] == ["body", "entities", 1] and detail["entity"] == {key: unknown}


def test_health_metrics_and_openapi(world, base_url):
    with httpx.Client(base_url=base_url) as client:
        client.post("/predict", json={"entities": [world.entity(0)]})
        health = client.get("/health").json()
        metrics = client.get("/metrics").text
        schema = client.get("/openapi.json").json()
        docs = client.get("/docs")
        live = client.get("/live")
    assert health["status"] == "ok" and health["loaded"] and health["model_version"] == 1
    assert health["online_store"] is True
    assert health["degraded_reasons"] == [] and health["rejected_reloads"] == {}
    assert live.status_code == 200 and live.json() == {"status": "alive"}
    for name in (
        "retrain_serving_requests_total",
        "retrain_serving_request_seconds_bucket",
        "retrain_serving_stage_seconds_bucket",
        'alias="champion"',
        "retrain_serving_canary_share",
        "retrain_serving_errors_total",
    ):
        assert name in metrics, name
    assert 'retrain_serving_model_version{alias="champion"} 1.0' in metrics
    assert {"/predict", "/health", "/live"} <= set(schema["paths"]) and docs.status_code == 200
    assert "413" in schema["paths"]["/predict"]["post"]["responses"]
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("PredictRequest")


def _stale_count(metrics: str) -> float:
    (line,) = [
        x for x in metrics.splitlines() if x.startswith("retrain_serving_stale_features_total ")
    ]
    return float(line.split()[-1])


@pytest.mark.parametrize("mode", ["reject", FLAG])
def test_stale_features_are_refused_or_flagged_never_silent(world, mode):
    settings = world.settings(stale=mode, max_feature_age=timedelta(minutes=1), shadow=False)
    entity = world.entity(0)
    with running_server(settings) as url, httpx.Client(base_url=url) as client:
        before = _stale_count(client.get("/metrics").text)
        answer = client.post("/predict", json={"entities": [entity]})
        after = _stale_count(client.get("/metrics").text)
    assert after - before == 1
    if mode == "reject":
        assert answer.status_code == 409
        body = answer.json()
        assert body["reason"] == "stale_features"
        detail = body["detail"][0]
        assert detail["entity"] == entity and detail["max_feature_age_seconds"] == 60
        assert detail["feature_age_seconds"] > 60
    else:
        assert answer.status_code == 200
        (prediction,) = answer.json()["predictions"]
        assert prediction["stale"] is True and prediction["feature_age_seconds"] > 60


def test_fresh_features_within_the_contract_ttl_are_not_stale(world, base_url):
    with httpx.Client(base_url=base_url) as client:
        (prediction,) = client.post("/predict", json={"entities": [world.entity(3)]}).json()[
            "predictions"
        ]
    assert prediction["stale"] is False
    age = prediction["feature_age_seconds"]
    assert age is not None and 0 < age < world.view.ttl.total_seconds()


def test_docs_render_from_local_assets_only(base_url):
    """`/docs` works offline: every script and stylesheet it names is served by the service."""
    with httpx.Client(base_url=base_url) as client:
        page = client.get("/docs").text
        assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css))["']""", page)
        assert assets, page[:2000]
        assert not [a for a in assets if a.startswith(("http://", "https://", "//"))], assets
        served = {asset: client.get(asset).status_code for asset in assets}
    assert set(served.values()) == {200}, served
