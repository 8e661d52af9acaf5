"""Feast's sqlite online table: its name and schema, connections, and its event-time encoding.

Feast stores event times as naive local timestamps; reading and writing them exactly as Feast
does keeps rows written here and by `materialize` interchangeable.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from feast import ValueType

from retrain_platform.core.feature_store.codec import (
    serialize_entity_keys,
)

_CACHE_KIB = 65_536

_BATCH, _FEATURES = "temp._retrain_online_batch", "temp._retrain_online_features"


@dataclass(frozen=True)
class OnlineTable:
    """Where and how Feast's sqlite online store keeps one feature view."""

    db_path: str
    name: str
    entity_types: Mapping[str, ValueType]
    feature_types: Mapping[str, ValueType]
    timestamp: str
    entity_key_serialization_version: int = 3


def _local_time_is_utc() -> bool:
    return time.timezone == 0 and (not time.daylight or time.altzone == 0)


def sqlite_event_seconds(series: pl.Series) -> list[int]:
    """The integer Feast's sqlite adapter stores for each instant.

    Feast hands sqlite a naive UTC datetime and its adapter stores `int(value.timestamp())`, which
    Python reads in the machine's local time zone (and `online_read` undoes the same way). On a
    UTC machine that is plain Unix time.
    """
    if series.dtype == pl.Date:
        series = series.cast(pl.Datetime("us"))
    utc = (
        series.dt.convert_time_zone("UTC")
        if series.dtype.time_zone  # type: ignore[union-attr]
        else series.dt.replace_time_zone("UTC")
    )
    if _local_time_is_utc():
        return utc.dt.epoch("s").to_list()
    return [int(v.timestamp()) for v in utc.dt.replace_time_zone(None).to_list()]


def _from_sqlite_seconds(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(int(value)).replace(tzinfo=timezone.utc)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _connect(path: str, timeout: float) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn


def create_table(conn: sqlite3.Connection, table: str) -> None:
    """Feast's table for a feature view (`SqliteOnlineStore.update`), if `feast apply` has not."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {_quote(table)} (entity_key BLOB, feature_name TEXT, "
        "value BLOB, value_text TEXT, vector_value BLOB, event_ts timestamp, created_ts timestamp,"
        "  PRIMARY KEY(entity_key, feature_name))"
    )
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {_quote(table + '_ek')} ON {_quote(table)} (entity_key);"
    )


def _stored_seconds(
    conn: sqlite3.Connection, table: str, keys: list[bytes], feature: str
) -> list[int | None]:
    """Stored event time (sqlite seconds) of each entity key; every write covers all features, so
    one feature's row tells."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS {_BATCH} (i INTEGER PRIMARY KEY, entity_key BLOB)")
    conn.execute(f"DELETE FROM {_BATCH}")
    conn.executemany(f"INSERT INTO {_BATCH} (i, entity_key) VALUES (?, ?)", enumerate(keys))
    rows = conn.execute(
        f"SELECT k.i, t.event_ts FROM {_BATCH} k JOIN {_quote(table)} t "
        "ON t.entity_key = k.entity_key AND t.feature_name = ?",
        (feature,),
    ).fetchall()
    stored: list[int | None] = [None] * len(keys)
    for i, seconds in rows:
        stored[i] = seconds
    return stored


def online_event_timestamps(
    table: OnlineTable, entities: pl.DataFrame, *, timeout: float = 60.0
) -> pl.Series:
    """Event time of the online row of each entity in `entities` (null when it has none)."""
    keys = serialize_entity_keys(
        entities, table.entity_types, table.entity_key_serialization_version
    )
    if not Path(table.db_path).exists():
        return pl.Series(table.timestamp, [None] * len(keys), dtype=pl.Datetime("us", "UTC"))
    conn = _connect(table.db_path, timeout)
    try:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)
        ).fetchone()
        seconds = (
            _stored_seconds(conn, table.name, keys, next(iter(table.feature_types)))
            if exists
            else [None] * len(keys)
        )
    finally:
        conn.close()
    return pl.Series(
        table.timestamp, [_from_sqlite_seconds(s) for s in seconds], dtype=pl.Datetime("us", "UTC")
    )
