"""The deployed model's freshness as the retrain sensor's age trigger observes it.

On the wall clock the observation is Dagster's own: the latest freshness state its daemon
recorded for `deployment/<dataset>_champion` (`defs.freshness.model_freshness_policy`). A state
recorded before the deployment's latest materialization belongs to an earlier champion (the daemon
re-evaluates within 30 s) and is read as UNKNOWN, so a new champion is never retrained for its
predecessor's age. No state (freshness evaluation off, daemon not run yet, never deployed) is
UNKNOWN too: the age trigger then does not fire.

On a simulated clock (`ClockResource.fixed_at`: the closed-loop demo, a replay) wall-time
freshness means nothing, since a simulated month passes in minutes. There the same
time-window rule is evaluated at the clock's now, from the `deployed_at` the deployment recorded
in its latest materialization's metadata (written with the same clock).
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.monitoring.trigger_inputs import (
    FRESHNESS_UNKNOWN,
    FreshnessObservation,
    time_window_state,
)
from retrain_platform.defs.freshness import WARN_SHARE, model_fail_window, model_freshness_key

DEPLOYED_AT = "deployed_at"  # the deployment's metadata: when it moved the champion (its clock)
BY_DAGSTER = "Dagster's freshness daemon"
BY_CLOCK = "the simulated clock"


def _latest_deployment(
    instance: dg.DagsterInstance, contract: DatasetContract
) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(model_freshness_key(contract), limit=1).records
    return records[0] if records else None


def dagster_model_freshness(
    instance: dg.DagsterInstance, contract: DatasetContract
) -> FreshnessObservation:
    """The deployment's freshness state as Dagster's freshness daemon last recorded it."""
    key = model_freshness_key(contract)
    deployment = _latest_deployment(instance, contract)
    deployed = datetime.fromtimestamp(deployment.timestamp, UTC) if deployment else None
    record = instance.get_freshness_state_records([key]).get(key)
    if record is None:
        return FreshnessObservation(FRESHNESS_UNKNOWN, deployed, None, BY_DAGSTER)
    since = record.updated_at
    if deployed is not None and since < deployed:
        return FreshnessObservation(
            FRESHNESS_UNKNOWN, deployed, None, f"{BY_DAGSTER} (not yet for this deployment)"
        )
    return FreshnessObservation(record.freshness_state.value, deployed, since, BY_DAGSTER)


def _deployed_at(record: dg.EventLogRecord | None) -> datetime | None:
    event = record.asset_materialization if record is not None else None
    value = event.metadata.get(DEPLOYED_AT) if event is not None else None
    if value is None or not isinstance(value.value, str):
        return None
    moment = datetime.fromisoformat(value.value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def clock_model_freshness(
    instance: dg.DagsterInstance, contract: DatasetContract, now: datetime
) -> FreshnessObservation:
    """The deployment's freshness under the same policy, evaluated at a simulated `now`."""
    deployed = _deployed_at(_latest_deployment(instance, contract))
    fail = model_fail_window(contract)
    state = time_window_state(deployed, now, fail, fail * WARN_SHARE)
    return FreshnessObservation(state, deployed, None, f"{BY_CLOCK} at {now:%Y-%m-%d %H:%M}")


def observe_model_freshness(
    instance: dg.DagsterInstance, contract: DatasetContract, now: datetime, *, simulated: bool
) -> FreshnessObservation:
    """Dagster's state on the wall clock, the clock's evaluation on a simulated one."""
    if simulated:
        return clock_model_freshness(instance, contract, now)
    return dagster_model_freshness(instance, contract)
