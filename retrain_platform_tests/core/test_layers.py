"""Raw and validated steps on a real Delta lake: idempotency, late files, faults, nothing lost."""

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.ingest.raw_layer import run_raw_step
from retrain_platform.core.lake import read_partitions, table_uri
from retrain_platform.core.synthetic import Fault, generate_day, write_landing_files
from retrain_platform.core.validate.layer import run_validated_step
from retrain_platform.core.validate.table_checks import HAS_MIN_ROWS, MATCHES_SCHEMA

START = date(2026, 1, 5)
ROWS = 1_500


class Lake:
    """Paths of one dataset's landing zone and tables under a temporary root."""

    def __init__(self, root: Path, contract) -> None:
        self.root, self.contract = root, contract
        self.landing = root / "landing"
        self.rejected = root / "rejected"
        self.raw = table_uri(str(root / "lake"), "raw", contract.dataset)
        self.validated = table_uri(str(root / "lake"), "validated", contract.dataset)
        self.quarantine = table_uri(str(root / "lake"), "validated", contract.dataset + "_q")

    def ingest(self, partitions):
        return run_raw_step(
            self.contract,
            partitions,
            landing_dir=self.landing,
            rejected_dir=self.rejected,
            index_dir=self.root / "index",
            raw_uri=self.raw,
            quarantine_uri=self.quarantine,
        )

    def validate(self, partition):
        return run_validated_step(
            self.contract,
            partition,
            raw_uri=self.raw,
            validated_uri=self.validated,
            quarantine_uri=self.quarantine,
        )

    def table(self, uri, partitions=None) -> pl.DataFrame:
        return read_partitions(uri, partitions)


def _days(n: int) -> list[str]:
    return [(START + timedelta(days=i)).isoformat() for i in range(n)]


@pytest.fixture
def lake(tmp_path, contract) -> Lake:
    return Lake(tmp_path, contract)


def test_rerunning_a_partition_gives_the_same_content_and_leaves_others_alone(lake, contract):
    write_landing_files(contract, lake.landing, start=START, days=3, rows_per_day=ROWS, seed=1)
    lake.ingest(_days(3))
    before = lake.table(lake.raw).sort(contract.primary_key)
    version = DeltaTable(lake.raw).version()
    lake.ingest([_days(3)[1]])
    after = lake.table(lake.raw).sort(contract.primary_key)
    assert DeltaTable(lake.raw).version() == version + 1
    assert after.equals(before)
    ops = DeltaTable(lake.raw).history(1)[0]
    assert _days(3)[1] in ops["operationParameters"]["predicate"]
    assert _days(3)[0] not in ops["operationParameters"]["predicate"]


def test_late_file_is_merged_into_its_old_partition(lake, contract):
    files = write_landing_files(
        contract, lake.landing, start=START, days=2, rows_per_day=ROWS, seed=1
    )
    first = _days(1)[0]
    lake.ingest([first])
    landed_first = lake.table(lake.raw, [first]).height
    assert {r for r in lake.table(lake.raw, [first]).get_column(pc.SOURCE_FILE)} == {
        files[0].path.name,
        files[1].path.name,
    }
    late = generate_day(contract, START, rows=40, seed=99)
    late.write_parquet(lake.landing / "late_batch_001.parquet")
    lake.ingest([first])
    merged = lake.table(lake.raw, [first])
    assert merged.height == landed_first + 40
    assert merged.filter(pl.col(pc.SOURCE_FILE) == "late_batch_001.parquet").height == 40


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("out_of_range", pc.REASON_CHECK),
        ("wrong_type", pc.REASON_CAST),
        ("duplicates", pc.REASON_DUPLICATE),
        ("missing_column", pc.REASON_MISSING_COLUMN),
        ("renamed_column", pc.REASON_MISSING_COLUMN),
        ("nulls", pc.REASON_CHECK),
    ],
)
def test_faulty_rows_are_quarantined_with_their_reason_and_nothing_is_lost(
    lake, contract, kind, reason
):
    day = START + timedelta(days=1)
    files = write_landing_files(
        contract,
        lake.landing,
        start=START,
        days=3,
        rows_per_day=ROWS,
        seed=2,
        faults=[Fault(kind, day)],
    )
    partitions = _days(4)  # the fourth holds the last day's late rows
    report = lake.ingest(partitions)
    landed_rows = sum(f.rows for f in files)
    assert sum(report.landed(p) for p in partitions) == landed_rows
    assert lake.table(lake.raw).height + lake.table(lake.quarantine).height == landed_rows
    for partition in partitions:
        step = lake.validate(partition)
        v = step.validation
        assert step.rows_raw == v.valid.height + v.quarantine.height + v.duplicates.height
    quarantine = lake.table(lake.quarantine)
    assert lake.table(lake.validated).height + quarantine.height == landed_rows
    faulty = quarantine.filter(pl.col(pc.PARTITION) == day.isoformat())
    assert faulty.filter(pl.col(pc.REASON) == reason).height > 0
    assert faulty.get_column(pc.RECORD).null_count() == 0
    untouched = quarantine.filter(pl.col(pc.PARTITION) == partitions[2])
    assert untouched.is_empty()


