"""Concurrent writers of one Delta table, and a writer killed mid-commit.

Every child is a `spawn`ed process (deltalake panics in fork()ed ones): Dagster runs executing
`run_ingest_partition` below, or plain Delta writers from
`retrain_platform_tests.fixtures.production`.
The tests wait on observable state with deadlines, never on fixed sleeps.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import time
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path

import dagster as dg
import polars as pl
from deltalake import DeltaTable, write_deltalake

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
from retrain_platform.core.lake import overwrite_partitions, read_partitions, table_uri
from retrain_platform.core.platform_columns import PARTITION
from retrain_platform.core.synthetic import write_landing_files
from retrain_platform.defs import keys
from retrain_platform.defs.ingest.raw import build_raw_asset
from retrain_platform.home import layout
from retrain_platform.resources import default_resources
from retrain_platform_tests.fixtures.production import big_write, hammer_partition, writer_frame

SPAWN = multiprocessing.get_context("spawn")
DEADLINE_S = 150.0
START = date(2026, 1, 5)
P1, P2 = START.isoformat(), (START + timedelta(days=1)).isoformat()
COMMIT_FILE = re.compile(r"^\d{20}\.json$")
TEST_RUN_TAG = "retrain/test"
MULTIPROCESS_INGEST_JOB = "transactions_ingest_multiprocess"


# --- what the spawned run processes execute (and their step subprocesses reconstruct) ----------


def multiprocess_definitions() -> dg.Definitions:
    """A code location with the platform's raw asset (default contract) and resources (home
    from the environment), and an ingest job that runs its step in a process of its own (the
    multiprocess executor), whatever `RETRAIN_EXECUTOR` says. Only the raw layer is loaded:
    each run and each step process rebuilds this, and the rest of the graph costs seconds."""
    contract = load_contract(DEFAULT_CONTRACT_PATH)
    raw = build_raw_asset(contract)
    job = dg.define_asset_job(
        MULTIPROCESS_INGEST_JOB, selection=[raw.key], executor_def=dg.multiprocess_executor
    )
    return dg.Definitions(assets=[raw], resources=default_resources(layout()), jobs=[job])


def multiprocess_ingest_job() -> dg.JobDefinition:
    return multiprocess_definitions().resolve_job_def(MULTIPROCESS_INGEST_JOB)


def run_ingest_partition(partition: str, tag: str, barrier: Barrier, timeout: float) -> None:
    """Run the ingest job for one partition on the instance at $DAGSTER_HOME (a child process)."""
    job = dg.reconstructable(multiprocess_ingest_job)
    with dg.DagsterInstance.get() as instance:
        barrier.wait(timeout)
        result = dg.execute_job(
            job,
            instance=instance,
            tags={"dagster/partition": partition, TEST_RUN_TAG: tag},
            raise_on_error=False,
        )
        if not result.success:
            raise SystemExit(1)


def run_children(processes: Sequence[multiprocessing.process.BaseProcess]) -> None:
    """Start the children, wait for all of them (with a deadline) and require exit code 0."""
    for process in processes:
        process.start()
    deadline = time.monotonic() + DEADLINE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    hung = [p.name for p in processes if p.is_alive()]
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(10)
    assert not hung, f"children still running after {DEADLINE_S:.0f} s: {hung}"
    assert [p.exitcode for p in processes] == [0] * len(processes)


def landed_ids(contract, files) -> dict[str, set[str]]:
    """Transaction ids landed per partition (event date), over every landing file."""
    ts = contract.timestamp_name
    landed = pl.concat([pl.read_parquet(f.path, columns=[ts, "transaction_id"]) for f in files])
    return {
        day.isoformat(): set(ids)
        for day, ids in landed.group_by(pl.col(ts).dt.date().alias("day"))
        .agg("transaction_id")
        .iter_rows()
    }


def same_rows(actual: pl.DataFrame, expected: pl.DataFrame) -> bool:
    return actual.select(expected.columns).sort("row_id").equals(expected.sort("row_id"))


def commits(uri: str) -> list[dict]:
    """The table's history, oldest first."""
    return sorted(DeltaTable(uri).history(), key=lambda c: c["version"])


def assert_every_version_consistent(uri: str, rows: int) -> None:
    """At every version each partition holds exactly one writer's complete frame."""
    for version in range(DeltaTable(uri).version() + 1):
        frame = read_partitions(uri, version=version)
        per_partition = frame.group_by(PARTITION).agg(
            pl.len().alias("rows"),
            pl.struct("writer", "seq").n_unique().alias("writes"),
            pl.col("row_id").n_unique().alias("ids"),
        )
        assert per_partition.filter(
            (pl.col("rows") != rows) | (pl.col("writes") != 1) | (pl.col("ids") != rows)
        ).is_empty(), (version, per_partition)


