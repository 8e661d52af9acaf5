"""Partition keys for the contract's grain, computed the way Dagster's time partitions name them.

The landing sensor, the ingest step and the Delta tables all need to agree on which partition a row
belongs to; this module is the one definition of that mapping.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import polars as pl

KEY_FORMATS = {
    "hourly": "%Y-%m-%d-%H:%M",
    "daily": "%Y-%m-%d",
    "weekly": "%Y-%m-%d",
    "monthly": "%Y-%m-%d",
}
_TRUNCATE = {"hourly": "1h", "daily": "1d", "weekly": "1w", "monthly": "1mo"}


def partition_key_expr(timestamp: pl.Expr, grain: str) -> pl.Expr:
    """Expression mapping a timestamp (datetime or date) to its partition key string.

    Weekly partitions start on Monday (Dagster's `WeeklyPartitionsDefinition(day_offset=1)`).
    """
    as_datetime = timestamp.cast(pl.Datetime("us", "UTC"))
    return as_datetime.dt.truncate(_TRUNCATE[grain]).dt.strftime(KEY_FORMATS[grain])


@lru_cache(maxsize=65_536)
def partition_start(key: str, grain: str) -> datetime:
    """Start of a partition, as an aware UTC datetime (cached: monitoring and a backtest ask
    for the same keys thousands of times, and `strptime` is slow)."""
    return datetime.strptime(key, KEY_FORMATS[grain]).replace(tzinfo=UTC)


@lru_cache(maxsize=65_536)
def partition_end(key: str, grain: str) -> datetime:
    """Exclusive end of a partition (cached, as `partition_start`)."""
    start = partition_start(key, grain)
    if grain == "hourly":
        return start + timedelta(hours=1)
    if grain == "daily":
        return start + timedelta(days=1)
    if grain == "weekly":
        return start + timedelta(weeks=1)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


def partition_key_of(moment: datetime | date, grain: str) -> str:
    """Partition key of one timestamp (naive datetimes are taken as UTC)."""
    frame = pl.DataFrame({"t": [moment]})
    return str(frame.select(partition_key_expr(pl.col("t"), grain)).item())


def first_partition_key(start: date, grain: str) -> str:
    """Key of the first partition on or after the contract's start date."""
    key = partition_key_of(start, grain)
    if partition_start(key, grain).date() < start:
        key = partition_key_of(partition_end(key, grain), grain)
    return key


def partitions_between(first: str, last: str, grain: str) -> list[str]:
    """Partition keys from `first` to `last`, both included."""
    keys, key = [], first
    while key <= last:
        keys.append(key)
        key = partition_key_of(partition_end(key, grain), grain)
    return keys


def history_partitions(partition: str, grain: str, lookback: timedelta) -> list[str]:
    """The partitions a window of `lookback` before `partition`'s start can reach, and itself."""
    first = partition_key_of(partition_start(partition, grain) - lookback, grain)
    return partitions_between(first, partition, grain)
