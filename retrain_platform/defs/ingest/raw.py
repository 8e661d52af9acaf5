"""The raw layer asset: landed files of a partition, typed to the contract, in Delta."""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.bounded import clip_values
from retrain_platform.core.ingest.raw_layer import run_raw_step
from retrain_platform.defs import keys
from retrain_platform.defs.metadata import column_schema, preview, table_link
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.resources import ClockResource, DeltaLakeResource, LandingZoneResource


def _range_summary(report) -> dg.MetadataValue:  # noqa: ANN001 - RawStepReport
    lines = ["| partition | landed | raw | quarantined (cast) |", "|---|---|---|---|"]
    for key in report.partitions:
        lines.append(
            f"| {key} | {report.landed(key)} | {report.rows_raw.get(key, 0)} "
            f"| {report.rows_rejected.get(key, 0)} |"
        )
    return dg.MetadataValue.md("\n".join(lines))


def build_raw_asset(contract: DatasetContract) -> dg.AssetsDefinition:
    """`raw/<dataset>_raw`: one partition per contract period, replaced atomically on every run."""
    key = keys.raw_key(contract)
    partitions_def = partitions_for(contract)

    @dg.asset(
        key=key,
        group_name=keys.GROUPS[keys.RAW],
        partitions_def=partitions_def,
        deps=[keys.ledger_key(contract)],
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"polars", "delta"},
        tags=keys.tags(contract, keys.RAW),
        owners=[contract.owner],
        description=(
            f"Landed {contract.dataset} rows typed to the contract, with lineage columns. "
            "Rows that cannot be typed are quarantined (reason `cast`); unreadable files "
            "are moved aside with their error; rows outside the partitions are quarantined "
            "(reason `outside_partitions`); what each file gave is in the landing ledger."
        ),
        metadata={
            "dagster/column_schema": column_schema(contract),
            "contract": contract.source_path,
        },
    )
    def raw_asset(
        context: dg.AssetExecutionContext,
        lake: DeltaLakeResource,
        landing: LandingZoneResource,
        clock: ClockResource,
    ) -> dg.MaterializeResult:
        partitions = list(context.partition_keys)
        valid = partitions_def.get_partition_keys(dynamic_partitions_store=context.instance)
        report = run_raw_step(
            contract,
            partitions,
            landing_dir=landing.landing_dir(contract.dataset),
            rejected_dir=landing.rejected_dir(contract.dataset),
            index_dir=landing.index_dir(contract.dataset),
            raw_uri=lake.uri(keys.RAW, contract.dataset),
            quarantine_uri=lake.uri(keys.VALIDATED, keys.quarantine_table(contract)),
            storage_options=lake.storage_options,
            commit_metadata={"dagster_run_id": context.run.run_id},
            valid=set(valid) | set(partitions),
            settings=landing.settings(),
            ledger_uri=lake.uri(keys.LANDING, keys.ledger_table(contract)),
            now=clock.now(),
        )
        for refused in report.refused_names:
            context.log.warning(f"landing file name refused: {refused.name!r}: {refused.reason}")
        for name, error in report.files_moved_aside.items():
            context.log.error(f"landing file {name} moved aside: {error}")
        for name, issue in report.schema_issues.items():
            context.log.warning(
                f"landing file {name}: missing {issue['missing']}, unexpected {issue['unexpected']}"
            )
        rows = sum(report.rows_raw.values())
        metadata: dict[str, object] = {
            "dagster/row_count": rows,
            "rows_landed": rows + sum(report.rows_rejected.values()),
            "rows_quarantined_cast": sum(report.rows_rejected.values()),
            "files_used": len(report.files_used),
            "files_moved_aside": dg.MetadataValue.json(clip_values(report.files_moved_aside)),
            "schema_issues": dg.MetadataValue.json(clip_values(report.schema_issues)),
            "delta_version": report.raw_version,
            "table": table_link(lake.uri(keys.RAW, contract.dataset)),
            "partitions_written": len(partitions),
        }
        if len(partitions) > 1:
            metadata["per_partition"] = _range_summary(report)
        if report.result is not None:
            metadata["preview"] = preview(report.result.raw, contract.column_names)
        context.log.info(
            f"raw {contract.dataset}: {rows} rows in {len(partitions)} partition(s) "
            f"from {len(report.files_used)} file(s), Delta v{report.raw_version}"
        )
        return dg.MaterializeResult(metadata=metadata)

    return raw_asset
