"""MLflow in the production profile: a PostgreSQL backend store of its own, from the environment.

Covers how the tracking URI is built (every value from `RETRAIN_MLFLOW_PG_*`, the password only
at run time), the errors for a missing variable or Dagster's own database, the precedence of
`MLFLOW_TRACKING_URI` (a tracking server), and the one-time schema creation that concurrent
processes may all attempt. The full loop on this store is in test_production_loop.py.
"""

from __future__ import annotations

import multiprocessing

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value
from mlflow.store.db.utils import _get_latest_schema_revision

from retrain_platform.definitions import build_definitions
from retrain_platform.home import PRODUCTION_PROFILE
from retrain_platform.resources.tracking import (
    PG_ENV_VARS,
    PG_PASSWORD_ENV_VAR,
    TRACKING_URI_ENV_VAR,
    MlflowResource,
    default_mlflow_resource,
    postgres_tracking_uri,
    profile_mlflow_store,
    with_password,
)
from retrain_platform_tests.fixtures.production import initialize_mlflow

SPAWN = multiprocessing.get_context("spawn")
SECRET = "p@ss:word/not-a-real-secret"
ENV = {
    "RETRAIN_MLFLOW_PG_HOST": "db.internal",
    "RETRAIN_MLFLOW_PG_PORT": "5433",
    "RETRAIN_MLFLOW_PG_DB": "mlflow",
    "RETRAIN_MLFLOW_PG_USERNAME": "mlflow",
    "RETRAIN_MLFLOW_PG_PASSWORD": SECRET,
}


def test_the_uri_is_built_from_the_environment_without_the_password():
    uri = postgres_tracking_uri(ENV)
    assert uri == "postgresql+psycopg2://mlflow@db.internal:5433/mlflow"
    full = with_password(uri, SECRET)
    assert (
        full
        == "postgresql+psycopg2://mlflow:p%40ss%3Aword%2Fnot-a-real-secret@db.internal:5433/mlflow"
    )
    assert with_password(uri, "") == uri


def test_missing_variables_and_dagsters_database_are_refused():
    with pytest.raises(ValueError, match="set RETRAIN_MLFLOW_PG_HOST, RETRAIN_MLFLOW_PG_DB"):
        postgres_tracking_uri({**ENV, "RETRAIN_MLFLOW_PG_HOST": "", "RETRAIN_MLFLOW_PG_DB": ""})
    without_password = {k: v for k, v in ENV.items() if k != PG_PASSWORD_ENV_VAR}
    with pytest.raises(ValueError, match=f"set {PG_PASSWORD_ENV_VAR} "):
        postgres_tracking_uri(without_password)
    assert postgres_tracking_uri({**ENV, PG_PASSWORD_ENV_VAR: ""})  # empty: trust or ~/.pgpass
    shared = {**ENV, "DAGSTER_PG_HOST": "db.internal", "DAGSTER_PG_PORT": "5433",
              "DAGSTER_PG_DB": "mlflow"}  # fmt: skip
    with pytest.raises(ValueError, match="MLflow needs a database of its own") as error:
        postgres_tracking_uri(shared)
    assert SECRET not in str(error.value)


def test_profiles_select_the_backend(home, monkeypatch):
    assert default_mlflow_resource(home).tracking_uri.startswith("sqlite:///")  # embedded

    monkeypatch.setenv("RETRAIN_PROFILE", PRODUCTION_PROFILE)
    for name in [*PG_ENV_VARS.values(), PG_PASSWORD_ENV_VAR]:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="RETRAIN_MLFLOW_PG_HOST"):
        default_mlflow_resource(home)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    resource = default_mlflow_resource(home)
    assert resource.tracking_uri == postgres_tracking_uri(ENV)
    assert isinstance(resource.tracking_password, dg.EnvVar)

    monkeypatch.setenv(TRACKING_URI_ENV_VAR, "http://127.0.0.1:5000")  # a tracking server wins
    assert isinstance(default_mlflow_resource(home).tracking_uri, dg.EnvVar)
    assert profile_mlflow_store(home).tracking_uri == "http://127.0.0.1:5000"


def test_the_password_never_reaches_the_definitions_snapshot(contract, home, monkeypatch):
    monkeypatch.setenv("RETRAIN_PROFILE", PRODUCTION_PROFILE)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions([contract], home)
    mlflow = defs.resources["mlflow"]
    assert isinstance(mlflow, MlflowResource)
    snapshot = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
    assert PG_PASSWORD_ENV_VAR in snapshot and SECRET not in snapshot  # what the UI can show


def test_concurrent_first_use_creates_the_schema_once(production_env, mlflow_database):
    # Two processes opening an empty database with plain MLflow at once failed in each of three
    # trials on a 2-core machine (UniqueViolation on pg_type: both create alembic's tables);
    # the platform's path serializes them on an advisory lock.
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    children = [
        SPAWN.Process(target=initialize_mlflow, args=(str(production_env.home), barrier,
                                                      results, 120.0))
        for _ in range(2)
    ]  # fmt: skip
    for child in children:
        child.start()
    try:
        outcomes = [results.get(timeout=180) for _ in children]
    finally:
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
    assert outcomes == ["ok", "ok"]
    assert mlflow_database.query("SELECT version_num FROM alembic_version") == [
        (_get_latest_schema_revision(),)
    ]
    assert mlflow_database.query("SELECT name FROM experiments") == [("Default",)]
