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
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

from retrain_platform.core.feature_store.codec import (
    SUPPORTED_VALUE_TYPES,
    _encode_cells,
    _rows_of,
    _text_cells,
    _text_series,
    encode_values,
    serialize_entity_keys,
    value_texts,
)
from retrain_platform.core.feature_store.sqlite_table import (
    _BATCH,
    _FEATURES,
    OnlineTable,
    _connect,
    _quote,
    create_table,
    online_event_timestamps,
    sqlite_event_seconds,
)

__all__ = [
    "OnlineTable",
    "OnlineWriteStats",
    "SUPPORTED_VALUE_TYPES",
    "create_table",
    "encode_values",
    "newest_rows",
    "online_event_timestamps",
    "serialize_entity_keys",
    "sqlite_event_seconds",
    "value_texts",
    "write_online",
]


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
