"""The `/predict` handler's work: features from the store or the request, the model's score, and
the refusals (`ServingError`) with a status and a reason, never a bare 500.

It blocks (sqlite, Redis, LightGBM) and runs on the server's request threads, never on the event
loop: a store that waits for a lock holds one request thread for at most `store_timeout`, then
the request is a 503 `online_store_unavailable`, and `/health` and other requests go on.
"""

import json
import logging
import math
import time
import uuid
from typing import Any

import numpy as np

from retrain_platform.core.bounded import clip_text
from retrain_platform.core.deployment.registry import CHALLENGER, CHAMPION
from retrain_platform.serving import prediction_log as plog
from retrain_platform.serving.features import OnlineRow
from retrain_platform.serving.models import CANARY, LoadedModel
from retrain_platform.serving.routing import CANARY_ROUTE, CHAMPION_ROUTE, route_for
from retrain_platform.serving.settings import (
    ONLINE,
    REJECT,
    REQUEST,
    _utc_now,
)
from retrain_platform.serving.state import ServingState

log = logging.getLogger(__name__)


class ServingError(Exception):
    """A request the service refuses with a status and a reason (never a bare 500)."""

    def __init__(self, status: int, reason: str, detail: list[dict[str, Any]]) -> None:
        super().__init__(reason)
        self.status, self.reason, self.detail = status, reason, detail


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
    try:
        rows: list[OnlineRow | None] = state.lookup.lookup(entities)
    except Exception as exc:  # noqa: BLE001 - a store that fails or waits too long: 503
        state.metrics.stage.labels("online_lookup").observe(time.perf_counter() - started)
        raise ServingError(
            503,
            "online_store_unavailable",
            [
                {
                    "msg": "the online store could not be read (a request waits at most "
                    f"{state.settings.store_timeout:g}s): {clip_text(exc)}",
                    "type": "online_store_unavailable",
                }
            ],
        ) from exc
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
    series = {state.keys[0]: state.contract.series_value} if state.view.keyless else {}
    if payload.entities is not None:
        entities = [{**e.model_dump(), **series} for e in payload.entities]
        items, meta = _online_items(state, entities, timings)
        source = ONLINE
    else:
        items = [{**r.model_dump(), **series} for r in payload.rows]
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
