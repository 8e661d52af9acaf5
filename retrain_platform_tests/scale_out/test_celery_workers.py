"""Scale-out: steps of real runs execute on two Celery workers sharing a PostgreSQL instance.

Real services, nothing mocked: RabbitMQ (broker), PostgreSQL (Dagster instance), two
`dagster-celery worker start` processes and the submitting `dagster` CLI processes, each configured
only through environment variables (`RETRAIN_EXECUTOR=celery`, see
`retrain_platform.defs.executors`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.lake import read_partitions
from retrain_platform.core.synthetic import Fault, GeneratedFile, write_landing_files
from retrain_platform.defs import keys
from retrain_platform.defs.executors import (
    BACKEND_ENV_VAR,
    BROKER_ENV_VAR,
    EXECUTOR_ENV_VAR,
    QUEUE_ENV_VAR,
    celery_worker_config,
)
from retrain_platform.defs.jobs import ingest_job_name, validate_job_name
from retrain_platform.home import HomeLayout
from retrain_platform_tests.fixtures.scale_out import (
    BROKER,
    PG,
    fresh_celery_queue,
    fresh_pg_database,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START = date(2026, 1, 5)
DAYS = 4
PARTITIONS = [date(2026, 1, 5 + i).isoformat() for i in range(DAYS)]
FAULTS = [Fault("duplicates", date(2026, 1, 6)), Fault("out_of_range", date(2026, 1, 7))]
WORKER_READY_S = 90
RUN_TIMEOUT_S = 240
CELERY_WORKER_TAG = "Celery worker"  # metadata label of dagster-celery's "in celery worker" event


@pytest.fixture
def pg_database() -> Iterator[str]:
    with fresh_pg_database("retrain_scale_out") as name:
        yield name


@pytest.fixture
def celery_queue() -> Iterator[str]:
    with fresh_celery_queue() as queue:
        yield queue


# -- platform home, instance, workers ------------------------------------------------------------


@dataclass
class Deployment:
    home: HomeLayout
    env: dict[str, str]
    files: list[GeneratedFile]
    logs: Path


@pytest.fixture
def deployment(tmp_path: Path, pg_database: str, celery_queue: str, contract) -> Deployment:
    home = HomeLayout(tmp_path / "home")
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir(parents=True)
    storage = {
        "postgres": {
            "postgres_db": {
                "username": PG["user"],
                "hostname": PG["host"],
                "port": PG["port"],
                "db_name": pg_database,
                "scheme": "postgresql+psycopg2",
            }
        }
    }
    instance_yaml = {"telemetry": {"enabled": False}, "storage": storage}
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml))
    # create the storage tables once, here: two workers starting at the same moment on an empty
    # database race to create them (PostgreSQL: "type alembic_version already exists")
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.get_runs(limit=1)
    files = write_landing_files(
        contract,
        home.landing_root / contract.dataset,
        start=START,
        days=DAYS,
        rows_per_day=1500,
        seed=3,
        faults=FAULTS,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETRAIN_", "DAGSTER_"))}
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "DAGSTER_HOME": str(dagster_home),
            "RETRAIN_HOME": str(home.home),
            EXECUTOR_ENV_VAR: "celery",
            BROKER_ENV_VAR: BROKER,
            BACKEND_ENV_VAR: "rpc://",
            QUEUE_ENV_VAR: celery_queue,
            "PYTHONUNBUFFERED": "1",
            # the files were written a moment ago: read them now, not after the grace period
            "RETRAIN_LANDING_GRACE_SECONDS": "0",
        }
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    return Deployment(home, env, files, logs)


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path

    def celery_pids(self) -> set[int]:
        """The dagster-celery CLI runs `celery worker` as a child; steps run there (solo pool)."""
        parents = _parent_pids()
        found, frontier = set(), {self.process.pid}
        while frontier:
            frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
            found |= frontier
        return found


def _parent_pids() -> dict[int, int]:
    """pid -> parent pid of every process (Linux /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    return parents


def start_worker(deployment: Deployment, name: str) -> Worker:
    config = deployment.logs / "celery_worker.yaml"
    config.write_text(yaml.safe_dump(celery_worker_config(deployment.env)))
    log = deployment.logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "dagster-celery"),
                "worker",
                "start",
                "-A",
                "dagster_celery.app",
                "-n",
                name,
                "-y",
                str(config),
                "-q",
                deployment.env[QUEUE_ENV_VAR],
                # deltalake panics in forked children: no prefork pool, one step at a time
                "--",
                "--pool=solo",
            ],
            cwd=REPO,
            env=deployment.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Worker(name, process, log)


def wait_ready(workers: list[Worker]) -> None:
    deadline = time.monotonic() + WORKER_READY_S
    pending = list(workers)
    while pending and time.monotonic() < deadline:
        for worker in list(pending):
            text = worker.log.read_text(errors="replace")
            if re.search(rf"{re.escape(worker.name)}@\S+ ready\.", text):
                pending.remove(worker)
            elif worker.process.poll() is not None:
                pytest.fail(f"celery worker {worker.name} exited:\n{text[-3000:]}")
        time.sleep(0.3)
    if pending:
        tails = "\n".join(f"--- {w.name}\n{w.log.read_text()[-2000:]}" for w in pending)
        pytest.fail(f"celery workers not ready within {WORKER_READY_S} s:\n{tails}")


