"""Incremental writes of feature rows into Feast's sqlite online store, without `materialize`.

Feast's `online_write_batch` (feast/infra/online_stores/sqlite.py) builds a protobuf per cell and
runs one statement per cell. This writer produces the same rows (table `<project>_<feature view>`,
one row per entity and feature: the entity key serialized by
`feast.infra.key_encoding_utils.serialize_entity_key`, the serialized `Value` proto, its text,
the event time as Feast's sqlite adapter stores it, no created time) with the value bytes built
column by column, and upserts them with one `executemany` in one transaction. So
`FeatureStore.get_online_features` reads them like rows Feast wrote.

Two deliberate differences from Feast:
- only the newest row per entity in the frame is written, and a stored row with a newer event
  time is never overwritten (late data for an old partition leaves the online value alone); a
  row with the same event time replaces it, so a correction of a partition is applied. Feast
  keeps second precision in the online store, so rows less than a second apart count as equal.
- a null timestamp feature is stored as an empty value (Feast would store NaT's integer).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
from feast import ValueType
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

# Proto field of each scalar value type (numbers read from the generated descriptor).
_FIELDS = {
    ValueType.STRING: "string_val",
    ValueType.INT32: "int32_val",
    ValueType.INT64: "int64_val",
    ValueType.DOUBLE: "double_val",
    ValueType.FLOAT: "float_val",
    ValueType.BOOL: "bool_val",
    ValueType.UNIX_TIMESTAMP: "unix_timestamp_val",
}
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_WIRE = {
    ValueType.STRING: _LENGTH,
    ValueType.INT32: _VARINT,
    ValueType.INT64: _VARINT,
    ValueType.DOUBLE: _FIXED64,
    ValueType.FLOAT: _FIXED32,
    ValueType.BOOL: _VARINT,
    ValueType.UNIX_TIMESTAMP: _VARINT,
}
_TAGS = {
    t: (ValueProto.DESCRIPTOR.fields_by_name[name].number << 3) | _WIRE[t]
    for t, name in _FIELDS.items()
}
SUPPORTED_VALUE_TYPES = tuple(_FIELDS)
# Python's shortest float repr (what Feast stores as text) and polars' formatting agree except
# for magnitudes below 1e-4, which polars writes without an exponent.
_REPR_BELOW = 1e-4
_CACHE_KIB = 65_536


@dataclass(frozen=True)
class OnlineTable:
    """Where and how Feast's sqlite online store keeps one feature view."""

    db_path: str
    name: str
    entity_types: Mapping[str, ValueType]
    feature_types: Mapping[str, ValueType]
    timestamp: str
    entity_key_serialization_version: int = 3


@dataclass(frozen=True)
class OnlineWriteStats:
    """What one write did: rows in, entities upserted or left alone because online was newer."""

    rows: int
    entities: int
    entities_skipped_as_older: int
    rows_without_entity_key: int
    cells_written: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def newest_rows(frame: pl.DataFrame, entity_keys: Sequence[str], timestamp: str) -> pl.DataFrame:
    """The newest row of each entity (the last in frame order among equal timestamps)."""
    keys = list(entity_keys)
    return (frame.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys))
            .with_row_index("__order")
            .sort([*keys, timestamp, "__order"])
            .unique(subset=keys, keep="last", maintain_order=True)
            .drop("__order"))


def serialize_entity_keys(frame: pl.DataFrame, entity_types: Mapping[str, ValueType],
                          version: int = 3) -> list[bytes]:
    """Feast's serialized entity key of every row (join keys and value types as Feast has them)."""
    names = list(entity_types)
    fields = [_FIELDS[entity_types[n]] for n in names]
    columns = [(_epoch_seconds(frame.get_column(n))
                if entity_types[n] == ValueType.UNIX_TIMESTAMP else frame.get_column(n)).to_list()
               for n in names]
    return [
        serialize_entity_key(
            EntityKeyProto(join_keys=names, entity_values=[
                ValueProto(**{f: v}) for f, v in zip(fields, values, strict=True)]),
            entity_key_serialization_version=version,
        )
        for values in zip(*columns, strict=True)
    ]


