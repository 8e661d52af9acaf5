"""The fast online writer: Feast's own rows, newest-wins semantics, and the Dagster assets."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from feast import ValueType
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import extract_text_and_num
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import python_values_to_proto_values
from feast.utils import to_naive_utc
from polars.testing import assert_frame_equal

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.feature_store.feast_objects import feature_view_name
from retrain_platform.core.feature_store.online_sqlite import (
    encode_values,
    newest_rows,
    online_event_timestamps,
    serialize_entity_keys,
    sqlite_event_seconds,
    value_texts,
)
from retrain_platform.core.features.transforms import feature_table_name
from retrain_platform.core.lake import overwrite_partitions, read_partitions
from retrain_platform.defs.feature_store import (
    build_feast_registry_asset,
    build_online_store_asset,
    features_key,
    online_key,
    registry_key,
)
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.resources import DeltaLakeResource
from retrain_platform.resources.feast import FeastResource
from retrain_platform_tests.fixtures.online_store import (
    feature_rows,
    features_only,
    partition_keys,
    served,
    write_features,
)

UTC = timezone.utc


@pytest.fixture(scope="module")
def view(contract):
    return contract.feature_views[0]


@pytest.fixture
def features(home, contract, view) -> pl.DataFrame:
    """The synthetic features in the lake (read back from Delta), Feast objects applied."""
    uri = write_features(home.lake_uri, contract, view, feature_rows(contract, view))
    FeastResource().apply(contract)
    return read_partitions(uri)


def expected_newest(frame: pl.DataFrame, contract, view) -> pl.DataFrame:
    keys = list(view.entity_keys)
    return frame.sort(contract.timestamp_name).group_by(keys, maintain_order=True).last().sort(keys)


VALUE_CASES = [
    (
        pl.Series([0, 1, -1, 127, 128, 300, 2**31, -(2**63), 2**63 - 1], dtype=pl.Int64),
        ValueType.INT64,
    ),
    (pl.Series([0, 5, -1, None], dtype=pl.Int64), ValueType.INT64),
    (pl.Series([0, -128, 127, None], dtype=pl.Int8), ValueType.INT32),
    (pl.Series([0, -32768, 32767], dtype=pl.Int16), ValueType.INT32),
    (pl.Series([2**31 - 1, -(2**31), None], dtype=pl.Int32), ValueType.INT32),
    (
        pl.Series(
            [
                0.0,
                -0.0,
                0.1,
                1.5,
                -2.25e-7,
                3e-5,
                1e16,
                1e300,
                float("inf"),
                float("-inf"),
                float("nan"),
                None,
            ],
            dtype=pl.Float64,
        ),
        ValueType.DOUBLE,
    ),
    (pl.Series([0.1, -3.5, 1e-6, float("nan"), None], dtype=pl.Float32), ValueType.FLOAT),
    (pl.Series([True, False, None]), ValueType.BOOL),
    (pl.Series(["", "pos", "ünïcødé €", "x" * 300, None]), ValueType.STRING),
    (
        pl.Series(
            [
                datetime(2026, 1, 1, 12, 34, 56, 789000, tzinfo=UTC),
                datetime(1970, 1, 1, tzinfo=UTC),
            ],
            dtype=pl.Datetime("us", "UTC"),
        ),
        ValueType.UNIX_TIMESTAMP,
    ),
    (pl.Series([date(2026, 1, 2)]), ValueType.UNIX_TIMESTAMP),
]


@pytest.mark.parametrize(
    ("series", "value_type"), VALUE_CASES, ids=[f"{c[1].name}-{c[0].dtype}" for c in VALUE_CASES]
)
def test_values_are_encoded_as_feast_encodes_them(series, value_type):
    # What `feast.utils._convert_arrow_fv_to_proto` does with a column of the features table.
    protos = python_values_to_proto_values(
        series.to_arrow().to_numpy(zero_copy_only=False), value_type
    )
    assert encode_values(series, value_type) == [p.SerializeToString() for p in protos]
    assert value_texts(series, value_type) == [extract_text_and_num(p, False)[0] for p in protos]


def test_null_timestamps_are_stored_as_empty_values():
    series = pl.Series([None, datetime(2026, 1, 1, tzinfo=UTC)], dtype=pl.Datetime("us", "UTC"))
    assert encode_values(series, ValueType.UNIX_TIMESTAMP)[0] == b""


def test_event_seconds_are_what_feasts_sqlite_adapter_stores():
    instants = [
        datetime(2026, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC),
        datetime(2026, 7, 1, 12, 30, tzinfo=UTC),
    ]
    series = pl.Series(instants, dtype=pl.Datetime("us", "UTC"))
    # feast.infra.online_stores.sqlite: to_naive_utc, then adapt_datetime_epoch
    assert sqlite_event_seconds(series) == [int(to_naive_utc(t).timestamp()) for t in instants]


KEY_CASES = [
    ({"card_id": ValueType.INT64}, {"card_id": [0, 1, -1, 2**40, -(2**63)]}),
    ({"shop": ValueType.INT32}, {"shop": [0, 7, -(2**31), 2**31 - 1]}),
    (
        {"zeta": ValueType.INT64, "alpha": ValueType.INT32},
        {"zeta": [5, -5, 2**33], "alpha": [1, 2, -3]},
    ),
    (
        {"seen": ValueType.UNIX_TIMESTAMP},
        {"seen": [datetime(2026, 1, 1, 12, tzinfo=UTC), datetime(1969, 12, 31, tzinfo=UTC)]},
    ),
    ({"name": ValueType.STRING, "n": ValueType.INT64}, {"name": ["a", "ünï", ""], "n": [1, 2, 3]}),
]


@pytest.mark.parametrize(
    ("entity_types", "columns"), KEY_CASES, ids=["int64", "int32", "two-ints", "ts", "string"]
)
def test_entity_keys_are_serialized_as_feast_serializes_them(entity_types, columns):
    frame = pl.DataFrame(columns).with_columns(
        pl.col(n).cast(pl.Int32) for n, t in entity_types.items() if t == ValueType.INT32
    )
    fields = {
        ValueType.INT64: "int64_val",
        ValueType.INT32: "int32_val",
        ValueType.STRING: "string_val",
        ValueType.UNIX_TIMESTAMP: "unix_timestamp_val",
    }
    expected = []
    for row in frame.iter_rows(named=True):
        values = [
            ValueProto(
                **{
                    fields[entity_types[n]]: int(row[n].timestamp())
                    if entity_types[n] == ValueType.UNIX_TIMESTAMP
                    else row[n]
                }
            )
            for n in entity_types
        ]
        proto = EntityKeyProto(join_keys=list(entity_types), entity_values=values)
        expected.append(serialize_entity_key(proto, entity_key_serialization_version=3))
    assert serialize_entity_keys(frame, entity_types) == expected


def _rows(db_path: str, table: str) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(
            f"SELECT entity_key, feature_name, value, value_text, vector_value, event_ts, "
            f'created_ts, typeof(event_ts), typeof(created_ts) FROM "{table}" ORDER BY 1, 2'
        ).fetchall()


def test_rows_are_identical_to_feasts_own_writer(features, contract, view, tmp_path):
    newest = newest_rows(features, list(view.entity_keys), contract.timestamp_name)
    by_feast = FeastResource(home=str(tmp_path / "feast_home"))
    by_feast.apply(contract)
    by_feast.store().write_to_online_store(feature_view_name(contract, view), newest.to_pandas())
    fast = FeastResource()
    stats = fast.write_online(contract, view, features)
    assert stats["entities"] == newest.height
    assert stats["cells_written"] == newest.height * len(view.feature_names(contract.label_name))
    feast_table = by_feast.online_table(contract, view)
    fast_table = fast.online_table(contract, view)
    assert feast_table.name == fast_table.name
    assert _rows(fast_table.db_path, fast_table.name) == _rows(
        feast_table.db_path, feast_table.name
    )


def test_online_serves_each_entitys_newest_row(features, contract, view):
    feast = FeastResource()
    stats = feast.write_online(contract, view, features)
    expected = expected_newest(features, contract, view)
    assert stats["rows"] == features.height and stats["entities"] == expected.height == 200
    got = served(feast, contract, view, expected)
    assert_frame_equal(got, features_only(expected, contract, view), check_exact=True)
    table = feast.online_table(contract, view)
    stored = online_event_timestamps(table, expected)
    assert stored.to_list() == [
        t.replace(microsecond=0) for t in expected[contract.timestamp_name].to_list()
    ]


def test_a_late_partition_never_overwrites_newer_values(features, contract, view):
    feast = FeastResource()
    first, last = partition_keys(features)[0], partition_keys(features)[-1]
    day_last = features.filter(pl.col(pc.PARTITION) == last)
    day_first = features.filter(pl.col(pc.PARTITION) == first)
    feast.write_online(contract, view, day_last)
    stats = feast.write_online(contract, view, day_first)

    keys = list(view.entity_keys)
    both = day_first.join(day_last.select(keys).unique(), on=keys, how="semi")
    assert stats["entities_skipped_as_older"] == both.select(keys).n_unique() > 0
    newest_last = expected_newest(day_last, contract, view)
    got = served(feast, contract, view, newest_last)
    assert_frame_equal(got, features_only(newest_last, contract, view), check_exact=True)
    only_first = expected_newest(day_first.join(day_last, on=keys, how="anti"), contract, view)
    assert_frame_equal(
        served(feast, contract, view, only_first),
        features_only(only_first, contract, view),
        check_exact=True,
    )


def test_a_correction_at_the_same_timestamp_replaces_values(features, contract, view):
    feast = FeastResource()
    last = partition_keys(features)[-1]
    day = features.filter(pl.col(pc.PARTITION) == last)
    feast.write_online(contract, view, day)
    feature = view.passthrough[0]
    corrected = day.with_columns(pl.col(feature) * 2 + 1)
    stats = feast.write_online(contract, view, corrected)

    assert stats["entities_skipped_as_older"] == 0
    expected = expected_newest(corrected, contract, view)
    got = served(feast, contract, view, expected)
    assert_frame_equal(got, features_only(expected, contract, view), check_exact=True)
    assert not got[feature].equals(
        features_only(expected_newest(day, contract, view), contract, view)[feature]
    )


def _features_asset(contract, view, frame: pl.DataFrame) -> dg.AssetsDefinition:
    """Stand-in for the features layer: writes the partition's rows of `frame` to Delta."""

    @dg.asset(key=features_key(contract, view), partitions_def=partitions_for(contract))
    def features_table(context, lake: DeltaLakeResource) -> None:  # noqa: ANN001
        rows = frame.filter(pl.col(pc.PARTITION) == context.partition_key)
        overwrite_partitions(
            lake.uri("features", feature_table_name(contract, view)), rows, [context.partition_key]
        )

    return features_table


