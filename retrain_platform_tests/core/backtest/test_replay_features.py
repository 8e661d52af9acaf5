"""The replay serves the contract's feature view: computed in chunks exactly as in one pass, and
a view's windowed features change what the backtest measures (they are not ignored)."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
from polars.testing import assert_frame_equal

from retrain_platform.core import backtest as bt
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.backtest.history import build_history, view_features
from retrain_platform.core.models.training import TrainingOptions
from retrain_platform_tests.fixtures.keyless import keyless_contract, keyless_rows
from retrain_platform_tests.fixtures.models import with_policy

DAYS = 24
FAST = TrainingOptions(max_rounds=30, early_stopping_rounds=10, folds=2, num_threads=1)


def _prepared(contract) -> bt.PreparedSource:
    rows = keyless_rows(contract, DAYS)
    partitions = tuple(sorted(rows.get_column(pc.PARTITION).unique().to_list()))
    return bt.PreparedSource(rows, partitions, (), rows.height, 0, 0, 0)


def test_features_in_chunks_equal_one_pass():
    contract = keyless_contract()
    prepared = _prepared(contract)
    view = contract.feature_views[0]
    whole = view_features(prepared.rows, contract, view, prepared.partitions, chunk=DAYS)
    chunked = view_features(prepared.rows, contract, view, prepared.partitions, chunk=5)
    assert_frame_equal(whole, chunked)
    history = build_history(prepared, contract)
    assert {"price_mean_6ev", "demand_mean_1d", "price_lag_1"} <= set(history.features)


def test_a_views_windowed_features_change_the_backtest():
    contract = with_policy(
        keyless_contract(), window_partitions=8, validation_partitions=2, holdout_partitions=1
    )
    view = contract.feature_views[0]
    plain_view = replace(
        view,
        aggregates=(),
        label_aggregates=(),
        lags=(),
        combinations=(),
        encodings=(),
        time_since_previous=False,
    )
    plain = replace(contract, feature_views=(plain_view,))
    options = bt.BacktestOptions(training=FAST, workers=1)
    policies = bt.parse_policies(["never", "every:3"])
    rich = bt.run_backtest(_prepared(contract), contract, policies, options).per_partition()
    bare = bt.run_backtest(_prepared(plain), plain, policies, options).per_partition()
    assert rich.select("policy", "partition").equals(bare.select("policy", "partition"))
    assert not rich.get_column("roc_auc").equals(bare.get_column("roc_auc"))
    assert rich.filter(pl.col("policy") == "every:3").get_column("fit").sum() > 0
