"""Automation conditions and the sensor that evaluates them.

Dagster's `eager()` follows only the latest time partition and ignores checks; the platform's
layers must follow every partition that changed upstream (late files land in old partitions) and
must not follow a partition whose upstream blocking checks failed.
"""

import dagster as dg

AUTOMATION_SENSOR_NAME = "retrain_platform_automation"


def follows_upstream() -> dg.AutomationCondition:
    """Materialize a partition when its upstream partition changed and passed blocking checks."""
    return (
        dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window())
        & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label("follows_upstream")


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's automation condition; running by default on a fresh instance."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR_NAME,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Keeps validated (and later layers) following new and late raw partitions.",
    )
