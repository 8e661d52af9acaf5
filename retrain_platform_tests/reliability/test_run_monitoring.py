"""Run monitoring of the shipped embedded `dagster.yaml`: a killed run ends FAILURE, not STARTED.

A run worker is started as its own process on a temporary DAGSTER_HOME holding the repository's
`dagster.yaml` (only the poll interval made small), its step blocks, and it is SIGKILLed with no
code server watching it: what a killed `make demo` or `make dev` leaves behind. The real
`dagster-daemon run` is then started on that home and the test polls, with a deadline, until the
run is FAILURE. The run carries the tag `dagster/max_runtime` so the runtime limit is reached in
seconds; everything else is the shipped configuration. Does not touch the platform's assets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 120.0
POLL_SECONDS = 0.2
JOB_FILE = textwrap.dedent(
    '''
    """A job whose step blocks until its process is killed."""
    import sys
    import time
    from pathlib import Path

    import dagster as dg


    @dg.op
    def block(context) -> None:
        Path(sys.argv[1]).write_text(context.run_id)
        while True:
            time.sleep(0.1)


    @dg.job
    def blocking_job() -> None:
        block()


    if __name__ == "__main__":
        blocking_job.execute_in_process(
            instance=dg.DagsterInstance.get(),
            tags={"dagster/max_runtime": "3", "dagster/max_retries": "0"},
        )
    '''
)


def _wait_for(condition, what: str, deadline: float = DEADLINE_SECONDS):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(POLL_SECONDS)
    pytest.fail(f"timed out after {deadline:.0f} s waiting for {what}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_a_killed_run_ends_failure_under_the_shipped_run_monitoring(tmp_path, monkeypatch):
    shipped = yaml.safe_load((REPO / "dagster.yaml").read_text())
    monitoring = shipped["run_monitoring"]
    assert monitoring["enabled"] is True and monitoring["max_resume_run_attempts"] == 0
    assert monitoring["max_runtime_seconds"] > 0
    shipped["run_monitoring"]["poll_interval_seconds"] = 1
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(shipped))
    job_file = tmp_path / "blocking_job.py"
    job_file.write_text(JOB_FILE)
    marker = tmp_path / "run_id"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    worker = subprocess.Popen(
        [sys.executable, str(job_file), str(marker)],
        env=env,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    daemon = None
    try:
        _wait_for(lambda: marker.exists() and marker.read_text(), "the step to start")
        run_id = marker.read_text()
        with dg.DagsterInstance.get() as instance:
            assert instance.run_monitoring_enabled
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED

            daemon = subprocess.Popen(
                [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-f", str(job_file)],
                env=env,
                cwd=tmp_path,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

            def finished():
                run = instance.get_run_by_id(run_id)
                return run if run and run.is_finished else None

            run = _wait_for(finished, "the monitoring daemon to end the run")
            assert run.status == dg.DagsterRunStatus.FAILURE
            messages = [e.message for e in instance.all_logs(run_id) if e.message]
            assert any("maximum runtime" in m for m in messages), messages[-5:]
    finally:
        _stop(worker)
        if daemon is not None:
            _stop(daemon)
