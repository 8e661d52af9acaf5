"""The feature store for a keyless view: a `_series` entity, online rows and historical retrieval.

Feast objects generated from the keyless test contract and from weather, applied into the
platform's Feast repository under a temporary home; the platform's sqlite writer writes the
series' newest row and Feast's `get_online_features` reads it back with the series key; Feast's
historical retrieval joins label events like the polars as-of join. No Dagster.
"""

from __future__ import annotations

import polars as pl
import pytest
from feast import ValueType
from polars.testing import assert_frame_equal

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.point_in_time import asof_join, feast_join
from retrain_platform.core.datasets.training_set import label_events, make_window
from retrain_platform.core.feature_store.feast_objects import (
    contract_feast_objects,
    to_feast_objects,
)
from retrain_platform.core.features.transforms import build_features, feature_columns
from retrain_platform.resources.feast import FeastResource
from retrain_platform_tests.fixtures.keyless import keyless_contract, keyless_days, keyless_rows
from retrain_platform_tests.fixtures.online_store import features_only, served, write_features

# Raised inside dask by Feast's point-in-time join; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Downcasting object dtype arrays:FutureWarning")
DAYS = 5


@pytest.fixture(scope="module")
def contract():
    return keyless_contract()


@pytest.fixture(scope="module")
def view(contract):
    return contract.view()


@pytest.fixture(scope="module")
def validated(contract):
    return keyless_rows(contract, DAYS, seed=4)


@pytest.fixture(scope="module")
def features(validated, contract, view):
    return build_features(validated, contract, view)


def test_a_keyless_view_is_served_per_series(contract, view, weather_contract):
    objects = to_feast_objects(contract, view, "/lake/features/x")
    (entity,) = objects.entities
    assert (entity.name, entity.join_key, entity.value_type) == (
        pc.SERIES,
        pc.SERIES,
        ValueType.STRING,
    )
    schema = {f.name: f for f in objects.feature_view.entity_columns}
    assert list(schema) == [pc.SERIES]
    # two keyless datasets share one `_series` entity (same name, same definition)
    (weather,) = contract_feast_objects(weather_contract, "/lake")
    assert weather.entities == objects.entities
    assert weather.feature_view.name == "weather_series_fv"
    assert [f.name for f in weather.feature_view.features] == weather_contract.feature_names


def test_the_series_newest_row_is_served_online(home, contract, view, features):
    feast = FeastResource()
    write_features(home.lake_uri, contract, view, features)
    feast.apply(contract)
    stats = feast.write_online(contract, view, features)
    assert stats["entities"] == 1 and stats["rows_without_entity_key"] == 0
    newest = features.sort(contract.timestamp_name).tail(1)
    got = served(feast, contract, view, newest)
    assert_frame_equal(got, features_only(newest, contract, view), check_exact=True)
    # an older partition written afterwards leaves the newer online row alone
    first_day = features.filter(pl.col(pc.PARTITION) == keyless_days(DAYS)[0])
    assert feast.write_online(contract, view, first_day)["entities_skipped_as_older"] == 1
    assert_frame_equal(served(feast, contract, view, newest), got, check_exact=True)


def test_feast_retrieval_joins_label_events_like_the_asof_join(
    home, contract, view, validated, features
):
    feast = FeastResource()
    write_features(home.lake_uri, contract, view, features)
    feast.apply(contract)
    days = keyless_days(DAYS)
    window = make_window(
        contract,
        days[-1],
        window_partitions=4,
        validation_partitions=1,
        holdout_partitions=1,
        first_available=days[0],
    )
    labels = label_events(validated, contract, window)
    polars_path = asof_join(labels, features, contract, view)
    feast_path = feast_join(
        labels,
        contract,
        view,
        lambda entity_df: feast.historical_features(contract, view, entity_df),
        feature_columns(contract, view),
    )
    assert feast_path.height == labels.height
    assert_frame_equal(feast_path.select(polars_path.columns), polars_path, check_exact=True)
