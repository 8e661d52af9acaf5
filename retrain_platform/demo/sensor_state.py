"""Leave the demo's sensor state in the Dagster instance, as the daemon would have kept it.

The loop ticks the retrain sensor and evaluates the automation conditions in-process (see
`driver`), so their cursors live in memory. Without them in the instance, `make dev` (`dg dev`)
on the demo's home would start both from nothing: the automation sensor with no evaluation state
and the retrain sensor with no record of its last decision. Here each is written as the sensor's
instigator state under the selector the daemon looks it up by (code location, repository, sensor
name), with the cursor in the daemon's own format, so the daemon's first ticks carry on from the
loop's last one.

Dagster has no public API to write a sensor's state (the UI's "set cursor" goes through GraphQL
to these same calls), so this is the one module of the package that imports Dagster internals;
`retrain_platform_tests/demo/test_sensor_state.py` runs the real daemon on a demo home against it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._core.remote_origin import (
    RegisteredCodeLocationOrigin,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    SensorInstigatorData,
)
from dagster._daemon.asset_daemon import asset_daemon_cursor_to_instigator_serialized_cursor

# The code location `make dev` serves (`[tool.dg.project]` / workspace.yaml) and the repository
# name of a `Definitions` object.
CODE_LOCATION_NAME = "retrain_platform"
REPOSITORY_NAME = "__repository__"


def sensor_origin(name: str) -> RemoteInstigatorOrigin:
    """The origin (and so the selector) of sensor `name` in the platform's code location."""
    repository = RemoteRepositoryOrigin(
        RegisteredCodeLocationOrigin(CODE_LOCATION_NAME), REPOSITORY_NAME
    )
    return RemoteInstigatorOrigin(repository, name)


def automation_cursor_text(cursor: Any) -> str | None:
    """An `evaluate_automation_conditions` cursor in the automation sensor's stored format."""
    return None if cursor is None else asset_daemon_cursor_to_instigator_serialized_cursor(cursor)


def persist_sensor_cursor(
    instance: dg.DagsterInstance,
    sensor: dg.SensorDefinition,
    cursor: str | None,
    *,
    ticked_at: float | None = None,
) -> InstigatorState:
    """Store `cursor` as the state of `sensor` (running, as declared in code), ticked at
    `ticked_at` (default now), replacing any state the instance had for it."""
    origin = sensor_origin(sensor.name)
    status = (
        InstigatorStatus.DECLARED_IN_CODE
        if sensor.default_status == dg.DefaultSensorStatus.RUNNING
        else InstigatorStatus.RUNNING
    )
    ticked_at = time.time() if ticked_at is None else ticked_at
    state = InstigatorState(
        origin,
        InstigatorType.SENSOR,
        status,
        SensorInstigatorData(
            last_tick_timestamp=ticked_at,
            min_interval=sensor.minimum_interval_seconds,
            cursor=cursor,
            last_sensor_start_timestamp=ticked_at,
            sensor_type=sensor.sensor_type,
        ),
    )
    if instance.get_instigator_state(origin.get_id(), state.selector_id):
        return instance.update_instigator_state(state)
    return instance.add_instigator_state(state)


def persist_sensor_cursors(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    cursors: Mapping[str, str | None],
) -> dict[str, str | None]:
    """`persist_sensor_cursor` for each sensor named in `cursors`; the cursors stored."""
    for name, cursor in cursors.items():
        persist_sensor_cursor(instance, defs.resolve_sensor_def(name), cursor)
    return dict(cursors)


def stored_cursor(instance: dg.DagsterInstance, name: str) -> str | None:
    """The cursor the instance holds for sensor `name` (None when it has no state)."""
    origin = sensor_origin(name)
    state = instance.get_instigator_state(origin.get_id(), origin.get_selector().get_id())
    data = state.instigator_data if state else None
    return data.cursor if isinstance(data, SensorInstigatorData) else None
