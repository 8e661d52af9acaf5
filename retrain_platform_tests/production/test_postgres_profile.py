"""The production profile is configuration only, and it really runs on PostgreSQL.

`deploy/production/dagster.yaml` in DAGSTER_HOME plus DAGSTER_PG_* variables give an instance
whose runs, event log and schedules live in a (fresh, per-test) PostgreSQL database; the
pipeline runs on it unchanged and everything it records can be read back from that database.
"""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg2
import pytest
import yaml
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value
from dagster_postgres import (
    PostgresEventLogStorage,
    PostgresRunStorage,
    PostgresScheduleStorage,
)

from retrain_platform.core.lake import read_partitions, table_uri
from retrain_platform.core.synthetic import write_landing_files
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform.defs.jobs import features_job_name, ingest_job_name, validate_job_name
from retrain_platform.home import (
    INSTANCE_CONFIGS,
    LAKE_OPTIONS_ENV_VAR,
    PRODUCTION_PROFILE,
    instance_config_template,
    parse_storage_options,
)
from retrain_platform.resources import DeltaLakeResource
from retrain_platform_tests.fixtures.production import START_HINT, PgServer

START = date(2026, 1, 5)
DAYS = 3
PARTITIONS = [(START + timedelta(days=i)).isoformat() for i in range(DAYS)]
RANGE = {
    "dagster/asset_partition_range_start": PARTITIONS[0],
    "dagster/asset_partition_range_end": PARTITIONS[-1],
}
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
PG_VARIABLES = {
    "hostname": "DAGSTER_PG_HOST",
    "port": "DAGSTER_PG_PORT",
    "db_name": "DAGSTER_PG_DB",
    "username": "DAGSTER_PG_USERNAME",
    "password": "DAGSTER_PG_PASSWORD",
}
SECRET = "wJalrXUtnFEMI-not-a-real-secret"


def test_production_config_reads_every_connection_value_from_the_environment():
    path = instance_config_template(PRODUCTION_PROFILE)
    assert path == INSTANCE_CONFIGS[PRODUCTION_PROFILE]
    assert path.relative_to(Path(__file__).resolve().parents[2]).as_posix() == (
        "deploy/production/dagster.yaml"
    )
    config = yaml.safe_load(path.read_text())
    db = config["storage"]["postgres"]["postgres_db"]
    assert db.pop("scheme") == "postgresql+psycopg2"  # SQLAlchemy 2.1 would pick psycopg v3
    assert db.pop("params", {}) == {}
    assert db == {field: {"env": var} for field, var in PG_VARIABLES.items()}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["telemetry"] == {"enabled": False}
    # the embedded default stays on sqlite and is what a checkout uses without a profile
    default = yaml.safe_load(instance_config_template().read_text())
    assert "storage" not in default