def test_the_assets_materialize_and_serve_the_partition(home, instance, contract, view):
    frame = feature_rows(contract, view)
    registry = build_feast_registry_asset(contract)
    online = build_online_store_asset(contract, view)
    assert online.key == online_key(contract, view)
    assert set(online.asset_deps[online.key]) == {
        features_key(contract, view),
        registry_key(contract),
    }
    resources = {"lake": DeltaLakeResource(root_uri=home.lake_uri), "feast": FeastResource()}

    applied = dg.materialize([registry], instance=instance, resources=resources)
    assert applied.success
    partition = partition_keys(frame)[-1]
    result = dg.materialize(
        [_features_asset(contract, view, frame), online],
        instance=instance,
        resources=resources,
        partition_key=partition,
    )
    assert result.success

    metadata = result.asset_materializations_for_node(online.node_def.name)[0].metadata
    day = frame.filter(pl.col(pc.PARTITION) == partition)
    expected = expected_newest(day, contract, view)
    assert metadata["entities"].value == expected.height
    assert metadata["entities_skipped_as_older"].value == 0
    got = served(FeastResource(), contract, view, expected)
    assert_frame_equal(got, features_only(expected, contract, view), check_exact=True)
    registry_metadata = applied.asset_materializations_for_node(registry.node_def.name)[0].metadata
    assert registry_metadata["feature_count"].value == len(view.feature_names(contract.label_name))
    assert Path(registry_metadata["registry"].value).exists()


