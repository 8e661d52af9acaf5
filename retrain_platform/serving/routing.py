"""Canary routing: a stable hash of the entity keys decides which model answers.

The share is a fraction of the hash space, so an entity always takes the same route for a given
share (and raising the share only moves entities from champion to canary, never back). The hash
is blake2b of the keys' JSON, not Python's `hash`, which is salted per process.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

CHAMPION_ROUTE, CANARY_ROUTE = "champion", "canary"
_SPACE = float(2**64)


def entity_bucket(entity: Mapping[str, Any], keys: Sequence[str]) -> float:
    """A number in [0, 1) fixed by the entity's key values."""
    blob = json.dumps([entity[k] for k in keys], default=str, separators=(",", ":")).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big") / _SPACE


def route_for(
    entity: Mapping[str, Any], keys: Sequence[str], canary_share: float, canary_available: bool
) -> str:
    """`canary` when a canary model is loaded and the entity's bucket falls in its share."""
    if canary_available and canary_share > 0 and entity_bucket(entity, keys) < canary_share:
        return CANARY_ROUTE
    return CHAMPION_ROUTE
