"""The model's inputs, derived from the contract and a feature view, and their numeric matrix.

LightGBM takes numbers only, so raw string columns of the view (categories passed through, lags
of string columns) are left out: the view's ordinal code and one-hot columns carry them. The
order is the view's order (contract features first), so a model's input never depends on how a
frame's columns happen to be arranged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core.features.transforms import feature_columns


def _is_model_input(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype == pl.Boolean()


def model_feature_names(contract: DatasetContract, view: FeatureView) -> list[str]:
    """Return the view's numeric and boolean feature columns, in the view's order."""
    schema = feature_columns(contract, view)
    return [
        name for name in view.feature_names(contract.label_name) if _is_model_input(schema[name])
    ]


def feature_matrix(frame: pl.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Return the features as a float64 matrix, columns in `features` order, nulls as NaN."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        msg = f"the frame lacks model feature(s) {missing}"
        raise KeyError(msg)
    return (
        frame.select([pl.col(name).cast(pl.Float64) for name in features])
        .to_numpy()
        .astype(np.float64, copy=False)
    )


def label_vector(frame: pl.DataFrame, contract: DatasetContract) -> np.ndarray:
    """Return 1 where the label is the contract's positive class, else 0."""
    label = frame.get_column(contract.label_name)
    return (label == contract.label.positive).fill_null(False).cast(pl.Int8).to_numpy()


def stable_order(frame: pl.DataFrame, contract: DatasetContract) -> pl.DataFrame:
    """Sort rows by event time and then the contract's keys, so a training set read back from
    storage feeds the learner in the same order every time (a condition of reproducibility)."""
    keys = [contract.timestamp_name, *contract.primary_key, *contract.entity_key_names]
    present = list(dict.fromkeys(k for k in keys if k in frame.columns))
    return frame.sort(present, maintain_order=True)