def _slices(buffer: bytes, width: int, lengths: np.ndarray, present: np.ndarray) -> list[bytes]:
    starts = np.arange(len(lengths)) * width
    ends = np.where(present, starts + lengths, starts)
    return [buffer[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]


def _varints(values: np.ndarray, tag: int, present: np.ndarray) -> list[bytes]:
    """Tag + base-128 varint of each int64 (negative numbers as 10-byte two's complement)."""
    rest = values.astype(np.int64).view(np.uint64).copy()
    out = np.zeros((len(rest), 11), dtype=np.uint8)
    out[:, 0] = tag
    lengths = np.full(len(rest), 2, dtype=np.int64)
    for k in range(10):
        low = (rest & np.uint64(0x7F)).astype(np.uint8)
        rest >>= np.uint64(7)
        more = rest != 0
        out[:, 1 + k] = low | (more.astype(np.uint8) << 7)
        lengths += more
    return _slices(out.tobytes(), 11, lengths, present)


def _fixed(values: np.ndarray, tag: int, present: np.ndarray) -> list[bytes]:
    width = values.dtype.itemsize
    out = np.empty((len(values), 1 + width), dtype=np.uint8)
    out[:, 0] = tag
    out[:, 1:] = values.astype(values.dtype.newbyteorder("<")).view(np.uint8).reshape(-1, width)
    return _slices(out.tobytes(), 1 + width, np.full(len(values), 1 + width), present)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _epoch_seconds(series: pl.Series) -> pl.Series:
    if series.dtype == pl.Date:
        series = series.cast(pl.Datetime("us"))
    return series.dt.epoch("s")


def encode_values(series: pl.Series, value_type: ValueType) -> list[bytes]:
    """Serialized `Value` proto of every element (null and NaN as the empty Value, as Feast)."""
    tag = _TAGS[value_type]
    if value_type == ValueType.STRING:
        out = []
        for text in series.cast(pl.String).to_list():
            if text is None:
                out.append(b"")
            else:
                encoded = text.encode()
                out.append(bytes((tag,)) + _varint(len(encoded)) + encoded)
        return out
    if value_type in (ValueType.DOUBLE, ValueType.FLOAT):
        dtype = pl.Float64 if value_type == ValueType.DOUBLE else pl.Float32
        values = series.cast(dtype)
        present = (values.is_not_null() & values.is_not_nan()).to_numpy()
        return _fixed(values.fill_null(0).to_numpy(), tag, present)
    if value_type == ValueType.UNIX_TIMESTAMP:
        series = _epoch_seconds(series)
    present = series.is_not_null().to_numpy()
    return _varints(series.cast(pl.Int64).fill_null(0).to_numpy(), tag, present)


def value_texts(series: pl.Series, value_type: ValueType) -> list[str | None]:
    """The `value_text` Feast stores beside each value (`helpers.extract_text_and_num`)."""
    if value_type == ValueType.UNIX_TIMESTAMP:
        return [None] * len(series)
    if value_type == ValueType.BOOL:
        return [None if v is None else str(v) for v in series.to_list()]
    if value_type in (ValueType.DOUBLE, ValueType.FLOAT):
        values = series.cast(pl.Float32).cast(pl.Float64) if value_type == ValueType.FLOAT \
            else series.cast(pl.Float64)
        values = values.fill_nan(None)
        texts = values.cast(pl.String).to_list()
        small = ((values.abs() < _REPR_BELOW) & (values != 0)).fill_null(False)
        for i in np.flatnonzero(small.to_numpy()).tolist():
            texts[i] = repr(values[i])
        return texts
    return series.cast(pl.String).to_list()


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
    utc = (series.dt.convert_time_zone("UTC") if series.dtype.time_zone  # type: ignore[union-attr]
           else series.dt.replace_time_zone("UTC"))
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
    return conn


def create_table(conn: sqlite3.Connection, table: str) -> None:
    """Feast's table for a feature view (`SqliteOnlineStore.update`), if `feast apply` has not."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {_quote(table)} (entity_key BLOB, feature_name TEXT, "
        "value BLOB, value_text TEXT, vector_value BLOB, event_ts timestamp, created_ts timestamp,"
        "  PRIMARY KEY(entity_key, feature_name))")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {_quote(table + '_ek')} "
                 f"ON {_quote(table)} (entity_key);")


def _stored_seconds(conn: sqlite3.Connection, table: str, keys: list[bytes],
                    feature: str) -> list[int | None]:
    """Stored event time (sqlite seconds) of each entity key; every write covers all features, so
    one feature's row tells."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _retrain_keys "
                 "(i INTEGER PRIMARY KEY, entity_key BLOB)")
    conn.execute("DELETE FROM _retrain_keys")
    conn.executemany("INSERT INTO _retrain_keys VALUES (?, ?)", enumerate(keys))
    rows = conn.execute(
        f"SELECT k.i, t.event_ts FROM _retrain_keys k JOIN {_quote(table)} t "
        "ON t.entity_key = k.entity_key AND t.feature_name = ?", (feature,)).fetchall()
    stored: list[int | None] = [None] * len(keys)
    for i, seconds in rows:
        stored[i] = seconds
    return stored


