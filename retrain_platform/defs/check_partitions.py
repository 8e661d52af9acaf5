"""Per-partition verdicts of a partitioned check whose step ran over a partition range.

A range run (one step over several partitions: what a UI backfill of a
`BackfillPolicy.single_run()` asset launches, or the features job over the backfill) plans the
check for every partition of the range, but Dagster records its `AssetCheckResult` once, with no
partition. The planned partitions are never completed, so Dagster counts them as skipped, and the
UI shows the check "Skipped" (its status is the worst over partitions) even though it passed.
An `AssetCheckEvaluation` that names a partition and that partition's latest materialization
completes the planned partition instead.
"""

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)


def _target(
    instance: dg.DagsterInstance, asset: dg.AssetKey, partition: str
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The partition's latest materialization: the one the check evaluated."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    latest = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        run_id=latest.event_log_entry.run_id,
        storage_id=latest.storage_id,
        timestamp=latest.timestamp,
    )


def partition_evaluation(
    context: dg.AssetCheckExecutionContext,
    result: dg.AssetCheckResult,
    partition: str,
    *,
    blocking: bool,
) -> dg.AssetCheckEvaluation:
    """`result` (its asset key and check name set) recorded as the verdict of one partition."""
    asset = result.asset_key
    if asset is None or result.check_name is None:
        msg = "a partition's check result names its asset and check"
        raise ValueError(msg)
    return dg.AssetCheckEvaluation(
        asset_key=asset,
        check_name=result.check_name,
        passed=result.passed,
        metadata=result.metadata,
        target_materialization_data=_target(context.instance, asset, partition),
        severity=result.severity,
        description=result.description,
        blocking=blocking,
        partition=partition,
    )
