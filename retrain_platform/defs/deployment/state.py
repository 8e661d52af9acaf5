"""How every deployment event (promotion or rollback) is recorded, once for both.

An event that moved the registry aliases is appended to the decision history, a rollback is
alerted, and both report the same `deployment/<dataset>_champion` metadata: the champion, the
rollback target, when and why.

Kept apart from the deployment asset so that the rollback job imports only the registry client,
not the training stack.
"""

from datetime import datetime
from typing import Any

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.decisions import ROLLBACK, Decision, append_decision
from retrain_platform.core.deployment.registry import CHAMPION, AliasMove, alias_uri
from retrain_platform.defs import model_keys as mk
from retrain_platform.resources import DeltaLakeResource
from retrain_platform.resources.notifier import NotifierResource

PROMOTION_EVENT, ROLLBACK_EVENT, UNCHANGED_EVENT = "promotion", "rollback", "unchanged"


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


def record_deployment_event(
    contract: DatasetContract,
    decision: Decision,
    move: AliasMove,
    *,
    name: str,
    lake: DeltaLakeResource,
    notifier: NotifierResource,
) -> dict[str, Any]:
    """Record `decision` (a promotion or a `ROLLBACK`) and return its deployment metadata.

    The decision row is appended only when `move` moved the aliases: deploying the version that
    is already champion changes nothing and is reported as `unchanged`. A rollback alerts; a
    promotion does not (a failed health gate's rollback is recorded by the promotion itself).
    """
    if not move.moved:
        event = UNCHANGED_EVENT
    else:
        append_decision(
            lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)), decision, lake.storage_options
        )
        event = ROLLBACK_EVENT if decision.event == ROLLBACK else PROMOTION_EVENT
        if event == ROLLBACK_EVENT:
            notifier.rollback(contract.dataset, move.replaced, move.champion)
    return deployment_state(
        name=name,
        champion=move.champion,
        previous=move.previous,
        deployed_at=decision.decided_at,
        trigger=decision.trigger,
        reason=decision.reason,
        event=event,
    )
