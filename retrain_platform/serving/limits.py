"""The request body limit: a body over `max_bytes` is answered 413 before it is read whole.

A pure ASGI middleware in front of the application. A request that declares its length
(`Content-Length`) over the limit is refused at once, without reading a byte of the body. A
chunked request (no length) is read chunk by chunk and refused as soon as the chunks add up past
the limit, so the service never holds more than `max_bytes` plus one chunk of any request; a
chunked body within the limit is handed on to the application as it came. The server closes a
connection whose body was not read (uvicorn does), so the rest of the upload is not consumed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from retrain_platform.serving.metrics import ServingMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
TOO_LARGE = "payload_too_large"
_ENDPOINTS = frozenset({"/predict", "/health", "/live", "/metrics", "/empty"})  # label values


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413 (see the module doc)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, metrics: ServingMetrics) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit():
            if int(length) > self.max_bytes:
                await self._refuse(scope, send, int(length))
                return
            await self.app(scope, receive, send)  # the server reads no more than declared
            return
        if length is None and _header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body at all
            return
        received: list[Message] = []
        total = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break  # the client went away: let the application see it
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                await self._refuse(scope, send, None)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send, declared: int | None) -> None:
        path = scope.get("path", "")
        self.metrics.requests.labels(path if path in _ENDPOINTS else "other", "413").inc()
        self.metrics.errors.labels(TOO_LARGE).inc()
        size = "a chunked body over" if declared is None else f"{declared} bytes, over"
        detail = {
            "msg": f"request body too large: {size} the limit of {self.max_bytes} bytes",
            "type": TOO_LARGE,
            "limit_bytes": self.max_bytes,
        }
        body = json.dumps({"reason": TOO_LARGE, "detail": [detail]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
