"""The deployment layer in Dagster: the deployment asset, its recorded state and rollback."""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.defs.deployment.asset import build_deployment_asset
from retrain_platform.defs.deployment.rollback import build_rollback_job


def build_defs(contract: DatasetContract) -> dg.Definitions:
    """`deployment/<dataset>_champion` and `<dataset>_rollback_job` (nothing without feature
    views)."""
    if not contract.feature_views:
        return dg.Definitions()
    return dg.Definitions(
        assets=[build_deployment_asset(contract)], jobs=[build_rollback_job(contract)]
    )
