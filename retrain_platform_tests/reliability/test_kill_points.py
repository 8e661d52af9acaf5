"""Kill points: SIGKILL in the raw step after the data files but before the commit, and between
the raw and the quarantine commits; in the online-store write after the upsert but before its
commit. The previous good state stays readable (and served); for the raw step the ledger holds
no digest for the partition, so the next tick requests it again; every rerun heals.
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


def _online_write_killed_before_commit(frame: pl.DataFrame, table) -> None:  # noqa: ANN001
    """Child: write the online store, dying after the upsert ran but before its COMMIT."""
    import retrain_platform.core.feature_store.online_sqlite as online

    real = online._connect

    class DiesAtCommit:
        def __init__(self, conn) -> None:  # noqa: ANN001
            self.conn = conn

        def execute(self, sql: str, *args):  # noqa: ANN002, ANN202
            if sql == "COMMIT":
                os.kill(os.getpid(), signal.SIGKILL)
            return self.conn.execute(sql, *args)

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self.conn, name)

    online._connect = lambda path, timeout: DiesAtCommit(real(path, timeout))
    online.write_online(frame, table)


def test_an_online_store_write_killed_before_its_commit_keeps_the_served_values(home, contract):
    from retrain_platform.core.lake import read_partitions
    from retrain_platform.resources.feast import FeastResource
    from retrain_platform_tests.fixtures.online_store import feature_rows, served, write_features

    view = contract.feature_views[0]
    frame = read_partitions(
        write_features(home.lake_uri, contract, view, feature_rows(contract, view))
    )
    feast = FeastResource()
    feast.apply(contract)
    days = sorted(frame.get_column(pc.PARTITION).unique())
    first = frame.filter(pl.col(pc.PARTITION) == days[0])
    feast.write_online(contract, view, first)
    keys = list(view.entity_keys)
    entities = frame.select(keys).unique().sort(keys)
    before = served(feast, contract, view, entities)

    child = SPAWN.Process(
        target=_online_write_killed_before_commit,
        args=(frame, feast.online_table(contract, view)),
    )
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    assert served(feast, contract, view, entities).equals(before)  # the old values, whole

    feast.write_online(contract, view, frame)  # the rerun: every entity's newest row
    after = served(feast, contract, view, entities)
    assert not after.equals(before)
    newest = frame.sort(contract.timestamp_name).group_by(keys, maintain_order=True).last()
    assert after.height == newest.height