def test_instance_stores_runs_events_and_schedules_in_postgres(pg_instance, pg_database):
    assert isinstance(pg_instance.run_storage, PostgresRunStorage)
    assert isinstance(pg_instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(pg_instance.schedule_storage, PostgresScheduleStorage)
    assert type(pg_instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert pg_instance.run_monitoring_enabled
    assert not pg_instance.telemetry_enabled
    assert Path(pg_instance.root_directory).name == "dagster-production"  # RETRAIN_PROFILE
    for storage in (pg_instance.run_storage, pg_instance.event_log_storage):
        assert storage.postgres_url.startswith("postgresql+psycopg2://")
        assert storage.postgres_url.endswith(f"/{pg_database.name}")
    tables = {
        name
        for (name,) in pg_database.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    }
    assert {"runs", "event_logs", "jobs", "job_ticks", "asset_keys"} <= tables
    # nothing falls back to sqlite files under DAGSTER_HOME
    assert not list(Path(pg_instance.root_directory).rglob("*.db"))


def test_an_unreachable_server_fails_naming_it_and_how_to_start_it():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = replace(PgServer.from_env(), host="127.0.0.1", port=port)
    with pytest.raises(psycopg2.OperationalError) as error:
        server.connect()
    message = server.unreachable_message(error.value)
    assert message.startswith(f"PostgreSQL is not reachable at 127.0.0.1:{port}")
    assert START_HINT in message and "never skip" in message


def test_missing_connection_variable_is_named(production_env, monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(Exception, match="DAGSTER_PG_HOST"):
        dg.DagsterInstance.get()


def test_pipeline_runs_on_postgres_and_records_everything_there(
    contract, production_env, pg_instance, pg_database, monkeypatch
):
    home = production_env
    # the lake given by URI with storage options from the environment, as on object storage
    lake_root = f"file://{home.home}/lake-by-uri"
    monkeypatch.setenv("RETRAIN_LAKE_URI", lake_root)
    monkeypatch.setenv(LAKE_OPTIONS_ENV_VAR, json.dumps({"timeout": "120s"}))
    files = write_landing_files(
        contract,
        home.landing_root / contract.dataset,
        start=START,
        days=DAYS,
        rows_per_day=1500,
        seed=3,
    )
    landed = pl.concat([pl.read_parquet(f.path) for f in files])
    ts = contract.timestamp_name
    landed_by_day = {
        d.isoformat(): n for d, n in landed.group_by(pl.col(ts).dt.date()).len().iter_rows()
    }
    defs = build_definitions([contract], home)
    assert defs.resources["lake"].root_uri == lake_root

    ingest = defs.resolve_job_def(ingest_job_name(contract)).execute_in_process(
        instance=pg_instance, tags=RANGE, run_config=QUIET
    )
    assert ingest.success
    validate = defs.resolve_job_def(validate_job_name(contract))
    validate_runs = {
        pk: validate.execute_in_process(instance=pg_instance, partition_key=pk, run_config=QUIET)
        for pk in PARTITIONS
    }
    assert all(run.success for run in validate_runs.values())
    features = defs.resolve_job_def(features_job_name(contract)).execute_in_process(
        instance=pg_instance, tags=RANGE, run_config=QUIET
    )
    assert features.success

    # read back through the instance (i.e. from PostgreSQL)
    partitioned = [
        keys.raw_key(contract),
        keys.validated_key(contract),
        keys.quarantine_key(contract),
        *keys.partitioned_feature_keys(contract),
    ]
    for key in partitioned:
        assert pg_instance.get_materialized_partitions(key) == set(PARTITIONS), key
    run_ids = [ingest.run_id, *(r.run_id for r in validate_runs.values()), features.run_id]
    records = {r.dagster_run.run_id: r for r in pg_instance.get_run_records()}
    assert set(records) == set(run_ids)
    assert {records[i].dagster_run.status for i in run_ids} == {dg.DagsterRunStatus.SUCCESS}
    check_names: dict[str, dict[str, bool]] = {}
    for pk, run in validate_runs.items():
        stored = pg_instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in stored]
        assert {e.partition for e in evaluations} == {pk}
        check_names[pk] = {e.check_name: e.passed for e in evaluations}
    names = set(check_names[PARTITIONS[0]])
    assert {"matches_schema", "has_min_rows"} <= names
    assert all(set(c) == names for c in check_names.values())
    assert all(c["matches_schema"] and c["has_min_rows"] for c in check_names.values())

    # and straight from the database with SQL
    counts = dict(
        pg_database.query(
            "SELECT dagster_event_type, count(*) FROM event_logs "
            "WHERE dagster_event_type IN ('ASSET_MATERIALIZATION', 'ASSET_CHECK_EVALUATION') "
            "GROUP BY dagster_event_type"
        )
    )
    # the features job's one range run reports each features check per partition and once for
    # the whole range (defs.check_partitions)
    feature_checks = [
        k
        for k in defs.resolve_asset_graph().asset_check_keys
        if k.asset_key in set(keys.partitioned_feature_keys(contract))
    ]
    assert feature_checks
    assert counts == {
        "ASSET_MATERIALIZATION": len(partitioned) * DAYS,
        "ASSET_CHECK_EVALUATION": (len(names) + len(feature_checks)) * DAYS + len(feature_checks),
    }
    raw_rows = pg_database.query(
        "SELECT partition, count(*) FROM event_logs WHERE dagster_event_type = "
        "'ASSET_MATERIALIZATION' AND asset_key = %s GROUP BY partition",
        (keys.raw_key(contract).to_string(),),
    )
    assert dict(raw_rows) == dict.fromkeys(PARTITIONS, 1)
    statuses = pg_database.query("SELECT status, count(*) FROM runs GROUP BY status")
    assert statuses == [("SUCCESS", len(run_ids))]
    assert not list(Path(pg_instance.root_directory).rglob("*.db"))

    # the data itself went to the lake at the URI
    raw = read_partitions(
        table_uri(lake_root, keys.RAW, contract.dataset),
        PARTITIONS,
        storage_options={"timeout": "120s"},
    )
    assert dict(raw.group_by("_partition").len().iter_rows()) == {
        pk: landed_by_day[pk] for pk in PARTITIONS
    }
    assert raw.get_column("transaction_id").is_unique().all()
    assert not (home.home / "lake").exists()


@dg.asset
def lake_probe(lake: DeltaLakeResource) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"options": dg.MetadataValue.json(lake.storage_options), "root_uri": lake.root_uri}
    )


def test_lake_storage_options_come_only_from_the_environment(contract, home, monkeypatch):
    monkeypatch.delenv(LAKE_OPTIONS_ENV_VAR, raising=False)
    plain = build_definitions([contract], home).resources["lake"]
    assert plain.storage_options == {}  # the embedded default needs no variable at all
    assert plain.options_json == ""

    options = {"AWS_REGION": "eu-west-1", "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_ALLOW_HTTP": True}
    monkeypatch.setenv(LAKE_OPTIONS_ENV_VAR, json.dumps(options))
    defs = dg.Definitions.merge(
        build_definitions([contract], home), dg.Definitions(assets=[lake_probe])
    )
    lake = defs.resources["lake"]
    assert isinstance(lake.options_json, dg.EnvVar)  # the secret is not a config value
    snapshot = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
    assert LAKE_OPTIONS_ENV_VAR in snapshot and SECRET not in snapshot  # what the UI can show

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [lake_probe], instance=instance, resources={"lake": lake}, run_config=QUIET
        )
        stored = instance.get_run_by_id(result.run_id)
        assert SECRET not in json.dumps(stored.run_config)
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["options"].value == {
        "AWS_REGION": "eu-west-1",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_ALLOW_HTTP": "true",
    }

    monkeypatch.setenv(LAKE_OPTIONS_ENV_VAR, '{"AWS_SECRET_ACCESS_KEY": "' + SECRET)
    with pytest.raises(ValueError, match=LAKE_OPTIONS_ENV_VAR) as error:
        build_definitions([contract], home)
    assert SECRET not in str(error.value)
    with pytest.raises(ValueError, match="'nested'"):
        parse_storage_options('{"nested": {"a": 1}}')