def test_ingest_runs_of_two_partitions_at_once_on_postgres_lose_and_duplicate_nothing(
    contract, production_env, pg_instance
):
    """Two runs start at once on the PostgreSQL instance, each with the multiprocess executor,
    and write different partitions of the same raw table (and quarantine table, and landing
    index): both succeed and each partition holds every landed row exactly once."""
    home = production_env
    files = write_landing_files(
        contract,
        home.landing_root / contract.dataset,
        start=START,
        days=2,
        rows_per_day=1500,
        seed=11,
    )
    expected = landed_ids(contract, files)
    tag = uuid.uuid4().hex
    targets = [P1, P2]
    barrier = SPAWN.Barrier(len(targets))
    run_children(
        [
            SPAWN.Process(
                target=run_ingest_partition,
                args=(pk, tag, barrier, DEADLINE_S),
                name=f"ingest-{pk}-{i}",
            )
            for i, pk in enumerate(targets)
        ]
    )

    runs = pg_instance.get_runs(filters=dg.RunsFilter(tags={TEST_RUN_TAG: tag}))
    assert sorted(r.tags["dagster/partition"] for r in runs) == targets
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    for run in runs:  # the multiprocess executor: the step ran in a process of its own
        events = [e.dagster_event for e in pg_instance.all_logs(run.run_id) if e.dagster_event]
        pids = {e.event_type: e.pid for e in events}
        assert pids[dg.DagsterEventType.RUN_START] != pids[dg.DagsterEventType.STEP_START]
        assert any("multiprocess executor" in (e.message or "") for e in events)
    assert pg_instance.get_materialized_partitions(keys.raw_key(contract)) == {P1, P2}

    raw_uri = table_uri(home.lake_uri, keys.RAW, contract.dataset)
    raw = read_partitions(raw_uri)
    for pk in (P1, P2):
        ids = raw.filter(pl.col(PARTITION) == pk).get_column("transaction_id")
        assert ids.is_unique().all(), pk
        assert set(ids) == expected[pk], pk
    # one commit per run, none lost
    written_by = [c.get("dagster_run_id") for c in commits(raw_uri) if c["operation"] == "WRITE"]
    assert sorted(written_by) == sorted(r.run_id for r in runs)


def test_overwrite_partitions_from_two_processes_loses_no_rows(tmp_path):
    """2 processes x 10 commits, each replacing its own partition of a table that does not
    exist yet (so the two race to create it too): every commit lands and no row is lost."""
    uri = str(tmp_path / "lake" / "hammer")
    rows, writes = 200, 10
    barrier = SPAWN.Barrier(2)
    run_children(
        [
            SPAWN.Process(
                target=hammer_partition,
                args=(uri, pk, f"w{i}", writes, rows, barrier, DEADLINE_S),
                name=f"w{i}",
            )
            for i, pk in enumerate((P1, P2))
        ]
    )

    table = read_partitions(uri)
    assert table.group_by(PARTITION, "writer", "seq").len().sort(PARTITION).rows() == [
        (P1, "w0", writes - 1, rows),
        (P2, "w1", writes - 1, rows),
    ]
    assert table.get_column("row_id").is_unique().all()
    written = [(c["writer"], int(c["seq"])) for c in commits(uri) if "writer" in c]
    assert sorted(written) == sorted((f"w{i}", s) for i in range(2) for s in range(writes))
    assert_every_version_consistent(uri, rows)


def test_same_partition_from_two_processes_keeps_one_writers_content(tmp_path):
    uri = str(tmp_path / "lake" / "race")
    rows, writes = 300, 3
    overwrite_partitions(uri, writer_frame([P2], rows, "seed", 0), [P2])
    barrier = SPAWN.Barrier(2)
    run_children(
        [
            SPAWN.Process(
                target=hammer_partition,
                args=(uri, P1, writer, writes, rows, barrier, DEADLINE_S),
                name=writer,
            )
            for writer in ("a", "b")
        ]
    )

    table = read_partitions(uri)
    final = table.filter(pl.col(PARTITION) == P1)
    ((writer, seq),) = final.select("writer", "seq").unique().rows()
    assert seq == writes - 1  # one writer's last frame, whole
    assert same_rows(final, writer_frame([P1], rows, writer, seq))
    assert table.filter(pl.col(PARTITION) == P2).get_column("writer").unique().to_list() == ["seed"]
    written = [c["writer"] for c in commits(uri) if c.get("writer") in ("a", "b")]
    assert sorted(written) == ["a"] * writes + ["b"] * writes  # every write committed
    assert_every_version_consistent(uri, rows)


