"""The Kubernetes examples in deploy/kubernetes load with Dagster's own config validation.

No cluster is needed: the instance file is checked against Dagster's instance schema and each
configured class's schema (K8sRunLauncher, PostgreSQL storage), then loaded into a real
`DagsterInstance` on the test PostgreSQL; the run config is checked against the platform's jobs
with the k8s executor. Only the in-cluster credential lookup of the Kubernetes client is replaced.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._config import process_config, validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.storage.config import pg_config
from dagster._serdes import ConfigurableClassData, class_from_code_pointer
from dagster_celery import celery_executor
from dagster_k8s import K8sRunLauncher, k8s_job_executor

from retrain_platform.definitions import build_definitions
from retrain_platform.defs.executors import (
    DEFAULT_BROKER,
    EXECUTOR_ENV_VAR,
    celery_config,
    celery_worker_config,
    executor_from_env,
)
from retrain_platform.defs.jobs import ingest_job_name, validate_job_name
from retrain_platform_tests.fixtures.scale_out import fresh_pg_database

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
INSTANCE_YAML = DEPLOY / "dagster.yaml"
RUN_CONFIG_YAML = DEPLOY / "run_config.yaml"

ENV = {
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "secret",
    "DAGSTER_PG_HOST": "postgres.dagster.svc",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_K8S_NAMESPACE": "retrain",
    "RETRAIN_IMAGE": "registry.example.com/retrain-platform:1.0",
}


@pytest.fixture
def pg_database() -> Iterator[str]:
    with fresh_pg_database("retrain_k8s_config") as name:
        yield name


@pytest.fixture
def k8s_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return ENV


def _configured_class(entry: dict) -> tuple[type, dict]:
    """The class a `module`/`class`/`config` entry names, as the instance resolves it.

    `ConfigurableClassData` maps the documented `dagster.core...` module names to `dagster._core`.
    """
    data = ConfigurableClassData(
        entry["module"], entry["class"], yaml.safe_dump(entry.get("config") or {})
    )
    return class_from_code_pointer(data.module_name, data.class_name), dict(data.config_dict)


def _errors(result) -> str:
    return "\n".join(error.message for error in result.errors or [])


def test_instance_yaml_matches_dagsters_schemas(k8s_env):
    # the whole file against the instance schema (raises DagsterInvalidConfigError)
    config, custom_class = dagster_instance_config(str(DEPLOY), INSTANCE_YAML.name)
    assert custom_class is None
    assert set(config) >= {"storage", "run_launcher", "run_coordinator"}
    storage = process_config(pg_config(), config["storage"]["postgres"])
    assert storage.success, _errors(storage)
    db = storage.value["postgres_db"]
    assert (db["hostname"], db["port"], db["scheme"]) == (
        k8s_env["DAGSTER_PG_HOST"],
        5432,
        "postgresql+psycopg2",
    )

    # each configurable class: the class the file names, its config against that class's schema
    raw = yaml.safe_load(INSTANCE_YAML.read_text())
    for section in ("run_launcher", "run_coordinator"):
        cls, class_config = _configured_class(raw[section])
        result = validate_config(cls.config_type(), class_config)
        assert result.success, f"{section}: {_errors(result)}"
    cls, launcher_config = _configured_class(raw["run_launcher"])
    assert cls is K8sRunLauncher
    resolved = process_config(K8sRunLauncher.config_type(), launcher_config)
    assert resolved.success, _errors(resolved)
    assert resolved.value["job_namespace"] == k8s_env["DAGSTER_K8S_NAMESPACE"]
    assert resolved.value["job_image"] == k8s_env["RETRAIN_IMAGE"]
    assert "RETRAIN_EXECUTOR=k8s" in resolved.value["env_vars"]


def test_instance_yaml_refuses_a_misspelt_key(k8s_env):
    launcher = yaml.safe_load(INSTANCE_YAML.read_text())["run_launcher"]["config"]
    result = validate_config(K8sRunLauncher.config_type(), {**launcher, "job_imag": "x"})
    assert not result.success and "job_imag" in _errors(result)


def test_instance_yaml_loads_a_real_instance(k8s_env, monkeypatch, tmp_path, pg_database):
    """The file as a DAGSTER_HOME/dagster.yaml: PostgreSQL storage and the K8s run launcher."""
    monkeypatch.setenv("DAGSTER_PG_USERNAME", "postgres")
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_DB", pg_database)
    calls = []
    # outside a cluster there is no service-account token to read; everything else is real
    monkeypatch.setattr(
        "dagster_k8s.launcher.load_kubernetes_config", lambda **kwargs: calls.append(kwargs)
    )
    (tmp_path / "dagster.yaml").write_text(INSTANCE_YAML.read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_runs() == []  # storage reachable, schema created
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        launcher = instance.run_launcher
        assert isinstance(launcher, K8sRunLauncher)
        assert launcher.job_namespace == ENV["DAGSTER_K8S_NAMESPACE"]
        assert launcher.job_image == ENV["RETRAIN_IMAGE"]
        assert launcher.instance_config_map == "dagster-instance"
        assert launcher.volume_mounts and launcher.volumes
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert calls == [
        {"load_incluster_config": True, "kubeconfig_file": None, "k8s_api_ssl_ca_cert_file": None}
    ]


def test_run_config_matches_the_k8s_executor_of_the_platform_jobs(monkeypatch, home, contract):
    run_config = yaml.safe_load(RUN_CONFIG_YAML.read_text())
    schema = k8s_job_executor.config_schema.config_type
    result = validate_config(schema, run_config["execution"]["config"])
    assert result.success, _errors(result)

    monkeypatch.setenv(EXECUTOR_ENV_VAR, "k8s")
    defs = build_definitions([contract], home)
    for name in (ingest_job_name, validate_job_name):
        job = defs.resolve_job_def(name(contract))
        assert job.executor_def is k8s_job_executor
        dg.validate_run_config(job, run_config)  # raises on a config error
    # the per-step override names a step that exists
    ingest = defs.resolve_job_def(ingest_job_name(contract))
    steps = {node.name for node in ingest.nodes_in_topological_order}
    assert set(run_config["execution"]["config"]["per_step_k8s_config"]) <= steps


def test_executor_is_chosen_by_environment_only():
    assert executor_from_env({}) is dg.multiprocess_executor
    assert executor_from_env({EXECUTOR_ENV_VAR: "multiprocess"}) is dg.multiprocess_executor
    assert executor_from_env({EXECUTOR_ENV_VAR: "k8s"}) is k8s_job_executor
    assert executor_from_env({EXECUTOR_ENV_VAR: "in_process"}) is dg.in_process_executor
    celery = executor_from_env(
        {EXECUTOR_ENV_VAR: " Celery ", "RETRAIN_CELERY_BROKER": "amqp://u:p@mq.internal:5672/v"}
    )
    assert celery.name == "celery"
    config = celery_config(
        {"RETRAIN_CELERY_BROKER": "amqp://u:p@mq.internal:5672/v", "RETRAIN_CELERY_QUEUE": "q1"}
    )
    assert config == {
        "broker": "amqp://u:p@mq.internal:5672/v",
        "backend": "rpc://",
        "config_source": {"task_default_queue": "q1"},
    }
    result = validate_config(celery_executor.config_schema.config_type, config)
    assert result.success, _errors(result)
    # the workers' -y file: dagster-celery reads execution.config (same broker and queue)
    worker = celery_worker_config({"RETRAIN_CELERY_QUEUE": "q1"})
    assert worker["execution"]["config"]["config_source"] == {"task_default_queue": "q1"}
    assert worker["execution"]["config"]["broker"] == DEFAULT_BROKER
    with pytest.raises(ValueError, match="RETRAIN_EXECUTOR='dask' is not an executor"):
        executor_from_env({EXECUTOR_ENV_VAR: "dask"})
