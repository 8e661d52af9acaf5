"""Weather, a contract with no entity keys and no feature views, runs the whole graph.

The shipped contract gets the default view `series` (its own features, keyed by the series
column), so every layer is built for it. Three years of monthly partitions of the real
../shared/data/weather.csv run through the Dagster jobs on a real instance: ingest, validation,
the Feast registry, features and online store, a training-set version, the retrain job to a
deployed champion, then drift and live performance of a month. Does not serve the model.
"""

import dagster as dg
import polars as pl
import pytest

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.training_set import read_version
from retrain_platform.core.features.transforms import feature_table_name
from retrain_platform.core.lake import read_partitions, table_uri
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform_tests.fixtures.graph import (
    asset_keys,
    featurize,
    freeze_training_set,
    ingest_and_validate,
    retrain,
)

pytestmark = pytest.mark.slow
MONTHS = [f"{year}-{month:02d}-01" for year in (1958, 1959, 1960) for month in range(1, 13)]


def test_every_layer_is_built_for_weather(weather_contract, home):
    defs = build_definitions([weather_contract], home)
    assert asset_keys(defs) == {
        "landing/weather",
        "raw/weather",
        "validated/weather",
        "validated/weather_quarantine",
        "features/weather_series",
        "features/weather_series_online",
        "features/weather_registry",
        "datasets/weather_training",
        "models/weather_candidate",
        "models/weather_registered",
        "deployment/weather",
        "monitoring/weather_drift",
        "monitoring/weather_performance",
    }
    key = dg.AssetKey.from_user_string("features/weather_series")
    schema = defs.resolve_assets_def(key).metadata_by_key[key]["dagster/column_schema"]
    roles = {column.name: column.tags["role"] for column in schema.columns}
    assert roles[pc.SERIES] == "entity" and roles["feat_1"] == "input"


def test_three_years_of_weather_run_to_a_champion(weather_contract, weather_csv, home, instance):
    contract = weather_contract
    landing = home.landing_root / contract.dataset
    landing.mkdir(parents=True)
    (landing / "weather.csv").write_bytes(weather_csv.read_bytes())
    defs = build_definitions([contract], home)
    ingest_and_validate(defs, contract, instance, MONTHS)
    featurize(defs, contract, instance, MONTHS)

    view = contract.view()
    ts = contract.timestamp_name
    features = read_partitions(
        table_uri(home.lake_uri, keys.FEATURES, feature_table_name(contract, view))
    )
    validated = read_partitions(table_uri(home.lake_uri, keys.VALIDATED, contract.dataset))
    assert features.height == validated.height > 1000
    assert features.get_column(pc.PARTITION).n_unique() == len(MONTHS)
    assert features.get_column(pc.SERIES).unique().to_list() == ["weather"]

    meta = freeze_training_set(defs, contract, instance, window_partitions=30)
    assert (meta["window_start"], meta["window_end"]) == (MONTHS[-30], MONTHS[-1])
    frame = read_version(f"{home.lake_uri}/datasets/{contract.dataset}_training", 0)
    labelled = validated.filter(pl.col(pc.PARTITION).is_in(MONTHS[-30:]))
    # events are at midnight and labelled a day later: the last one is known at the as-of time
    assert frame.height == meta["rows"] == labelled.height
    names = contract.feature_names
    assert frame.select(ts, *names).sort(ts).equals(labelled.select(ts, *names).sort(ts))

    deployed = retrain(defs, contract, instance, window_partitions=30)
    assert deployed["deployment/weather"]["champion_version"] == 1
    assert deployed["deployment/weather"]["promoted"] is True

    everything = defs.resolve_implicit_global_asset_job_def()
    for key in ("monitoring/weather_drift", "monitoring/weather_performance"):
        run = everything.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey.from_user_string(key)],
            partition_key=MONTHS[-1],
        )
        assert run.success, key
        (event,) = run.get_asset_materialization_events()
        assert event.materialization.metadata["champion_version"].value == 1