def online_event_timestamps(table: OnlineTable, entities: pl.DataFrame, *,
                            timeout: float = 60.0) -> pl.Series:
    """Event time of the online row of each entity in `entities` (null when it has none)."""
    keys = serialize_entity_keys(entities, table.entity_types,
                                 table.entity_key_serialization_version)
    if not Path(table.db_path).exists():
        return pl.Series(table.timestamp, [None] * len(keys), dtype=pl.Datetime("us", "UTC"))
    conn = _connect(table.db_path, timeout)
    try:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              (table.name,)).fetchone()
        seconds = (_stored_seconds(conn, table.name, keys, next(iter(table.feature_types)))
                   if exists else [None] * len(keys))
    finally:
        conn.close()
    return pl.Series(table.timestamp, [_from_sqlite_seconds(s) for s in seconds],
                     dtype=pl.Datetime("us", "UTC"))


def _upsert_sql(table: str) -> str:
    quoted = _quote(table)
    return (
        f"INSERT INTO {quoted} (entity_key, feature_name, value, value_text, event_ts, created_ts) "
        "VALUES (?, ?, ?, ?, ?, NULL) "
        "ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, "
        "value_text = excluded.value_text, event_ts = excluded.event_ts, "
        f"created_ts = excluded.created_ts WHERE excluded.event_ts >= {quoted}.event_ts"
    )


def write_online(frame: pl.DataFrame, table: OnlineTable, *,
                 timeout: float = 60.0) -> OnlineWriteStats:
    """Upsert the newest row of each entity in `frame` into the online store (see module doc)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    newest = newest_rows(frame, list(table.entity_types), table.timestamp)
    keys = serialize_entity_keys(newest, table.entity_types,
                                 table.entity_key_serialization_version)
    order = sorted(range(len(keys)), key=keys.__getitem__)  # index order: fewer page splits
    newest = newest[order]
    keys = [keys[i] for i in order]
    seconds = sqlite_event_seconds(newest.get_column(table.timestamp))
    timings["keys"] = time.perf_counter() - started

    names = sorted(table.feature_types)
    n, width = newest.height, len(names)
    values = np.empty((n, width), dtype=object)
    texts = np.empty((n, width), dtype=object)
    for j, name in enumerate(names):
        column = newest.get_column(name)
        values[:, j] = encode_values(column, table.feature_types[name])
        texts[:, j] = value_texts(column, table.feature_types[name])
    rows = zip(np.repeat(np.array(keys, dtype=object), width).tolist(), names * n,
               values.ravel().tolist(), texts.ravel().tolist(),
               np.repeat(np.array(seconds, dtype=np.int64), width).tolist(), strict=True)
    timings["encode"] = time.perf_counter() - started - timings["keys"]

    conn = _connect(table.db_path, timeout)
    try:
        create_table(conn, table.name)
        conn.execute("BEGIN IMMEDIATE")
        try:
            stored = _stored_seconds(conn, table.name, keys, names[0]) if n else []
            before = conn.total_changes
            conn.executemany(_upsert_sql(table.name), rows)
            written = conn.total_changes - before
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    skipped = sum(old is not None and old > new for old, new in zip(stored, seconds, strict=True))
    total = time.perf_counter() - started
    timings["sqlite"] = total - timings["keys"] - timings["encode"]
    return OnlineWriteStats(
        rows=frame.height,
        entities=n,
        entities_skipped_as_older=skipped,
        rows_without_entity_key=frame.height - frame.drop_nulls(list(table.entity_types)).height,
        cells_written=written,
        seconds=total,
        timings=timings,
    )
