"""Incremental writes of feature rows into Feast's sqlite online store, without `materialize`.

Feast's `online_write_batch` (feast/infra/online_stores/sqlite.py) builds a protobuf per cell and
runs one statement per cell. This writer produces the same rows (table `<project>_<feature view>`,
one row per entity and feature: the entity key serialized as
`feast.infra.key_encoding_utils.serialize_entity_key` does, the serialized `Value` proto, its
text, the event time as Feast's sqlite adapter stores it, no created time), so
`FeatureStore.get_online_features` reads them like rows Feast wrote.

Where the time goes (`python -m benchmarks.online_store`): with one row per entity and feature,
binding ~1.4M rows through Python's `executemany` alone costs more than sqlite's own b-tree work.
So nothing is bound per cell: the value bytes and texts of all features of an entity are built
column by column with numpy into one padded blob, followed by their byte lengths as fixed-width
ASCII decimals; one row per entity is loaded into a temp table, and a single
`INSERT ... SELECT ... ON CONFLICT DO UPDATE` expands it to Feast's cells inside sqlite
(`substr` of the blob at each feature's offsets), in primary-key order. What remains is sqlite's
own work for ~1.4M rows in three b-trees (table, primary key, `_ek` index); the benchmark prints
that floor beside the writer.

Two deliberate differences from Feast:
- only the newest row per entity in the frame is written, and a stored row with a newer event
  time is never overwritten (late data for an old partition leaves the online value alone); a
  row with the same event time replaces it, so a correction of a partition is applied. Feast
  keeps second precision in the online store, so rows less than a second apart count as equal.
  A cell whose stored value, text and event time are already what would be written is left
  untouched (a re-run writes nothing).
- a null timestamp feature is stored as an empty value (Feast would store NaT's integer).

The database keeps Feast's rollback journal and default page size: WAL with
synchronous=NORMAL, a larger page cache and mmap gave no clear gain in these large transactions
(WAL was slower for the first load), and WAL would switch the file's mode for every reader.
"""

from __future__ import annotations

import sqlite3
import struct
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
# Entity key values `serialize_entity_key` (version 3) writes as fixed-width little-endian ints.
_KEY_INTS = {ValueType.INT32: "<i4", ValueType.INT64: "<i8", ValueType.UNIX_TIMESTAMP: "<i8"}
# Python's shortest float repr (what Feast stores as text) and polars' formatting agree except
# for magnitudes below 1e-4, which polars writes without an exponent.
_REPR_BELOW = 1e-4
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
    return (
        frame.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys))
        .with_row_index("__order")
        .sort([*keys, timestamp, "__order"])
        .unique(subset=keys, keep="last", maintain_order=True)
        .drop("__order")
    )


def _key_values(frame: pl.DataFrame, name: str, value_type: ValueType) -> pl.Series:
    column = frame.get_column(name)
    return _epoch_seconds(column) if value_type == ValueType.UNIX_TIMESTAMP else column


def serialize_entity_keys(
    frame: pl.DataFrame, entity_types: Mapping[str, ValueType], version: int = 3
) -> list[bytes]:
    """Feast's serialized entity key of every row (join keys and value types as Feast has them).

    Integer keys (version 3: key names, then type, length and little-endian bytes of each value,
    in join-key order) are built with numpy; other keys go through Feast's own function.
    """
    names = sorted(entity_types)
    if version >= 3 and all(entity_types[n] in _KEY_INTS for n in names):
        parts = [struct.pack("<I", len(names))]
        for name in names:
            encoded = name.encode()
            parts += [struct.pack("<II", ValueType.STRING.value, len(encoded)), encoded]
        header = np.frombuffer(b"".join(parts), dtype=np.uint8)
        blocks = [np.broadcast_to(header, (frame.height, len(header)))]
        for name in names:
            dtype = np.dtype(_KEY_INTS[entity_types[name]])
            prefix = np.frombuffer(
                struct.pack("<II", entity_types[name].value, dtype.itemsize), dtype=np.uint8
            )
            values = _key_values(frame, name, entity_types[name]).to_numpy().astype(dtype)
            blocks += [
                np.broadcast_to(prefix, (frame.height, len(prefix))),
                values.view(np.uint8).reshape(frame.height, dtype.itemsize),
            ]
        return _rows_of(np.hstack(blocks))
    fields = [_FIELDS[entity_types[n]] for n in names]
    columns = [_key_values(frame, n, entity_types[n]).to_list() for n in names]
    return [
        serialize_entity_key(
            EntityKeyProto(
                join_keys=names,
                entity_values=[ValueProto(**{f: v}) for f, v in zip(fields, values, strict=True)],
            ),
            entity_key_serialization_version=version,
        )
        for values in zip(*columns, strict=True)
    ]


