"""Partition keys computed by the core agree with Dagster's time partitions for every grain."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import polars as pl
import pytest

from retrain_platform.core.partitions import (
    first_partition_key,
    partition_end,
    partition_key_expr,
    partition_start,
)

GRAINS = {
    "hourly": dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00"),
    "daily": dg.DailyPartitionsDefinition(start_date="2026-01-01"),
    "weekly": dg.WeeklyPartitionsDefinition(start_date="2026-01-05", day_offset=1),
    "monthly": dg.MonthlyPartitionsDefinition(start_date="2026-01-01"),
}


@pytest.mark.parametrize("grain", list(GRAINS))
def test_keys_match_dagster_windows(grain):
    definition = GRAINS[grain]
    keys = definition.get_partition_keys(current_time=datetime(2026, 4, 1, tzinfo=UTC))[:40]
    for key in keys:
        window = definition.time_window_for_partition_key(key)
        assert partition_start(key, grain) == window.start
        assert partition_end(key, grain) == window.end
        inside = [
            window.start,
            window.start + (window.end - window.start) / 2,
            window.end - timedelta(microseconds=1),
        ]
        frame = pl.DataFrame({"t": inside}, schema={"t": pl.Datetime("us", "UTC")})
        assert (
            frame.select(partition_key_expr(pl.col("t"), grain)).to_series().to_list() == [key] * 3
        )


def test_first_partition_key_rounds_up_to_a_whole_period():
    assert first_partition_key(date(2026, 1, 1), "weekly") == "2026-01-05"
    assert first_partition_key(date(2026, 1, 5), "weekly") == "2026-01-05"
    assert first_partition_key(date(2026, 1, 15), "monthly") == "2026-02-01"
    assert first_partition_key(date(2026, 1, 1), "daily") == "2026-01-01"
