"""Online feature lookups: Feast's online store read directly, or `get_online_features`.

The direct reader runs the primary-key query Feast's `SqliteOnlineStore.online_read` runs
(`entity_key`, `feature_name`, `value`, `event_ts` of the serialized entity key) and decodes the
values as Feast does (`Value` protos; an empty value is missing), without building a
`FeatureStore`, a registry lookup and a response object per request: about 20x faster (see
`benchmarks/serving.py`). The Feast reader is kept for stores the direct one does not support
and as the reference the tests compare it with. With Feast's Redis online store (the
production profile) the direct reader is one pipelined HMGET per entity, as Feast's own
`online_read` does (`core/online_store_redis.py`).

Each row comes back with its event time, so the service can check its age against the
contract (`policy.max_feature_age`, else the view's ttl).

A sqlite read waits at most `timeout` seconds for a lock another process holds (then
`database is locked`, which the service answers 503); `ping` waits at most `PING_WAIT` (long
enough for a writer's commit), so `/health` answers promptly while the store is locked.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from feast import ValueType
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.feature_store.online_redis import decode_value
from retrain_platform.core.feature_store.online_sqlite import OnlineTable

_KEY_FIELDS = {
    ValueType.STRING: "string_val",
    ValueType.INT32: "int32_val",
    ValueType.INT64: "int64_val",
    ValueType.BYTES: "bytes_val",
}
DIRECT, FEAST = "direct", "feast"
PING_WAIT = 0.25  # seconds `ping` waits for a lock: a writer's commit, not a held lock


@dataclass(frozen=True)
class OnlineRow:
    """One entity's online features (None for a missing value) and their event time."""

    values: dict[str, Any]
    event_time: datetime | None


class OnlineLookup(Protocol):
    def lookup(self, entities: Sequence[Mapping[str, Any]]) -> list[OnlineRow | None]: ...

    def ping(self) -> bool: ...


def feature_max_age(contract: DatasetContract, view: FeatureView) -> timedelta:
    """How old an online row may be: the contract's `policy.max_feature_age`, else the ttl."""
    return contract.policy.max_feature_age or view.ttl


def _from_sqlite_seconds(seconds: int | None) -> datetime | None:
    """The instant Feast's sqlite adapter stored (local-time `timestamp()`, see online_store)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(int(seconds)).replace(tzinfo=timezone.utc)


class DirectOnlineLookup:
    """Primary-key reads of Feast's sqlite online table, one connection per thread."""

    def __init__(self, table: OnlineTable, features: Sequence[str], timeout: float = 1.0) -> None:
        self.table = table
        self.features = frozenset(features)
        self.timeout = timeout
        self._keys = list(table.entity_types)
        self._fields = [_KEY_FIELDS[table.entity_types[k]] for k in self._keys]
        self._local = threading.local()
        quoted = '"' + table.name.replace('"', '""') + '"'
        self._one = (
            f"SELECT entity_key, feature_name, value, event_ts FROM {quoted} WHERE entity_key = ?"
        )
        self._many = (
            f"SELECT entity_key, feature_name, value, event_ts FROM {quoted} "
            "WHERE entity_key IN ({})"
        )

    def _conn(self, attribute: str = "conn", timeout: float | None = None) -> sqlite3.Connection:
        conn = getattr(self._local, attribute, None)
        if conn is None:
            uri = f"file:{self.table.db_path}?mode=ro"
            wait = self.timeout if timeout is None else timeout
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=wait)
            setattr(self._local, attribute, conn)
        return conn

    def entity_key(self, entity: Mapping[str, Any]) -> bytes:
        """Feast's serialized key of one entity (join keys in the view's order)."""
        proto = EntityKeyProto(
            join_keys=self._keys,
            entity_values=[
                ValueProto(**{f: entity[k]}) for k, f in zip(self._keys, self._fields, strict=True)
            ],
        )
        return serialize_entity_key(
            proto, entity_key_serialization_version=self.table.entity_key_serialization_version
        )

    def lookup(self, entities: Sequence[Mapping[str, Any]]) -> list[OnlineRow | None]:
        keys = [self.entity_key(e) for e in entities]
        conn = self._conn()
        if len(keys) == 1:
            rows = conn.execute(self._one, (keys[0],)).fetchall()
        else:
            rows = []
            for start in range(0, len(keys), 500):  # sqlite's bound-parameter limit
                chunk = list(dict.fromkeys(keys[start : start + 500]))
                sql = self._many.format(",".join("?" * len(chunk)))
                rows += conn.execute(sql, chunk).fetchall()
        found: dict[bytes, tuple[dict[str, Any], int | None]] = {}
        for key, name, raw, seconds in rows:
            if name not in self.features:
                continue
            values, newest = found.setdefault(key, ({}, seconds))
            values[name] = decode_value(raw)
            if seconds is not None and (newest is None or seconds > newest):
                found[key] = (values, seconds)
        out: list[OnlineRow | None] = []
        for key in keys:
            hit = found.get(key)
            out.append(None if hit is None else OnlineRow(hit[0], _from_sqlite_seconds(hit[1])))
        return out

    def ping(self) -> bool:
        try:
            conn = self._conn("ping_conn", min(self.timeout, PING_WAIT))
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True


