"""A keyless series runs the graph from its contract alone: raw to a deployed champion.

The keyless test contract (one half-hourly market series, no entity keys) lands seeded synthetic
days in a temporary home; its Dagster jobs run on a real instance: ingest, validation, the Feast
registry, features and online store, a training-set version, then the retrain job (candidate,
gate, registered, deployment). Features must be one series (a lag is the previous event of the
whole dataset) and the training set must give every label event its own event's features.
Does not serve the model (serving is tested on its own).
"""

from datetime import datetime

import polars as pl
import pytest

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.training_set import read_version
from retrain_platform.core.features.transforms import feature_table_name
from retrain_platform.core.lake import read_partitions, table_uri
from retrain_platform.core.synthetic import write_landing_files
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform.resources.feast import FeastResource
from retrain_platform_tests.fixtures.graph import (
    asset_keys,
    featurize,
    freeze_training_set,
    ingest_and_validate,
    retrain,
)
from retrain_platform_tests.fixtures.keyless import (
    FIRST_DAY,
    ROWS_PER_DAY,
    keyless_contract,
    keyless_days,
)

pytestmark = pytest.mark.slow
DAYS = 16


@pytest.fixture
def contract():
    return keyless_contract()


def test_every_layer_is_built_for_a_keyless_contract(contract, home):
    defs = build_definitions([contract], home)
    assert asset_keys(defs) == {
        "landing/market_landing",
        "raw/market_raw",
        "validated/market_validated",
        "validated/market_quarantine",
        "features/market_price_history",
        "features/market_price_history_live",
        "features/market_registry",
        "datasets/market_training",
        "models/market_candidate",
        "models/market_registered",
        "deployment/market_champion",
        "monitoring/market_drift",
        "monitoring/market_performance",
        "monitoring/market_policy_backtest",
    }


def test_a_keyless_series_runs_from_landing_to_a_champion(contract, home, instance):
    write_landing_files(
        contract,
        home.landing_root / contract.dataset,
        start=FIRST_DAY,
        days=DAYS,
        rows_per_day=ROWS_PER_DAY,
        seed=3,
    )
    defs = build_definitions([contract], home)
    days = keyless_days(DAYS)
    ingest_and_validate(defs, contract, instance, days)
    featurize(defs, contract, instance, days)

    view = contract.view()
    ts = contract.timestamp_name
    features = read_partitions(
        table_uri(home.lake_uri, keys.FEATURES, feature_table_name(contract, view))
    ).sort(ts)
    validated = read_partitions(table_uri(home.lake_uri, keys.VALIDATED, contract.dataset))
    assert features.height == validated.height
    assert features.get_column(pc.PARTITION).n_unique() == DAYS
    assert features.get_column(pc.SERIES).unique().to_list() == [contract.dataset]
    previous = features.get_column("price").shift(1)
    assert features.get_column("price_lag_1").equals(previous, null_equal=True)
    # the series' newest row is online under the series key
    online = FeastResource().online_features(contract, view, [{pc.SERIES: contract.dataset}])
    assert online["price"] == [features.get_column("price")[-1]]

    meta = freeze_training_set(
        defs, contract, instance, window_partitions=DAYS - 2, holdout_partitions=2
    )
    frame = read_version(f"{home.lake_uri}/datasets/{contract.dataset}_training", 0)
    window = days[2:]  # the newest DAYS - 2 partitions
    assert (meta["window_start"], meta["window_end"]) == (window[0], window[-1])
    # labels are known 30 minutes late: the last half hour before the as-of time is left out
    as_of = datetime.fromisoformat(meta["as_of"])
    labelled = validated.filter(
        pl.col(pc.PARTITION).is_in(window) & (pl.col(ts) + contract.label.delay <= as_of)
    )
    assert frame.height == meta["rows"] == labelled.height
    own = features.select(ts, *view.feature_names(contract.label_name))
    names = view.feature_names(contract.label_name)
    assert (
        frame.sort(ts)
        .select(ts, *names)
        .equals(labelled.select(ts).join(own, on=ts).sort(ts), null_equal=True)
    )

    deployed = retrain(defs, contract, instance, window_partitions=DAYS - 2)
    assert deployed["models/market_candidate"]["model_version"] == 1
    assert deployed["deployment/market_champion"]["champion_version"] == 1
    assert deployed["deployment/market_champion"]["promoted"] is True
    assert deployed["datasets/market_training"]["rows"] == labelled.height
