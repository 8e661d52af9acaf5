"""Kill points of the raw step: SIGKILL after the data files but before the commit, and between the
raw and the quarantine commits. Either way the previous good state stays readable, the ledger
holds no digest for the partition, so the next tick requests it again, and the rerun ingests
every row exactly once.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import uuid
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from retrain_platform.core import platform_columns as pc
from retrain_platform_tests.fixtures.landing import LandingHarness, write
from retrain_platform_tests.reliability.test_landing_faults import ROWS, good

SPAWN = multiprocessing.get_context("spawn")  # deltalake panics in forked children


def _raw_step_killed_at(point: str, args: dict) -> None:
    """Child: run the raw step with the lake patched to die at `point`."""
    import retrain_platform.core.lake as lake
    from retrain_platform.core.ingest import raw_layer

    real = lake.write_deltalake
    calls = {"n": 0}

    def dying_write(table, data, **kwargs):  # noqa: ANN001, ANN003
        calls["n"] += 1
        if point == "before_commit":  # the data files are written; the commit never happens
            pq.write_table(
                data, Path(table.table_uri.removeprefix("file://")) / f"{uuid.uuid4()}.parquet"
            )
            os.kill(os.getpid(), signal.SIGKILL)
        if point == "between_commits" and calls["n"] == 2:  # raw committed, quarantine not
            os.kill(os.getpid(), signal.SIGKILL)
        return real(table, data, **kwargs)

    lake.write_deltalake = dying_write
    raw_layer.run_raw_step(**args)


@pytest.mark.parametrize("point", ["before_commit", "between_commits"])
def test_a_killed_raw_step_is_requested_again_and_heals(contract, home, instance, point):
    landing = LandingHarness(contract, home, instance)
    first = write(good(contract, seed=2), landing.dir / "first.parquet")
    landing.settle()
    raw_uri = landing.lake.uri("raw", contract.dataset)
    quarantine_uri = landing.lake.uri("validated", f"{contract.dataset}_quarantine")
    before = (DeltaTable(raw_uri).version(), DeltaTable(quarantine_uri).version())

    # a second file for the same partition, with a row that cannot be typed (it goes to quarantine)
    column = next(c.name for c in contract.columns if c.dtype == "float64")
    frame = good(contract, seed=3).with_columns(pl.col(column).cast(pl.String))
    bad = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("n/a"))
        .otherwise(pl.col(column))
        .alias(column)
    )
    write(bad, landing.dir / "second.parquet")
    (request,) = landing.tick().run_requests
    resources = landing.defs.resources["landing"]
    args = {
        "contract": contract,
        "partitions": [request.partition_key],
        "landing_dir": landing.dir,
        "rejected_dir": landing.rejected,
        "index_dir": resources.index_dir(contract.dataset),
        "raw_uri": raw_uri,
        "quarantine_uri": quarantine_uri,
        "ledger_uri": landing.lake.uri("landing", f"{contract.dataset}_ledger"),
        "valid": {request.partition_key},
    }
    child = SPAWN.Process(target=_raw_step_killed_at, args=(point, args))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL

    after = (DeltaTable(raw_uri).version(), DeltaTable(quarantine_uri).version())
    if point == "before_commit":
        assert after == before  # orphan data files, no commit: the previous version is current
    else:
        assert after == (before[0] + 1, before[1])  # raw committed, quarantine not
    assert pl.read_delta(raw_uri).filter(pl.col(pc.SOURCE_FILE) == first.name).height == ROWS

    # no digest was recorded: the next tick asks for the partition again, and the rerun heals
    (again,) = landing.tick().run_requests
    assert again.partition_key == request.partition_key
    landing.settle()
    assert landing.tick().run_requests == []
    for name, raw_rows, held in [
        ("first.parquet", ROWS, {}),
        ("second.parquet", ROWS - 1, {"cast": 1}),
    ]:
        assert landing.rows_of(name) == (raw_rows, held), name
        assert landing.status(name)["status"] == "ingested"