def _with_awkward_values(frame: pl.DataFrame, table) -> pl.DataFrame:
    """`frame` with nulls in a column of every value type, NaNs, and multi-byte, long and empty
    strings, so each cell shape goes through the sql expansion."""
    by_type: dict[ValueType, str] = {}
    for name, value_type in sorted(table.feature_types.items()):
        by_type.setdefault(value_type, name)
    index = pl.int_range(pl.len())
    changes = [
        pl.when(index % 3 == 0).then(None).otherwise(pl.col(name)).alias(name)
        for name in by_type.values()
    ]
    double = by_type[ValueType.DOUBLE]
    text = by_type[ValueType.STRING]
    frame = frame.with_columns(changes)
    return frame.with_columns(
        pl.when(index % 5 == 1).then(float("nan")).otherwise(pl.col(double)).alias(double),
        pl.when(index % 4 == 1)
        .then(pl.lit("ünïcødé € 😀"))
        .when(index % 4 == 2)
        .then(pl.lit(""))
        .when(index % 7 == 5)
        .then(pl.lit("x" * 300))
        .otherwise(pl.col(text))
        .alias(text),
    )


def test_nulls_nans_and_unicode_are_stored_as_feast_stores_them(features, contract, view, tmp_path):
    fast = FeastResource()
    table = fast.online_table(contract, view)
    frame = _with_awkward_values(
        newest_rows(features, list(view.entity_keys), contract.timestamp_name), table
    )
    by_feast = FeastResource(home=str(tmp_path / "feast_home"))
    by_feast.apply(contract)
    by_feast.store().write_to_online_store(feature_view_name(contract, view), frame.to_pandas())
    stats = fast.write_online(contract, view, frame)

    assert stats["cells_written"] == frame.height * len(table.feature_types)
    rows = _rows(table.db_path, table.name)
    assert rows == _rows(by_feast.online_table(contract, view).db_path, table.name)
    stored = {(r[0], r[1]): r for r in rows}
    text = next(n for n, t in sorted(table.feature_types.items()) if t == ValueType.STRING)
    texts = {stored_row[3] for (_, name), stored_row in stored.items() if name == text}
    assert {"ünïcødé € 😀", "", "x" * 300, None} <= texts
    empty = [r for r in rows if r[2] == b""]
    assert empty and all(isinstance(r[2], bytes) for r in empty)


