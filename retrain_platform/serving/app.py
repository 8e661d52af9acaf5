"""The prediction service: `POST /predict`, `GET /health`, `GET /metrics`, OpenAPI at `/docs`.

`create_app(settings)` builds a FastAPI application for one contract and feature view. On
startup (the lifespan) it loads the aliases it follows from the registry, opens the online
lookup and the prediction log, and starts the reload thread; on shutdown it stops the thread and
flushes the log, so every answered prediction is in the log.

A request carries entity keys (features read from the online store, their age checked against
the contract) or full feature rows; each item is routed by its entity hash to the champion or
the canary, scored, optionally scored by the shadow (`challenger`) too, and logged. The online
lookup and the model call are timed inside the handler and returned as `Server-Timing`-style
headers (`X-Online-Lookup-Ms`, `X-Model-Ms`) and in the `/metrics` histograms.

This module deliberately has no `from __future__ import annotations`: FastAPI reads the request
model from the handler's annotations at definition time.
"""

import gc
import json
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    generate_latest,
)

from retrain_platform.core.deployment.registry import CHALLENGER, CHAMPION
from retrain_platform.serving.metrics import ServingMetrics
from retrain_platform.serving.models import CANARY
from retrain_platform.serving.predict import ServingError, ServingState, log, predict
from retrain_platform.serving.schemas import build_schemas
from retrain_platform.serving.settings import (
    FLAG,
    ONLINE,
    REJECT,
    REQUEST,
    ServingSettings,
)

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
                "%s@%s is not loadable yet: %s",
                settings.model_name,
                CHAMPION,
                state.watcher.slot(CHAMPION).last_error or "alias not set",
            )
        state.log.start()
        state.watcher.start()
        app.state.serving = state
        if settings.freeze_heap:
            # Everything loaded so far (MLflow, Feast, LightGBM, the model) lives as long as
            # the process: kept out of the collector's generations, a full collection scans
            # only what requests allocate instead of pausing a request for the whole heap.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            state.watcher.stop()
            state.log.close()

    # Swagger UI and ReDoc from files shipped in the package: `/docs` renders with no network.
    app = FastAPIOffline(
        title=f"{settings.contract.dataset} prediction service",
        lifespan=lifespan,
        description=f"Scores `{settings.model_name}@{CHAMPION}` on `{view.name}`.",
    )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        metrics.requests.labels(request.url.path, "422").inc()
        metrics.errors.labels("invalid_payload").inc()
        return await request_validation_exception_handler(request, exc)

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
        return JSONResponse({"reason": "internal", "detail": [{"msg": str(exc)}]}, status_code=500)

    async def predict_endpoint(payload, request: Request) -> Response:  # noqa: ANN001
        started = time.perf_counter()
        state: ServingState = request.app.state.serving
        body, timings = predict(state, payload)
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
            422: {"description": "the payload does not match the contract"},
            503: {"description": "no model loaded"},
        },
    )(predict_endpoint)

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        state: ServingState = request.app.state.serving
        champion = state.model(CHAMPION)
        online = state.lookup.ping()
        return {
            "status": "ok" if champion is not None and online else "degraded",
            "model_name": settings.model_name,
            "model_version": None if champion is None else champion.version,
            "loaded": champion is not None,
            "canary_version": state.watcher.slot(CANARY).version,
            "canary_share": settings.canary_share,
            "shadow_version": (state.watcher.slot(CHALLENGER).version if settings.shadow else None),
            "online_store": online,
            "reload_error": state.watcher.slot(CHAMPION).last_error,
            "registry_polls": state.watcher.polls,
            "prediction_log_pending": state.log.pending,
        }

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/empty", include_in_schema=False)
    async def empty() -> Response:
        """The baseline the benchmark compares `/predict` with: no work at all."""
        return Response(b"{}", media_type="application/json")

    return app
