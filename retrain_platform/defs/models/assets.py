"""The models layer: the trained candidate, its evaluation gate and the gate-approved version.

Registration happens in the candidate step: every challenger becomes a registered version (tagged
`gate.verdict=pending`), so a challenger the gate rejects is still in the registry, tagged with
its verdict and failures. `evaluation_gate` is a blocking check on the candidate: when it fails,
`registered_model` (the approved version, alias `challenger`) and `deployment` do not run.
Both downstream assets also refuse a version whose recorded verdict is not `passed`, because a
blocking check only stops steps of its own run.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.ref import DatasetRef, describe_version
from retrain_platform.core.datasets.training_set import read_version
from retrain_platform.core.deployment.decisions import (
    append_decision,
    from_gate_record,
    read_decisions,
    trigger_and_reason,
)
from retrain_platform.core.deployment.pipeline_health import (
    check_gate_rejection_rate,
    health_metadata,
    with_pending_cycle,
)
from retrain_platform.core.deployment.registry import (
    CHAMPION,
    PREVIOUS,
    alias_version,
    set_challenger,
)
from retrain_platform.core.lake import table_version
from retrain_platform.core.models import candidate_runs as runs
from retrain_platform.core.models.gate import (
    CHAMPION_UNSCORABLE,
    GateFailure,
    evaluate_gate,
    with_failure,
)
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
from retrain_platform.defs.models.metadata import (
    candidate_metadata,
    gate_metadata,
    latest_candidate,
)
from retrain_platform.resources import DeltaLakeResource
from retrain_platform.resources.notifier import NotifierResource
from retrain_platform.resources.tracking import MlflowResource


class CandidateModelConfig(dg.Config):
    """Which training-set version to train on and how hard to search."""

    dataset_version: int | None = Field(
        None, description="Training-set Delta version; default: the newest materialized one."
    )
    max_rounds: int = Field(400, description="Boosting rounds at most (early-stopped per fold).")
    early_stopping_rounds: int = Field(30, description="Rounds without improvement per fold.")
    folds: int = Field(3, description="Expanding-window folds over train + validation.")
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
        )
        context.log.info(
            f"{contract.dataset}: trained {result.config.name} ({result.num_boost_round} rounds, "
            f"{len(features)} features) on training set v{version} in {result.seconds:.1f} s; "
            f"holdout ROC-AUC {metrics['holdout']['roc_auc']:.4f}; registered version "
            f"{logged.version} (run {logged.run_id})"
        )
        return dg.MaterializeResult(
            metadata=candidate_metadata(logged, result, dataset, metrics, options)
        )

    return candidate_model


def build_evaluation_gate(contract: DatasetContract) -> dg.AssetChecksDefinition:
    """`evaluation_gate`: challenger against champion on the same holdout (blocking)."""

    @dg.asset_check(
        asset=mk.candidate_model_key(contract),
        name=mk.EVALUATION_GATE,
        blocking=True,
        description=(
            "Challenger and champion scored on the challenger's holdout: policy minimums, "
            "maximum regression against the champion, per-slice regression; all failures listed."
        ),
    )
    def evaluation_gate(
        context: dg.AssetCheckExecutionContext,
        mlflow: MlflowResource,
        lake: DeltaLakeResource,
        notifier: NotifierResource,
    ) -> dg.AssetCheckResult:
        candidate = latest_candidate(context.instance, contract)
        store, client = mlflow.store(), mlflow.client()
        name = candidate.registered_name
        dataset = DatasetRef.from_tags(client.get_run(candidate.run_id).data.tags)
        holdout = holdout_rows(dataset.read(lake.storage_options))
        model = runs.load_booster(store, candidate.version_uri)
        challenger = predict(model, holdout, model.feature_name())
        champion_version = alias_version(client, name, CHAMPION)
        champion, unscorable = None, None
        if champion_version is not None:
            old = runs.load_booster(store, runs.version_uri(name, champion_version))
            try:
                champion = predict(old, holdout, old.feature_name())
            except KeyError as exc:
                unscorable = GateFailure(
                    CHAMPION_UNSCORABLE, "features", f"version {champion_version}", 0, 0, str(exc)
                )
        verdict = evaluate_gate(holdout, challenger, champion, contract)
        if unscorable is not None:
            verdict = with_failure(verdict, unscorable)
        record = runs.record_gate(store, candidate, verdict, champion_version)
        if not verdict.passed:
            trigger, reason = trigger_and_reason(context.run.tags)
            append_decision(
                lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)),
                from_gate_record(
                    record,
                    decided_at=datetime.now(UTC),
                    dataset=contract.dataset,
                    trigger=trigger,
                    reason=reason,
                    promoted=False,
                    champion_before=champion_version,
                    champion_after=champion_version,
                    previous_after=alias_version(client, name, PREVIOUS),
                    dagster_run_id=context.run.run_id,
                    mlflow_run_id=candidate.run_id,
                    model_version=candidate.version,
                    dataset_version=dataset.version,
                    window=(dataset.window_start, dataset.window_end),
                ),
                lake.storage_options,
            )
            notifier.gate_rejected(contract.dataset, candidate.version, verdict.messages)
            history = read_decisions(
                lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)), lake.storage_options
            )
            health = check_gate_rejection_rate(history, contract.policy)
            if health.alert:
                notifier.gate_rejection_rate_high(
                    contract.dataset, health.rate, health.last_n, health.threshold
                )
        context.log.info(
            f"{contract.dataset} gate {verdict.label} for version {candidate.version}"
            + "".join(f"\n  - {m}" for m in verdict.messages)
        )
        # gate rejection rate and champion-metric trend, this cycle included, plotted per cycle
        history = read_decisions(
            lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)), lake.storage_options
        )
        if verdict.passed:
            history = with_pending_cycle(
                history,
                decided_at=datetime.now(UTC),
                gate_passed=True,
                champion_roc_auc=(record.get("champion") or {}).get("roc_auc"),
            )
        return dg.AssetCheckResult(
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                **gate_metadata(verdict, contract, candidate, champion_version, holdout.height),
                **health_metadata(history, contract.policy),
            },
        )

    return evaluation_gate


def build_registered_model_asset(contract: DatasetContract) -> dg.AssetsDefinition:
    """`models/<dataset>_registered`: the newest registered version that passed the gate."""

    @dg.asset(
        key=mk.registered_model_key(contract),
        deps=[mk.candidate_model_key(contract)],
        group_name=mk.GROUPS[mk.MODELS],
        kinds={"mlflow"},
        tags=mk.tags(contract, mk.MODELS),
        owners=[contract.owner],
        description=(
            f"The {contract.dataset} model version approved by the evaluation gate (MLflow "
            "alias `challenger`), ready for deployment; every challenger, approved or not, is a "
            "registered version tagged with its verdict."
        ),
    )
    def registered_model(
        context: dg.AssetExecutionContext, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        candidate = latest_candidate(context.instance, contract)
        client = mlflow.client()
        tags = client.get_model_version(candidate.registered_name, str(candidate.version)).tags
        verdict = tags.get(runs.TAG_GATE_VERDICT, runs.PENDING)
        if verdict != "passed":
            msg = (
                f"{candidate.registered_name} version {candidate.version} has gate verdict "
                f"{verdict!r}; only a version that passed the gate is approved"
            )
            raise dg.Failure(msg)
        set_challenger(client, candidate.registered_name, candidate.version)
        context.log.info(f"approved {candidate.version_uri}")
        return dg.MaterializeResult(
            metadata={
                "registered_model": candidate.registered_name,
                "model_version": candidate.version,
                "model_uri": candidate.version_uri,
                "mlflow_run_id": candidate.run_id,
                "gate_verdict": verdict,
                "dataset_version": candidate.dataset_version,
                "alias": "challenger",
            }
        )

    return registered_model


def build_model_assets(contract: DatasetContract) -> list[dg.AssetsDefinition]:
    return [build_candidate_model_asset(contract), build_registered_model_asset(contract)]
