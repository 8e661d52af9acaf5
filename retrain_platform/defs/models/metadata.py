"""Metadata of the models layer: what the candidate, the gate and deployment show in the UI.

The candidate's materialization metadata is also how later steps (the gate, registration,
deployment) find the run and registered version they act on.
"""

import math
from collections.abc import Mapping
from typing import Any

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.models.candidate_runs import LoggedCandidate
from retrain_platform.core.models.gate import GateVerdict
from retrain_platform.core.models.mlflow_store import model_version_ui_url, run_ui_url
from retrain_platform.core.models.training import TrainingOptions, TrainingResult
from retrain_platform.defs import model_keys as mk

RUN_ID = "mlflow_run_id"
MODEL_URI = "model_uri"
REGISTERED_MODEL = "registered_model"
MODEL_VERSION = "model_version"
DATASET_VERSION = "dataset_version"
LOG_MODEL_SECONDS = "log_model_seconds"
EXPERIMENT_ID = "mlflow_experiment_id"
MLFLOW_RUN_URL = "mlflow_run_url"
MODEL_VERSION_URL = "model_version_url"


def _metric_values(values: Mapping[str, float]) -> dict[str, float | None]:
    return {k: (None if math.isnan(v) else round(float(v), 6)) for k, v in values.items()}


def latest_candidate(instance: dg.DagsterInstance, contract: DatasetContract) -> LoggedCandidate:
    """The run and registered version of the candidate's latest materialization."""
    records = instance.fetch_materializations(mk.candidate_model_key(contract), limit=1).records
    materialization = records[0].asset_materialization if records else None
    if materialization is None:
        msg = f"{contract.dataset}: no candidate model materialized yet"
        raise dg.Failure(msg)
    meta = materialization.metadata
    return LoggedCandidate(
        run_id=str(meta[RUN_ID].value),
        model_uri=str(meta[MODEL_URI].value),
        registered_name=str(meta[REGISTERED_MODEL].value),
        version=int(meta[MODEL_VERSION].value),  # type: ignore[arg-type]
        dataset_version=int(meta[DATASET_VERSION].value),  # type: ignore[arg-type]
        log_model_seconds=float(meta[LOG_MODEL_SECONDS].value),  # type: ignore[arg-type]
        experiment_id=str(meta[EXPERIMENT_ID].value) if EXPERIMENT_ID in meta else "",
    )


