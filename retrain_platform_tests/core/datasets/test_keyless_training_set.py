"""Training sets of a keyless view: label events join the series' features as of their time.

Core functions on Delta tables in a temporary folder (no Dagster): the label events carry no
key of their own, so the join adds the series column to them; every label event is kept and gets
the features of its own event (no earlier, no later one).
"""

import polars as pl
import pytest

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.point_in_time import asof_join
from retrain_platform.core.datasets.training_set import (
    SPLIT,
    freeze_training_set,
    label_events,
    make_window,
    read_version,
)
from retrain_platform.core.features.transforms import build_features
from retrain_platform.core.lake import overwrite_partitions
from retrain_platform_tests.fixtures.keyless import keyless_contract, keyless_days, keyless_rows

DAYS = 8


@pytest.fixture(scope="module")
def contract():
    return keyless_contract()


@pytest.fixture(scope="module")
def view(contract):
    return contract.view()


@pytest.fixture(scope="module")
def validated(contract):
    return keyless_rows(contract, DAYS, seed=8)


@pytest.fixture(scope="module")
def features(validated, contract, view):
    return build_features(validated, contract, view)


@pytest.fixture(scope="module")
def window(contract):
    days = keyless_days(DAYS)
    return make_window(
        contract,
        days[-1],
        window_partitions=6,
        validation_partitions=1,
        holdout_partitions=1,
        first_available=days[0],
    )


def test_each_label_event_gets_the_features_of_its_own_event(
    validated, features, contract, view, window
):
    labels = label_events(validated, contract, window)
    assert pc.SERIES not in labels.columns  # the contract has no key: the join adds it
    joined = asof_join(labels, features, contract, view)
    assert joined.height == labels.height > 0
    assert joined.get_column(pc.SERIES).unique().to_list() == [contract.dataset]
    ts = contract.timestamp_name
    own = features.select(ts, *view.feature_names(contract.label_name))
    expected = labels.join(own, on=ts, how="left")
    names = view.feature_names(contract.label_name)
    assert joined.select(ts, *names).equals(expected.select(ts, *names))
    assert joined.select(view.passthrough).null_count().sum_horizontal().item() == 0
    assert sorted(set(joined.get_column(pc.PARTITION))) == list(window.partitions)


def test_a_frozen_keyless_version_reads_back_with_every_label_event(
    tmp_path, validated, features, contract, view, window
):
    validated_uri, features_uri = str(tmp_path / "validated"), str(tmp_path / "features")
    overwrite_partitions(validated_uri, validated, keyless_days(DAYS))
    overwrite_partitions(features_uri, features, keyless_days(DAYS))
    version, frame = freeze_training_set(
        contract,
        view,
        window,
        validated_uri=validated_uri,
        features_uri=features_uri,
        dataset_uri=str(tmp_path / "training"),
    )
    ts, delay = contract.timestamp_name, contract.label.delay
    in_window = validated.filter(pl.col(pc.PARTITION).is_in(window.partitions))
    # every event whose label is known by the as-of time (the last half hour's are not yet)
    expected_rows = in_window.filter(pl.col(ts) + delay <= window.as_of).height
    assert 0 <= in_window.height - expected_rows <= 3
    assert version.rows == frame.height == expected_rows
    assert version.features == view.feature_names(contract.label_name)
    back = read_version(str(tmp_path / "training"), version.version)
    assert back.height == expected_rows
    assert back.group_by(SPLIT).len().sort(SPLIT).to_dicts() == [
        {SPLIT: "holdout", "len": version.split_rows["holdout"]},
        {SPLIT: "train", "len": version.split_rows["train"]},
        {SPLIT: "validation", "len": version.split_rows["validation"]},
    ]
    assert back.filter(pl.col("price_lag_1").is_null()).height == 0  # no warm-up in the window
