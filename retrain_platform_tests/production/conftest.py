"""Fixtures of the production-profile tests: a fresh PostgreSQL database per test and a Dagster
instance configured by `deploy/production/dagster.yaml` on it.

These tests never skip: without a reachable PostgreSQL server they fail, naming the server and
how to start it.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import dagster as dg
import psycopg2
import pytest

from retrain_platform.home import PRODUCTION_PROFILE, HomeLayout, instance_config_template
from retrain_platform_tests.production import PgDatabase, PgServer


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    server = PgServer.from_env()
    try:
        server.connect().close()
    except psycopg2.OperationalError as error:
        failure = server.unreachable_message(error)
    else:
        return server
    pytest.fail(failure, pytrace=False)


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[PgDatabase]:
    """A new, empty database `retrain_test_<8 hex>`, dropped (connections and all) afterwards."""
    name = f"retrain_test_{uuid.uuid4().hex[:8]}"
    conn = pg_server.connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    try:
        yield PgDatabase(pg_server, name)
    finally:
        conn = pg_server.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


@pytest.fixture
def production_env(
    home: HomeLayout, pg_database: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> HomeLayout:
    """The environment of a production deployment, exactly as an operator sets it: the profile,
    a DAGSTER_HOME holding the production `dagster.yaml`, and the DAGSTER_PG_* variables."""
    monkeypatch.setenv("RETRAIN_PROFILE", PRODUCTION_PROFILE)
    for name in ("RETRAIN_EXECUTOR", "RETRAIN_LAKE_STORAGE_OPTIONS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in pg_database.dagster_env().items():
        monkeypatch.setenv(name, value)
    dagster_home = home.dagster_home
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(instance_config_template(), dagster_home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    return home


@pytest.fixture
def pg_instance(production_env: HomeLayout) -> Iterator[dg.DagsterInstance]:
    """`DagsterInstance.get()` in the production environment: storage in the test database."""
    with dg.DagsterInstance.get() as instance:
        yield instance
