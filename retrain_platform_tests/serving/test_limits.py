"""The request body limit as a middleware: declared and chunked bodies over it are 413."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from retrain_platform.serving.limits import TOO_LARGE, BodyLimit
from retrain_platform.serving.metrics import ServingMetrics

LIMIT = 1000


def _client() -> tuple[TestClient, list[int], ServingMetrics]:
    app = FastAPI()
    seen: list[int] = []
    metrics = ServingMetrics()

    @app.post("/predict")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"bytes": len(body)}

    app.add_middleware(BodyLimit, max_bytes=LIMIT, metrics=metrics)
    return TestClient(app), seen, metrics


def _sample(metrics: ServingMetrics, name: str, **labels: str) -> float:
    """A counter's value. Once Feast is imported in the process, prometheus_client keeps values
    per process and metric name (multiprocess mode): a labelled child starts from what earlier
    registries of the process counted. So the child is created first, and the tests compare
    values before and after, never absolute counts."""
    counter = {"retrain_serving_errors_total": metrics.errors}.get(name, metrics.requests)
    counter.labels(**labels)
    return metrics.registry.get_sample_value(name, labels) or 0.0


def _chunks(total: int, size: int = 100) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def test_a_declared_length_over_the_limit_is_413_and_never_reaches_the_app():
    client, seen, metrics = _client()
    errors = _sample(metrics, "retrain_serving_errors_total", reason=TOO_LARGE)
    refused = _sample(metrics, "retrain_serving_requests_total", endpoint="/predict", status="413")
    answer = client.post("/predict", content=b"x" * (LIMIT + 1))
    assert answer.status_code == 413
    body = answer.json()
    assert body["reason"] == TOO_LARGE and body["detail"][0]["limit_bytes"] == LIMIT
    assert str(LIMIT + 1) in body["detail"][0]["msg"]
    assert seen == []
    assert _sample(metrics, "retrain_serving_errors_total", reason=TOO_LARGE) == errors + 1
    assert (
        _sample(metrics, "retrain_serving_requests_total", endpoint="/predict", status="413")
        == refused + 1
    )


def test_a_chunked_body_over_the_limit_is_413_and_one_within_it_is_passed_on_whole():
    client, seen, _ = _client()
    over = client.post("/predict", content=_chunks(LIMIT + 1))
    assert over.status_code == 413 and "chunked" in over.json()["detail"][0]["msg"]
    within = client.post("/predict", content=_chunks(LIMIT))
    assert within.status_code == 200 and within.json() == {"bytes": LIMIT}
    exact = client.post("/predict", content=b"y" * LIMIT)
    assert exact.status_code == 200 and seen == [LIMIT, LIMIT]


def test_unknown_paths_do_not_grow_the_metric_labels():
    client, _, metrics = _client()
    before = _sample(metrics, "retrain_serving_requests_total", endpoint="other", status="413")
    client.post("/any/path/123", content=b"x" * (LIMIT + 1))
    after = _sample(metrics, "retrain_serving_requests_total", endpoint="other", status="413")
    assert after == before + 1
    assert (
        _sample(metrics, "retrain_serving_requests_total", endpoint="/any/path/123", status="413")
        == 0
    )
