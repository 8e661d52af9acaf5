"""The demo leaves its sensors' state in the instance, and the real daemon carries on from it.

A short closed loop (ten backfilled days, two daily ones, no drift or faults, the shipped retrain
policy) runs on a temporary home; then `dagster-daemon run` is started on that home with the
repository's workspace, as `make dev` would, and the test polls (with a deadline) until the
automation sensor and the transactions retrain sensor have each ticked once. Asserted: both ticks
request no run and update the state the demo left, the automation tick continues the demo's
evaluation ids, and the retrain sensor records no decision the demo had already recorded.
The landing sensor's requests are content-based (tested in defs/ingest); here it is ticked by
the daemon with the others and must request nothing either.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import TickStatus

from retrain_platform.core.deployment.decisions import read_decisions
from retrain_platform.core.lake import table_uri
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.automation import AUTOMATION_SENSOR_NAME
from retrain_platform.defs.ingest.landing_sensor import landing_sensor_name
from retrain_platform.defs.monitoring.retrain_sensor import retrain_sensor_name
from retrain_platform.demo.loop import LoopOptions, run_closed_loop
from retrain_platform.demo.sensor_state import persist_sensor_cursors, sensor_origin, stored_cursor
from retrain_platform_tests.homes import isolate_home

REPO = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 240.0
POLL_SECONDS = 1.0


def _ticks(instance: dg.DagsterInstance, name: str) -> list:
    origin = sensor_origin(name)
    return list(instance.get_ticks(origin.get_id(), origin.get_selector().get_id()))


def _wait_for(condition, what: str):
    end = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(POLL_SECONDS)
    pytest.fail(f"timed out after {DEADLINE_SECONDS:.0f} s waiting for {what}")


def _history(home, contract):
    uri = table_uri(home.lake_uri, mk.DEPLOYMENT, mk.decisions_table(contract))
    return read_decisions(uri, storage_options=home.lake_storage_options)


def _decisions(home, contract) -> int:
    return _history(home, contract).height


def _last_event(home, contract) -> str:
    return _history(home, contract).sort("decided_at").get_column("event")[-1]


@pytest.mark.slow
def test_the_daemon_on_a_demo_home_requests_nothing_at_its_first_ticks(
    tmp_path, monkeypatch, contract
):
    home = isolate_home(monkeypatch, tmp_path / "home")
    options = LoopOptions(
        days=12,
        backfill_days=10,
        rows_per_day=1500,
        drift_day=None,
        faults=(),
        retrain_every_days=None,
    )
    run_closed_loop(contract, home, options, echo=lambda _line: None)
    retrain = retrain_sensor_name(contract)
    instance = dg.DagsterInstance.get()
    automation_cursor = stored_cursor(instance, AUTOMATION_SENSOR_NAME)
    assert automation_cursor and stored_cursor(instance, retrain)
    runs_before = {r.run_id for r in instance.get_runs()}
    decisions_before = _decisions(home, contract)
    last_event = _last_event(home, contract)

    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
        cwd=REPO,
        env={**os.environ},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def ticked():
            done = {
                name: [t for t in _ticks(instance, name) if t.status != TickStatus.STARTED]
                for name in (AUTOMATION_SENSOR_NAME, retrain, landing_sensor_name(contract))
            }
            return done if all(done.values()) else None

        done = _wait_for(ticked, "a tick of the automation and retrain sensors")
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=30)

    for name, ticks in done.items():
        assert all(t.status != TickStatus.FAILURE for t in ticks), (name, ticks[0].error)
        assert all(not t.run_ids for t in ticks), (name, [t.run_ids for t in ticks])
    new_runs = [
        r
        for r in instance.get_runs()
        if r.run_id not in runs_before
        and r.tags.get("dagster/sensor_name")
        in (AUTOMATION_SENSOR_NAME, retrain, landing_sensor_name(contract))
    ]
    assert new_runs == []
    # a "no retrain" state already recorded by the demo is not recorded again; after a retrain
    # on the last day the new state is recorded once, as the demo's next tick would
    appended = _decisions(home, contract) - decisions_before
    assert appended == (0 if last_event == "no_retrain" else 1)


def test_persisted_cursors_are_read_back_and_replaced(contract, home, instance):
    defs = build_definitions([contract], home)
    retrain = retrain_sensor_name(contract)
    assert stored_cursor(instance, retrain) is None
    persist_sensor_cursors(instance, defs, {retrain: '{"recorded": "a"}'})
    persist_sensor_cursors(instance, defs, {retrain: '{"recorded": "b"}'})
    assert stored_cursor(instance, retrain) == '{"recorded": "b"}'
    states = [s for s in instance.all_instigator_state() if s.name == retrain]
    assert len(states) == 1 and states[0].status.value == "DECLARED_IN_CODE"
    assert states[0].origin.repository_origin.code_location_origin.location_name == (
        "retrain_platform"
    )
