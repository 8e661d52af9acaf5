"""Automation conditions and the sensor that evaluates them.

Dagster's `eager()` follows only the latest time partition and ignores checks; the platform's
layers must follow every partition that changed upstream (late files land in old partitions) and
must not follow a partition whose upstream blocking checks failed.

Live performance must also wait for labels: a partition's labels are all known only a label delay
after the partition ends. "Now" there is the automation evaluation's own time (the partitions
definition's effective time on that tick), so the condition and a test or demo that evaluates at
a chosen time agree.
"""

from datetime import timedelta

import dagster as dg

AUTOMATION_SENSOR_NAME = "retrain_platform_automation"

# The longest partition of each grain: a month counts as 31 days so that labels are never due early.
_LONGEST_PARTITION = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=31),
}


def follows_upstream() -> dg.AutomationCondition:
    """Materialize a partition when its upstream partition changed and passed blocking checks."""
    return (
        dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window())
        & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label("follows_upstream")


def labels_due_lookback(grain: str, label_delay: timedelta) -> timedelta:
    """How far before the end of the latest partition a partition's labels are not yet due.

    The partitions definition includes the period in progress (`end_offset=1`), so the latest
    window ends at most one (longest) partition after the evaluation time. A partition whose
    window lies entirely before `latest end - (longest partition + delay)` therefore ended at
    least `delay` before now: its labels are due. Exact for a delay that is a whole number of
    partitions of a fixed grain; otherwise a partition is followed up to one partition late,
    never early.
    """
    return _LONGEST_PARTITION[grain] + label_delay


def labels_due(grain: str, label_delay: timedelta) -> dg.AutomationCondition:
    """True for partitions that ended at least `label_delay` before the evaluation time."""
    lookback = labels_due_lookback(grain, label_delay)
    return (~dg.AutomationCondition.in_latest_time_window(lookback_delta=lookback)).with_label(
        f"labels_due({label_delay})"
    )


def follows_labels(grain: str, label_delay: timedelta) -> dg.AutomationCondition:
    """`follows_upstream`, for partitions whose labels are due, and once more when they fall due.

    Requested when the labels of a partition become due (its features and validated rows
    present), and again whenever an upstream partition changes afterwards (a late file). Never
    before the labels are due: a change upstream of a partition whose labels are not due yet is
    remembered until they are.
    """
    due = labels_due(grain, label_delay)
    became_due = due.newly_true().with_label("labels_newly_due")
    follows = (
        dg.AutomationCondition.eager()
        .without(dg.AutomationCondition.in_latest_time_window())
        .replace("newly_missing", dg.AutomationCondition.newly_missing() | became_due)
        .with_label("eager_all_partitions")
    )
    return (due & follows & dg.AutomationCondition.all_deps_blocking_checks_passed()).with_label(
        "follows_labels"
    )


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's automation condition; running by default on a fresh instance."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR_NAME,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Keeps validated (and later layers) following new and late raw partitions.",
    )
