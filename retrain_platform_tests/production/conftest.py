"""Fixtures of the production-profile tests: a fresh PostgreSQL database per test for Dagster and
another for MLflow, a Feast project of its own on the Redis server, and a Dagster instance
configured by `deploy/production/dagster.yaml`.

These tests never skip: without a reachable PostgreSQL or Redis server they fail, naming the
server and how to start it.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import redis

from retrain_platform.core.feature_store.online_redis import delete_project_keys
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.home import PRODUCTION_PROFILE, HomeLayout, instance_config_template
from retrain_platform.resources.feast import PROJECT_ENV_VAR, REDIS_ENV_VAR
from retrain_platform.resources.tracking import ARTIFACT_ROOT_ENV_VAR, initialize_tracking_store
from retrain_platform_tests.fixtures.production import PgDatabase, PgServer, RedisServer


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


@pytest.fixture(scope="session")
def redis_server() -> RedisServer:
    server = RedisServer.from_env()
    client = server.client()
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        failure = server.unreachable_message(error)
    else:
        return server
    finally:
        client.close()
    pytest.fail(failure, pytrace=False)


def _fresh_database(server: PgServer, prefix: str) -> Iterator[PgDatabase]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = server.connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    try:
        yield PgDatabase(server, name)
    finally:
        conn = server.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[PgDatabase]:
    """Dagster's database: new and empty, `retrain_test_<8 hex>`, dropped (connections and all)
    afterwards."""
    yield from _fresh_database(pg_server, "retrain_test")


@pytest.fixture
def mlflow_database(pg_server: PgServer) -> Iterator[PgDatabase]:
    """MLflow's database, apart from Dagster's: `retrain_mlflow_<8 hex>`, dropped afterwards."""
    yield from _fresh_database(pg_server, "retrain_mlflow")


@pytest.fixture
def feast_project(redis_server: RedisServer) -> Iterator[str]:
    """A Feast project of the test's own; every Redis key it wrote is deleted afterwards."""
    project = f"retrain_test_{uuid.uuid4().hex[:8]}"
    yield project
    client = redis_server.client()
    try:
        delete_project_keys(client, project)
    finally:
        client.close()


@pytest.fixture
def production_env(
    home: HomeLayout,
    pg_database: PgDatabase,
    mlflow_database: PgDatabase,
    redis_server: RedisServer,
    feast_project: str,
    monkeypatch: pytest.MonkeyPatch,
) -> HomeLayout:
    """The environment of a production deployment, exactly as an operator sets it: the profile,
    a DAGSTER_HOME holding the production `dagster.yaml`, the DAGSTER_PG_* variables, MLflow's
    RETRAIN_MLFLOW_PG_* database and artifact root, and Feast's Redis and project."""
    monkeypatch.setenv("RETRAIN_PROFILE", PRODUCTION_PROFILE)
    for name in ("RETRAIN_EXECUTOR", "RETRAIN_LAKE_STORAGE_OPTIONS", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    variables = {
        **pg_database.dagster_env(),
        **mlflow_database.mlflow_env(),
        ARTIFACT_ROOT_ENV_VAR: str(home.home / "mlflow-artifacts"),
        REDIS_ENV_VAR: redis_server.connection_string,
        PROJECT_ENV_VAR: feast_project,
    }
    for name, value in variables.items():
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


@pytest.fixture
def mlflow_store(production_env: HomeLayout, mlflow_database: PgDatabase) -> MlflowStore:
    """MLflow's schema created in the test's MLflow database, once, before any concurrent use:
    the one-time initialization step of a deployment (docs/production.md)."""
    store = initialize_tracking_store(production_env)
    assert store.tracking_uri.endswith(f"/{mlflow_database.name}")
    assert Path(store.artifact_root) == production_env.home / "mlflow-artifacts"
    return store
