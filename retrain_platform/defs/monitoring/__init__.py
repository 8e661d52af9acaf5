"""The monitoring layer of one dataset: drift report, live performance, the retrain sensor and
the on-demand policy backtest."""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.defs.monitoring.drift import build_drift_report_asset
from retrain_platform.defs.monitoring.performance import build_live_performance_asset
from retrain_platform.defs.monitoring.policy_backtest import build_policy_backtest_asset
from retrain_platform.defs.monitoring.retrain_sensor import build_retrain_sensor


def build_defs(contract: DatasetContract) -> dg.Definitions:
    """The drift, performance and policy-backtest assets and `<dataset>_retrain_sensor`
    (nothing without feature views, since there is then no model to monitor)."""
    if not contract.feature_views:
        return dg.Definitions()
    return dg.Definitions(
        assets=[
            build_drift_report_asset(contract),
            build_live_performance_asset(contract),
            build_policy_backtest_asset(contract),
        ],
        sensors=[build_retrain_sensor(contract)],
    )
