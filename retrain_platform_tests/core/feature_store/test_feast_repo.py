"""The Feast repository: objects generated from contracts, `feast apply`, offline retrieval."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from retrain_platform.contracts.dtypes import POLARS_DTYPES
from retrain_platform.contracts.model import DTYPES
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.feature_store.feast_objects import (
    FEAST_TYPES,
    feast_source_uri,
    feast_type,
    feature_service_name,
    feature_view_name,
    to_feast_objects,
)
from retrain_platform.core.features.layer import write_parquet_mirror
from retrain_platform.core.features.transforms import feature_columns, feature_table_name
from retrain_platform.core.lake import overwrite_partitions
from retrain_platform.resources.feast import DEFAULT_REPO_PATH, FeastResource
from retrain_platform_tests.fixtures.online_store import (
    feature_rows,
    partition_keys,
    write_features,
)

FEAST = Path(sys.executable).with_name("feast")
# Raised inside dask by Feast's point-in-time join; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Downcasting object dtype arrays:FutureWarning")


@pytest.fixture(scope="module")
def view(contract):
    return contract.feature_views[0]


def test_type_map_covers_every_contract_dtype(contract, weather_contract):
    assert set(FEAST_TYPES) == set(DTYPES)
    for name, dtype in POLARS_DTYPES.items():
        assert feast_type(dtype) == FEAST_TYPES[name]
    for each in (contract, weather_contract):
        for view in each.feature_views:
            for column, dtype in feature_columns(each, view).items():
                if column in view.feature_names(each.label_name):
                    feast_type(dtype)  # every feature column's dtype is mapped


def test_objects_come_from_the_contract(contract, view):
    table = feature_table_name(contract, view)
    objects = to_feast_objects(contract, view, "/lake/features/x")
    fv = objects.feature_view
    assert [e.join_key for e in objects.entities] == list(view.entity_keys)
    assert [e.value_type for e in objects.entities] == [
        FEAST_TYPES[contract.column(k).dtype].to_value_type() for k in view.entity_keys
    ]
    assert objects.source.name == f"{table}_source"
    assert objects.source.path == "/lake/features/x"
    assert objects.source.timestamp_field == contract.timestamp_name
    assert fv.name == f"{table}_fv"
    assert fv.ttl == view.ttl
    assert fv.online
    assert [f.name for f in fv.features] == view.feature_names(contract.label_name)
    assert [f.name for f in fv.entity_columns] == list(view.entity_keys)
    columns = feature_columns(contract, view)
    assert {f.name: f.dtype for f in fv.features} == {
        n: feast_type(columns[n]) for n in view.feature_names(contract.label_name)
    }
    assert fv.tags == {"dataset": contract.dataset, "contract_hash": contract.contract_hash}
    service = objects.feature_service
    assert service.name.startswith(f"{table}_v") and service.name == feature_service_name(
        contract, view
    )
    assert [p.name for p in service.feature_view_projections] == [fv.name]


def test_a_changed_feature_set_gets_a_new_service_name(contract, view):
    fewer = dataclasses.replace(view, passthrough=view.passthrough[1:])
    assert feature_service_name(contract, fewer) != feature_service_name(contract, view)
    assert feature_service_name(contract, view) == feature_service_name(contract, view)
    longer_ttl = dataclasses.replace(view, ttl=view.ttl + timedelta(days=1))
    assert feature_service_name(contract, longer_ttl) == feature_service_name(contract, view)


def test_feast_yaml_expands_the_platform_home(home):
    config = FeastResource().config()
    assert config.registry.path == str(home.home / "feast" / "registry.db")
    assert config.online_store.path == str(home.home / "feast" / "online_store.db")
    assert config.entity_key_serialization_version == 3
    assert FeastResource().repo_path == str(DEFAULT_REPO_PATH)


def test_feast_apply_cli_registers_the_generated_objects(home, contract, view):
    env = {**os.environ, "RETRAIN_HOME": str(home.home)}
    done = subprocess.run(
        [str(FEAST), "apply"],
        cwd=DEFAULT_REPO_PATH,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (home.home / "feast" / "registry.db").exists()
    store = FeastResource().store()
    objects = to_feast_objects(contract, view, "unused")
    assert [e.name for e in store.list_entities()] == [e.name for e in objects.entities]
    assert [fv.name for fv in store.list_feature_views()] == [objects.feature_view.name]
    assert [s.name for s in store.list_feature_services()] == [objects.feature_service.name]
    assert store.get_data_source(objects.source.name).path.startswith(home.lake_uri)


def test_historical_features_from_the_feast_source_are_as_of(home, contract, view):
    feast = FeastResource()
    features = feature_rows(contract, view)
    write_features(home.lake_uri, contract, view, features)
    feast.apply(contract)
    keys, ts = list(view.entity_keys), contract.timestamp_name
    names = view.feature_names(contract.label_name)

    rng = np.random.default_rng(3)
    after = (
        features.select(*keys, ts)
        .sample(150, seed=3)
        .with_columns(pl.col(ts) + pl.duration(seconds=pl.Series(rng.integers(1, 6 * 3600, 150))))
    )
    first = features.group_by(keys).agg(pl.col(ts).min()).head(20)
    before = first.with_columns(pl.col(ts) - pl.duration(hours=1))
    entity_df = (
        pl.concat([after, before])
        .unique([*keys, ts])
        .with_row_index("row_id")
        .with_columns(pl.col("row_id").cast(pl.Int64))
    )

    store = feast.store()
    got = pl.from_pandas(
        store.get_historical_features(
            entity_df=entity_df.to_pandas(),
            features=store.get_feature_service(feature_service_name(contract, view)),
        ).to_df()
    )

    expected = entity_df.sort(ts).join_asof(
        features.select(*keys, pl.col(ts).alias("feature_ts"), *names).sort("feature_ts"),
        left_on=ts,
        right_on="feature_ts",
        by=keys,
        strategy="backward",
        tolerance=view.ttl,
        check_sortedness=False,
    )
    matched = expected.filter(pl.col("feature_ts").is_not_null())
    # Feast's file (dask) store drops entity rows with no feature row at or before them.
    assert got.height == matched.height
    assert expected.height - matched.height == before.height
    schema = feature_columns(contract, view)
    got = got.select("row_id", *(pl.col(n).cast(schema[n]) for n in names))
    assert_frame_equal(
        got.sort("row_id"), matched.select("row_id", *names).sort("row_id"), check_exact=True
    )


def test_historical_features_follow_a_partition_overwrite(home, contract, view):
    feast = FeastResource()
    features = feature_rows(contract, view)
    uri = write_features(home.lake_uri, contract, view, features)
    feast.apply(contract)
    ts, feature = contract.timestamp_name, view.passthrough[0]
    day = features.filter(pl.col(pc.PARTITION) == partition_keys(features)[-1])
    changed = day.with_columns(pl.col(feature) * 2 + 1)
    overwrite_partitions(uri, changed, partition_keys(day))
    write_parquet_mirror(
        changed, partition_keys(day), feast_source_uri(home.lake_uri, contract, view)
    )

    entity_df = day.select(
        *view.entity_keys,
        pl.col(ts) + pl.duration(seconds=1),
        (pl.col(feature) * 2 + 1).alias("expected"),
    ).head(50)
    reference = f"{feature_view_name(contract, view)}:{feature}"
    got = pl.from_pandas(
        feast.store()
        .get_historical_features(entity_df=entity_df.to_pandas(), features=[reference])
        .to_df()
    )
    assert got.height == entity_df.height
    assert (got[feature] == got["expected"]).all()