def mlflow_links(
    ui: str | None,
    *,
    experiment_id: str | None = None,
    run_id: str | None = None,
    name: str | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """Links to the MLflow UI's run and model-version pages; none without a UI (the ids and
    `models:/` URIs are in the metadata as text either way)."""
    links: dict[str, Any] = {}
    if ui is None:
        return links
    if experiment_id and run_id:
        links[MLFLOW_RUN_URL] = dg.MetadataValue.url(run_ui_url(ui, experiment_id, run_id))
    if name and version is not None:
        links[MODEL_VERSION_URL] = dg.MetadataValue.url(model_version_ui_url(ui, name, version))
    return links


def candidate_metadata(
    logged: LoggedCandidate,
    result: TrainingResult,
    dataset: DatasetRef,
    metrics: Mapping[str, Mapping[str, float]],
    options: TrainingOptions,
    ui: str | None = None,
) -> dict[str, Any]:
    return {
        **mlflow_links(
            ui,
            experiment_id=logged.experiment_id,
            run_id=logged.run_id,
            name=logged.registered_name,
            version=logged.version,
        ),
        RUN_ID: logged.run_id,
        EXPERIMENT_ID: logged.experiment_id,
        MODEL_URI: logged.model_uri,
        REGISTERED_MODEL: logged.registered_name,
        MODEL_VERSION: logged.version,
        "registered_model_uri": logged.version_uri,
        DATASET_VERSION: dataset.version,
        "window_start": dataset.window_start,
        "window_end": dataset.window_end,
        "training_window": dataset.training_window,
        "validation_partitions": dg.MetadataValue.json(list(dataset.validation_partitions)),
        "holdout_partitions": dg.MetadataValue.json(list(dataset.holdout_partitions)),
        "config": result.config.name,
        "num_boost_round": result.num_boost_round,
        "num_threads": options.num_threads,
        "cv_roc_auc": dg.MetadataValue.json(_metric_values(result.cv_means())),
        "validation_metrics": dg.MetadataValue.json(_metric_values(metrics["validation"])),
        "holdout_metrics": dg.MetadataValue.json(_metric_values(metrics["holdout"])),
        "holdout_roc_auc": float(metrics["holdout"]["roc_auc"]),
        "features": dg.MetadataValue.json(result.features),
        "training_seconds": round(result.seconds, 3),
        LOG_MODEL_SECONDS: round(logged.log_model_seconds, 3),
    }


def _failures_markdown(verdict: GateVerdict) -> str:
    if not verdict.failures:
        return "none"
    return "\n".join(f"- {message}" for message in verdict.messages)


def gate_description(
    verdict: GateVerdict,
    contract: DatasetContract,
    candidate: LoggedCandidate,
    champion_version: int | None,
) -> str:
    """The verdict in Markdown: what happens to the challenger and the champion, and why."""
    name = f"{contract.dataset} version {candidate.version}"
    if verdict.passed:
        against = "first deployment" if champion_version is None else f"champion {champion_version}"
        return f"**Passed** ({against}): {name} is approved for deployment."
    keeps = (
        "there is still no champion"
        if champion_version is None
        else f"champion version {champion_version} keeps serving"
    )
    return f"**Rejected**: {name} is not deployed; {keeps}.\n\n" + _failures_markdown(verdict)


def _slices_markdown(verdict: GateVerdict) -> str:
    lines = [
        "| slice | rows | positives | challenger ROC-AUC | champion ROC-AUC | status |",
        "|---|---|---|---|---|---|",
    ]
    for s in verdict.slices:
        old = "-" if s.champion_roc_auc is None else f"{s.champion_roc_auc:.4f}"
        lines.append(
            f"| {s.subject} | {s.rows} | {s.positives} | {s.challenger_roc_auc:.4f} | {old} "
            f"| {s.status} |"
        )
    return "\n".join(lines)


def gate_metadata(
    verdict: GateVerdict,
    contract: DatasetContract,
    candidate: LoggedCandidate,
    champion_version: int | None,
    holdout_rows: int,
) -> dict[str, Any]:
    policy = contract.policy
    meta: dict[str, Any] = {
        "verdict": verdict.label,
        "gate_method": verdict.method,
        "first_deployment": verdict.first_deployment,
        "failure_count": len(verdict.failures),
        "failures": dg.MetadataValue.md(_failures_markdown(verdict)),
        "failure_list": dg.MetadataValue.json(verdict.messages),
        MODEL_VERSION: candidate.version,
        RUN_ID: candidate.run_id,
        "champion_version": champion_version if champion_version is not None else "none",
        "holdout_rows": holdout_rows,
        "challenger_metrics": dg.MetadataValue.json(_metric_values(verdict.challenger)),
        "challenger_roc_auc": float(verdict.challenger["roc_auc"]),
        "min_roc_auc": policy.min_roc_auc,
        "min_recall_at_threshold": policy.min_recall_at_threshold,
        "max_relative_regression": policy.max_relative_regression,
        "decision_threshold": policy.decision_threshold,
    }
    if verdict.champion is not None:
        meta["champion_metrics"] = dg.MetadataValue.json(_metric_values(verdict.champion))
        meta["champion_roc_auc"] = float(verdict.champion["roc_auc"])
    if verdict.tolerance is not None:
        meta["tolerance"] = float(verdict.tolerance)
    if verdict.interval is not None:
        meta["interval_low"] = verdict.interval.low
        meta["interval_high"] = verdict.interval.high
        meta["interval_confidence"] = verdict.interval.confidence
    if verdict.slices:
        meta["slices"] = dg.MetadataValue.md(_slices_markdown(verdict))
    return meta
