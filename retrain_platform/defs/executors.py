"""Which Dagster executor runs the steps of a run, chosen by configuration only.

The same code runs on one machine (the default: every step in its own process on the machine
that runs the run) or scaled out over Celery workers on other hosts (steps travel through a
message broker; see `docs/scale-out.md`). Nothing in the asset code changes; only environment
variables do:

- `RETRAIN_EXECUTOR`: `multiprocess` (default: a process per step), `in_process` (every step in
  the run's own process: no per-step start-up, for small partitions on small machines), `celery`
  or `k8s` (one Kubernetes job per step; needs `dagster-k8s` and the `K8sRunLauncher`, see
  `deploy/kubernetes/dagster.yaml`).
- `RETRAIN_CELERY_BROKER`: the broker URL (default RabbitMQ on this machine,
  `amqp://guest:guest@127.0.0.1:5672//`).
- `RETRAIN_CELERY_BACKEND`: where workers put step results (default `rpc://`: back through the
  broker).
- `RETRAIN_CELERY_QUEUE`: the queue steps are sent to (default `dagster`, the queue
  `dagster-celery worker start` listens on when no `-q` is given).

The values are read when the definitions are loaded, i.e. in the process that runs a run (the
run worker, `dagster asset materialize`, ...); Celery workers read the same broker from their own
`-y` config file (`celery_worker_config()` writes its content).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

EXECUTOR_ENV_VAR = "RETRAIN_EXECUTOR"
BROKER_ENV_VAR = "RETRAIN_CELERY_BROKER"
BACKEND_ENV_VAR = "RETRAIN_CELERY_BACKEND"
QUEUE_ENV_VAR = "RETRAIN_CELERY_QUEUE"

MULTIPROCESS = "multiprocess"
IN_PROCESS = "in_process"
CELERY = "celery"
K8S = "k8s"
EXECUTORS = (MULTIPROCESS, IN_PROCESS, CELERY, K8S)

DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_BACKEND = "rpc://"
DEFAULT_QUEUE = "dagster"  # dagster-celery's task_default_queue


def _get(environ: Mapping[str, str], name: str, default: str) -> str:
    return environ.get(name, "").strip() or default


def executor_kind(environ: Mapping[str, str] | None = None) -> str:
    """The executor named by `RETRAIN_EXECUTOR` (default `multiprocess`); unknown names fail."""
    env = os.environ if environ is None else environ
    kind = _get(env, EXECUTOR_ENV_VAR, MULTIPROCESS).lower()
    if kind not in EXECUTORS:
        msg = f"{EXECUTOR_ENV_VAR}={kind!r} is not an executor: use one of {', '.join(EXECUTORS)}"
        raise ValueError(msg)
    return kind


def celery_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The `celery_executor` config (broker, backend, queue) given by the environment."""
    env = os.environ if environ is None else environ
    return {
        "broker": _get(env, BROKER_ENV_VAR, DEFAULT_BROKER),
        "backend": _get(env, BACKEND_ENV_VAR, DEFAULT_BACKEND),
        "config_source": {"task_default_queue": _get(env, QUEUE_ENV_VAR, DEFAULT_QUEUE)},
    }


def celery_worker_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Content of the `-y` file of `dagster-celery worker start`: the same broker and backend.

    dagster-celery reads `execution.config` from that file (a file with top-level `broker:` is
    silently ignored and the worker falls back to Celery's default broker).
    """
    return {"execution": {"config": celery_config(environ)}}


def executor_from_env(environ: Mapping[str, str] | None = None) -> dg.ExecutorDefinition:
    """The executor of every job of the code location, by `RETRAIN_EXECUTOR` (see the module)."""
    kind = executor_kind(environ)
    if kind == CELERY:
        from dagster_celery import celery_executor

        return celery_executor.configured(celery_config(environ), name=CELERY)
    if kind == K8S:
        try:
            from dagster_k8s import k8s_job_executor
        except ImportError as error:  # dagster-k8s is an optional extra
            msg = f"{EXECUTOR_ENV_VAR}=k8s needs the dagster-k8s package: pip install dagster-k8s"
            raise ImportError(msg) from error
        return k8s_job_executor
    if kind == IN_PROCESS:
        return dg.in_process_executor
    return dg.multiprocess_executor