def _rows_of(matrix: np.ndarray) -> list[bytes]:
    """Each row of a 2-d uint8 array as bytes."""
    buffer = np.ascontiguousarray(matrix).tobytes()
    width = matrix.shape[1]
    return (
        [buffer[i : i + width] for i in range(0, len(buffer), width)]
        if width
        else [b""] * matrix.shape[0]
    )


@dataclass(frozen=True)
class _Cells:
    """Serialized values of one column: row i is `matrix[i, :lengths[i]]` (padded with zeros)."""

    matrix: np.ndarray
    lengths: np.ndarray


def _varint_matrix(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Base-128 varint of each int64 (negative numbers as 10-byte two's complement): bytes and
    length of each."""
    rest = values.astype(np.int64).view(np.uint64).copy()
    out = np.zeros((len(rest), 10), dtype=np.uint8)
    lengths = np.ones(len(rest), dtype=np.int64)
    for k in range(10):
        low = (rest & np.uint64(0x7F)).astype(np.uint8)
        rest >>= np.uint64(7)
        more = rest != 0
        out[:, k] = low | (more.astype(np.uint8) << 7)
        lengths += more
        if not more.any():
            return out[:, : k + 1], lengths
    return out, lengths


def _varint_cells(values: np.ndarray, tag: int, present: np.ndarray) -> _Cells:
    digits, lengths = _varint_matrix(values)
    matrix = np.empty((len(values), 1 + digits.shape[1]), dtype=np.uint8)
    matrix[:, 0] = tag
    matrix[:, 1:] = digits
    return _Cells(matrix, np.where(present, 1 + lengths, 0))


def _fixed_cells(values: np.ndarray, tag: int, present: np.ndarray) -> _Cells:
    width = values.dtype.itemsize
    matrix = np.empty((len(values), 1 + width), dtype=np.uint8)
    matrix[:, 0] = tag
    matrix[:, 1:] = values.astype(values.dtype.newbyteorder("<")).view(np.uint8).reshape(-1, width)
    return _Cells(matrix, np.where(present, 1 + width, 0))


def _utf8(strings: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of all strings concatenated, and the byte length of each (0 for null)."""
    strings = strings.cast(pl.String)
    sizes = strings.str.len_bytes().fill_null(0).to_numpy().astype(np.int64)
    data = np.frombuffer(strings.fill_null("").str.join("").item().encode(), dtype=np.uint8)
    return data, sizes


def _scatter(matrix: np.ndarray, data: np.ndarray, sizes: np.ndarray, columns: np.ndarray) -> None:
    """Put row i's `sizes[i]` bytes of `data` (rows back to back) at `matrix[i, columns[i]:]`."""
    starts = np.cumsum(sizes) - sizes
    rows = np.repeat(np.arange(len(sizes)), sizes)
    within = np.arange(len(data)) - np.repeat(starts, sizes)
    matrix[rows, np.repeat(columns, sizes) + within] = data


def _string_cells(series: pl.Series, tag: int) -> _Cells:
    """Tag, varint length and UTF-8 bytes of each string, scattered into a padded matrix."""
    present = series.is_not_null().to_numpy()
    data, sizes = _utf8(series)
    digits, digit_lengths = _varint_matrix(sizes)
    width = 1 + digits.shape[1] + (int(sizes.max()) if len(sizes) else 0)
    matrix = np.zeros((len(sizes), width), dtype=np.uint8)
    matrix[:, 0] = tag
    matrix[:, 1 : 1 + digits.shape[1]] = digits
    _scatter(matrix, data, sizes, 1 + digit_lengths)
    return _Cells(matrix, np.where(present, 1 + digit_lengths + sizes, 0))


def _text_cells(texts: pl.Series) -> _Cells:
    """UTF-8 bytes of each text in a padded matrix; lengths are bytes + 1, 0 for a null text."""
    data, sizes = _utf8(texts)
    matrix = np.zeros((len(sizes), int(sizes.max()) if len(sizes) else 0), dtype=np.uint8)
    _scatter(matrix, data, sizes, np.zeros(len(sizes), dtype=np.int64))
    return _Cells(matrix, np.where(texts.is_not_null().to_numpy(), sizes + 1, 0))


def _epoch_seconds(series: pl.Series) -> pl.Series:
    if series.dtype == pl.Date:
        series = series.cast(pl.Datetime("us"))
    return series.dt.epoch("s")


def _encode_cells(series: pl.Series, value_type: ValueType) -> _Cells:
    tag = _TAGS[value_type]
    if value_type == ValueType.STRING:
        return _string_cells(series, tag)
    if value_type in (ValueType.DOUBLE, ValueType.FLOAT):
        dtype = pl.Float64 if value_type == ValueType.DOUBLE else pl.Float32
        values = series.cast(dtype)
        present = (values.is_not_null() & values.is_not_nan()).to_numpy()
        return _fixed_cells(values.fill_null(0).to_numpy(), tag, present)
    if value_type == ValueType.UNIX_TIMESTAMP:
        series = _epoch_seconds(series)
    present = series.is_not_null().to_numpy()
    return _varint_cells(series.cast(pl.Int64).fill_null(0).to_numpy(), tag, present)


def encode_values(series: pl.Series, value_type: ValueType) -> list[bytes]:
    """Serialized `Value` proto of every element (null and NaN as the empty Value, as Feast)."""
    cells = _encode_cells(series, value_type)
    return [
        row[:length]
        for row, length in zip(_rows_of(cells.matrix), cells.lengths.tolist(), strict=True)
    ]


def _text_series(series: pl.Series, value_type: ValueType) -> pl.Series:
    if value_type == ValueType.UNIX_TIMESTAMP:
        return pl.Series(series.name, [None] * len(series), dtype=pl.String)
    if value_type == ValueType.BOOL:
        return series.cast(pl.String).replace({"true": "True", "false": "False"})
    if value_type in (ValueType.DOUBLE, ValueType.FLOAT):
        values = (
            series.cast(pl.Float32).cast(pl.Float64)
            if value_type == ValueType.FLOAT
            else series.cast(pl.Float64)
        )
        values = values.fill_nan(None)
        texts = values.cast(pl.String)
        small = np.flatnonzero(
            ((values.abs() < _REPR_BELOW) & (values != 0)).fill_null(False).to_numpy()
        )
        if len(small):
            texts = texts.scatter(small, [repr(values[int(i)]) for i in small])
        return texts
    return series.cast(pl.String)


def value_texts(series: pl.Series, value_type: ValueType) -> list[str | None]:
    """The `value_text` Feast stores beside each value (`helpers.extract_text_and_num`)."""
    return _text_series(series, value_type).to_list()


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


@dataclass(frozen=True)
class _Batch:
    """One row per entity for the temp table, and where each feature's cell sits in its blob.

    `rows`: (i, entity key, cells, event seconds). `cells` holds the padded value bytes of every
    feature, then the padded UTF-8 texts, then `digits`-wide ASCII decimals: the byte length of
    each value, then the byte length + 1 of each text (0: null). A blob, so `substr` offsets are
    byte offsets (on TEXT sqlite counts characters from the start). `features`: (j, name, offset
    of its value, of its text, of its value length, of its text length).
    """

    rows: list[tuple[int, bytes, bytes, int]]
    features: list[tuple[int, str, int, int, int, int]]
    digits: int


def _digit_matrix(lengths: np.ndarray, digits: int) -> np.ndarray:
    """Each element of a non-negative int matrix as `digits` zero-padded ASCII decimals."""
    powers = 10 ** np.arange(digits - 1, -1, -1, dtype=np.int64)
    chars = (lengths[:, :, None] // powers % 10 + ord("0")).astype(np.uint8)
    return chars.reshape(len(lengths), -1)


def _pack(
    newest: pl.DataFrame,
    table: OnlineTable,
    names: list[str],
    keys: list[bytes],
    seconds: list[int],
) -> _Batch:
    """The temp-table rows of `newest` (one per entity, in its order), built column-wise."""
    values = [_encode_cells(newest.get_column(c), table.feature_types[c]) for c in names]
    texts = [_text_cells(_text_series(newest.get_column(c), table.feature_types[c])) for c in names]
    parts = [*values, *texts]
    lengths = np.column_stack([p.lengths for p in parts]).astype(np.int64)
    digits = len(str(int(lengths.max())))
    offsets = np.cumsum([0, *(p.matrix.shape[1] for p in parts)]).tolist()
    width = len(names)
    features = [
        (
            j,
            name,
            offsets[j],
            offsets[width + j],
            offsets[-1] + j * digits,
            offsets[-1] + (width + j) * digits,
        )
        for j, name in enumerate(names)
    ]
    blobs = _rows_of(np.hstack([*(p.matrix for p in parts), _digit_matrix(lengths, digits)]))
    rows = list(zip(range(newest.height), keys, blobs, seconds, strict=True))
    return _Batch(rows, features, digits)


def _load_batch(conn: sqlite3.Connection, batch: _Batch) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {_BATCH}")
    conn.execute(f"DROP TABLE IF EXISTS {_FEATURES}")
    conn.execute(
        f"CREATE TABLE {_BATCH} (i INTEGER PRIMARY KEY, entity_key BLOB, cells BLOB, ts INTEGER)"
    )
    conn.execute(
        f"CREATE TABLE {_FEATURES} (j INTEGER PRIMARY KEY, name TEXT, voff INTEGER, "
        "toff INTEGER, vpos INTEGER, tpos INTEGER)"
    )
    conn.executemany(f"INSERT INTO {_FEATURES} VALUES (?, ?, ?, ?, ?, ?)", batch.features)
    conn.executemany(f"INSERT INTO {_BATCH} VALUES (?, ?, ?, ?)", batch.rows)


def _count_older(conn: sqlite3.Connection, table: str, feature: str) -> int:
    """Entities of the batch whose stored row is newer (every write covers all features, so one
    feature's row tells)."""
    return conn.execute(
        f"SELECT count(*) FROM {_BATCH} b JOIN {_quote(table)} t "
        "ON t.entity_key = b.entity_key AND t.feature_name = ? WHERE t.event_ts > b.ts",
        (feature,),
    ).fetchone()[0]


def _upsert_sql(table: str, digits: int) -> str:
    """Expand the batch to Feast's cells (entity-major, features in name order: primary-key order)
    and upsert them: newer-or-equal event time wins, identical cells are not rewritten."""
    quoted = _quote(table)
    value_length = f"CAST(substr(b.cells, f.vpos + 1, {digits}) AS INTEGER)"
    text_length = f"nullif(CAST(substr(b.cells, f.tpos + 1, {digits}) AS INTEGER), 0) - 1"
    return (
        f"INSERT INTO {quoted} (entity_key, feature_name, value, value_text, event_ts, created_ts) "
        f"SELECT b.entity_key, f.name, substr(b.cells, f.voff + 1, {value_length}), "
        f"CAST(substr(b.cells, f.toff + 1, {text_length}) AS TEXT), b.ts, NULL "
        f"FROM {_BATCH} b CROSS JOIN {_FEATURES} f WHERE true "
        "ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, "
        "value_text = excluded.value_text, event_ts = excluded.event_ts, "
        f"created_ts = excluded.created_ts WHERE excluded.event_ts >= {quoted}.event_ts "
        f"AND ({quoted}.value IS NOT excluded.value "
        f"OR {quoted}.value_text IS NOT excluded.value_text "
        f"OR {quoted}.event_ts IS NOT excluded.event_ts OR {quoted}.created_ts IS NOT NULL)"
    )


def write_online(
    frame: pl.DataFrame, table: OnlineTable, *, timeout: float = 60.0
) -> OnlineWriteStats:
    """Upsert the newest row of each entity in `frame` into the online store (see module doc).

    `timings` splits the seconds into keys (newest rows, entity keys, key order), encode (value
    bytes, texts, packing), load (temp table), check (entities online is newer for) and upsert
    (the expansion to cells, its b-tree work and the commit).
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    mark = started

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[name] = now - mark
        mark = now

    newest = newest_rows(frame, list(table.entity_types), table.timestamp)
    keys = serialize_entity_keys(newest, table.entity_types, table.entity_key_serialization_version)
    order = sorted(range(len(keys)), key=keys.__getitem__)  # primary-key order
    newest = newest[order]
    keys = [keys[i] for i in order]
    seconds = sqlite_event_seconds(newest.get_column(table.timestamp))
    lap("keys")
    names = sorted(table.feature_types)
    batch = _pack(newest, table, names, keys, seconds) if newest.height and names else None
    lap("encode")

    skipped = written = 0
    conn = _connect(table.db_path, timeout)
    try:
        create_table(conn, table.name)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if batch is not None:
                _load_batch(conn, batch)
                lap("load")
                skipped = _count_older(conn, table.name, names[0])
                lap("check")
                before = conn.total_changes
                conn.execute(_upsert_sql(table.name, batch.digits))
                written = conn.total_changes - before
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    lap("upsert")
    return OnlineWriteStats(
        rows=frame.height,
        entities=newest.height,
        entities_skipped_as_older=skipped,
        rows_without_entity_key=frame.height - frame.drop_nulls(list(table.entity_types)).height,
        cells_written=written,
        seconds=time.perf_counter() - started,
        timings=timings,
    )
