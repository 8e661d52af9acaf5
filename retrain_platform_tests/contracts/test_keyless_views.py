"""Keyless feature views: a view with no entity keys is keyed by the series column, and a contract
with no feature views gets the default view of its own features. Loading only; no data."""

from pathlib import Path

import pytest

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, ContractError, load_contract
from retrain_platform.contracts.model import SERIES_DTYPE, SERIES_KEY
from retrain_platform.core import platform_columns as pc
from retrain_platform_tests.fixtures.contract_files import write_contract_variant
from retrain_platform_tests.fixtures.keyless import KEYLESS_CONTRACT_PATH, keyless_contract


def _write(tmp_path: Path, source: Path, mutate) -> Path:
    return write_contract_variant(tmp_path, mutate, source)


def test_the_series_column_is_a_platform_column_no_contract_can_declare(tmp_path):
    assert pc.SERIES == SERIES_KEY == "_series"
    path = _write(
        tmp_path,
        KEYLESS_CONTRACT_PATH,
        lambda raw: raw["features"].append({"name": SERIES_KEY, "dtype": "string"}),
    )
    with pytest.raises(ContractError, match="'_series' is not a valid column name"):
        load_contract(path)


def test_weather_gets_the_default_view_of_its_own_features(weather_contract):
    (view,) = weather_contract.feature_views
    assert view.name == "series"
    assert view.entity_keys == (SERIES_KEY,) and view.keyless
    assert view.feature_names(weather_contract.label_name) == weather_contract.feature_names
    assert weather_contract.view() == view
    key = weather_contract.key_column(SERIES_KEY)
    assert (key.name, key.dtype, key.nullable) == (SERIES_KEY, SERIES_DTYPE, False)
    assert weather_contract.series_value == "weather"
    with pytest.raises(KeyError, match="no column '_series'"):
        weather_contract.column(SERIES_KEY)  # not a contract column: only a view key


def test_a_view_with_no_entity_keys_is_one_series():
    contract = keyless_contract()
    assert contract.entity_keys == ()
    (view,) = contract.feature_views
    assert view.name == "price_history" and view.keyless
    assert "price_lag_1" in view.feature_names(contract.label_name)


def test_the_transactions_contract_keeps_its_keyed_view(contract):
    (view,) = contract.feature_views
    assert view.name == "card_history"
    assert view.entity_keys == ("card_id",) and not view.keyless


def test_a_keyed_contract_may_declare_a_series_view(tmp_path):
    def add_series_view(raw):
        raw["feature_views"].append(
            {
                "name": "all_cards",
                "entity_keys": [],
                "aggregates": [{"column": "amount", "functions": ["mean"], "windows": ["1h"]}],
            }
        )

    contract = load_contract(_write(tmp_path, DEFAULT_CONTRACT_PATH, add_series_view))
    keyed, series = contract.feature_views
    assert keyed.entity_keys == ("card_id",)
    assert series.keyless and contract.view("all_cards") == series


def test_a_keyed_contract_with_no_views_gets_a_default_view_per_entity(tmp_path):
    contract = load_contract(
        _write(tmp_path, DEFAULT_CONTRACT_PATH, lambda raw: raw.pop("feature_views"))
    )
    (view,) = contract.feature_views
    assert view.name == "series" and view.entity_keys == ("card_id",)
    assert list(view.passthrough) == contract.feature_names


@pytest.mark.parametrize(
    ("entity_keys", "message"),
    [
        (["meter_id"], r"feature_views\[price_history\]\.entity_keys: unknown column 'meter_id'"),
        ([SERIES_KEY], r"feature_views\[price_history\]\.entity_keys: unknown column '_series'"),
        ("price", r"feature_views\[price_history\]\.entity_keys: expected a list"),
    ],
)
def test_bad_view_keys_name_the_view(tmp_path, entity_keys, message):
    path = _write(
        tmp_path,
        KEYLESS_CONTRACT_PATH,
        lambda raw: raw["feature_views"][0].update(entity_keys=entity_keys),
    )
    with pytest.raises(ContractError, match=message):
        load_contract(path)
