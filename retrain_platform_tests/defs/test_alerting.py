"""The run-failure sensor reports a real failed run through the notifier."""

from __future__ import annotations

import dagster as dg

from retrain_platform.defs.alerting import (
    NOTIFIER_RESOURCE_KEY,
    RUN_FAILURE_SENSOR_NAME,
    build_run_failure_sensor,
)
from retrain_platform.resources.notifier import NotifierResource
from retrain_platform_tests.fixtures.receivers import webhook_receiver


@dg.op
def explode() -> None:
    msg = "feature table missing for 1999-11-01"
    raise RuntimeError(msg)


@dg.job
def doomed_job() -> None:
    explode()


def _failed_run(instance: dg.DagsterInstance) -> tuple[dg.DagsterRun, dg.DagsterEvent]:
    result = doomed_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    records = instance.get_records_for_run(
        result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
    ).records
    assert run is not None and len(records) == 1
    return run, records[0].event_log_entry.dagster_event


def test_sensor_is_running_by_default_and_named() -> None:
    sensor = build_run_failure_sensor()
    assert sensor.name == RUN_FAILURE_SENSOR_NAME
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert NOTIFIER_RESOURCE_KEY in sensor.required_resource_keys


def test_failed_run_is_reported(instance: dg.DagsterInstance) -> None:
    run, event = _failed_run(instance)
    sensor = build_run_failure_sensor()
    with webhook_receiver() as received:
        with dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=event,
            dagster_instance=instance,
            dagster_run=run,
            resources={NOTIFIER_RESOURCE_KEY: NotifierResource(webhook_url=received.url)},
        ) as status_context:
            sensor(status_context.for_run_failure())
        payload = received.next()["json"]
    assert "doomed_job" in payload["text"]
    assert run.run_id in payload["text"]
    assert "feature table missing for 1999-11-01" in payload["text"]


def test_unconfigured_notifier_makes_the_sensor_a_no_op(instance: dg.DagsterInstance) -> None:
    run, event = _failed_run(instance)
    sensor = build_run_failure_sensor()
    with webhook_receiver() as received:
        with dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=event,
            dagster_instance=instance,
            dagster_run=run,
            resources={NOTIFIER_RESOURCE_KEY: NotifierResource()},
        ) as status_context:
            sensor(status_context.for_run_failure())
        assert received.items.empty()
