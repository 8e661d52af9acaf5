"""Tests of the production profile: a PostgreSQL-backed instance, MLflow on PostgreSQL, Feast's
online store on Redis, and concurrent Delta writers.

This module holds the PostgreSQL and Redis helpers shared by the fixtures and the tests, and
what the spawned writers of the Delta concurrency tests run (a child imports it by name;
deltalake cannot run in fork()ed children, so every child is started with the `spawn` method).
It imports no Dagster, so those children start quickly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import psycopg2

from retrain_platform.core.lake import overwrite_partitions
from retrain_platform.core.platform_columns import PARTITION

START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START_HINT = "redis-server --daemonize yes"


@dataclass(frozen=True)
class PgServer:
    """The PostgreSQL server the tests use (`RETRAIN_TEST_PG_*`, default the local one)."""

    host: str
    port: int
    user: str
    password: str
    admin_db: str

    @classmethod
    def from_env(cls) -> PgServer:
        env = os.environ
        return cls(
            host=env.get("RETRAIN_TEST_PG_HOST", "127.0.0.1"),
            port=int(env.get("RETRAIN_TEST_PG_PORT", "5432")),
            user=env.get("RETRAIN_TEST_PG_USER", "postgres"),
            password=env.get("RETRAIN_TEST_PG_PASSWORD", ""),
            admin_db=env.get("RETRAIN_TEST_PG_DB", "test"),
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def unreachable_message(self, error: Exception) -> str:
        return (
            f"PostgreSQL is not reachable at {self.address} (user {self.user!r}, database "
            f"{self.admin_db!r}): {str(error).strip()}\n"
            "The production-profile tests need a running PostgreSQL server (CI has one) and "
            f"never skip without it. Start the local one with:\n    {START_HINT}\n"
            "or point RETRAIN_TEST_PG_HOST/PORT/USER/PASSWORD/DB at another server."
        )

    def connect(self, dbname: str | None = None) -> Any:
        """A psycopg2 connection in autocommit mode (raises psycopg2.OperationalError)."""
        conn = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname or self.admin_db,
            connect_timeout=5,
        )
        conn.autocommit = True
        return conn


@dataclass(frozen=True)
class PgDatabase:
    """One database of the server, created for one test."""

    server: PgServer
    name: str

    def dagster_env(self) -> dict[str, str]:
        """The variables `deploy/production/dagster.yaml` reads."""
        return {
            "DAGSTER_PG_HOST": self.server.host,
            "DAGSTER_PG_PORT": str(self.server.port),
            "DAGSTER_PG_DB": self.name,
            "DAGSTER_PG_USERNAME": self.server.user,
            "DAGSTER_PG_PASSWORD": self.server.password,
        }

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self.server.connect(self.name)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            conn.close()

    def mlflow_env(self) -> dict[str, str]:
        """The variables the production profile builds MLflow's backend store URI from."""
        return {
            "RETRAIN_MLFLOW_PG_HOST": self.server.host,
            "RETRAIN_MLFLOW_PG_PORT": str(self.server.port),
            "RETRAIN_MLFLOW_PG_DB": self.name,
            "RETRAIN_MLFLOW_PG_USERNAME": self.server.user,
            "RETRAIN_MLFLOW_PG_PASSWORD": self.server.password,
        }

    def tables(self) -> set[str]:
        return {
            name
            for (name,) in self.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }


@dataclass(frozen=True)
class RedisServer:
    """The Redis server the tests use (`RETRAIN_TEST_REDIS_HOST/PORT/DB`, default the local
    one, database 0); each test isolates its keys by a Feast project of its own."""

    host: str
    port: int
    db: int

    @classmethod
    def from_env(cls) -> RedisServer:
        env = os.environ
        return cls(
            host=env.get("RETRAIN_TEST_REDIS_HOST", "127.0.0.1"),
            port=int(env.get("RETRAIN_TEST_REDIS_PORT", "6379")),
            db=int(env.get("RETRAIN_TEST_REDIS_DB", "0")),
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connection_string(self) -> str:
        """The server in Feast's connection-string format (what RETRAIN_FEAST_REDIS holds)."""
        return f"{self.address},db={self.db}"

    def client(self) -> Any:
        """A client that fails at once when the server is down (no retries with backoff)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(
            host=self.host,
            port=self.port,
            db=self.db,
            socket_timeout=5,
            socket_connect_timeout=5,
            retry=Retry(NoBackoff(), 0),
        )

    def unreachable_message(self, error: Exception) -> str:
        return (
            f"Redis is not reachable at {self.address} (db {self.db}): {str(error).strip()}\n"
            "The production-profile tests need a running Redis server (Feast's online store; "
            f"CI has one) and never skip without it. Start the local one with:\n"
            f"    {REDIS_START_HINT}\n"
            "or point RETRAIN_TEST_REDIS_HOST/PORT/DB at another server."
        )


# --- what spawned Delta writers run --------------------------------------------------------------


def writer_frame(partitions: list[str], rows: int, writer: str, seq: int) -> pl.DataFrame:
    """`rows` rows per partition, each naming its writer and sequence number, with a unique id
    and an incompressible payload (so a large frame takes a while to write)."""
    frame = pl.DataFrame({PARTITION: partitions}).join(
        pl.DataFrame({"row": pl.int_range(0, rows, eager=True, dtype=pl.Int64)}), how="cross"
    )
    return frame.with_columns(
        pl.lit(writer).alias("writer"),
        pl.lit(seq, dtype=pl.Int64).alias("seq"),
        (
            pl.lit(f"{writer}:{seq}:") + pl.col(PARTITION) + ":" + pl.col("row").cast(pl.String)
        ).alias("row_id"),
    ).with_columns(
        (pl.col("row_id") + "/" + pl.col("row_id").hash().cast(pl.String)).alias("payload")
    )


def hammer_partition(
    uri: str, partition: str, writer: str, commits: int, rows: int, barrier: Any, timeout: float
) -> None:
    """Replace one partition `commits` times in a row (one writer of a concurrency test)."""
    barrier.wait(timeout)
    for seq in range(commits):
        overwrite_partitions(
            uri,
            writer_frame([partition], rows, writer, seq),
            [partition],
            commit_metadata={"writer": writer, "seq": str(seq)},
        )


def big_write(uri: str, partitions: list[str], rows: int, ready: Any, writer: str) -> None:
    """Build a large frame, say so, then replace `partitions` with it: a write that takes long
    enough between its first data file and its commit to be stopped or killed in between."""
    frame = writer_frame(partitions, rows, writer, 0)
    ready.set()
    overwrite_partitions(uri, frame, partitions, commit_metadata={"writer": writer})


# --- what spawned MLflow initializers run --------------------------------------------------------


def initialize_mlflow(home: str, barrier: Any, results: Any, timeout: float) -> None:
    """Open the production MLflow store of `home` once every initializer is ready (the
    environment names an empty database); put `ok` or the error on `results`."""
    from retrain_platform.home import HomeLayout
    from retrain_platform.resources.tracking import initialize_tracking_store

    barrier.wait(timeout)
    try:
        initialize_tracking_store(HomeLayout(Path(home)))
    except Exception as error:  # noqa: BLE001 - reported to the parent
        results.put(f"{type(error).__name__}: {error}")
    else:
        results.put("ok")
