"""The whole loop on the production profile, against the real services.

Six synthetic days (four with known labels: the contract's labels arrive two days late) go
through the pipeline and a retraining cycle with nothing but production
configuration: Dagster's runs and events in PostgreSQL, the online store on Redis, MLflow's
tracking and registry in a PostgreSQL database of its own. Ingest, validate, features, the
online store, the training set, the candidate model, the gate, the registered model and the
deployment (champion alias) all run; then each service is read directly (SQL, Redis, Feast's
`get_online_features`) to show that every record is where the profile says it is.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from mlflow.store.db.utils import _get_latest_schema_revision
from polars.testing import assert_frame_equal

from retrain_platform.core.deployment.decisions import TRIGGER_TAG
from retrain_platform.core.feature_store.online_sqlite import newest_rows
from retrain_platform.core.lake import read_partitions
from retrain_platform.core.synthetic import write_landing_files
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.jobs import (
    feature_store_job_name,
    features_job_name,
    ingest_job_name,
    validate_job_name,
)
from retrain_platform.defs.models import run_retrain_cycle
from retrain_platform.resources.feast import FeastResource
from retrain_platform.resources.tracking import (
    PG_PASSWORD_ENV_VAR,
    PG_SCHEME,
    postgres_tracking_uri,
)
from retrain_platform_tests.fixtures.models import with_policy

START = date(2026, 3, 2)
DAYS = 6
LABELLED = 4  # days whose labels are known at the end of the last day
ROWS_PER_DAY = 1_500
PARTITIONS = [(START + timedelta(days=i)).isoformat() for i in range(DAYS)]
RANGE = {
    "dagster/asset_partition_range_start": PARTITIONS[0],
    "dagster/asset_partition_range_end": PARTITIONS[-1],
}
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# Trust authentication ignores a password, so a fake one shows where the real one would go.
SECRET = "mlflow-pg-not-a-real-secret"


def _retrain_config(contract) -> dict:
    training = keys.training_dataset_key(contract).to_python_identifier()
    candidate = mk.candidate_model_key(contract).to_python_identifier()
    window = {"window_partitions": LABELLED, "validation_partitions": 1, "holdout_partitions": 1}
    return {
        **QUIET,
        "ops": {
            training: {"config": {"as_of": PARTITIONS[-1], **window}},
            candidate: {
                "config": {
                    "max_rounds": 60,
                    "early_stopping_rounds": 10,
                    "folds": 2,
                    "num_threads": 1,
                }
            },
        },
    }


@pytest.fixture(scope="module")
def contract(contract):
    """The shipped contract with absolute gate minimums a model of two training days meets:
    this test is about where things are stored, not about model quality."""
    return with_policy(contract, min_roc_auc=0.6, min_recall_at_threshold=0.1)


def run_loop(contract, home, pg_instance, monkeypatch) -> dict:
    """Pipeline and one retraining cycle on the production profile; returns what they left."""
    monkeypatch.setenv(PG_PASSWORD_ENV_VAR, SECRET)
    write_landing_files(
        contract,
        home.landing_root / contract.dataset,
        start=START,
        days=DAYS,
        rows_per_day=ROWS_PER_DAY,
        seed=5,
    )
    defs = build_definitions([contract], home)

    def run(job: str, **kwargs: object) -> dg.ExecuteInProcessResult:
        result = defs.resolve_job_def(job).execute_in_process(
            instance=pg_instance, run_config=QUIET, **kwargs
        )
        assert result.success, job
        return result

    runs = [
        run(feature_store_job_name(contract)),
        run(ingest_job_name(contract), tags=RANGE),
        *(run(validate_job_name(contract), partition_key=pk) for pk in PARTITIONS),
        run(features_job_name(contract), tags=RANGE),
    ]
    outcome = run_retrain_cycle(
        defs,
        contract,
        pg_instance,
        tags={TRIGGER_TAG: "manual"},
        run_config=_retrain_config(contract),
    )
    return {
        "home": home,
        "defs": defs,
        "run_ids": [r.run_id for r in runs] + [outcome.run_id],
        "outcome": outcome,
    }


def test_the_loop_runs_on_postgres_redis_and_mlflow_on_postgres(
    contract,
    production_env,
    pg_instance,
    pg_database,
    mlflow_database,
    mlflow_store,
    redis_server,
    feast_project,
    monkeypatch,
):
    # one run of the loop (about 20 s) is checked from each service's side
    loop = run_loop(contract, production_env, pg_instance, monkeypatch)
    check_mlflow(loop, contract, pg_database, mlflow_database)
    check_dagster(loop, contract, pg_database)
    check_online_store(loop, contract, redis_server, feast_project)


def check_mlflow(loop, contract, pg_database, mlflow_database) -> None:
    """The candidate's run, the registered model and the champion alias are in MLflow's own
    PostgreSQL database; Dagster's database has none of MLflow's tables."""
    outcome = loop["outcome"]
    assert outcome.success, outcome.lines()
    assert outcome.gate_passed is True and outcome.failures == []
    assert outcome.model_version == outcome.champion_version == 1

    mlflow = loop["defs"].resources["mlflow"]
    assert mlflow.tracking_uri == postgres_tracking_uri()
    assert mlflow.tracking_uri.startswith(f"{PG_SCHEME}://")
    assert mlflow.tracking_uri.endswith(f"/{mlflow_database.name}")
    assert isinstance(mlflow.tracking_password, dg.EnvVar)  # the secret is not a config value

    db = mlflow_database
    (experiment_id,) = db.query("SELECT experiment_id FROM experiments WHERE name = %s",
                                (contract.dataset,))[0]  # fmt: skip
    mlflow_runs = db.query(
        "SELECT run_uuid, status, artifact_uri FROM runs WHERE experiment_id = %s",
        (experiment_id,),
    )
    assert len(mlflow_runs) == 1
    run_uuid, status, artifact_uri = mlflow_runs[0]
    assert status == "FINISHED"
    assert artifact_uri.startswith((loop["home"].home / "mlflow-artifacts").as_uri())
    assert db.query("SELECT count(*) FROM metrics WHERE run_uuid = %s", (run_uuid,))[0][0] > 0
    assert db.query("SELECT name FROM registered_models") == [(contract.dataset,)]
    assert db.query("SELECT version, run_id FROM model_versions WHERE name = %s",
                    (contract.dataset,)) == [(1, run_uuid)]  # fmt: skip
    assert db.query(
        "SELECT alias, version FROM registered_model_aliases WHERE name = %s",
        (contract.dataset,),
    ) == [("champion", 1)]

    # Dagster and MLflow keep their own databases, each with its own alembic history
    mlflow_tables, dagster_tables = db.tables(), pg_database.tables()
    assert {"experiments", "runs", "registered_models", "alembic_version"} <= mlflow_tables
    assert {"runs", "event_logs", "alembic_version"} <= dagster_tables
    assert "experiments" not in dagster_tables and "event_logs" not in mlflow_tables
    (mlflow_revision,) = db.query("SELECT version_num FROM alembic_version")
    (dagster_revision,) = pg_database.query("SELECT version_num FROM alembic_version")
    assert mlflow_revision == (_get_latest_schema_revision(),) != dagster_revision

    # nothing fell back to sqlite
    home = loop["home"].home
    assert not list(home.rglob("mlflow.db")) and not list(home.rglob("online_store.db"))


def check_dagster(loop, contract, pg_database) -> None:
    """Every Dagster run and materialization is in Dagster's database, and the MLflow password
    is in none of them."""
    run_ids = loop["run_ids"]
    assert pg_database.query("SELECT status, count(*) FROM runs GROUP BY status") == [
        ("SUCCESS", len(run_ids))
    ]
    assert {r for (r,) in pg_database.query("SELECT run_id FROM runs")} == set(run_ids)
    materialized = {
        key
        for (key,) in pg_database.query(
            "SELECT DISTINCT asset_key FROM event_logs "
            "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
        )
    }
    expected = [
        keys.raw_key(contract),
        keys.validated_key(contract),
        *keys.partitioned_feature_keys(contract),
        keys.training_dataset_key(contract),
        mk.candidate_model_key(contract),
        mk.registered_model_key(contract),
        mk.deployment_key(contract),
    ]
    assert {k.to_string() for k in expected} <= materialized
    bodies = [body for (body,) in pg_database.query("SELECT run_body FROM runs")]
    events = [event for (event,) in pg_database.query("SELECT event FROM event_logs")]
    assert all(SECRET not in text for text in bodies + events)


def check_online_store(loop, contract, redis_server, feast_project) -> None:
    """Feast's `get_online_features` answers from Redis with each entity's newest row of the
    features table, and Redis holds one hash per entity under the test's project."""
    view = contract.feature_views[0]
    lake = loop["defs"].resources["lake"]
    table = read_partitions(lake.uri(keys.FEATURES, f"{contract.dataset}_{view.name}"), PARTITIONS)
    names = list(view.entity_keys)
    newest = newest_rows(table, names, contract.timestamp_name).sort(names)
    assert newest.height > 100

    feast = FeastResource()
    assert feast.online_store_type() == "redis"
    assert feast.config().project == feast_project
    answer = feast.online_features(contract, view, newest.select(names).to_dicts())
    features = [*names, *view.feature_names(contract.label_name)]
    got = pl.DataFrame({n: answer[n] for n in features}, schema=newest.select(features).schema)
    assert_frame_equal(got, newest.select(features), check_exact=True)

    client = redis_server.client()
    try:
        stored = list(client.scan_iter(match=b"*" + feast_project.encode()))
    finally:
        client.close()
    assert len(stored) == newest.height
    registry = Path(feast.config().registry.path)
    assert registry.is_file() and registry.is_relative_to(loop["home"].home)
