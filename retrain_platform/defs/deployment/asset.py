"""The deployment layer: which registered version serves as champion, and the decision history.

Deployment moves MLflow registry aliases only (stages are deprecated): `champion` to the approved
version and `previous` to the champion it replaces, which keeps an instant rollback target. The
promotion is appended to the decision history; failed cycles are appended by the gate.
"""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.datasets.training_set import HOLDOUT, SPLIT, read_version
from retrain_platform.core.deployment.decisions import (
    from_gate_record,
    read_decisions,
    trigger_and_reason,
)
from retrain_platform.core.deployment.pipeline_health import health_metadata
from retrain_platform.core.deployment.promotion import promote_with_health_gate
from retrain_platform.core.deployment.registry import TAG_ROLLED_BACK, promote
from retrain_platform.core.models import candidate_runs as runs
from retrain_platform.core.models.inputs import feature_matrix, model_feature_names
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.deployment.state import record_deployment_event
from retrain_platform.defs.models.metadata import MODEL_VERSION, RUN_ID
from retrain_platform.resources import DeltaLakeResource
from retrain_platform.resources.notifier import NotifierResource
from retrain_platform.resources.tracking import MlflowResource


def _approved(instance: dg.DagsterInstance, contract: DatasetContract) -> tuple[int, str]:
    """Version and run id of the registered model's latest materialization."""
    records = instance.fetch_materializations(mk.registered_model_key(contract), limit=1).records
    materialization = records[0].asset_materialization if records else None
    if materialization is None:
        msg = f"{contract.dataset}: no approved model version yet"
        raise dg.Failure(msg)
    meta = materialization.metadata
    return int(meta[MODEL_VERSION].value), str(meta[RUN_ID].value)  # type: ignore[arg-type]


def build_deployment_asset(contract: DatasetContract) -> dg.AssetsDefinition:
    """`deployment/<dataset>`: the champion alias moved to the approved version.

    After the move a health gate loads the model in a sandbox process and answers sample
    requests (and, when `$RETRAIN_SERVING_URL` is set, waits for the running service's `/health`
    to show the new version); on failure the alias goes back to `previous` and it is recorded.
    """

    @dg.asset(
        key=mk.deployment_key(contract),
        deps=[mk.registered_model_key(contract)],
        group_name=mk.GROUPS[mk.DEPLOYMENT],
        kinds={"mlflow"},
        tags=mk.tags(contract, mk.DEPLOYMENT),
        owners=[contract.owner],
        freshness_policy=dg.FreshnessPolicy.time_window(
            fail_window=timedelta(days=contract.policy.max_model_age_days),
            warn_window=timedelta(days=contract.policy.max_model_age_days * 0.8),
        ),
        description=(
            f"The {contract.dataset} champion: registry alias `champion` on the approved "
            "version, `previous` on the one it replaced (the rollback target)."
        ),
    )
    def deployment(
        context: dg.AssetExecutionContext,
        mlflow: MlflowResource,
        lake: DeltaLakeResource,
        notifier: NotifierResource,
    ) -> dg.MaterializeResult:
        version, run_id = _approved(context.instance, contract)
        client, store = mlflow.client(), mlflow.store()
        name = mlflow.registry_model_name(contract)
        tags = client.get_model_version(name, str(version)).tags
        if tags.get(runs.TAG_GATE_VERDICT) != "passed":
            msg = f"{name} version {version} did not pass the evaluation gate; not deploying"
            raise dg.Failure(msg)
        if tags.get(TAG_ROLLED_BACK) == "true":
            msg = (
                f"{name} version {version} was rolled back; retrain (or move the alias by hand) "
                "instead of deploying it again"
            )
            raise dg.Failure(msg)
        move = promote(client, name, version)
        now = datetime.now(UTC)
        trigger, reason = trigger_and_reason(context.run.tags)
        record = runs.load_json(store, run_id, runs.GATE_RECORD)
        dataset = DatasetRef.from_tags(tags)
        dataset_version = dataset.version
        decision = from_gate_record(
            record,
            decided_at=now,
            dataset=contract.dataset,
            trigger=trigger,
            reason=reason,
            promoted=True,
            champion_before=move.replaced,
            champion_after=move.champion,
            previous_after=move.previous,
            dagster_run_id=context.run.run_id,
            mlflow_run_id=run_id,
            model_version=version,
            dataset_version=dataset.version,
            window=(dataset.window_start, dataset.window_end),
        )
        if move.moved:
            client.set_model_version_tag(
                name, str(version), "deployment.deployed_at", now.isoformat()
            )
        state = record_deployment_event(
            contract, decision, move, name=name, lake=lake, notifier=notifier
        )
        if move.moved:
            health = promote_with_health_gate(
                store,
                name,
                version,
                _sample_rows(contract, dataset, lake),
                decisions_uri=lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)),
                dataset=contract.dataset,
                service_url=os.environ.get(SERVING_URL_ENV_VAR) or None,
                storage_options=lake.storage_options,
            )
            if not health.passed:
                notifier.rollback(contract.dataset, version, health.rolled_back_to)
                msg = (
                    f"{name} version {version} failed the health gate at the {health.stage} "
                    f"stage ({health.reason}); champion rolled back to {health.rolled_back_to}"
                )
                raise dg.Failure(msg)
            context.log.info(
                f"{name} version {version} passed the health gate: smoke test "
                f"{health.smoke_seconds:.1f} s"
            )
        context.log.info(
            f"{name}: champion {'moved to' if move.moved else 'already'} version {version}"
            + (f" (previous: {move.previous})" if move.previous is not None else "")
        )
        return dg.MaterializeResult(
            metadata={
                **state,
                "promoted": move.moved,
                "gate_verdict": "passed",
                "first_deployment": record.get("champion") is None,
                "dataset_version": dataset_version,
                "challenger_metrics": dg.MetadataValue.json(record.get("challenger") or {}),
                "replaced_champion_metrics": dg.MetadataValue.json(record.get("champion") or {}),
                RUN_ID: run_id,
                # gate rejection rate and champion-metric trend over the last cycles (plotted)
                **health_metadata(
                    read_decisions(
                        lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)),
                        lake.storage_options,
                    ),
                    contract.policy,
                ),
            }
        )

    return deployment


SERVING_URL_ENV_VAR = "RETRAIN_SERVING_URL"
HEALTH_GATE_SAMPLE_ROWS = 20


def _sample_rows(
    contract: DatasetContract, dataset: DatasetRef, lake: DeltaLakeResource
) -> list[list[float]]:
    """A few holdout rows of the model's training-set version, as model inputs."""
    view = contract.view(dataset.view)
    frame = read_version(dataset.uri, dataset.version, lake.storage_options)
    holdout = frame.filter(pl.col(SPLIT) == HOLDOUT).head(HEALTH_GATE_SAMPLE_ROWS)
    return feature_matrix(holdout, model_feature_names(contract, view)).tolist()
