"""`models/<dataset>_candidate`: a LightGBM challenger trained, tracked and registered.

Registration happens in the candidate step: every challenger becomes a registered version (tagged
`gate.verdict=pending`), so a challenger the gate rejects is still in the registry, tagged with
its verdict and failures. The MLflow run is named `<dataset>-v<model version>-<trigger>`, has a
description, and lists the training set's splits as dataset inputs (`run_records`). The
blocking `evaluation_gate` check on this asset (see `gate`) decides whether `registered_model`
approves the version and `deployment` runs.
"""

import dagster as dg
from pydantic import Field

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.ref import describe_version
from retrain_platform.core.datasets.training_set import read_version
from retrain_platform.core.deployment.decisions import trigger_and_reason
from retrain_platform.core.lake import table_version
from retrain_platform.core.models import candidate_runs as runs
from retrain_platform.core.models.inputs import label_vector, model_feature_names
from retrain_platform.core.models.metrics import classification_metrics
from retrain_platform.core.models.training import (
    TrainingOptions,
    default_num_threads,
    holdout_rows,
    predict,
    train_candidates,
)
from retrain_platform.defs import keys
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.models.metadata import candidate_metadata
from retrain_platform.resources import DeltaLakeResource
from retrain_platform.resources.tracking import MlflowResource


class CandidateModelConfig(dg.Config):
    """Which training-set version to train on and how hard to search."""

    dataset_version: int | None = Field(
        None, description="Training-set Delta version; default: the newest materialized one."
    )
    max_rounds: int = Field(400, description="Boosting rounds at most (early-stopped per fold).")
    early_stopping_rounds: int = Field(30, description="Rounds without improvement per fold.")
    folds: int = Field(
        1,
        description="Expanding-window folds over train + validation (1: early stopping on "
        "the validation split, the cheapest search).",
    )
    seed: int = Field(42, description="LightGBM seed.")
    num_threads: int | None = Field(None, description="LightGBM threads; default cores - 1.")


def _dataset_version(
    context: dg.AssetExecutionContext, contract: DatasetContract, uri: str, lake: DeltaLakeResource
) -> int:
    """The newest version: from the training set's latest materialization, else the table."""
    records = context.instance.fetch_materializations(
        keys.training_dataset_key(contract), limit=1
    ).records
    if records and records[0].asset_materialization is not None:
        recorded = records[0].asset_materialization.metadata.get("delta_version")
        if recorded is not None:
            return int(recorded.value)  # type: ignore[arg-type]
    version = table_version(uri, lake.storage_options)
    if version is None:
        msg = f"{contract.dataset}: no training set yet ({uri}); materialize it first"
        raise dg.Failure(msg)
    return version


def build_candidate_model_asset(contract: DatasetContract) -> dg.AssetsDefinition:
    """`models/<dataset>_candidate`: a LightGBM challenger trained, tracked and registered."""

    @dg.asset(
        key=mk.candidate_model_key(contract),
        deps=[keys.training_dataset_key(contract)],
        group_name=mk.GROUPS[mk.MODELS],
        kinds={"lightgbm", "mlflow"},
        tags=mk.tags(contract, mk.MODELS),
        owners=[contract.owner],
        description=(
            f"LightGBM challenger for {contract.dataset}: candidate configurations compared by "
            "time-ordered cross-validation on a recorded training-set version, the best refit; "
            "tracked in MLflow and registered as a new model version."
        ),
    )
    def candidate_model(
        context: dg.AssetExecutionContext,
        config: CandidateModelConfig,
        mlflow: MlflowResource,
        lake: DeltaLakeResource,
    ) -> dg.MaterializeResult:
        uri = lake.uri(keys.DATASETS, f"{contract.dataset}_training")
        version = (
            config.dataset_version
            if config.dataset_version is not None
            else _dataset_version(context, contract, uri, lake)
        )
        frame = read_version(uri, version, lake.storage_options)
        dataset = describe_version(uri, version, frame, lake.storage_options)
        view = contract.view(dataset.view)
        features = model_feature_names(contract, view)
        options = TrainingOptions(
            max_rounds=config.max_rounds,
            early_stopping_rounds=config.early_stopping_rounds,
            folds=config.folds,
            seed=config.seed,
            num_threads=config.num_threads or default_num_threads(),
        )
        result = train_candidates(frame, contract, features, options)
        holdout = holdout_rows(frame)
        threshold = contract.policy.decision_threshold
        metrics = {
            "validation": classification_metrics(
                result.validation_labels, result.validation_scores, threshold=threshold
            ),
            "holdout": classification_metrics(
                label_vector(holdout, contract),
                predict(result.booster, holdout, features),
                threshold=threshold,
            ),
        }
        trigger, reason = trigger_and_reason(context.run.tags)
        logged = runs.log_candidate(
            mlflow.store(),
            experiment=mlflow.experiment_name(contract),
            registered_name=mlflow.registry_model_name(contract),
            result=result,
            dataset=dataset,
            metrics=metrics,
            example=runs.input_example(holdout, features),
            tags={
                runs.TAG_DATASET: contract.dataset,
                runs.TAG_CONTRACT_HASH: contract.contract_hash,
                runs.TAG_DAGSTER_RUN: context.run.run_id,
                runs.TAG_TRIGGER: trigger,
                runs.TAG_REASON: reason,
            },
            frame=frame,
            targets=contract.label_name,
        )
        context.log.info(
            f"{contract.dataset}: trained {result.config.name} ({result.num_boost_round} rounds, "
            f"{len(features)} features) on training set v{version} in {result.seconds:.1f} s; "
            f"holdout ROC-AUC {metrics['holdout']['roc_auc']:.4f}; registered version "
            f"{logged.version} (run {logged.run_id})"
        )
        return dg.MaterializeResult(
            metadata=candidate_metadata(
                logged, result, dataset, metrics, options, mlflow.ui_base_url()
            )
        )

    return candidate_model
