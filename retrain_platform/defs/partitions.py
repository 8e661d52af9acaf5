"""Dagster partitions for a contract's grain (one definition shared by every layer of a dataset)."""

from functools import cache

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.partitions import first_partition_key


@cache
def _partitions(grain: str, start: str) -> dg.TimeWindowPartitionsDefinition:
    # end_offset=1: the period in progress is a partition too, so today's files can be ingested.
    if grain == "hourly":
        return dg.HourlyPartitionsDefinition(start_date=start, end_offset=1)
    if grain == "daily":
        return dg.DailyPartitionsDefinition(start_date=start, end_offset=1)
    if grain == "weekly":
        return dg.WeeklyPartitionsDefinition(start_date=start, day_offset=1, end_offset=1)
    return dg.MonthlyPartitionsDefinition(start_date=start, end_offset=1)


def partitions_for(contract: DatasetContract) -> dg.TimeWindowPartitionsDefinition:
    """The time partitions of a dataset, keyed exactly as `core.partitions` names them."""
    grain = contract.partitioning.grain
    first = first_partition_key(contract.partitioning.start, grain)
    start = f"{first}-00:00" if grain == "hourly" else first
    return _partitions(grain, start)
