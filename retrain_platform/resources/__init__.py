"""Every ConfigurableResource of the platform, one module each, and the embedded default set.

lake (Delta lake root and options), landing (the landing zone), clock (what "now" is), tracking
(MLflow), feast (the feature store) and notifier (alerts).
"""

import dagster as dg

from retrain_platform.home import HomeLayout
from retrain_platform.resources.clock import ClockResource
from retrain_platform.resources.feast import FeastResource
from retrain_platform.resources.lake import DeltaLakeResource, lake_resource
from retrain_platform.resources.landing import LandingZoneResource, grace_from_env
from retrain_platform.resources.notifier import notifier_from_env
from retrain_platform.resources.tracking import default_mlflow_resource

__all__ = [
    "ClockResource",
    "DeltaLakeResource",
    "FeastResource",
    "LandingZoneResource",
    "default_resources",
    "lake_resource",
]


def default_resources(home: HomeLayout) -> dict[str, dg.ConfigurableResource]:
    """Resources of the embedded default, all under the platform home."""
    return {
        "lake": lake_resource(home),
        "landing": LandingZoneResource(
            landing_root=str(home.landing_root),
            rejected_root=str(home.rejected_root),
            state_root=str(home.state_root),
            grace_seconds=grace_from_env(),
        ),
        "feast": FeastResource(home=str(home.home)),
        "mlflow": default_mlflow_resource(home),
        "notifier": notifier_from_env(),
        "clock": ClockResource(),
    }
