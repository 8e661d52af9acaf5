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
import logging
import math
import time
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.deployment.registry import CHALLENGER, CHAMPION
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.serving import prediction_log as plog
from retrain_platform.serving.features import (
    DIRECT,
    OnlineLookup,
    OnlineRow,
    build_lookup,
    feature_max_age,
)
from retrain_platform.serving.models import CANARY, LoadedModel, ModelRegistryWatcher
from retrain_platform.serving.routing import CANARY_ROUTE, CHAMPION_ROUTE, route_for
from retrain_platform.serving.schemas import MAX_BATCH, RequestSchemas, build_schemas

log = logging.getLogger(__name__)
REJECT, FLAG = "reject", "flag"
ONLINE, REQUEST = "online", "request"
LATENCY_BUCKETS = (
    0.0002,
    0.0005,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ServingSettings:
    """What one service instance serves and how."""

    contract: DatasetContract
    store: MlflowStore
    feast: Any  # FeastResource (its online table or feature store)
    lake_uri: str
    model_name: str
    view_name: str | None = None  # default: the contract's first feature view
    storage_options: dict[str, str] = field(default_factory=dict)
    poll_seconds: float = 5.0
    canary_share: float = 0.0
    shadow: bool = True
    stale: str = REJECT  # reject: 409; flag: answer with `stale: true`
    max_feature_age: timedelta | None = None  # default: policy.max_feature_age, else view ttl
    lookup: str = DIRECT
    log_max_rows: int = 1000
    log_max_seconds: float = 2.0
    max_batch: int = MAX_BATCH
    freeze_heap: bool = False  # gc.freeze() once started: for a process that only serves
    now: Callable[[], datetime] = _utc_now

    @property
    def view(self) -> FeatureView:
        return self.contract.view(self.view_name)


class ServingError(Exception):
    """A request the service refuses with a status and a reason (never a bare 500)."""

    def __init__(self, status: int, reason: str, detail: list[dict[str, Any]]) -> None:
        super().__init__(reason)
        self.status, self.reason, self.detail = status, reason, detail


class ServingMetrics:
    """The service's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "retrain_serving_requests_total",
            "Requests by endpoint and status",
            ["endpoint", "status"],
            registry=r,
        )
        self.errors = Counter(
            "retrain_serving_errors_total", "Refused or failed requests", ["reason"], registry=r
        )
        self.latency = Histogram(
            "retrain_serving_request_seconds",
            "Time in the predict handler",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "retrain_serving_stage_seconds",
            "Online lookup and model calls",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "retrain_serving_predictions_total", "Scored items by route", ["route"], registry=r
        )
        self.stale = Counter(
            "retrain_serving_stale_features_total",
            "Items whose online features were older than allowed",
            registry=r,
        )
        self.model_version = Gauge(
            "retrain_serving_model_version", "Loaded version per alias", ["alias"], registry=r
        )
        self.canary_share = Gauge(
            "retrain_serving_canary_share", "Configured canary share", registry=r
        )
        self.reloads = Counter(
            "retrain_serving_model_reloads_total", "Alias moves applied", ["alias"], registry=r
        )
        self.log_pending = Gauge(
            "retrain_serving_prediction_log_pending",
            "Predictions buffered, not yet in the Delta log",
            registry=r,
        )


class ServingState:
    """Everything the handlers use, built by the lifespan."""

    def __init__(
        self, settings: ServingSettings, schemas: RequestSchemas, metrics: ServingMetrics
    ) -> None:
        self.settings = settings
        self.contract = settings.contract
        self.view = settings.view
        self.schemas = schemas
        self.metrics = metrics
        self.keys = list(self.view.entity_keys)
        self.max_age = settings.max_feature_age or feature_max_age(self.contract, self.view)
        self.threshold = self.contract.policy.decision_threshold
        aliases = [CHAMPION, CANARY] + ([CHALLENGER] if settings.shadow else [])
        self.watcher = ModelRegistryWatcher(
            settings.store,
            settings.model_name,
            aliases,
            interval=settings.poll_seconds,
            on_change=self._changed,
        )
        self.lookup: OnlineLookup = build_lookup(
            settings.lookup, settings.feast, self.contract, self.view
        )
        self.log = plog.PredictionLog(
            plog.predictions_uri(settings.lake_uri, self.contract),
            plog.log_schema(self.contract, self.view),
            max_rows=settings.log_max_rows,
            max_seconds=settings.log_max_seconds,
            storage_options=settings.storage_options,
        )
        metrics.canary_share.set(settings.canary_share)
        metrics.log_pending.set_function(lambda: self.log.pending)

    def _changed(self, alias: str, model: LoadedModel | None) -> None:
        self.metrics.model_version.labels(alias).set(-1 if model is None else model.version)
        self.metrics.reloads.labels(alias).inc()

    def model(self, alias: str) -> LoadedModel | None:
        slot = self.watcher.slots.get(alias)
        return None if slot is None else slot.current


def _matrix(items: list[dict[str, Any]], features: tuple[str, ...]) -> np.ndarray:
    nan = math.nan
    return np.array(
        [[nan if (v := item[n]) is None else float(v) for n in features] for item in items],
        dtype=np.float64,
    )


def _online_items(
    state: ServingState, entities: list[dict[str, Any]], timings: dict[str, float]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Features of each entity from the online store, with (event time, age, stale) checked."""
    started = time.perf_counter()
    rows: list[OnlineRow | None] = state.lookup.lookup(entities)
    timings["online"] = time.perf_counter() - started
    state.metrics.stage.labels("online_lookup").observe(timings["online"])
    missing = [i for i, row in enumerate(rows) if row is None]
    if missing:
        raise ServingError(
            404,
            "entity_not_online",
            [
                {
                    "loc": ["body", "entities", i],
                    "entity": entities[i],
                    "msg": "no online features for this entity",
                    "type": "entity_not_online",
                }
                for i in missing
            ],
        )
    now = state.settings.now()
    limit = state.max_age.total_seconds()
    meta, stale = [], []
    for i, row in enumerate(rows):
        assert row is not None
        age = None if row.event_time is None else (now - row.event_time).total_seconds()
        is_stale = age is None or age > limit
        meta.append((row.event_time, age, is_stale))
        if is_stale:
            stale.append(i)
    if stale:
        state.metrics.stale.inc(len(stale))
        if state.settings.stale == REJECT:
            raise ServingError(
                409,
                "stale_features",
                [
                    {
                        "loc": ["body", "entities", i],
                        "entity": entities[i],
                        "type": "stale_features",
                        "msg": "online features are older than the contract allows",
                        "feature_age_seconds": meta[i][1],
                        "max_feature_age_seconds": limit,
                    }
                    for i in stale
                ],
            )
    return [row.values for row in rows if row is not None], meta


def _score(
    state: ServingState,
    items: list[dict[str, Any]],
    entities: list[dict[str, Any]],
    timings: dict[str, float],
) -> tuple[list[str], list[LoadedModel], np.ndarray, LoadedModel | None, np.ndarray | None]:
    champion = state.model(CHAMPION)
    if champion is None:
        raise ServingError(
            503, "no_model", [{"msg": "no champion model is loaded", "type": "no_model"}]
        )
    canary = state.model(CANARY)
    share = state.settings.canary_share
    routes = [route_for(e, state.keys, share, canary is not None) for e in entities]
    used = [canary if r == CANARY_ROUTE and canary is not None else champion for r in routes]
    started = time.perf_counter()
    scores = np.empty(len(items), dtype=np.float64)
    for model in {id(m): m for m in used}.values():
        index = [i for i, m in enumerate(used) if m is model]
        absent = [n for n in model.features if n not in items[index[0]]]
        if absent:
            raise ServingError(
                503,
                "feature_mismatch",
                [
                    {
                        "msg": f"model version {model.version} needs features the store lacks",
                        "features": absent,
                        "type": "feature_mismatch",
                    }
                ],
            )
        scores[index] = model.predict(_matrix([items[i] for i in index], model.features))
    timings["model"] = time.perf_counter() - started
    state.metrics.stage.labels("model").observe(timings["model"])
    shadow = state.model(CHALLENGER)
    shadow_scores = None
    if shadow is not None:
        started = time.perf_counter()
        try:
            shadow_scores = shadow.predict(_matrix(items, shadow.features))
        except Exception as exc:  # noqa: BLE001 - the shadow never affects the answer
            state.metrics.errors.labels("shadow_failed").inc()
            log.warning("shadow version %s failed: %s", shadow.version, exc)
        timings["shadow"] = time.perf_counter() - started
        state.metrics.stage.labels("shadow").observe(timings["shadow"])
    return routes, used, scores, shadow, shadow_scores


def predict(state: ServingState, payload: Any) -> tuple[dict[str, Any], dict[str, float]]:
    """Score one validated request; returns the response body and the stage timings."""
    timings: dict[str, float] = {}
    request_id = uuid.uuid4().hex
    ts_name = state.contract.timestamp_name
    if payload.entities is not None:
        entities = [e.model_dump() for e in payload.entities]
        items, meta = _online_items(state, entities, timings)
        source = ONLINE
    else:
        items = [r.model_dump() for r in payload.rows]
        entities = [{k: item[k] for k in state.keys} for item in items]
        meta = [(item.get(ts_name), None, False) for item in items]
        source = REQUEST
    routes, used, scores, shadow, shadow_scores = _score(state, items, entities, timings)
    predicted_at = _utc_now()
    answers, records = [], []
    for i, entity in enumerate(entities):
        score = float(scores[i])
        decision = score >= state.threshold
        event_time, age, stale = meta[i]
        shadow_score = None if shadow_scores is None else float(shadow_scores[i])
        answers.append(
            {
                **entity,
                "score": score,
                "decision": decision,
                "route": routes[i],
                "model_version": used[i].version,
                "stale": stale,
                "feature_age_seconds": age,
            }
        )
        records.append(
            {
                plog.REQUEST_ID: request_id,
                plog.PREDICTED_AT: predicted_at,
                **entity,
                ts_name: event_time,
                plog.FEATURES: json.dumps({n: items[i].get(n) for n in used[i].features}),
                plog.MODEL_VERSION: used[i].version,
                plog.ROUTE: routes[i],
                plog.SCORE: score,
                plog.SHADOW_VERSION: None if shadow_score is None else shadow.version,  # type: ignore[union-attr]
                plog.SHADOW_SCORE: shadow_score,
                plog.DECISION: decision,
                plog.SOURCE: source,
                plog.STALE: stale,
                plog.FEATURE_AGE: age,
            }
        )
    state.log.append(records)
    for route in (CHAMPION_ROUTE, CANARY_ROUTE):
        n = routes.count(route)
        if n:
            state.metrics.predictions.labels(route).inc(n)
    return {"request_id": request_id, "predictions": answers}, timings


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

    app = FastAPI(
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
