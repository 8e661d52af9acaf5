"""The prediction service: `POST /predict`, `GET /health`, `/live`, `/metrics`, OpenAPI at `/docs`.

`create_app(settings)` builds a FastAPI application for one contract and feature view. On
startup (the lifespan) it loads the aliases it follows from the registry, opens the online
lookup and the prediction log, and starts the reload thread; on shutdown it stops the thread and
flushes the log, so every answered prediction is in the log.

A request carries entity keys (features read from the online store, their age checked against
the contract) or full feature rows; each item is routed by its entity hash to the champion or
the canary, scored, optionally scored by the shadow (`challenger`) too, and logged. The online
lookup and the model call are timed inside the handler and returned as `Server-Timing`-style
headers (`X-Online-Lookup-Ms`, `X-Model-Ms`) and in the `/metrics` histograms.

Hardening: a body over `max_body_bytes` is a 413 before it is read (`limits`); a 422 never
echoes a value JSON cannot carry (`errors`); `/predict` is a plain function, so its blocking
store and model calls run on request threads, not on the event loop; `/health` is 503 while
degraded (`health`), `/live` 200 while the process is up; and a new model version is checked in
a child process before it replaces the one served (`verify`).

This module deliberately has no `from __future__ import annotations`: FastAPI reads the request
model from the handler's annotations at definition time.
"""

import gc
import json
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    generate_latest,
)

from retrain_platform.core.bounded import clip_text
from retrain_platform.core.deployment.registry import CHAMPION
from retrain_platform.serving.errors import validation_body
from retrain_platform.serving.health import StoreProbe, health_body
from retrain_platform.serving.limits import BodyLimit
from retrain_platform.serving.metrics import ServingMetrics
from retrain_platform.serving.predict import ServingError, log, predict
from retrain_platform.serving.schemas import build_schemas
from retrain_platform.serving.settings import (
    FLAG,
    ONLINE,
    REJECT,
    REQUEST,
    ServingSettings,
)
from retrain_platform.serving.state import ServingState

__all__ = [
    "FLAG",
    "ONLINE",
    "REJECT",
    "REQUEST",
    "ServingSettings",
    "create_app",
]


def create_app(settings: ServingSettings) -> FastAPI:
    """The FastAPI application serving `settings.contract` (see the module doc)."""
    view = settings.view
    metrics = ServingMetrics()
    from retrain_platform.core.models.inputs import model_feature_names

    schemas = build_schemas(
        settings.contract,
        view,
        model_feature_names(settings.contract, view),
        max_batch=settings.max_batch,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        state = ServingState(settings, schemas, metrics)
        state.watcher.refresh()
        if state.model(CHAMPION) is None:
            log.warning(
                "%s@%s is not loadable yet (serving degraded, polling the registry): %s",
                settings.model_name,
                CHAMPION,
                state.watcher.slot(CHAMPION).last_error or "alias not set",
            )
        state.log.start()
        state.watcher.start()
        app.state.serving = state
        app.state.probe = StoreProbe(state.lookup, settings.store_timeout)
        if settings.freeze_heap:
            # Everything loaded so far (MLflow, Feast, LightGBM, the model) lives as long as
            # the process: kept out of the collector's generations, a full collection scans
            # only what requests allocate instead of pausing a request for the whole heap.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            app.state.probe.close()
            state.watcher.stop()
            state.log.close()

    # Swagger UI and ReDoc from files shipped in the package: `/docs` renders with no network.
    app = FastAPIOffline(
        title=f"{settings.contract.dataset} prediction service",
        lifespan=lifespan,
        description=f"Scores `{settings.model_name}@{CHAMPION}` on `{view.name}`.",
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, metrics=metrics)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        metrics.requests.labels(request.url.path, "422").inc()
        metrics.errors.labels("invalid_payload").inc()
        return JSONResponse(validation_body(exc.errors()), status_code=422)

    @app.exception_handler(ServingError)
    async def refused(request: Request, exc: ServingError) -> Response:
        metrics.requests.labels(request.url.path, str(exc.status)).inc()
        metrics.errors.labels(exc.reason).inc()
        return JSONResponse({"reason": exc.reason, "detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        metrics.requests.labels(request.url.path, "500").inc()
        metrics.errors.labels("internal").inc()
        log.exception("predict failed")
        detail = [{"msg": clip_text(exc), "type": type(exc).__name__}]
        return JSONResponse({"reason": "internal", "detail": detail}, status_code=500)

    def predict_endpoint(payload, request: Request) -> Response:  # noqa: ANN001
        """A plain function: FastAPI runs it on a request thread (it blocks on the store)."""
        started = time.perf_counter()
        state: ServingState = request.app.state.serving
        metrics.in_flight.inc()
        try:
            body, timings = predict(state, payload)
        finally:
            metrics.in_flight.dec()
        elapsed = time.perf_counter() - started
        metrics.latency.observe(elapsed)
        metrics.requests.labels("/predict", "200").inc()
        headers = {
            "X-Request-Id": body["request_id"],
            "X-Model-Ms": f"{timings.get('model', 0.0) * 1e3:.4f}",
            "X-Handler-Ms": f"{elapsed * 1e3:.4f}",
        }
        if "online" in timings:
            headers["X-Online-Lookup-Ms"] = f"{timings['online'] * 1e3:.4f}"
        return Response(json.dumps(body), media_type="application/json", headers=headers)

    predict_endpoint.__annotations__["payload"] = schemas.request
    app.post(
        "/predict",
        summary="Score entities (online features) or full feature rows",
        responses={
            404: {"description": "an entity has no online features"},
            409: {"description": "online features older than the contract allows"},
            413: {"description": "the request body is over the limit"},
            422: {"description": "the payload does not match the contract"},
            503: {"description": "no model loaded, or the online store does not answer"},
        },
    )(predict_endpoint)

    @app.get("/health", responses={503: {"description": "degraded: see `degraded_reasons`"}})
    async def health(request: Request) -> Response:
        online = await request.app.state.probe.ping()
        status, body = health_body(request.app.state.serving, online)
        return JSONResponse(body, status_code=status)

    @app.get("/live")
    async def live() -> dict[str, str]:
        """Liveness: 200 while the process answers HTTP, degraded or not."""
        return {"status": "alive"}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/empty", include_in_schema=False)
    async def empty() -> Response:
        """The baseline the benchmark compares `/predict` with: no work at all."""
        return Response(b"{}", media_type="application/json")

    return app