def test_missing_column_fails_the_blocking_schema_check_naming_file_and_column(lake, contract):
    day = START + timedelta(days=1)
    write_landing_files(
        contract,
        lake.landing,
        start=START,
        days=2,
        rows_per_day=ROWS,
        seed=2,
        faults=[Fault("missing_column", day)],
    )
    lake.ingest(_days(2))
    step = lake.validate(day.isoformat())
    schema = next(c for c in step.checks if c.name == MATCHES_SCHEMA)
    assert not schema.passed
    problem = schema.metadata["problems"][0]
    assert f"{contract.dataset}_{day.isoformat()}.parquet" in problem
    missing = lake.table(lake.quarantine).filter(pl.col(pc.REASON) == pc.REASON_MISSING_COLUMN)
    assert missing.get_column(pc.COLUMN).unique().to_list()[0] in problem


@pytest.mark.parametrize("kind", ["corrupt", "empty"])
def test_unreadable_or_empty_file_does_not_stop_the_others(lake, contract, kind):
    day = START + timedelta(days=1)
    files = write_landing_files(
        contract,
        lake.landing,
        start=START,
        days=3,
        rows_per_day=ROWS,
        seed=3,
        faults=[Fault(kind, day)],
    )
    bad = next(f for f in files if f.fault)
    report = lake.ingest(_days(3))
    if kind == "corrupt":
        assert bad.path.name in report.files_moved_aside
        assert not bad.path.exists()
        assert (lake.rejected / bad.path.name).exists()
        record = (lake.rejected / (bad.path.name + ".error.json")).read_text()
        assert record.count(bad.path.name) == 1
    else:  # an empty file is not an error: it stays (the ledger lists it as empty)
        assert bad.path.exists() and bad.path.name not in report.files_moved_aside
        assert bad.path.name not in report.files_used
    assert lake.table(lake.raw, [_days(3)[0]]).height > 0
    assert lake.table(lake.raw, [_days(3)[2]]).height > 0
    step = lake.validate(day.isoformat())
    volume = next(c for c in step.checks if c.name == HAS_MIN_ROWS)
    assert (
        not volume.passed and volume.metadata["rows"] < contract.expectations.min_rows_per_partition
    )


def test_a_failed_write_leaves_the_previous_version_readable(lake, contract, monkeypatch):
    write_landing_files(contract, lake.landing, start=START, days=1, rows_per_day=ROWS, seed=4)
    lake.ingest(_days(1))
    before = lake.table(lake.raw)
    version = DeltaTable(lake.raw).version()

    def explode(*args, **kwargs):
        msg = "disk full"
        raise RuntimeError(msg)

    monkeypatch.setattr("retrain_platform.core.ingest.raw_layer.ingest_partitions", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        lake.ingest(_days(1))
    assert DeltaTable(lake.raw).version() == version
    assert lake.table(lake.raw).equals(before)
