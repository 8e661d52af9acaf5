"""Champion moves made outside the platform, noticed at the retrain sensor's tick.

Someone may move the registry's `champion` alias by hand (the MLflow UI, a script). The retrain
sensor checks at every tick with no retrain or rollback in flight (an in-flight promotion moves the
alias before it records the move) and records such a move in the decision history, so that
history, `--at` answers and rollback all follow the version that is really serving.
"""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment import record_external_alias_moves
from retrain_platform.defs import model_keys as mk
from retrain_platform.resources import DeltaLakeResource
from retrain_platform.resources.tracking import MlflowResource


def notice_alias_moves(
    context: dg.SensorEvaluationContext,
    contract: DatasetContract,
    mlflow: MlflowResource,
    lake: DeltaLakeResource,
    now: object,
) -> bool:
    """Record a hand-made champion move, if any; True when one was recorded."""
    moved = record_external_alias_moves(
        mlflow.client(),
        mlflow.registry_model_name(contract),
        lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)),
        dataset=contract.dataset,
        now=now,  # type: ignore[arg-type]
        storage_options=lake.storage_options,
    )
    if moved is not None:
        context.log.warning(
            f"{contract.dataset} champion moved outside the platform: "
            f"{moved.champion_before} -> {moved.champion_after} (recorded)"
        )
    return moved is not None
