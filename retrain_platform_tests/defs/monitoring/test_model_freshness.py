"""Freshness that decides: Dagster's freshness daemon evaluates the policies, the sensors act.

The real `dagster-daemon run` is started on a temporary DAGSTER_HOME holding the shipped
`dagster.yaml` (freshness evaluation on), with a code location declaring
`deployment/<dataset>_champion` and `validated/<dataset>_validated` with the platform's freshness
policies (`defs.freshness`, the ones the real assets carry: `defs/test_definitions.py`) and no
sensors, so the daemon launches nothing and loads in seconds. A deployment recorded 31 days ago
(fail window: the policy's 30 days) and validated data last written 4 days ago (`max_staleness` 3
days) must reach FAIL in the daemon's records; the retrain sensor then requests an age retrain with
the freshness reason and the data-freshness sensor sends one staleness alert. A new deployment
goes back to PASS and requests nothing. The daemon's evaluation interval is made 1 s; the
policies and the instance configuration are the shipped ones. Without the daemon's state an
equally old deployment requests nothing: the age is Dagster's evaluation, not the sensor's.
The simulated-clock path (the demo) is checked without a daemon.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID

from retrain_platform.core.deployment.decisions import TRIGGER_TAG
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.defs import keys
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.alerting import build_data_freshness_alert_sensor
from retrain_platform.defs.monitoring.model_freshness import DEPLOYED_AT
from retrain_platform.defs.monitoring.retrain_sensor import build_retrain_sensor
from retrain_platform.resources import ClockResource
from retrain_platform.resources.notifier import NotifierResource
from retrain_platform_tests.defs.monitoring.test_retrain_sensor import register_champion
from retrain_platform_tests.fixtures.receivers import webhook_receiver
from retrain_platform_tests.fixtures.sensors import retrain_sensor_context
from retrain_platform_tests.homes import isolate_home

REPO = Path(__file__).resolve().parents[3]
DEADLINE_SECONDS = 120.0
POLL_SECONDS = 0.25
REASON = "freshness policy failed: model older than 30 days"
LOCATION = textwrap.dedent(
    """
    import dagster as dg

    from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
    from retrain_platform.defs import keys
    from retrain_platform.defs import model_keys as mk
    from retrain_platform.defs.freshness import data_freshness_policy, model_freshness_policy

    contract = load_contract(DEFAULT_CONTRACT_PATH)
    model, data = model_freshness_policy(contract), data_freshness_policy(contract)
    defs = dg.Definitions(
        assets=[
            dg.AssetSpec(mk.deployment_key(contract), freshness_policy=model),
            dg.AssetSpec(keys.validated_key(contract), freshness_policy=data),
        ]
    )
    """
)


def record(instance: dg.DagsterInstance, key: dg.AssetKey, at: datetime, **metadata) -> None:
    """A materialization of `key` stored as having happened at `at`."""
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        event_specific_data=StepMaterializationData(
            dg.AssetMaterialization(asset_key=key, metadata=metadata)
        ),
        job_name=RUNLESS_JOB_NAME,
    )
    instance.report_dagster_event(event, run_id=RUNLESS_RUN_ID, timestamp=at.timestamp())


def deploy(instance: dg.DagsterInstance, contract, at: datetime) -> None:
    record(instance, mk.deployment_key(contract), at, **{DEPLOYED_AT: at.isoformat()})


def state_of(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    found = instance.get_freshness_state_records([key]).get(key)
    return found.freshness_state.value if found else None


def wait_for_state(instance, key: dg.AssetKey, expected: str) -> None:
    end = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < end:
        if state_of(instance, key) == expected:
            return
        time.sleep(POLL_SECONDS)
    pytest.fail(f"{key.to_user_string()} not {expected} after {DEADLINE_SECONDS:.0f} s")


def tick(sensor, instance, store: MlflowStore, home, clock: ClockResource, cursor=None):
    return sensor.evaluate_tick(retrain_sensor_context(instance, home, store, cursor, clock))


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.fixture
def store(tmp_path) -> MlflowStore:
    return MlflowStore(f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts"))


@pytest.mark.slow
def test_the_daemons_fail_state_triggers_the_age_retrain_and_the_staleness_alert(
    tmp_path, monkeypatch, contract, store
):
    home = isolate_home(monkeypatch, tmp_path / "home")
    (home.dagster_home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    location = tmp_path / "freshness_location.py"
    location.write_text(LOCATION)
    register_champion(store, contract.dataset, "2026-01-31")
    now = datetime.now(UTC)
    deployment, validated = mk.deployment_key(contract), keys.validated_key(contract)
    sensor, wall = build_retrain_sensor(contract), ClockResource()
    with dg.DagsterInstance.get() as instance:
        assert instance.freshness_enabled
        deploy(instance, contract, now - timedelta(days=31))
        record(instance, validated, now - timedelta(days=4))
        # no freshness state recorded yet: an old deployment alone does not fire
        quiet = tick(sensor, instance, store, home, wall)
        assert quiet.run_requests == [] and "no drift, performance or age" in quiet.skip_message

        daemon = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-f", str(location)],
            env={**os.environ, "FRESHNESS_DAEMON_INTERVAL_SECONDS": "1"},
            cwd=tmp_path,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_state(instance, deployment, "FAIL")
            (request,) = tick(sensor, instance, store, home, wall, quiet.cursor).run_requests
            assert request.tags[TRIGGER_TAG] == "age" and request.run_key == "age:1"
            reason = request.tags["retrain/reason"]
            assert reason.startswith(f"{REASON} (champion v1") and "freshness daemon" in reason

            wait_for_state(instance, validated, "FAIL")
            alert = build_data_freshness_alert_sensor(contract)
            with webhook_receiver() as received:
                notifier = NotifierResource(webhook_url=received.url)
                resources = {"notifier": notifier}
                context = dg.build_sensor_context(instance=instance, resources=resources)
                alert.evaluate_tick(context)
                body = received.next()["json"]
                assert body["text"].startswith(f"{contract.dataset}: {validated.to_user_string()}")
                assert "stale" in body["text"] and "3 days" in body["text"]
                context = dg.build_sensor_context(
                    instance=instance, cursor=context.cursor, resources=resources
                )
                alert.evaluate_tick(context)  # still stale: not alerted again
                assert received.items.empty()

            deploy(instance, contract, datetime.now(UTC))
            wait_for_state(instance, deployment, "PASS")
            fresh = tick(sensor, instance, store, home, wall, quiet.cursor)
            assert fresh.run_requests == [], fresh.run_requests
        finally:
            _stop(daemon)


def test_on_a_simulated_clock_the_same_rule_is_evaluated_at_the_clock(
    contract, store, instance, home
):
    """The demo's clock is simulated: the deployment's recorded `deployed_at` against it (the
    materialization's own wall time says nothing about simulated days)."""
    register_champion(store, contract.dataset, "2026-01-31")
    deployed = datetime(2027, 6, 1, tzinfo=UTC)
    record(
        instance,
        mk.deployment_key(contract),
        datetime.now(UTC),
        **{DEPLOYED_AT: deployed.isoformat()},
    )
    sensor = build_retrain_sensor(contract)

    def at(days: int):
        clock = ClockResource(fixed_at=(deployed + timedelta(days=days)).isoformat())
        return tick(sensor, instance, store, home, clock)

    quiet = at(29)
    assert quiet.run_requests == [] and "no drift, performance or age" in quiet.skip_message
    (request,) = at(30).run_requests
    assert request.tags[TRIGGER_TAG] == "age"
    assert request.tags["retrain/reason"].startswith(REASON)
    assert "evaluated by the simulated clock at 2027-07-01" in request.tags["retrain/reason"]
