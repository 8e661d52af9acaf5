"""Jobs a person launches from the UI or the CLI per data layer, the freshness schedule and the
data-staleness alert sensor."""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.validate.table_checks import NEWEST_PARTITION_IS_FRESH
from retrain_platform.defs import keys
from retrain_platform.defs.alerting import build_data_freshness_alert_sensor


def ingest_job_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_ingest_job"


def validate_job_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_validate_job"


def freshness_job_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_freshness_job"


def features_job_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_features_job"


def feature_store_job_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_feature_store_job"


def training_dataset_job_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_training_dataset_job"


def build_jobs(contract: DatasetContract) -> list[object]:
    freshness_check = dg.AssetCheckKey(keys.validated_key(contract), NEWEST_PARTITION_IS_FRESH)
    jobs = [
        dg.define_asset_job(
            ingest_job_name(contract),
            selection=[keys.raw_key(contract)],
            description="Ingest landed files into raw partitions (a range runs as one run).",
        ),
        dg.define_asset_job(
            validate_job_name(contract),
            selection=dg.AssetSelection.assets(
                keys.validated_key(contract), keys.quarantine_key(contract)
            )
            - dg.AssetSelection.checks(freshness_check),
            description="Validate one raw partition into the validated and quarantine tables.",
        ),
        dg.define_asset_job(
            freshness_job_name(contract),
            selection=dg.AssetSelection.checks(freshness_check),
            description="Check that the newest validated event is within the allowed staleness.",
        ),
    ]
    if contract.feature_views:
        jobs += [
            dg.define_asset_job(
                feature_store_job_name(contract),
                selection=[keys.feast_registry_key(contract)],
                description="Apply the Feast objects generated from the contract.",
            ),
            dg.define_asset_job(
                features_job_name(contract),
                selection=keys.partitioned_feature_keys(contract),
                description="Features of every view and their online stores (a partition range "
                "runs as one run).",
            ),
            dg.define_asset_job(
                training_dataset_job_name(contract),
                selection=[keys.training_dataset_key(contract)],
                description="Freeze a new point-in-time training set version.",
            ),
        ]
    return jobs


def build_freshness_schedule(contract: DatasetContract) -> dg.ScheduleDefinition:
    """Hourly evaluation of the validated table's freshness check (running by default)."""
    return dg.ScheduleDefinition(
        name=f"{contract.dataset}_freshness_schedule",
        job_name=freshness_job_name(contract),
        cron_schedule="0 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


def build_defs(contract: DatasetContract) -> dg.Definitions:
    """The jobs a person launches per layer, the hourly freshness schedule and the
    data-staleness alert (when the contract sets `max_staleness`)."""
    alert = build_data_freshness_alert_sensor(contract)
    return dg.Definitions(
        jobs=build_jobs(contract),
        schedules=[build_freshness_schedule(contract)],
        sensors=[alert] if alert is not None else [],
    )
