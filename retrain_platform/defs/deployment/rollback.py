"""The rollback job: move `champion` back to `previous` in seconds, without retraining.

One op: two registry alias moves, one row appended to the decision history, and a
materialization event on `deployment/<dataset>_champion` so the catalog shows the restored champion.
A champion moved by hand since the last recorded move is recorded first, and the version that
served before it becomes the rollback target (`alias_moves`), so rollback returns to it rather
than to an older `previous`. Rows read the platform clock. `retrain-platform rollback` runs this
same job.
"""

import dagster as dg
from pydantic import Field

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.alias_moves import record_external_alias_moves
from retrain_platform.core.deployment.decisions import ROLLBACK, Decision, trigger_and_reason
from retrain_platform.core.deployment.registry import RollbackError, rollback
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.deployment.state import record_deployment_event
from retrain_platform.resources import ClockResource, DeltaLakeResource
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
        clock: ClockResource,
    ) -> int:
        name, client = mlflow.registry_model_name(contract), mlflow.client()
        noticed = record_external_alias_moves(
            client,
            name,
            lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)),
            dataset=contract.dataset,
            now=clock.now(),
            storage_options=lake.storage_options,
        )
        if noticed is not None:
            context.log.warning(noticed.reason)
        try:
            move = rollback(client, name)
        except RollbackError as exc:
            raise dg.Failure(str(exc)) from exc
        trigger, _ = trigger_and_reason(context.run.tags)
        decision = Decision(
            decided_at=clock.now(),
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
        )
        state = record_deployment_event(
            contract, decision, move, name=name, lake=lake, notifier=notifier
        )
        context.log_event(
            dg.AssetMaterialization(
                asset_key=mk.deployment_key(contract),
                description=f"rolled back from version {move.replaced} to {move.champion}",
                metadata={
                    **state,
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