def _data_files(uri: str) -> set[str]:
    root = Path(uri)
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "_delta_log" not in p.parts
    }


def _commit_files(uri: str) -> set[str]:
    log = Path(uri) / "_delta_log"
    return {p.name for p in log.iterdir() if COMMIT_FILE.match(p.name)} if log.is_dir() else set()


def _written_by(uri: str) -> list[str]:
    """Writers of the table's data commits (`writer` commit metadata), oldest first."""
    if not _commit_files(uri):
        return []
    return [c.get("writer", "?") for c in commits(uri) if c["operation"] == "WRITE"]


def start_and_stop_mid_write(child, uri: str, ready) -> None:
    """Start a `big_write` child and SIGSTOP it as soon as its first new data file appears,
    i.e. after it read the table state and before it can commit (checked, not assumed)."""
    files, writes = _data_files(uri) if Path(uri).exists() else set(), _written_by(uri)
    child.start()
    assert ready.wait(DEADLINE_S), "the writer never finished building its frame"
    deadline = time.monotonic() + DEADLINE_S
    while not (Path(uri).exists() and _data_files(uri) - files):
        assert child.is_alive(), f"writer exited ({child.exitcode}) before writing a file"
        assert time.monotonic() < deadline, "no data file appeared"
        time.sleep(0.001)
    os.kill(child.pid, signal.SIGSTOP)
    assert _written_by(uri) == writes, "the writer committed before it could be stopped"


def test_writer_killed_mid_write_leaves_the_previous_version(tmp_path):
    uri = str(tmp_path / "lake" / "killed")
    partitions = [(START + timedelta(days=i)).isoformat() for i in range(8)]
    before = writer_frame(partitions, 50, "before", 0)
    # small target files: a large write then adds data files for seconds before its commit
    write_deltalake(
        uri,
        before.to_arrow(),
        partition_by=[PARTITION],
        configuration={"delta.targetFileSize": str(256 * 1024)},
    )
    version, files, log = DeltaTable(uri).version(), _data_files(uri), _commit_files(uri)

    ready = SPAWN.Event()
    child = SPAWN.Process(
        target=big_write, args=(uri, partitions, 200_000, ready, "killed"), name="killed"
    )
    try:
        start_and_stop_mid_write(child, uri, ready)
        child.kill()  # SIGKILL: no cleanup, no commit
        child.join(30)
    finally:
        if child.is_alive():
            child.kill()
            child.join(30)
    assert child.exitcode == -signal.SIGKILL
    orphans = _data_files(uri) - files
    assert orphans  # what the killed writer left behind, referenced by no commit

    table = DeltaTable(uri)
    assert table.version() == version
    assert _commit_files(uri) == log
    referenced = {Path(u).name for u in table.file_uris()}
    assert referenced and not referenced & {Path(o).name for o in orphans}
    assert same_rows(read_partitions(uri), before)

    after = writer_frame(partitions, 120, "rerun", 1)  # the partitions re-run cleanly
    assert overwrite_partitions(uri, after, partitions) == version + 1
    assert same_rows(read_partitions(uri), after)
    assert same_rows(read_partitions(uri, version=version), before)


def test_first_writes_racing_to_create_the_table_keep_one_writers_partition(tmp_path):
    """Two first writers of a partition, deterministically interleaved: ours has looked at the
    (missing) table and is writing files when the other writer commits; then ours commits."""
    uri = str(tmp_path / "lake" / "created")
    partitions = [(START + timedelta(days=i)).isoformat() for i in range(8)]
    ready = SPAWN.Event()
    child = SPAWN.Process(
        target=big_write, args=(uri, partitions, 200_000, ready, "ours"), name="ours"
    )
    try:
        start_and_stop_mid_write(child, uri, ready)
        overwrite_partitions(
            uri, writer_frame([P1], 100, "theirs", 0), [P1], commit_metadata={"writer": "theirs"}
        )
        os.kill(child.pid, signal.SIGCONT)
        child.join(DEADLINE_S)
    finally:
        if child.is_alive():
            child.kill()
            child.join(30)
    assert child.exitcode == 0
    assert _written_by(uri)[-1] == "ours"  # ours committed last, after theirs

    table = read_partitions(uri)
    assert table.filter(pl.col(PARTITION) == P1).get_column("writer").unique().to_list() == [
        "ours"
    ]  # ours replaced theirs; no partition holds both writers' rows
    assert table.get_column("row_id").is_unique().all()
    assert table.height == 8 * 200_000
