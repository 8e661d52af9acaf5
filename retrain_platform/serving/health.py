"""`/health` (readiness) and `/live` (liveness) of the prediction service.

`/health` answers 200 only when the service can score: a champion is loaded and the online store
answers; else 503 with the same body, `status: degraded` and the reasons, so a load balancer
takes the instance out of rotation. It also reports every version a reload rejected (which
version, why, when) while the slot kept its model. `/live` is 200 while the process serves HTTP
at all: a degraded service (no loadable champion yet, store down) is alive and keeps polling the
registry, and must not be restarted in a loop for it.

The store is pinged on a thread of its own, never on the event loop and never behind the request
threads, with at most one ping in flight: `/health` answers within `timeout` even while a locked
store holds every request thread.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from retrain_platform.core.deployment.registry import CHALLENGER, CHAMPION
from retrain_platform.serving.features import OnlineLookup
from retrain_platform.serving.models import CANARY
from retrain_platform.serving.state import ServingState

OK, DEGRADED = "ok", "degraded"


class StoreProbe:
    """`lookup.ping()` on a dedicated thread, awaited for at most `timeout` seconds."""

    def __init__(self, lookup: OnlineLookup, timeout: float) -> None:
        self.lookup = lookup
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-ping")
        self._lock = threading.Lock()
        self._pending: Future[bool] | None = None

    async def ping(self) -> bool:
        """True when the store answered within the timeout (a ping still running is shared)."""
        with self._lock:
            if self._pending is None or self._pending.done():
                self._pending = self._executor.submit(self.lookup.ping)
            pending = self._pending
        try:
            waited = asyncio.shield(asyncio.wrap_future(pending))
            return bool(await asyncio.wait_for(waited, self.timeout))
        except Exception:  # noqa: BLE001 - timed out or failed: the store does not answer
            return False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def health_body(state: ServingState, online: bool) -> tuple[int, dict[str, Any]]:
    """(status code, body) of `/health`: 200 when ok, 503 when degraded (see the module doc)."""
    settings = state.settings
    watcher = state.watcher
    champion = state.model(CHAMPION)
    reasons = []
    if champion is None:
        reasons.append("no champion model is loaded")
    if not online:
        reasons.append("the online store does not answer")
    body = {
        "status": DEGRADED if reasons else OK,
        "degraded_reasons": reasons,
        "model_name": settings.model_name,
        "model_version": None if champion is None else champion.version,
        "loaded": champion is not None,
        "canary_version": watcher.slot(CANARY).version,
        "canary_share": settings.canary_share,
        "shadow_version": (watcher.slot(CHALLENGER).version if settings.shadow else None),
        "online_store": online,
        "reload_error": watcher.slot(CHAMPION).last_error,
        "rejected_reloads": {
            alias: slot.rejected.as_dict()
            for alias, slot in watcher.slots.items()
            if slot.rejected is not None
        },
        "registry_polls": watcher.polls,
        "prediction_log_pending": state.log.pending,
    }
    return (503 if reasons else 200), body
