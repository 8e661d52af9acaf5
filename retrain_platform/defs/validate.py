"""The validated layer: valid rows and the quarantine, with the contract's table-level checks."""

import json

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.bounded import clip_values
from retrain_platform.core.validate.layer import newest_event, run_validated_step
from retrain_platform.core.validate.table_checks import (
    BLOCKING_CHECKS,
    DESCRIPTIONS,
    NEWEST_PARTITION_IS_FRESH,
    PARTITION_CHECKS,
    check_freshness,
)
from retrain_platform.defs import keys
from retrain_platform.defs.automation import follows_upstream
from retrain_platform.defs.freshness import data_freshness_policy
from retrain_platform.defs.metadata import (
    bounded_metadata,
    column_schema,
    preview,
    recorded,
    table_link,
)
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.resources import ClockResource, DeltaLakeResource
from retrain_platform.resources.notifier import NotifierResource

BLOCKED = "blocked"  # materialization metadata: a blocking check failed on this partition
STATUS = "status"
PARTITION = "partition"  # check result metadata: the partition the result is about


def build_validated_assets(contract: DatasetContract) -> dg.AssetsDefinition:
    """`validated/<dataset>_validated` and `validated/<dataset>_quarantine`, produced by one
    step."""
    partitions = partitions_for(contract)
    valid_key, quarantine_key = keys.validated_key(contract), keys.quarantine_key(contract)
    check_specs = [
        dg.AssetCheckSpec(
            name,
            asset=valid_key,
            blocking=name in BLOCKING_CHECKS,
            description=DESCRIPTIONS[name],
            partitions_def=partitions,
        )
        for name in PARTITION_CHECKS
    ]
    common = {
        "partitions_def": partitions,
        "group_name": keys.GROUPS[keys.VALIDATED],
        "tags": keys.tags(contract, keys.VALIDATED),
        "owners": [contract.owner],
        "automation_condition": follows_upstream(),
    }

    @dg.multi_asset(
        name=f"validate_{contract.dataset}",
        specs=[
            dg.AssetSpec(
                valid_key,
                deps=[keys.raw_key(contract)],
                kinds={"pandera", "delta"},
                freshness_policy=data_freshness_policy(contract),
                description=(
                    f"{contract.dataset} rows that passed the contract's Pandera "
                    "schema, de-duplicated on the primary key (latest landed "
                    "row wins)."
                ),
                metadata={"dagster/column_schema": column_schema(contract)},
                **common,
            ),
            dg.AssetSpec(
                quarantine_key,
                deps=[keys.raw_key(contract)],
                kinds={"delta"},
                description=(
                    f"{contract.dataset} rows held back, each with the reason "
                    "(cast, missing_column, check, duplicate), check, column, "
                    "value and the original record."
                ),
                **common,
            ),
        ],
        check_specs=check_specs,
    )
    def validate(
        context: dg.AssetExecutionContext, lake: DeltaLakeResource, notifier: NotifierResource
    ) -> dg.MaterializeResult:
        report = run_validated_step(
            contract,
            context.partition_key,
            raw_uri=lake.uri(keys.RAW, contract.dataset),
            validated_uri=lake.uri(keys.VALIDATED, contract.dataset),
            quarantine_uri=lake.uri(keys.VALIDATED, keys.quarantine_table(contract)),
            storage_options=lake.storage_options,
            commit_metadata={
                "dagster_run_id": context.run.run_id,
                "partition": context.partition_key,
            },
        )
        v = report.validation
        blocked_by = [c.name for c in report.checks if c.blocking and not c.passed]
        reasons = report.ingest_rejected.group_by(pc.REASON).len().iter_rows()
        by_reason = {reason: n for reason, n in reasons}
        by_reason["check"] = v.quarantine.height
        by_reason["duplicate"] = v.duplicates.height
        # recorded once each, bounded: the failures name landed values of any size
        yield recorded(
            context,
            valid_key,
            {
                "dagster/row_count": v.valid.height,
                # Dagster 1.13 has no "materialized but blocked" partition state: say it here
                BLOCKED: bool(blocked_by),
                STATUS: (
                    f"BLOCKED by {', '.join(blocked_by)}: left out downstream"
                    if blocked_by
                    else "ok: every blocking check passed"
                ),
                "rows_in": report.rows_raw,
                "rows_quarantined": v.quarantine.height,
                "duplicates_removed": v.duplicates.height,
                "delta_version": report.validated_version,
                "table": table_link(lake.uri(keys.VALIDATED, contract.dataset)),
                "preview": preview(v.valid, contract.column_names),
            },
        )
        yield recorded(
            context,
            quarantine_key,
            {
                "dagster/row_count": sum(by_reason.values()),
                "rows_by_reason": by_reason,
                "failures": report.failures,
                "delta_version": report.quarantine_version,
                "table": table_link(lake.uri(keys.VALIDATED, keys.quarantine_table(contract))),
            },
        )
        for outcome in report.checks:
            metadata = bounded_metadata(outcome.metadata)
            if outcome.blocking and not outcome.passed:
                notifier.blocking_check_failed(
                    contract.dataset,
                    context.partition_key,
                    outcome.name,
                    json.dumps(clip_values(outcome.metadata), default=str),
                )
            yield dg.AssetCheckResult(
                asset_key=valid_key,
                check_name=outcome.name,
                passed=outcome.passed,
                metadata={PARTITION: context.partition_key, **metadata},
                severity=dg.AssetCheckSeverity.ERROR
                if outcome.blocking
                else dg.AssetCheckSeverity.WARN,
                description=f"Partition {context.partition_key}.",
            )
        context.log.info(
            f"validated {contract.dataset} {context.partition_key}: "
            f"{report.rows_raw} raw = {v.valid.height} valid + "
            f"{v.quarantine.height} quarantined + {v.duplicates.height} duplicates"
        )

    return validate


def build_freshness_check(contract: DatasetContract) -> dg.AssetChecksDefinition:
    """`newest_partition_is_fresh` on the validated table, run hourly by a schedule."""

    @dg.asset_check(
        asset=keys.validated_key(contract),
        name=NEWEST_PARTITION_IS_FRESH,
        description=DESCRIPTIONS[NEWEST_PARTITION_IS_FRESH],
    )
    def freshness(lake: DeltaLakeResource, clock: ClockResource) -> dg.AssetCheckResult:
        newest = newest_event(
            contract, lake.uri(keys.VALIDATED, contract.dataset), lake.storage_options
        )
        outcome = check_freshness(newest, clock.now(), contract)
        return dg.AssetCheckResult(
            passed=outcome.passed,
            metadata=bounded_metadata(outcome.metadata),
            severity=dg.AssetCheckSeverity.WARN,
        )

    return freshness


def build_defs(contract: DatasetContract) -> dg.Definitions:
    """`validated/<dataset>_validated` with its quarantine and checks, and the freshness check."""
    return dg.Definitions(
        assets=[build_validated_assets(contract)], asset_checks=[build_freshness_check(contract)]
    )