class RedisDirectLookup:
    """Direct reads of Feast's Redis online store (hashes keyed by entity key and project)."""

    def __init__(self, table: Any, client: Any, features: Sequence[str]) -> None:
        self.table = table
        self.client = client
        self.features = list(features)

    def lookup(self, entities: Sequence[Mapping[str, Any]]) -> list[OnlineRow | None]:
        from retrain_platform.core.feature_store.online_redis import read_online_redis

        rows = read_online_redis(self.table, self.client, entities)
        return [
            None if row is None else OnlineRow({n: row[0][n] for n in self.features}, row[1])
            for row in rows
        ]

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:  # noqa: BLE001 - any failure means the store does not answer
            return False


def _is_epoch(stamp: Any) -> bool:
    if isinstance(stamp, datetime):
        return stamp.replace(tzinfo=stamp.tzinfo or timezone.utc).timestamp() == 0
    return int(stamp) == 0


class FeastOnlineLookup:
    """`FeatureStore.get_online_features` of the view's feature service (store built once)."""

    def __init__(
        self, store: Any, service_name: str, entity_keys: Sequence[str], features: Sequence[str]
    ) -> None:
        self.store = store
        self.service = store.get_feature_service(service_name)
        self.entity_keys = list(entity_keys)
        self.features = list(features)

    def lookup(self, entities: Sequence[Mapping[str, Any]]) -> list[OnlineRow | None]:
        rows = [{k: e[k] for k in self.entity_keys} for e in entities]
        answer = self.store.get_online_features(features=self.service, entity_rows=rows).to_dict(
            include_event_timestamps=True
        )
        out: list[OnlineRow | None] = []
        for i in range(len(rows)):
            values = {n: answer[n][i] for n in self.features}
            stamps = [answer[f"{n}__ts"][i] for n in self.features if f"{n}__ts" in answer]
            # Feast's Redis store answers an unknown entity with the Unix epoch as its time
            stamps = [s for s in stamps if s is not None and not _is_epoch(s)]
            if not stamps and all(v is None for v in values.values()):
                out.append(None)
                continue
            newest = max(stamps) if stamps else None
            if newest is not None and not isinstance(newest, datetime):
                newest = datetime.fromtimestamp(int(newest), tz=timezone.utc)
            elif newest is not None and newest.tzinfo is None:
                newest = newest.replace(tzinfo=timezone.utc)
            out.append(OnlineRow(values, newest))
        return out

    def ping(self) -> bool:
        try:
            self.store.get_feature_service(self.service.name)
        except Exception:  # noqa: BLE001 - any failure means the store does not answer
            return False
        return True


def build_lookup(
    kind: str, feast: Any, contract: DatasetContract, view: FeatureView, *, timeout: float = 1.0
) -> OnlineLookup:
    """The online lookup of `view` through a `FeastResource`: `direct` (default; sqlite or Redis,
    whichever the Feast configuration names) or `feast`; `timeout` bounds a sqlite lock wait."""
    from retrain_platform.core.feature_store.feast_objects import feature_service_name

    features = view.feature_names(contract.label_name)
    if kind == DIRECT:
        config = feast.config()
        if feast.online_store_type(config) == "redis":
            return RedisDirectLookup(
                feast.redis_table(contract, view, config), feast.redis_client(config), features
            )
        return DirectOnlineLookup(feast.online_table(contract, view, config), features, timeout)
    if kind == FEAST:
        return FeastOnlineLookup(
            feast.store(), feature_service_name(contract, view), view.entity_keys, features
        )
    msg = f"unknown online lookup {kind!r} (one of {DIRECT}, {FEAST})"
    raise ValueError(msg)
