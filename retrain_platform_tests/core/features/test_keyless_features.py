"""Features of a keyless view: the whole dataset is one series, keyed by the series column.

Pure functions on synthetic rows of the keyless test contract (no Dagster, no lake): lags and
event-count windows run over the whole series in event order, across partition boundaries;
known-label features only count labels already known; a partition computed on its own equals
the same partition computed with everything.
"""

from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.features.transforms import (
    build_features,
    feature_columns,
    with_view_keys,
)
from retrain_platform_tests.fixtures.keyless import keyless_contract, keyless_days, keyless_rows

DAYS = 4


@pytest.fixture(scope="module")
def contract():
    return keyless_contract()


@pytest.fixture(scope="module")
def view(contract):
    return contract.view()


@pytest.fixture(scope="module")
def validated(contract):
    return keyless_rows(contract, DAYS)


@pytest.fixture(scope="module")
def features(validated, contract, view):
    return build_features(validated, contract, view)


def test_every_row_carries_the_series_key(features, contract, view, validated):
    assert list(feature_columns(contract, view))[0] == pc.SERIES
    assert features.schema[pc.SERIES] == pl.String
    assert features.get_column(pc.SERIES).unique().to_list() == [contract.dataset]
    assert features.height == validated.height
    keyed = with_view_keys(validated, contract, view)
    assert keyed.get_column(pc.SERIES).unique().to_list() == [contract.dataset]
    assert with_view_keys(keyed, contract, view).columns == keyed.columns  # added once


def test_lags_are_the_previous_events_of_the_whole_series(features, contract):
    ts = contract.timestamp_name
    ordered = features.sort(ts)
    assert ordered.get_column(ts).is_unique().all()
    expected = ordered.select(
        pl.col("price").shift(1).alias("price_lag_1"),
        pl.col("price").shift(2).alias("price_lag_2"),
        pl.col("demand").shift(1).alias("demand_lag_1"),
    )
    assert_frame_equal(ordered.select(expected.columns), expected)
    # across each day boundary the lag is the day before's last event, not a warm-up null
    first_of_day = ordered.with_row_index("i").group_by(pc.PARTITION).agg(pl.col("i").min())
    later_days = first_of_day.filter(pl.col("i") > 0).get_column("i").to_list()
    assert len(later_days) == DAYS - 1
    for i in later_days:
        assert ordered["price_lag_1"][i] == ordered["price"][i - 1]
    assert ordered["price_lag_1"].null_count() == 1  # only the series' very first event


def test_event_windows_run_over_the_series_before_each_event(features, contract):
    ordered = features.sort(contract.timestamp_name)
    prices = ordered.get_column("price").to_list()
    for i in (1, 5, 6, 7, 48, 49, len(prices) - 1):
        earlier = prices[max(0, i - 6) : i]
        assert ordered["price_mean_6ev"][i] == pytest.approx(sum(earlier) / len(earlier))
        assert ordered["price_max_6ev"][i] == max(earlier)
    assert ordered["price_mean_6ev"][0] is None
    gaps = ordered.get_column(contract.timestamp_name).diff().dt.total_seconds(fractional=True)
    assert ordered["seconds_since_previous"].to_list()[1:] == gaps.to_list()[1:]


def test_label_features_count_only_labels_known_at_each_event(features, contract):
    """(That no feature reads a label not yet known is `test_label_leakage.py`, every contract.)"""
    ts, delay = contract.timestamp_name, contract.label.delay
    ordered = features.sort(ts)
    stamps = ordered.get_column(ts).to_list()
    for t, counted in zip(stamps, ordered.get_column("up_count_1d").to_list(), strict=True):
        known = sum(1 for s in stamps if t - timedelta(days=1) <= s <= t - delay)
        assert counted == known
    assert ordered["up_count_1d"].max() > 40  # a day's known labels, over the whole series


def test_a_partition_alone_equals_the_partition_computed_with_everything(
    validated, features, contract, view
):
    days = keyless_days(DAYS)
    day = days[2]
    history = validated.filter(pl.col(pc.PARTITION).is_in(days[1:3]))
    alone = build_features(history, contract, view, [day])
    assert_frame_equal(alone, features.filter(pl.col(pc.PARTITION) == day))
