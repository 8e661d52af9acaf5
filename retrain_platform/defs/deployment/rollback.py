"""The rollback job: move `champion` back to `previous` in seconds, without retraining.

One op: two registry alias moves, one row appended to the decision history, and a
materialization event on `deployment/<dataset>` so the catalog shows the restored champion.
`retrain-platform rollback` runs this same job.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.decisions import (
    ROLLBACK,
    Decision,
    append_decision,
    trigger_and_reason,
)
from retrain_platform.core.deployment.registry import RollbackError, rollback
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.deployment.state import deployment_state
from retrain_platform.resources import DeltaLakeResource
from retrain_platform.resources.notifier import NotifierResource
from retrain_platform.resources.tracking import MlflowResource


class RollbackConfig(dg.Config):
    """Why the champion is being rolled back (recorded in the decision history)."""

    reason: str = Field("manual rollback", description="Recorded with the rollback.")


def rollback_job_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_rollback_job"


def build_rollback_job(contract: DatasetContract) -> dg.JobDefinition:
    """`<dataset>_rollback_job`: champion back to the previous version."""

    @dg.op(
        name=f"{contract.dataset}_rollback_champion",
        description="Move the champion alias back to the previous version.",
        tags={"dataset": contract.dataset},
    )
    def rollback_champion(
        context: dg.OpExecutionContext,
        config: RollbackConfig,
        mlflow: MlflowResource,
        lake: DeltaLakeResource,
        notifier: NotifierResource,
    ) -> int:
        name = mlflow.registry_model_name(contract)
        try:
            move = rollback(mlflow.client(), name)
        except RollbackError as exc:
            raise dg.Failure(str(exc)) from exc
        now = datetime.now(UTC)
        trigger, _ = trigger_and_reason(context.run.tags)
        append_decision(
            lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)),
            Decision(
                decided_at=now,
                event=ROLLBACK,
                dataset=contract.dataset,
                trigger=trigger,
                reason=config.reason,
                promoted=False,
                champion_before=move.replaced,
                champion_after=move.champion,
                previous_after=move.previous,
                dagster_run_id=context.run.run_id,
                model_version=move.champion,
            ),
            lake.storage_options,
        )
        notifier.rollback(contract.dataset, move.replaced, move.champion)
        context.log_event(
            dg.AssetMaterialization(
                asset_key=mk.deployment_key(contract),
                description=f"rolled back from version {move.replaced} to {move.champion}",
                metadata={
                    **deployment_state(
                        name=name,
                        champion=move.champion,
                        previous=move.previous,
                        deployed_at=now,
                        trigger=trigger,
                        reason=config.reason,
                        event="rollback",
                    ),
                    "rolled_back_version": move.replaced if move.replaced is not None else "none",
                },
            )
        )
        context.log.info(f"{name}: champion rolled back from {move.replaced} to {move.champion}")
        return move.champion

    @dg.job(
        name=rollback_job_name(contract),
        description=f"Roll the {contract.dataset} champion back to the previous version.",
        tags={"dataset": contract.dataset},
    )
    def rollback_job() -> None:
        rollback_champion()

    return rollback_job
