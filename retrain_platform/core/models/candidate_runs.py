"""MLflow records of a training cycle: the candidate run, its registered version, the verdict.

A candidate run holds the chosen configuration's parameters, the validation and holdout metrics,
the training-set reference, the code version and, as the artifact `training/record.json`, the
exact inputs of the final fit (typed parameters, rounds, feature list), which is what
`reproduce` reads. The model is logged with MLflow's LightGBM flavor, its signature, an input
example and explicit pip requirements (inferring them imports and inspects the environment,
about 2-5 s per model against 0.1 s). The registered version is tagged with the sha256 and size of
its `model.lgb`, which every load checks (`core.models.loading`: models are parsed from that text
file, never through the flavor's loader, which can unpickle code named by the artifact).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import mlflow
import mlflow.lightgbm
import pandas as pd
import polars as pl
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.models import run_records as records
from retrain_platform.core.models.gate import GateVerdict
from retrain_platform.core.models.loading import (
    TAG_MODEL_BYTES,
    TAG_MODEL_SHA256,
    load_registered_booster,
    logged_model_digest,
    parse_version_uri,
)
from retrain_platform.core.models.mlflow_store import MlflowStore, code_version
from retrain_platform.core.models.training import LIGHTGBM_VERSION, TrainingResult
from retrain_platform.core.models.verdict_record import verdict_record

MODEL_NAME = "model"
TRAINING_RECORD = "training/record.json"
GATE_RECORD = "gate/verdict.json"
REQUIREMENTS = ("lightgbm", "numpy", "pandas", "scipy")

TAG_DATASET = "dataset"
TAG_CODE_VERSION = "code_version"
TAG_CONTRACT_HASH = "contract_hash"
TAG_DAGSTER_RUN = "dagster.run_id"
TAG_TRIGGER = "retrain.trigger"
TAG_REASON = "retrain.reason"
TAG_GATE_VERDICT = "gate.verdict"
TAG_GATE_METHOD = "gate.method"
TAG_GATE_FAILURES = "gate.failures"
TAG_GATE_FAILURE_COUNT = "gate.failure_count"
TAG_GATE_INTERVAL = "gate.interval"
TAG_GATE_CHAMPION = "gate.champion_version"
PENDING = "pending"


def pip_requirements() -> list[str]:
    """Pinned requirements of a LightGBM Booster served through pyfunc (MLflow adds itself)."""
    return [f"{name}=={metadata.version(name)}" for name in REQUIREMENTS]


def model_signature(features: Sequence[str]) -> ModelSignature:
    """Float inputs named like the model's features, one probability out."""
    return ModelSignature(
        inputs=Schema([ColSpec("double", name) for name in features]),
        outputs=Schema([ColSpec("double")]),
    )


def input_example(frame: pl.DataFrame, features: Sequence[str], rows: int = 5) -> pd.DataFrame:
    """A few rows of model input as MLflow stores them (floats, NaN for missing)."""
    return frame.head(rows).select([pl.col(n).cast(pl.Float64) for n in features]).to_pandas()


