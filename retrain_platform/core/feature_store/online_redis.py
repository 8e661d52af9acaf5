"""Incremental writes of feature rows into Feast's Redis online store, without `materialize`.

Feast's Redis store (feast/infra/online_stores/redis.py) keeps one hash per entity: the key is
the serialized entity key followed by the project name; the fields are `mmh3("<view>:<feature>")`
(the serialized `Value` proto) and `_ts:<view>` (a serialized protobuf `Timestamp`). This writer
produces the same hashes, so `FeatureStore.get_online_features` reads them like rows Feast wrote.

It differs from Feast's `online_write_batch` in the rule for an entity that already has a row:
- Feast skips the new row when the stored event time is the same or newer, so a corrected
  value for the same event time (a re-materialized partition) is silently ignored;
- here only a strictly newer stored event time wins: late data for an old partition leaves the
  online value alone, and a correction at the same event time replaces it (the rule of the
  sqlite writer in `online_store.py`, at Feast's nanosecond precision instead of seconds).
The compare-and-set runs in Redis as a Lua script per entity key, so it is atomic: two writers
of different partitions racing for the same entity cannot put the older row back (Feast reads
every stored time first and writes afterwards, which leaves that window open).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import polars as pl
from feast import ValueType
from feast.infra.online_stores.helpers import _mmh3
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from google.protobuf.timestamp_pb2 import Timestamp

from retrain_platform.core.feature_store.online_sqlite import (
    OnlineWriteStats,
    encode_values,
    newest_rows,
    serialize_entity_keys,
)

# Writes go out in pipelines of this many entities (one round trip each).
BATCH = 1_000

# KEYS[1]: the entity's hash. ARGV: the `_ts:<view>` field, the new event time as seconds and
# nanoseconds, its serialized Timestamp, the key ttl in seconds (0: none), then field/value pairs.
# The stored Timestamp is decoded here (field 1 = seconds, field 2 = nanos, both varints); Lua
# numbers are doubles, exact for any seconds value below 2^53.
_COMPARE_AND_SET = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then
  local parts = {0, 0}
  local i, n = 1, #stored
  while i <= n do
    local tag = string.byte(stored, i)
    i = i + 1
    local value, scale = 0, 1
    repeat
      local b = string.byte(stored, i)
      i = i + 1
      value = value + (b % 128) * scale
      scale = scale * 128
    until b < 128
    local number = math.floor(tag / 8)
    if number == 1 or number == 2 then parts[number] = value end
  end
  local seconds, nanos = tonumber(ARGV[2]), tonumber(ARGV[3])
  if parts[1] > seconds or (parts[1] == seconds and parts[2] > nanos) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4], unpack(ARGV, 6))
local ttl = tonumber(ARGV[5])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
"""


@dataclass(frozen=True)
class RedisOnlineTable:
    """Where and how Feast's Redis online store keeps one feature view."""

    project: str
    view: str
    entity_types: Mapping[str, ValueType]
    feature_types: Mapping[str, ValueType]
    timestamp: str
    entity_key_serialization_version: int = 3
    key_ttl_seconds: int | None = None

    @property
    def fields(self) -> dict[str, bytes]:
        """The hash field of each feature: Feast's murmur3 of `<view>:<feature>`."""
        return {name: _mmh3(f"{self.view}:{name}") for name in self.feature_types}

    @property
    def timestamp_field(self) -> str:
        return f"_ts:{self.view}"

    def redis_keys(self, entities: pl.DataFrame) -> list[bytes]:
        """Feast's Redis key of each row: the serialized entity key, then the project name."""
        suffix = self.project.encode()
        return [
            key + suffix
            for key in serialize_entity_keys(
                entities, self.entity_types, self.entity_key_serialization_version
            )
        ]


