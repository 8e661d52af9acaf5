"""Moves of `champion` made outside the platform, noticed and recorded in the decision history.

The platform records every champion move it makes (promotion, rollback). A person or another tool
can also move the alias in the registry directly: nothing is recorded then, and `previous` still
names the version before the platform's last promotion, so a rollback would skip the version
that was serving before the hand move and restore an older one.

`record_external_alias_moves` compares the registry's champion with the last champion the
history recorded a move to and, when they differ, appends an `alias_move` row (trigger
`external`) and makes the version that served before (the last recorded champion) the rollback
target: alias `previous`, and the moved-to version's `deployment.previous_champion` tag. It runs
where the deployment layer reads the registry before moving anything: the deployment asset and
the rollback job; the retrain sensor can call it on each tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import polars as pl
from mlflow import MlflowClient

from retrain_platform.core.deployment.decisions import (
    ALIAS_MOVE,
    CHAMPION_AFTER,
    RETRAIN,
    ROLLBACK,
    Decision,
    append_decision,
    read_decisions,
)
from retrain_platform.core.deployment.registry import (
    CHAMPION,
    PREVIOUS,
    TAG_PREVIOUS_CHAMPION,
    alias_version,
)

EXTERNAL = "external"


def last_recorded_champion(history: pl.DataFrame) -> tuple[bool, int | None]:
    """(any move recorded, the champion after the last recorded move).

    Only rows of moves count (promotions, rollbacks, noticed moves): other rows (a rejected
    cycle, "no retrain") only copy what the registry said at the time, which may already be a
    move nobody recorded.
    """
    moves = history.filter(
        ((pl.col("event") == RETRAIN) & pl.col("promoted").fill_null(False))
        | pl.col("event").is_in([ROLLBACK, ALIAS_MOVE])
    )
    if moves.is_empty():
        return False, None
    return True, moves.get_column(CHAMPION_AFTER)[-1]


def record_external_alias_moves(
    client: MlflowClient,
    name: str,
    decisions_uri: str,
    *,
    dataset: str,
    now: datetime,
    storage_options: Mapping[str, str] | None = None,
) -> Decision | None:
    """Record a champion move made outside the platform, if any (see the module doc).

    Returns the `alias_move` row appended, None when the registry agrees with the history.
    Call it before the platform moves the alias itself (and, in a sensor, before it appends a
    row that copies the registry's champion), with the platform clock's `now`.
    """
    recorded_any, recorded = last_recorded_champion(read_decisions(decisions_uri, storage_options))
    current = alias_version(client, name, CHAMPION)
    if current == recorded or (not recorded_any and current is None):
        return None
    if recorded is not None and current is not None:
        client.set_registered_model_alias(name, PREVIOUS, str(recorded))
        client.set_model_version_tag(name, str(current), TAG_PREVIOUS_CHAMPION, str(recorded))
    before = "none" if recorded is None else f"version {recorded}"
    after = "none" if current is None else f"version {current}"
    decision = Decision(
        decided_at=now,
        event=ALIAS_MOVE,
        dataset=dataset,
        trigger=EXTERNAL,
        reason=(
            f"champion moved outside the platform from {before} to {after} (the registry "
            "disagreed with the last recorded champion)"
            + (f"; rollback target is now version {recorded}" if current and recorded else "")
        ),
        promoted=False,
        champion_before=recorded,
        champion_after=current,
        previous_after=alias_version(client, name, PREVIOUS),
        model_version=current,
    )
    append_decision(decisions_uri, decision, storage_options)
    return decision
