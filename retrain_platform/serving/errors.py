"""Error bodies that are always valid JSON and bounded, whatever the request held.

Python's JSON parser accepts `NaN` and `Infinity` literals, and pydantic's errors echo the
offending input: FastAPI's stock 422 handler then fails to encode its own answer (`Out of range
float values are not JSON compliant`) and the client gets a 500. Here every error item is rebuilt
from plain parts: its location, a `field` path (`rows[0].amount`), the message and type, and the
input echoed as JSON only when it is a finite number, a bool or null (else as clipped text, e.g.
`"nan"`), so a refusal never fails and never copies a megabyte of input back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from retrain_platform.core.bounded import clip_text

_ROOT = "body"
MAX_ERRORS = 100  # items in one 422: a 1000-row batch can hold tens of thousands of errors


def safe_value(value: Any) -> Any:
    """`value` as a JSON-compliant, bounded echo (see the module doc)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else clip_text(value)
    if isinstance(value, int):
        return value if abs(value) < 2**63 else clip_text(value)
    if isinstance(value, str):
        return clip_text(value)
    if isinstance(value, Mapping | list | tuple):
        try:
            return clip_text(json.dumps(value, default=str))
        except (TypeError, ValueError):
            return clip_text(value)
    return clip_text(value)


def field_path(loc: Sequence[Any]) -> str:
    """`["body", "rows", 0, "amount"]` as `rows[0].amount` (`body` for the body itself)."""
    parts = list(loc[1:] if loc and loc[0] == _ROOT else loc)
    if not parts:
        return _ROOT
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + clip_text(part, 100)
    return text


def validation_body(errors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The 422 body: the first `MAX_ERRORS` errors as safe items, and how many were left out."""
    body: dict[str, Any] = {"reason": "invalid_payload", "detail": validation_detail(errors)}
    if len(errors) > MAX_ERRORS:
        body["more_errors"] = len(errors) - MAX_ERRORS
    return body


def validation_detail(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI validation errors as safe items (location, field, msg, type, input)."""
    out: list[dict[str, Any]] = []
    for error in errors:
        if len(out) >= MAX_ERRORS:
            break
        loc = [p if isinstance(p, int) else clip_text(p, 100) for p in error.get("loc", ())]
        item: dict[str, Any] = {
            "loc": loc,
            "field": field_path(loc),
            "msg": clip_text(error.get("msg", "")),
            "type": clip_text(error.get("type", "")),
        }
        if "input" in error:
            item["input"] = safe_value(error["input"])
        ctx = error.get("ctx")
        if isinstance(ctx, Mapping):
            item["ctx"] = {clip_text(k, 100): safe_value(v) for k, v in ctx.items()}
        out.append(item)
    return out
