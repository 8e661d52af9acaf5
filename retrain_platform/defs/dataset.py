"""Builds the asset graph of one dataset from its contract: assets, checks, sensors, jobs."""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.defs.datasets import build_training_dataset_asset
from retrain_platform.defs.feature_store import build_feast_registry_asset, build_online_store_asset
from retrain_platform.defs.features import build_features_asset
from retrain_platform.defs.ingest.landing_sensor import build_landing_sensor
from retrain_platform.defs.ingest.raw import build_raw_asset
from retrain_platform.defs.jobs import build_freshness_schedule, build_jobs
from retrain_platform.defs.models import build_model_defs
from retrain_platform.defs.monitoring import build_monitoring_defs
from retrain_platform.defs.validate import build_freshness_check, build_validated_assets


def build_dataset_defs(contract: DatasetContract) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor of one dataset."""
    freshness = build_freshness_check(contract)
    data_layers = dg.Definitions(
        assets=[
            build_raw_asset(contract),
            build_validated_assets(contract),
            *(build_features_asset(contract, view) for view in contract.feature_views),
            *([build_feast_registry_asset(contract)] if contract.feature_views else []),
            *(build_online_store_asset(contract, view) for view in contract.feature_views),
            *([build_training_dataset_asset(contract)] if contract.feature_views else []),
        ],
        asset_checks=[freshness],
        sensors=[build_landing_sensor(contract)],
        jobs=build_jobs(contract, freshness),
        schedules=[build_freshness_schedule(contract)],
    )
    return dg.Definitions.merge(
        data_layers, build_model_defs(contract), build_monitoring_defs(contract)
    )
