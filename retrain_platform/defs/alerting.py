"""Alert sensors: every failed Dagster run, and data that Dagster's freshness evaluation finds
stale.

`retrain_run_failure_alert` reports every failed run of the code location.
`<dataset>_data_freshness_alert` reads the freshness states Dagster's freshness daemon records
for the assets carrying the contract's data freshness policy (`defs.freshness`: the validated
and features tables, fail window `expectations.max_staleness`) and sends one data-staleness
alert each time one of them enters FAIL (its cursor keeps the state change it alerted, so a
table that stays stale is reported once, and again after it recovered and went stale again).
The hourly `newest_partition_is_fresh` check looks at the data's own event times and only
shows in the UI: the staleness alert comes from this sensor alone.

Kept apart from `alerts.py` so the notifier (a plain resource) can be used from assets without
importing sensor machinery. The sensor reads the `notifier` resource, so an unconfigured notifier
(the embedded default) makes it a no-op rather than an error. An error message may quote data of
any size, so each one is clipped (`clip_text`) before it goes into the alert or the log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.bounded import clip_text
from retrain_platform.core.monitoring.trigger_inputs import FRESHNESS_FAIL
from retrain_platform.defs.freshness import data_freshness_keys
from retrain_platform.resources.notifier import Alert, NotifierResource

NOTIFIER_RESOURCE_KEY = "notifier"
RUN_FAILURE_SENSOR_NAME = "retrain_run_failure_alert"
DATA_STALE = "data_stale"  # the alert's event


def failure_message(context: dg.RunFailureSensorContext) -> str:
    """The failure's message, with each failing step's error (clipped) when Dagster recorded one."""
    message = clip_text(context.failure_event.message or "")
    for step_event in context.get_step_failure_events():
        data = step_event.step_failure_data
        if data is None or data.error is None:
            continue
        error = data.error
        while error.cause is not None:  # the user's exception is wrapped by Dagster's own
            error = error.cause
        message += f"\n{step_event.step_key}: {error.cls_name}: {clip_text(error.message.strip())}"
    return message.strip()


def build_run_failure_sensor(
    name: str = RUN_FAILURE_SENSOR_NAME,
    *,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """A `run_failure_sensor` (running by default) that sends `notifier.run_failed`."""

    @dg.run_failure_sensor(
        name=name,
        default_status=default_status,
        description="Sends an alert (webhook / email) for every failed run.",
    )
    def _run_failure_alert(context: dg.RunFailureSensorContext, notifier: NotifierResource) -> None:
        run = context.dagster_run
        delivery = notifier.run_failed(run.run_id, run.job_name, failure_message(context))
        if delivery.errors:
            errors = clip_text("; ".join(delivery.errors))
            context.log.warning(f"run-failure alert not delivered: {errors}")

    return _run_failure_alert


def data_freshness_alert_sensor_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_data_freshness_alert"


def newly_failed(states: Mapping[str, tuple[str, str]], alerted: Mapping[str, str]) -> list[str]:
    """Assets whose current state (`(state, changed_at)` per asset) is a FAIL not yet alerted."""
    return [
        asset
        for asset, (state, changed_at) in sorted(states.items())
        if state == FRESHNESS_FAIL and alerted.get(asset) != changed_at
    ]


def stale_data_alert(contract: DatasetContract, asset: str, since: str) -> Alert:
    limit = contract.expectations.max_staleness
    return Alert(
        DATA_STALE,
        f"{contract.dataset}: {asset} is stale",
        f"not updated for more than {limit} (its freshness policy failed at {since}); "
        "check the landing zone and the ingest and validate runs",
        {"dataset": contract.dataset, "asset": asset, "max_staleness": str(limit)},
    )


def build_data_freshness_alert_sensor(contract: DatasetContract) -> dg.SensorDefinition | None:
    """`<dataset>_data_freshness_alert` (running by default); None without `max_staleness`."""
    watched = data_freshness_keys(contract)
    if not watched:
        return None

    @dg.sensor(
        name=data_freshness_alert_sensor_name(contract),
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Sends a data-staleness alert when Dagster's freshness evaluation finds a "
            f"{contract.dataset} validated or features table not updated for "
            f"{contract.expectations.max_staleness} (freshness state FAIL); once per failure."
        ),
    )
    def _data_freshness_alert(
        context: dg.SensorEvaluationContext, notifier: NotifierResource
    ) -> dg.SkipReason:
        alerted: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        records = context.instance.get_freshness_state_records(watched)
        states = {
            key.to_user_string(): (record.freshness_state.value, record.updated_at.isoformat())
            for key, record in records.items()
        }
        stale = newly_failed(states, alerted)
        for asset in stale:
            delivery = notifier.send(stale_data_alert(contract, asset, states[asset][1]))
            context.log.warning(f"{asset} is stale (freshness FAIL since {states[asset][1]})")
            if delivery.errors:
                context.log.warning(f"data-staleness alert not delivered: {delivery.errors}")
            alerted[asset] = states[asset][1]
        context.update_cursor(json.dumps(alerted, sort_keys=True))
        summary = ", ".join(f"{a} {s}" for a, (s, _) in sorted(states.items())) or "none yet"
        return dg.SkipReason(
            f"alerted {', '.join(stale)}; states: {summary}" if stale else f"states: {summary}"
        )

    return _data_freshness_alert