def _finite_metrics(values: Mapping[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in values.items() if math.isfinite(float(v))}


@dataclass(frozen=True)
class LoggedCandidate:
    """Where a candidate was recorded."""

    run_id: str
    model_uri: str
    registered_name: str
    version: int
    dataset_version: int
    log_model_seconds: float = 0.0
    experiment_id: str = ""

    @property
    def version_uri(self) -> str:
        return version_uri(self.registered_name, self.version)


def version_uri(name: str, version: int | str) -> str:
    return f"models:/{name}/{version}"


def training_record(result: TrainingResult, dataset: DatasetRef) -> dict[str, Any]:
    """Everything the final fit needs to be repeated exactly."""
    return {
        "config": result.config.name,
        "params": result.params,
        "num_boost_round": result.num_boost_round,
        "features": result.features,
        "dataset": dataset.tags(),
        "lightgbm_version": LIGHTGBM_VERSION,
        "folds": [{"train": list(f.train), "validation": list(f.validation)} for f in result.folds],
        "cv_roc_auc": result.cv_means(),
    }


def log_candidate(
    store: MlflowStore,
    *,
    experiment: str,
    registered_name: str,
    result: TrainingResult,
    dataset: DatasetRef,
    metrics: Mapping[str, Mapping[str, float]],
    example: pd.DataFrame,
    tags: Mapping[str, str],
    frame: pl.DataFrame | None = None,
    targets: str | None = None,
) -> LoggedCandidate:
    """Log the candidate run and model, and register the model as a new version.

    `metrics` maps a prefix (`validation`, `holdout`) to metric values. `frame` (the training
    set's rows, with the label column `targets`) is logged as the run's dataset inputs. The run is
    renamed `<dataset>-v<model version>-<trigger>` once registered (see `run_records`).
    """
    store.activate()
    experiment_id = store.experiment_id(experiment, records.experiment_tags(experiment))
    all_tags = {
        **dataset.tags(),
        TAG_CODE_VERSION: code_version(),
        TAG_GATE_VERDICT: PENDING,
        **tags,
    }
    name = all_tags.get(TAG_DATASET) or experiment
    trigger = all_tags.get(TAG_TRIGGER) or "manual"
    dagster_run_id = all_tags.get(TAG_DAGSTER_RUN, "")
    all_tags[records.NOTE_TAG] = records.run_description(
        dataset,
        name=name,
        trigger=trigger,
        reason=all_tags.get(TAG_REASON, ""),
        dagster_run_id=dagster_run_id,
        config=result.config.name,
        rounds=result.num_boost_round,
        features=len(result.features),
        holdout_roc_auc=metrics.get("holdout", {}).get("roc_auc"),
    )
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=records.provisional_run_name(name, dataset.version, trigger),
    ) as run:
        mlflow.set_tags(all_tags)
        if frame is not None:
            records.log_dataset_inputs(frame, dataset, name=f"{name}_training", targets=targets)
        mlflow.log_params(
            {
                "config": result.config.name,
                "num_boost_round": result.num_boost_round,
                "n_features": len(result.features),
                "candidates": ",".join(result.cv_means()),
                **result.params,
            }
        )
        logged: dict[str, float] = {"training_seconds": result.seconds}
        for prefix, values in metrics.items():
            logged.update(_finite_metrics(values, f"{prefix}_"))
        logged.update(_finite_metrics(result.cv_means(), "cv_roc_auc_"))
        mlflow.log_metrics(logged)
        mlflow.log_dict(training_record(result, dataset), TRAINING_RECORD)
        started = time.perf_counter()
        info = mlflow.lightgbm.log_model(
            result.booster,
            name=MODEL_NAME,
            signature=model_signature(result.features),
            input_example=example,
            pip_requirements=pip_requirements(),
        )
        seconds = time.perf_counter() - started
    sha256, size = logged_model_digest(store, info.model_id)
    version = mlflow.register_model(
        info.model_uri,
        registered_name,
        tags={
            **dataset.tags(),
            TAG_GATE_VERDICT: PENDING,
            TAG_MODEL_SHA256: sha256,
            TAG_MODEL_BYTES: str(size),
        },
    )
    client = store.client()
    client.update_run(run.info.run_id, name=records.run_name(name, version.version, trigger))
    client.update_model_version(
        registered_name,
        version.version,
        description=records.model_version_description(
            dataset, trigger=trigger, dagster_run_id=dagster_run_id
        ),
    )
    return LoggedCandidate(
        run.info.run_id,
        info.model_uri,
        registered_name,
        int(version.version),
        dataset.version,
        seconds,
        experiment_id,
    )


def load_booster(store: MlflowStore, model_uri: str) -> Any:
    """Load registered version `models:/<name>/<version>` (a `lightgbm.Booster`) from its text
    model file, its recorded sha256 checked (`core.models.loading`)."""
    name, version = parse_version_uri(model_uri)
    return load_registered_booster(store, name, version).booster


def load_json(store: MlflowStore, run_id: str, path: str) -> dict[str, Any]:
    store.activate()
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")


def record_gate(
    store: MlflowStore,
    candidate: LoggedCandidate,
    verdict: GateVerdict,
    champion_version: int | None,
    dagster_run_id: str | None = None,
) -> dict[str, Any]:
    """Tag the candidate run and its registered version with the verdict and every failure,
    and add the verdict to both descriptions (`dagster_run_id`: the run of the gate)."""
    client = store.client()
    record = verdict_record(verdict, champion_version)
    run_tags = client.get_run(candidate.run_id).data.tags
    gate = records.gate_section(verdict, champion_version, dagster_run_id)
    note = run_tags.get(records.NOTE_TAG, "")
    client.set_tag(candidate.run_id, records.NOTE_TAG, f"{note}\n\n{gate}".strip())
    client.update_model_version(
        candidate.registered_name,
        str(candidate.version),
        description=records.model_version_description(
            DatasetRef.from_tags(run_tags),
            trigger=run_tags.get(TAG_TRIGGER) or "manual",
            dagster_run_id=run_tags.get(TAG_DAGSTER_RUN, "?"),
            gate=gate,
        ),
    )
    tags = {
        TAG_GATE_VERDICT: verdict.label,
        TAG_GATE_METHOD: verdict.method,
        TAG_GATE_FAILURE_COUNT: str(len(verdict.failures)),
        TAG_GATE_FAILURES: "\n".join(verdict.messages) or "none",
        TAG_GATE_CHAMPION: str(champion_version) if champion_version else "none",
    }
    tags.update({f"gate.failure.{i}": m for i, m in enumerate(verdict.messages, 1)})
    if verdict.interval is not None:
        tags[TAG_GATE_INTERVAL] = f"[{verdict.interval.low:.5f}, {verdict.interval.high:.5f}]"
    for key, value in tags.items():
        client.set_tag(candidate.run_id, key, value)
    for key in (TAG_GATE_VERDICT, TAG_GATE_FAILURE_COUNT, TAG_GATE_CHAMPION):
        client.set_model_version_tag(
            candidate.registered_name, str(candidate.version), key, tags[key]
        )
    for key, value in _finite_metrics(verdict.champion or {}, "champion_holdout_").items():
        client.log_metric(candidate.run_id, key, value)
    client.log_dict(candidate.run_id, record, GATE_RECORD)
    return record
