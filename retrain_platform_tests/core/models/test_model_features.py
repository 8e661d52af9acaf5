"""The model's feature list: numeric and boolean view columns in contract order, no raw strings."""

import polars as pl

from retrain_platform.core.models.inputs import feature_matrix, model_feature_names


def test_string_columns_are_replaced_by_their_encodings(contract):
    view = contract.feature_views[0]
    names = model_feature_names(contract, view)
    assert {"merchant_category", "channel", "channel_lag_1"}.isdisjoint(names)
    assert {"merchant_category_code", "channel__pos", "channel__atm", "is_international"} <= set(
        names
    )
    every = view.feature_names(contract.label_name)
    assert names == [n for n in every if n in names]  # the view's order
    assert names[0] == contract.feature_names[0]


def test_every_model_feature_is_numeric_in_the_built_features(contract, features_frame):
    names = model_feature_names(contract, contract.feature_views[0])
    dtypes = features_frame.select(names).schema
    assert all(d.is_numeric() or d == pl.Boolean() for d in dtypes.values())
    matrix = feature_matrix(features_frame, names)
    assert matrix.shape == (features_frame.height, len(names))
    assert matrix.dtype.kind == "f"
