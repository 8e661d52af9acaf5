"""The run-failure sensor: every failed Dagster run of the code location is reported.

Kept apart from `alerts.py` so the notifier (a plain resource) can be used from assets without
importing sensor machinery. The sensor reads the `notifier` resource, so an unconfigured notifier
(the embedded default) makes it a no-op rather than an error. An error message may quote data of
any size, so each one is clipped (`clip_text`) before it goes into the alert or the log.
"""

from __future__ import annotations

import dagster as dg

from retrain_platform.core.bounded import clip_text
from retrain_platform.resources.notifier import NotifierResource

NOTIFIER_RESOURCE_KEY = "notifier"
RUN_FAILURE_SENSOR_NAME = "retrain_run_failure_alert"


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
