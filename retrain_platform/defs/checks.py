"""The data and model checks of the layers after validated, one `build_defs` for all of them.

Features (Pandera schema derived from the contract and view), training-set versions (labels,
splits, completeness, point-in-time), the registered model and the deployment (the alias serves
the contract's model inputs) and the drift report (every model feature covered). The validated
layer's own checks are built with its step (`defs.validate`).
"""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.defs import dataset_checks, feature_checks
from retrain_platform.defs.models import checks as model_checks
from retrain_platform.defs.monitoring.drift_checks import build_drift_check


def build_defs(contract: DatasetContract) -> dg.Definitions:
    """Every check above for the contract (only the features' without a model graph)."""
    checks = feature_checks.build_checks(contract)
    if contract.feature_views:
        checks += [
            dataset_checks.build_training_set_checks(contract),
            *model_checks.build_checks(contract),
            build_drift_check(contract),
        ]
    return dg.Definitions(asset_checks=checks)
