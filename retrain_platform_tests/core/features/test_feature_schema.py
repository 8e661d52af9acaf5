"""The features' Pandera schema, derived from the contract and view, passes real features and
catches each kind of defect: a rate of 1.5, a negative count, a wrong dtype, a one-hot 2, a mean
outside its column's range, a null where none may be, and (one series) a null after the warm-up.
"""

from dataclasses import replace
from datetime import date, timedelta

import polars as pl
import pytest

from retrain_platform.core.features.schema import (
    NO_NULLS_AFTER_WARM_UP,
    feature_rules,
    feature_schema,
    schema_problems,
    split_problems,
    warm_up_columns,
)
from retrain_platform.core.features.transforms import build_features
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.synthetic import generate_day
from retrain_platform_tests.fixtures.keyless import keyless_contract, keyless_rows


@pytest.fixture(scope="module")
def view(contract):
    return contract.feature_views[0]


@pytest.fixture(scope="module")
def features(contract, view) -> pl.DataFrame:
    frames = []
    for i in range(3):
        day = generate_day(contract, date(2026, 3, 1) + timedelta(days=i), rows=300, seed=7)
        file = LandingFile(f"d{i}.parquet", None, 1, i)  # type: ignore[arg-type]
        frames.append(conform_file(day, file, contract).rows)
    return build_features(pl.concat(frames), contract, view)


def _kinds(contract, view) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for name, rule in feature_rules(contract, view).items():
        kinds.setdefault(rule.kind, []).append(name)
    return kinds


def _failed(frame, schema) -> set[tuple[str, str]]:
    return {(p.column, p.check.split("(")[0]) for p in schema_problems(frame, schema)}


def test_real_features_pass_and_every_output_column_has_a_rule(features, contract, view):
    rules = feature_rules(contract, view)
    assert set(rules) == set(features.columns)
    kinds = _kinds(contract, view)
    # the view declares each of these function kinds (see transactions.yaml)
    assert {"count", "rate", "mean", "std", "lag", "one_hot", "ordinal", "ratio"} <= set(kinds)
    assert schema_problems(features, feature_schema(contract, view)) == []


def test_each_defect_is_caught_by_its_derived_check(features, contract, view):
    schema = feature_schema(contract, view)
    kinds = _kinds(contract, view)
    rate, count, one_hot = kinds["rate"][0], kinds["count"][0], kinds["one_hot"][0]
    mean = next(n for n in kinds["mean"] if n.startswith("amount_"))
    first = pl.int_range(pl.len()) == 0
    bad = features.with_columns(
        pl.when(first).then(1.5).otherwise(pl.col(rate)).alias(rate),
        pl.when(first).then(-1).otherwise(pl.col(count)).alias(count),
        pl.when(first).then(2).otherwise(pl.col(one_hot)).cast(pl.Int8).alias(one_hot),
        pl.when(first).then(60_000.0).otherwise(pl.col(mean)).alias(mean),
        pl.when(first).then(None).otherwise(pl.col("amount")).alias("amount"),
    )
    failed = _failed(bad, schema)
    assert {
        (rate, "less_than_or_equal_to"),
        (count, "greater_than_or_equal_to"),
        (one_hot, "isin"),
        (mean, "less_than_or_equal_to"),
        ("amount", "not_nullable"),
    } <= failed
    # an aggregate that needs earlier events may be null (an entity's first event)
    nulls = features.with_columns(pl.lit(None, pl.Float64).alias(mean))
    assert _failed(nulls, schema) == set()
    wrong_dtype = features.with_columns(pl.col(count).cast(pl.Float64))
    assert any(column == count for column, _ in _failed(wrong_dtype, schema))


def test_one_series_history_columns_may_be_null_only_in_the_warm_up(contract, view):
    # an entity view has no such rule: a new entity's first event may come at any time
    assert warm_up_columns(view, feature_rules(contract, view)) == []
    contract = keyless_contract()
    view = contract.view()
    features = build_features(keyless_rows(contract, 4), contract, view)
    ts = contract.timestamp_name
    late = warm_up_columns(view, feature_rules(contract, view))
    assert "price_lag_1" in late
    warm_up_end = features.get_column(ts).min() + view.lookback
    schema = feature_schema(contract, view, warm_up_end=warm_up_end)
    assert schema_problems(features, schema) == []
    # the first rows (inside the warm-up) have null lags; one null after it is a problem
    in_warm_up = features.filter(pl.col(ts) < warm_up_end)
    assert in_warm_up.get_column("price_lag_1").null_count() >= 1
    last = pl.col(ts) == pl.col(ts).max()
    late_null = features.with_columns(
        pl.when(last).then(None).otherwise(pl.col("price_lag_1")).alias("price_lag_1")
    )
    wrong, warm = split_problems(schema_problems(late_null, schema))
    assert wrong == [] and [(p.check, p.rows) for p in warm] == [(NO_NULLS_AFTER_WARM_UP, 1)]


def test_a_label_lag_is_one_of_the_label_categories(contract, view):
    lagged = replace(view, label_lags=(1,))
    name = f"{contract.label_name}_lag_1"
    rule = feature_rules(contract, lagged)[name]
    assert rule.categories == contract.label.column.categories
    assert rule.needs_history
