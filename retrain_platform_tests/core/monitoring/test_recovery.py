"""The recovery rule the backtest and the demo share: back within the tolerance of the baseline
for a run of partitions, gaps breaking the run, None without a baseline or a recovery."""

import math

from retrain_platform.core.monitoring.recovery import (
    RECOVERY_BASELINE,
    RECOVERY_TOLERANCE,
    recovery_partitions,
)

BASE = 0.9


def test_one_good_partition_among_bad_ones_is_not_a_recovery():
    after = [0.6, BASE, 0.6, 0.7, BASE - RECOVERY_TOLERANCE / 2, BASE, BASE]
    assert recovery_partitions([BASE] * RECOVERY_BASELINE + after, RECOVERY_BASELINE) == 4


def test_a_partition_without_labels_breaks_the_run():
    after = [0.6, BASE, None, BASE, math.nan, BASE, BASE]
    assert recovery_partitions([BASE] * RECOVERY_BASELINE + after, RECOVERY_BASELINE) == 5


def test_the_baseline_is_the_partitions_just_before_the_onset():
    older = [0.5] * 5  # lower, but outside the baseline window: it does not lower the bar
    values = older + [BASE] * RECOVERY_BASELINE + [BASE - 2 * RECOVERY_TOLERANCE] * 4
    assert recovery_partitions(values, len(older) + RECOVERY_BASELINE) is None


def test_no_recovery_and_no_baseline_are_none():
    assert recovery_partitions([BASE] * 3 + [0.6] * 5, 3) is None
    assert recovery_partitions([None, None, 0.6, BASE, BASE], 2) is None
    assert recovery_partitions([BASE, BASE, BASE], 1) == 0
