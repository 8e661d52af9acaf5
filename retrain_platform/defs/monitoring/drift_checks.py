"""Check of `monitoring/<dataset>_drift`: the report covers every feature of the champion.

Reads the partition's report as recorded (its per-column table and its warming-up list) and the
champion version's logged signature; a feature in neither is a report that silently skipped
it. ERROR severity, not blocking: the retrain sensor reads the report, not a downstream asset.
"""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.alias_check import signature_inputs
from retrain_platform.core.monitoring.drift_coverage import EVERY_FEATURE_COVERED, check_coverage
from retrain_platform.defs.metadata import bounded_metadata
from retrain_platform.defs.monitoring.metadata import (
    CHAMPION_VERSION,
    DRIFT_TABLE,
    OK,
    STATUS,
    WARMING_UP,
    drift_report_key,
)
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.resources.tracking import MlflowResource


def build_drift_check(contract: DatasetContract) -> dg.AssetChecksDefinition:
    """`every_feature_covered` on the drift report, per partition."""
    asset = drift_report_key(contract)

    @dg.asset_check(
        asset=asset,
        name=EVERY_FEATURE_COVERED,
        partitions_def=partitions_for(contract),
        description=(
            "Every input of the champion the report compares against is in the report's "
            "per-column table (drift_by_column) or listed as left out (warming up). Not "
            "blocking (the retrain sensor reads the report). Evaluated per partition (see the "
            "result's `partition`): the Checks list is Failed when any partition's latest "
            "evaluation failed, while 'Latest execution' is the newest run's partition."
        ),
    )
    def every_feature_covered(
        context: dg.AssetCheckExecutionContext, mlflow: MlflowResource
    ) -> dg.AssetCheckResult:
        partition = context.partition_key
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[partition]), limit=1
        ).records
        event = records[0].asset_materialization if records else None
        meta = event.metadata if event is not None else {}
        status = meta[STATUS].value if STATUS in meta else "missing"
        if status != OK:
            return dg.AssetCheckResult(
                passed=True,
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"Partition {partition}: no comparison ({status}).",
                metadata={"partition": partition, "status": str(status)},
            )
        version = int(meta[CHAMPION_VERSION].value)  # type: ignore[arg-type]
        features = (
            signature_inputs(mlflow.store(), mlflow.registry_model_name(contract), version) or []
        )
        table = meta[DRIFT_TABLE].value
        reported = [str(record.data["column"]) for record in table.records]  # type: ignore[union-attr]
        left_out = list(meta[WARMING_UP].value) if WARMING_UP in meta else []  # type: ignore[arg-type]
        outcome = check_coverage(features, reported, left_out)
        return dg.AssetCheckResult(
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"Partition {partition}, champion version {version}.",
            metadata=bounded_metadata(
                {"partition": partition, "champion_version": version, **outcome.metadata}
            ),
        )

    return every_feature_covered
