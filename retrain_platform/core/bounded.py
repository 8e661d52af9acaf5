"""Bounded text: no landed value of unbounded size reaches event metadata, logs, alerts or records.

A landed cell can be megabytes long, and the Dagster event log, an alert or an error record copies
whatever it is given (once per event). Every value that comes from data is clipped here first to
`MAX_VALUE_CHARS`, with an elision marker that says how long the whole value was, so a reader knows
it was cut and by how much.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_VALUE_CHARS = 200
_MARKER = "…[{total} chars]"


def clip_text(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """`value` as text of at most `limit` characters plus a marker naming the full length."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return text[:limit] + _MARKER.format(total=len(text))


def clip_values(value: Any, limit: int = MAX_VALUE_CHARS) -> Any:
    """A copy of a JSON-like structure with every string (and key) clipped to `limit`."""
    if isinstance(value, str):
        return clip_text(value, limit)
    if isinstance(value, Mapping):
        return {clip_text(k, limit): clip_values(v, limit) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [clip_values(v, limit) for v in value]
    if isinstance(value, bytes | bytearray):
        return clip_text(value.hex(), limit)
    return value
