"""The landing sensor: new, late, changed and hostile files, evaluated tick by tick.

Requests are content-based (the digest of a partition's files against the ledger's last
ingested one), so the tests run what a tick requests, as the daemon would, before the next tick.
"""

import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from retrain_platform.core.ingest import ledger
from retrain_platform.core.synthetic import Fault, generate_day, write_landing_files
from retrain_platform.definitions import build_definitions
from retrain_platform.defs.ingest.landing_sensor import DIGEST_TAG

pytestmark = [
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
]

START = date(2026, 1, 5)
ROWS = 1500
SENSOR = "transactions_landing_sensor"
RAW = dg.AssetKey(["raw", "transactions_raw"])


class Landing:
    """The landing zone of one dataset and its sensor, evaluated against a real instance."""

    def __init__(self, contract, home, instance):
        self.contract = contract
        self.home = home
        self.instance = instance
        self.dir = home.landing_root / contract.dataset
        self.defs = build_definitions([contract], home)
        self.sensor = self.defs.resolve_sensor_def(SENSOR)

    def tick(self, cursor: str | None = None):
        """One evaluation, resolved the way the daemon does (partition keys checked by the job)."""
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=cursor,
            resources=self.defs.resources,
            definitions=self.defs,
        )
        return self.sensor.evaluate_tick(context)

    def run(self, data) -> None:
        """Execute a tick's requests (one run each), as the daemon would launch them."""
        job = self.defs.resolve_job_def(self.sensor.job_name)
        for request in data.run_requests:
            result = job.execute_in_process(
                instance=self.instance,
                partition_key=request.partition_key,
                tags={k: v for k, v in request.tags.items() if not k.startswith("dagster/")},
            )
            assert result.success

    def ledger(self) -> pl.DataFrame:
        uri = self.defs.resources["lake"].uri("landing", f"{self.contract.dataset}_ledger")
        return ledger.file_summary(ledger.read(uri))

    def write(self, **kwargs):
        args = {"start": START, "days": 3, "rows_per_day": ROWS, "seed": 0} | kwargs
        return write_landing_files(self.contract, self.dir, **args)

    def partitions_of(self, *paths: Path) -> set[str]:
        """Partition keys of the rows in the files, read straight from their timestamp column."""
        ts = self.contract.timestamp_name
        frames = [pl.read_parquet(p, columns=[ts]) for p in paths]
        days = pl.concat(frames).get_column(ts).dt.date().unique()
        return {d.isoformat() for d in days}


@pytest.fixture
def landing(contract, home, instance) -> Landing:
    return Landing(contract, home, instance)


def by_partition(data) -> dict[str, dg.RunRequest]:
    requests = {r.partition_key: r for r in data.run_requests}
    assert len(requests) == len(data.run_requests), "one request per partition"
    return requests


def test_new_files_request_exactly_their_partitions(landing):
    files = landing.write()
    assert [f.day for f in files] == [START + timedelta(days=i) for i in range(4)]
    expected = landing.partitions_of(*(f.path for f in files))
    # late rows of the last day travel in the extra file, so it adds no partition of its own
    assert expected == {"2026-01-05", "2026-01-06", "2026-01-07"}

    first = landing.tick()
    requests = by_partition(first)
    assert set(requests) == expected
    job = landing.defs.resolve_job_def(landing.sensor.job_name)
    assert job.asset_layer.executable_asset_keys == {RAW}
    for key, request in requests.items():
        assert request.tags["dagster/partition"] == key
        assert request.run_key == request.tags[DIGEST_TAG]
        assert request.run_key.startswith(f"{key}:")
        assert request.tags["retrain/trigger"] == "landing"
    # a day's partition is fed by its own file and the next day's (late rows)
    assert requests["2026-01-07"].tags["retrain/files"] == (
        "transactions_2026-01-07.parquet,transactions_2026-01-08.parquet"
    )
    # the files were recorded in the ledger, and the tick observed the ledger asset
    assert set(landing.ledger().get_column("file")) == {f.path.name for f in files}
    assert [e.asset_key for e in first.asset_events] == [
        dg.AssetKey(["landing", "transactions_landing"])
    ]

    landing.run(first)
    second = landing.tick()
    assert second.run_requests == []
    assert second.skip_message
    summary = landing.ledger()
    assert set(summary.get_column("status")) == {"ingested"}
    landed = summary.get_column("rows_landed")
    assert (summary.get_column("rows_raw") + summary.get_column("rows_quarantined") == landed).all()


def test_lost_cursor_and_index_request_nothing_already_ingested(landing):
    landing.write()
    first = landing.tick()
    keys = {r.run_key for r in first.run_requests}
    assert len(keys) == 3
    # before the runs: a second look asks for the same work under the same run keys
    assert {r.run_key for r in landing.tick().run_requests} == keys
    landing.run(first)
    # the cursor means nothing to the plan, and the landing index is a cache
    shutil.rmtree(landing.defs.resources["landing"].index_dir(landing.contract.dataset))
    assert landing.tick("garbage-cursor").run_requests == []