def test_a_rerun_rewrites_no_cell_and_a_correction_only_its_cell(features, contract, view):
    feast = FeastResource()
    table = feast.online_table(contract, view)
    feast.write_online(contract, view, features)
    before = _rows(table.db_path, table.name)

    again = feast.write_online(contract, view, features)
    assert again["cells_written"] == 0 and again["entities_skipped_as_older"] == 0
    assert _rows(table.db_path, table.name) == before

    newest = expected_newest(features, contract, view)
    feature = view.passthrough[0]
    entity = newest.row(0, named=True)
    keys = list(view.entity_keys)
    is_entity = pl.all_horizontal(pl.col(k) == entity[k] for k in keys)
    is_last = pl.col(contract.timestamp_name) == entity[contract.timestamp_name]
    corrected = features.with_columns(
        pl.when(is_entity & is_last)
        .then(pl.col(feature) * 2 + 1)
        .otherwise(pl.col(feature))
        .alias(feature)
    )
    stats = feast.write_online(contract, view, corrected)
    assert stats["cells_written"] == 1
    after = _rows(table.db_path, table.name)
    changed = [(a[1], b[1]) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [(feature, feature)]
    got = served(feast, contract, view, newest.filter(is_entity))
    assert got[feature].to_list() == [entity[feature] * 2 + 1]


def test_a_newer_event_time_rewrites_every_cell(features, contract, view):
    feast = FeastResource()
    table = feast.online_table(contract, view)
    feast.write_online(contract, view, features)
    later = features.with_columns(pl.col(contract.timestamp_name) + timedelta(days=1))
    stats = feast.write_online(contract, view, later)

    newest = expected_newest(later, contract, view)
    assert stats["cells_written"] == newest.height * len(table.feature_types)
    assert online_event_timestamps(table, newest).to_list() == [
        t.replace(microsecond=0) for t in newest[contract.timestamp_name].to_list()
    ]
