"""What every deployment event (promotion or rollback) records as `deployment/<dataset>` metadata.

Kept apart from the deployment asset so that the rollback job imports only the registry client,
not the training stack.
"""

from datetime import datetime
from typing import Any

from retrain_platform.core.deployment.registry import CHAMPION, alias_uri


def deployment_state(
    *,
    name: str,
    champion: int,
    previous: int | None,
    deployed_at: datetime,
    trigger: str,
    reason: str,
    event: str,
) -> dict[str, Any]:
    """The champion, the rollback target, when, and why."""
    return {
        "registered_model": name,
        "champion_version": champion,
        "previous_version": previous if previous is not None else "none",
        "champion_uri": alias_uri(name, CHAMPION),
        "deployed_at": deployed_at.isoformat(),
        "trigger": trigger,
        "reason": reason,
        "event": event,
    }