def stop_workers(workers: list[Worker]) -> None:
    """Warm shutdown of each worker's process group (the CLI and its celery child)."""
    for worker in workers:
        if worker.process.poll() is None:
            os.killpg(worker.process.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=10)
        deadline = time.monotonic() + 15  # the celery child finishes its warm shutdown
        while time.monotonic() < deadline and _group_alive(worker.process.pid):
            time.sleep(0.2)
        if _group_alive(worker.process.pid):
            os.killpg(worker.process.pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def workers(deployment: Deployment) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    try:
        token = uuid.uuid4().hex[:6]
        for label in ("w1", "w2"):
            started.append(start_worker(deployment, f"{label}-{token}"))
        wait_ready(started)
        yield started
    finally:
        stop_workers(started)


def submit(deployment: Deployment, args: list[str], label: str) -> str:
    """Run one `dagster` CLI command (the submitting process); returns its output."""
    result = subprocess.run(
        [str(BIN / "dagster"), *args],
        cwd=REPO,
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{label} failed (exit {result.returncode}):\n{output[-4000:]}"
    return output


# -- the test ------------------------------------------------------------------------------------


def test_runs_spread_their_steps_over_two_celery_workers(deployment, workers, contract):
    env = deployment.env
    module = ["-m", "retrain_platform.definitions"]

    # one run ingests the whole range (one step), then one validate run per partition, all
    # submitted at once so that both workers have work
    submit(
        deployment,
        [
            "job",
            "execute",
            *module,
            "-j",
            ingest_job_name(contract),
            "--tags",
            json.dumps(
                {
                    "dagster/asset_partition_range_start": PARTITIONS[0],
                    "dagster/asset_partition_range_end": PARTITIONS[-1],
                }
            ),
        ],
        "ingest",
    )
    with ThreadPoolExecutor(len(PARTITIONS)) as pool:
        outputs = list(
            pool.map(
                lambda pk: submit(
                    deployment,
                    [
                        "job",
                        "execute",
                        *module,
                        "-j",
                        validate_job_name(contract),
                        "--tags",
                        json.dumps({"dagster/partition": pk}),
                    ],
                    f"validate {pk}",
                ),
                PARTITIONS,
            )
        )
    assert all(f'to queue "{env[QUEUE_ENV_VAR]}"' in out for out in outputs)

    worker_pids = {w.name: w.celery_pids() for w in workers}
    assert all(worker_pids.values()), worker_pids
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs()
        assert sorted(r.job_name for r in runs) == sorted(
            [ingest_job_name(contract)] + [validate_job_name(contract)] * DAYS
        )
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [
            (r.job_name, r.status) for r in runs
        ]
        steps: list[tuple[str, str, str, int]] = []  # run, step, worker name, pid
        for run in runs:
            entries = [r.event_log_entry for r in instance.get_records_for_run(run.run_id).records]
            started = {
                e.step_key: e.dagster_event.pid
                for e in entries
                if e.dagster_event_type == dg.DagsterEventType.STEP_START
            }
            on_worker = {
                e.step_key: e.dagster_event.engine_event_data.metadata[CELERY_WORKER_TAG].value
                for e in entries
                if e.dagster_event_type == dg.DagsterEventType.ENGINE_EVENT
                and CELERY_WORKER_TAG in e.dagster_event.engine_event_data.metadata
            }
            assert started and set(started) == set(on_worker), (run.job_name, started, on_worker)
            steps += [(run.run_id, key, on_worker[key], pid) for key, pid in started.items()]
        validated_partitions = instance.get_materialized_partitions(keys.validated_key(contract))
        raw_partitions = instance.get_materialized_partitions(keys.raw_key(contract))

    # every step ran in one of the two worker processes, and each worker ran at least one
    names = {name.split("@")[0] for _, _, name, _ in steps}
    assert names == {w.name for w in workers}, steps
    for _, step, name, pid in steps:
        assert pid in worker_pids[name.split("@")[0]], (step, name, pid, worker_pids)
    assert os.getpid() not in {pid for *_, pid in steps}
    print(f"\nsteps per worker: { {n: sum(s[2].startswith(n) for s in steps) for n in names} }")

    assert raw_partitions == set(PARTITIONS) == validated_partitions

    # the lake holds every landed row once: raw = landed; validated + quarantined = raw
    lake = deployment.home.lake_uri
    raw = read_partitions(f"{lake}/raw/{contract.dataset}")
    valid = read_partitions(f"{lake}/validated/{contract.dataset}")
    quarantine = read_partitions(f"{lake}/validated/{keys.quarantine_table(contract)}")
    row_id = [pc.SOURCE_FILE, pc.SOURCE_ROW]
    assert raw.height == sum(f.rows for f in deployment.files)
    assert raw.select(row_id).is_unique().all()
    assert sorted(raw[pc.PARTITION].unique()) == PARTITIONS
    held_back = quarantine.filter(pl.col(pc.STAGE) == pc.STAGE_VALIDATE)
    assert held_back.height > 0  # the injected faults reached the quarantine
    out = pl.concat([valid.select(row_id), held_back.select(row_id)])
    assert out.height == raw.height and out.is_unique().all()
    assert out.sort(row_id).equals(raw.select(row_id).sort(row_id))
    assert valid.select(contract.primary_key).is_unique().all()
    assert set(held_back[pc.REASON]) >= {pc.REASON_DUPLICATE, pc.REASON_CHECK}