def test_a_partition_whose_run_failed_is_requested_again(landing):
    landing.write(days=1)
    first = landing.tick()
    (request,) = first.run_requests

    @dg.op
    def killed() -> None:
        msg = "the run worker was killed"
        raise RuntimeError(msg)

    failed = dg.GraphDefinition(name="killed_raw", node_defs=[killed]).to_job()
    failed.execute_in_process(
        instance=landing.instance, tags={DIGEST_TAG: request.tags[DIGEST_TAG]}, raise_on_error=False
    )
    (again,) = landing.tick().run_requests
    assert again.partition_key == request.partition_key
    assert again.run_key == request.run_key + ":attempt2"

    in_flight = landing.instance.create_run_for_job(
        failed, tags={DIGEST_TAG: request.tags[DIGEST_TAG]}, status=dg.DagsterRunStatus.STARTED
    )
    assert in_flight.status == dg.DagsterRunStatus.STARTED
    assert landing.tick().run_requests == []


def test_late_file_requests_only_the_old_partition(landing):
    landing.write()
    first = landing.tick()
    old_key = by_partition(first)["2026-01-05"].run_key
    landing.run(first)

    late = generate_day(landing.contract, START, rows=10, seed=7)
    late.write_parquet(landing.dir / "transactions_2026-01-05_resent.parquet")
    assert landing.partitions_of(landing.dir / "transactions_2026-01-05_resent.parquet") == {
        "2026-01-05"
    }

    second = landing.tick()
    requests = by_partition(second)
    assert set(requests) == {"2026-01-05"}
    assert requests["2026-01-05"].run_key != old_key
    # the request names every file that makes up the partition (the next day's has late rows)
    assert requests["2026-01-05"].tags["retrain/files"].split(",") == [
        "transactions_2026-01-05.parquet",
        "transactions_2026-01-05_resent.parquet",
        "transactions_2026-01-06.parquet",
    ]
    landing.run(second)
    assert landing.tick().run_requests == []


def test_changed_file_requests_its_partitions_again(landing):
    files = landing.write()
    first = landing.tick()
    old_keys = {r.partition_key: r.run_key for r in first.run_requests}
    landing.run(first)

    target = files[1].path  # transactions_2026-01-06.parquet
    before_partitions = landing.partitions_of(target)
    assert before_partitions == {"2026-01-05", "2026-01-06"}  # its late rows of the day before
    before = target.stat()
    generate_day(landing.contract, START + timedelta(days=1), rows=1200, seed=3).write_parquet(
        target
    )
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    assert target.stat().st_size != before.st_size

    second = landing.tick()
    requests = by_partition(second)
    # the new version's partition, and the one its old version had late rows in (to drop them)
    assert landing.partitions_of(target) == {"2026-01-06"}
    assert set(requests) == before_partitions
    assert requests["2026-01-06"].run_key != old_keys["2026-01-06"]
    landing.run(second)
    assert landing.tick().run_requests == []
    statuses = dict(landing.ledger().select("fingerprint", "status").iter_rows())
    assert sorted(statuses.values()).count("superseded") == 1


def test_hostile_names_are_refused_once(landing, tmp_path, capfd):
    landing.write(days=1)
    # each hostile file holds valid rows of a day nothing else touches: accepting it would show
    sample = generate_day(landing.contract, date(2026, 1, 20), rows=20, seed=1)
    hostile = ["a..b.parquet", "x" * 192 + ".parquet", "has space.csv", "notes.txt"]
    for name in hostile:
        if name.endswith(".csv"):
            sample.write_csv(landing.dir / name)
        else:
            sample.write_parquet(landing.dir / name)
    outside = tmp_path / "outside"
    outside.mkdir()
    sample.write_parquet(outside / "secret.parquet")
    os.symlink(outside / "secret.parquet", landing.dir / "link.parquet")
    # a dot-file is a temp file (a write in progress): listed as in progress, never ingested
    sample.write_parquet(landing.dir / "..evil.parquet")
    capfd.readouterr()

    first = landing.tick()
    assert set(by_partition(first)) == {"2026-01-05"}  # only the real file's rows
    logged = capfd.readouterr().err
    for name in [*hostile, "link.parquet"]:
        assert logged.count(f"refused landing file {name!r}") == 1, name
    assert "symbolic link pointing outside the landing zone" in logged
    statuses = dict(landing.ledger().select("file", "status").iter_rows())
    assert {statuses[n] for n in [*hostile, "link.parquet"]} == {"refused_name"}
    assert statuses["..evil.parquet"] == "in_progress"

    landing.run(first)
    second = landing.tick()
    assert second.run_requests == []
    assert "refused landing file" not in capfd.readouterr().err


def test_unreadable_file_is_moved_aside_at_the_tick_and_others_requested(landing, capfd):
    bad_day = START + timedelta(days=1)
    files = landing.write(faults=[Fault("corrupt", bad_day)])
    corrupt = next(f for f in files if f.fault == "corrupt")
    assert corrupt.day == bad_day
    with pytest.raises(Exception):  # noqa: B017 - any parser error: the file really is broken
        pl.read_parquet(corrupt.path)
    readable = [f.path for f in files if f.fault is None]
    capfd.readouterr()

    first = landing.tick()
    requests = by_partition(first)
    assert set(requests) == landing.partitions_of(*readable)
    for request in requests.values():
        assert corrupt.path.name not in request.tags["retrain/files"].split(",")
    # the day of the broken file is still requested through the late rows in the next file
    assert requests[bad_day.isoformat()].tags["retrain/files"] == "transactions_2026-01-07.parquet"
    assert f"landing file {corrupt.path.name} moved aside (unreadable)" in capfd.readouterr().err
    rejected = landing.home.rejected_root / landing.contract.dataset
    assert (rejected / corrupt.path.name).exists()
    assert not corrupt.path.exists()
    statuses = dict(landing.ledger().select("file", "status").iter_rows())
    assert statuses[corrupt.path.name] == "unreadable"
