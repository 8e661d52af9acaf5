"""Deployment: registry aliases, the decision history and verified, health-gated promotion.

`record_external_alias_moves` (from `alias_moves`) is exported here for the layers that read
the registry on a tick; it is imported on first use, so importing a sibling module (the
decision history, say) does not import MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrain_platform.core.deployment.alias_moves import record_external_alias_moves

__all__ = ["record_external_alias_moves"]


def __getattr__(name: str) -> Any:
    if name == "record_external_alias_moves":
        from retrain_platform.core.deployment import alias_moves

        return alias_moves.record_external_alias_moves
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
