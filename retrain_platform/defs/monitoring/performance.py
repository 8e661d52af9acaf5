"""`monitoring/<dataset>_performance`: the champion's live performance on labelled partitions.

It scores the champion on a partition once its labels are known; automation requests it when
they fall due and again when the partition's data change. "Now" is the platform's `clock`
resource, the one the retrain sensor reads, so a replay that fixes the clock decides both alike.
The retrain sensor reads this asset's metadata.
"""

import dagster as dg
import numpy as np

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.lake import read_partitions
from retrain_platform.core.models.inputs import label_vector
from retrain_platform.core.models.metrics import classification_metrics
from retrain_platform.core.models.training import predict
from retrain_platform.core.monitoring.reference import load_champion
from retrain_platform.defs import keys
from retrain_platform.defs.automation import follows_labels
from retrain_platform.defs.monitoring.metadata import (
    CHAMPION_VERSION,
    GROUP,
    LABELS_KNOWN,
    MONITORING,
    NO_ROWS,
    OK,
    ROC_AUC,
    ROWS,
    STATUS,
    labels_known_at,
    live_performance_key,
    no_champion_result,
)
from retrain_platform.defs.monitoring.partition_inputs import partition_features
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.resources import ClockResource, DeltaLakeResource
from retrain_platform.resources.tracking import MlflowResource


def _join_keys(contract: DatasetContract) -> list[str]:
    return list(contract.primary_key) or [*contract.entity_key_names, contract.timestamp_name]


def build_live_performance_asset(contract: DatasetContract) -> dg.AssetsDefinition:
    """`monitoring/<dataset>_performance`: the champion's metrics on a labelled partition."""
    policy = contract.policy

    @dg.asset(
        key=live_performance_key(contract),
        deps=[
            keys.validated_key(contract),
            *(keys.features_key(contract, view) for view in contract.feature_views),
        ],
        group_name=GROUP,
        partitions_def=partitions_for(contract),
        automation_condition=follows_labels(contract.partitioning.grain, contract.label.delay),
        kinds={"lightgbm", "polars"},
        tags={"layer": MONITORING, "dataset": contract.dataset},
        owners=[contract.owner],
        description=(
            f"The {contract.dataset} champion's accuracy, ROC-AUC and recall at the decision "
            f"threshold on a partition's events, once their labels are known (label delay "
            f"{contract.label.delay}). Materialized automatically when a partition's labels fall "
            "due and again when its validated rows or features change. Read by the retrain "
            "sensor."
        ),
    )
    def live_performance(
        context: dg.AssetExecutionContext,
        mlflow: MlflowResource,
        lake: DeltaLakeResource,
        clock: ClockResource,
    ) -> dg.MaterializeResult:
        partition = context.partition_key
        known_at = labels_known_at(contract, partition)
        if known_at > clock.now():
            return dg.MaterializeResult(
                metadata={LABELS_KNOWN: False, "labels_known_at": known_at.isoformat()}
            )
        champion = load_champion(mlflow.store(), contract, mlflow.registry_model_name(contract))
        if champion is None:
            return no_champion_result(contract)
        join = _join_keys(contract)
        features = partition_features(contract, champion, lake, partition)
        labels = read_partitions(
            lake.uri(keys.VALIDATED, contract.dataset),
            [partition],
            storage_options=lake.storage_options,
        ).select([*join, contract.label_name])
        events = features.drop(contract.label_name, strict=False).join(labels, on=join)
        if events.is_empty():
            return dg.MaterializeResult(
                metadata={LABELS_KNOWN: True, STATUS: NO_ROWS, CHAMPION_VERSION: champion.version}
            )
        y = label_vector(events, contract)
        scores = predict(champion.booster, events, champion.features)
        threshold = policy.decision_threshold
        metrics = classification_metrics(y, scores, threshold=threshold)
        accuracy = float(np.mean((scores >= threshold) == (y == 1)))
        context.log.info(
            f"{partition}: ROC-AUC {metrics['roc_auc']:.4f}, accuracy {accuracy:.4f} on "
            f"{events.height} labelled events (champion v{champion.version})"
        )
        return dg.MaterializeResult(
            metadata={
                LABELS_KNOWN: True,
                STATUS: OK,
                CHAMPION_VERSION: champion.version,
                ROC_AUC: metrics["roc_auc"],
                "accuracy": accuracy,
                "recall_at_threshold": metrics["recall_at_threshold"],
                "precision_at_threshold": metrics["precision_at_threshold"],
                "decision_threshold": threshold,
                ROWS: events.height,
                "positives": metrics["positives"],
                "min_roc_auc": policy.min_roc_auc,
            }
        )

    return live_performance
