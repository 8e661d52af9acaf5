"""How a retraining cycle reads in MLflow's UI: run names, descriptions and dataset inputs.

MLflow's charts and run lists label runs by name, so each candidate run is named
`<dataset>-v<model version>-<trigger>`: the registered version it became is unique per dataset
and is the number the registry, Dagster and the decision history use. That version is only known
once the model is registered at the end of the run, so the run starts as
`<dataset>-ds<training-set version>-<trigger>` and is renamed after registration (a run whose
registration failed keeps that name). The run description (MLflow's `mlflow.note.content` tag)
and the model-version description say in Markdown what was trained on what, why, by which Dagster
run, and what the gate decided. The training set's splits are logged as MLflow dataset inputs
whose source is the Delta table path and version, with MLflow's digest of the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mlflow
import mlflow.data
import polars as pl
from mlflow.data.delta_dataset_source import DeltaDatasetSource

from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.datasets.training_set import HOLDOUT, SPLIT, TRAIN, VALIDATION
from retrain_platform.core.models.gate import GateVerdict

NOTE_TAG = "mlflow.note.content"  # MLflow's description of a run or experiment
# MLflow 3 opens an experiment in its classic-ML views (runs, charts, models) with this kind;
# without it, the UI may infer a GenAI experiment and open on traces.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CUSTOM_MODEL_DEVELOPMENT = "custom_model_development"
# MLflow input context of each split of a training set
SPLIT_CONTEXTS = {TRAIN: "training", VALIDATION: "validation", HOLDOUT: "holdout"}
TAG_DELTA_VERSION = "delta_version"
TAG_SPLIT = "split"


def run_name(dataset: str, model_version: int | str, trigger: str) -> str:
    """The name of a candidate run once its model version is known."""
    return f"{dataset}-v{model_version}-{trigger}"


def provisional_run_name(dataset: str, dataset_version: int, trigger: str) -> str:
    """The name of a candidate run until its model is registered."""
    return f"{dataset}-ds{dataset_version}-{trigger}"


def experiment_tags(dataset: str) -> dict[str, str]:
    """Tags of a dataset's experiment: the classic-ML kind and a description."""
    return {
        EXPERIMENT_KIND_TAG: CUSTOM_MODEL_DEVELOPMENT,
        NOTE_TAG: (
            f"Retraining candidates of **{dataset}**, one LightGBM run per challenger, named "
            "`<dataset>-v<model version>-<trigger>`. Each run links its training-set version "
            "(Delta) as dataset inputs and is tagged with the evaluation gate's verdict."
        ),
    }


def _window(dataset: DatasetRef) -> str:
    return f"{dataset.window_start} .. {dataset.window_end}" if dataset.window_start else "?"


def run_description(
    dataset: DatasetRef,
    *,
    name: str,
    trigger: str,
    reason: str,
    dagster_run_id: str,
    config: str,
    rounds: int,
    features: int,
    holdout_roc_auc: float | None,
) -> str:
    """The candidate run's description (Markdown)."""
    auc = "n/a" if holdout_roc_auc is None else f"{holdout_roc_auc:.4f}"
    why = f": {reason}" if reason and reason != trigger else ""
    return "\n".join(
        [
            f"Challenger for **{name}**, trigger `{trigger}`{why}.",
            "",
            f"- training set: v{dataset.version} of `{dataset.uri}`, window {_window(dataset)}",
            f"- model: LightGBM `{config}`, {rounds} rounds, {features} features; "
            f"holdout ROC-AUC {auc}",
            f"- Dagster run: `{dagster_run_id}`",
        ]
    )


def gate_section(
    verdict: GateVerdict, champion_version: int | None, dagster_run_id: str | None
) -> str:
    """The gate's verdict in Markdown, for the run and the model-version descriptions."""
    against = "no champion" if champion_version is None else f"champion v{champion_version}"
    word = "passed" if verdict.passed else "rejected"
    head = f"**Gate {word}** ({verdict.method}, against {against})"
    if dagster_run_id:
        head += f", Dagster run `{dagster_run_id}`"
    return "\n".join([head + ".", *(f"- {message}" for message in verdict.messages)])


def model_version_description(
    dataset: DatasetRef, *, trigger: str, dagster_run_id: str, gate: str | None = None
) -> str:
    """The registered version's description: its run and training set, then the gate."""
    text = (
        f"Trained by Dagster run `{dagster_run_id}` on training set v{dataset.version} "
        f"(window {_window(dataset)}), trigger `{trigger}`."
    )
    return f"{text}\n\n{gate or '**Gate pending**.'}"


class _DeltaVersion(DeltaDatasetSource):
    """MLflow's Delta source, whose dictionary keeps version 0 (MLflow drops a falsy version)."""

    def to_dict(self) -> dict[Any, Any]:
        return {**super().to_dict(), "delta_table_version": self.delta_table_version}


def _loggable(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows as MLflow's polars schema reads them: dates as datetimes (else it warns per column)."""
    return rows.with_columns(pl.col(pl.Date).cast(pl.Datetime("us")))


def log_dataset_inputs(
    frame: pl.DataFrame, dataset: DatasetRef, *, name: str, targets: str | None
) -> list[str]:
    """Log each split of the training set as a dataset input of the active run.

    Each input is named `<name>@v<version>`, its context is the split (training, validation,
    holdout), its source the Delta table path and version, its digest MLflow's hash of the rows.
    Returns the contexts logged.
    """
    splits = set(frame.get_column(SPLIT).unique().to_list())
    inputs: Sequence[tuple[str, str]] = [(s, c) for s, c in SPLIT_CONTEXTS.items() if s in splits]
    datasets = [
        mlflow.data.from_polars(
            _loggable(frame.filter(pl.col(SPLIT) == split)),
            source=_DeltaVersion(path=dataset.uri, delta_table_version=dataset.version),
            targets=targets,
            name=f"{name}@v{dataset.version}",
        )
        for split, _ in inputs
    ]
    mlflow.log_inputs(
        datasets=list(datasets),
        contexts=[context for _, context in inputs],
        tags_list=[{TAG_DELTA_VERSION: str(dataset.version), TAG_SPLIT: s} for s, _ in inputs],
    )
    return [context for _, context in inputs]