def _seconds_and_nanos(series: pl.Series) -> tuple[list[int], list[int]]:
    """Unix seconds and nanoseconds of each instant (naive values are UTC, as in Feast)."""
    if series.dtype == pl.Date:
        series = series.cast(pl.Datetime("us"))
    nanos = series.dt.epoch("ns")
    return (nanos // 1_000_000_000).to_list(), (nanos % 1_000_000_000).to_list()


def _batches(n: int) -> Iterator[range]:
    for start in range(0, n, BATCH):
        yield range(start, min(start + BATCH, n))


def write_online_redis(
    frame: pl.DataFrame, table: RedisOnlineTable, client: Any
) -> OnlineWriteStats:
    """Write the newest row of each entity in `frame` to Redis (see module doc); `client` is a
    redis-py client (`redis.Redis`, or what Feast's `RedisOnlineStore` connects with)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    newest = newest_rows(frame, list(table.entity_types), table.timestamp)
    keys = table.redis_keys(newest)
    seconds, nanos = _seconds_and_nanos(newest.get_column(table.timestamp))
    stamps = [
        Timestamp(seconds=s, nanos=n).SerializeToString()
        for s, n in zip(seconds, nanos, strict=True)
    ]
    names = sorted(table.feature_types)
    columns = [encode_values(newest.get_column(n), table.feature_types[n]) for n in names]
    hash_fields = table.fields
    fields = [hash_fields[n] for n in names]
    timings["encode"] = time.perf_counter() - started

    script = client.register_script(_COMPARE_AND_SET)
    ttl = table.key_ttl_seconds or 0
    written = 0
    for rows in _batches(len(keys)):
        with client.pipeline(transaction=False) as pipe:
            for i in rows:
                pairs: list[bytes | str | int] = []
                for name_field, column in zip(fields, columns, strict=True):
                    pairs += [name_field, column[i]]
                args = [table.timestamp_field, seconds[i], nanos[i], stamps[i], ttl, *pairs]
                script(keys=[keys[i]], args=args, client=pipe)
            written += sum(int(r) for r in pipe.execute())
    total = time.perf_counter() - started
    timings["redis"] = total - timings["encode"]
    return OnlineWriteStats(
        rows=frame.height,
        entities=newest.height,
        entities_skipped_as_older=newest.height - written,
        rows_without_entity_key=frame.height - frame.drop_nulls(list(table.entity_types)).height,
        cells_written=written * len(names),
        seconds=total,
        timings=timings,
    )


def decode_value(raw: bytes | None) -> Any:
    """A serialized Feast `Value` as a Python value (None for a null or an absent cell)."""
    if not raw:
        return None
    value = ValueProto.FromString(raw)
    kind = value.WhichOneof("val")
    return None if kind is None or kind == "null_val" else getattr(value, kind)


def read_online_redis(
    table: RedisOnlineTable, client: Any, entities: Sequence[Mapping[str, Any]]
) -> list[tuple[dict[str, Any], datetime] | None]:
    """The stored features and event time of each entity (None when it has no row), read with
    one pipelined HMGET per entity as Feast's `online_read` does."""
    frame = pl.DataFrame(
        [{k: e[k] for k in table.entity_types} for e in entities],
        schema=list(table.entity_types),
    )
    keys = table.redis_keys(frame) if len(entities) else []
    names = list(table.feature_types)
    by_name = table.fields
    hash_fields = [*(by_name[n] for n in names), table.timestamp_field]
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hmget(key, hash_fields)
        replies = pipe.execute() if keys else []
    out: list[tuple[dict[str, Any], datetime] | None] = []
    for reply in replies:
        *raw_values, raw_ts = reply
        if raw_ts is None:
            out.append(None)
            continue
        stamp = Timestamp.FromString(raw_ts)
        event_time = datetime.fromtimestamp(stamp.seconds, tz=timezone.utc).replace(
            microsecond=stamp.nanos // 1_000
        )
        values = {n: decode_value(v) for n, v in zip(names, raw_values, strict=True)}
        out.append((values, event_time))
    return out


def delete_project_keys(client: Any, project: str) -> int:
    """Delete every online row of Feast project `project` (keys end with its name); returns the
    number of keys deleted. For tests and for retiring a project; `SCAN`, never `KEYS`."""
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=b"*" + project.encode(), count=1_000):
        batch.append(key)
        if len(batch) >= BATCH:
            deleted += client.delete(*batch)
            batch = []
    if batch:
        deleted += client.delete(*batch)
    return deleted
