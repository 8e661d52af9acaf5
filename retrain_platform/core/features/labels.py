"""Label features of a feature view: aggregates and lags of the labels known at each event.

The label of an event at s becomes known at s + `label.delay`, so at an event at t the known
labels are those of the entity's events with s <= t - delay (and s < t, which only matters with
no delay: an event's own label, or one at the same instant, is what is being predicted). The
view's window closure does not apply here: it says whether an aggregate sees the event's own
features, and a label is never seen before it is known.

- `<label>_count_<w>` / `_rate_<w>` / `_last_<w>`: the number of known labels, the share that
  are the positive class, and the most recent known label, among the events in [t - w, t - delay]
  for a time window w, or among the last n known labels for an `n events` window;
- `<label>_lag_<k>`: the k-th most recent known label (`_lag_1` on a half-hourly series with a
  30 minute delay is the previous event's label).

Event windows and lags read as far back as the view's lookback. Missing labels are not known
labels: they are skipped.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.dtypes import polars_dtype
from retrain_platform.contracts.model import FeatureView


def _duration(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() * 1_000_000)}us"


def label_feature_columns(contract: DatasetContract, view: FeatureView) -> dict[str, pl.DataType]:
    """Name and dtype of each label feature, in `view.label_output_names` order."""
    label, dtype = contract.label_name, polars_dtype(contract.label.column.dtype)
    by_function = {"count": pl.Int64(), "rate": pl.Float64(), "last": dtype}
    schema: dict[str, pl.DataType] = {}
    for spec in view.label_aggregates:
        for window in spec.windows:
            for function in spec.functions:
                schema[f"{label}_{function}_{window.suffix}"] = by_function[function]
    for k in view.label_lags:
        schema[f"{label}_lag_{k}"] = dtype
    return schema


def _label_expr(contract: DatasetContract, function: str, events: int | None) -> pl.Expr:
    """`function` of the known labels in a window (the last `events` of them when set)."""
    known = pl.col(contract.label_name).drop_nulls()
    if events is not None:
        known = known.tail(events)
    if function == "count":
        return known.len().cast(pl.Int64)
    if function == "last":
        return known.last()
    return (known == contract.label.positive).cast(pl.Float64).mean()


def _known_labels(
    frame: pl.DataFrame,
    contract: DatasetContract,
    view: FeatureView,
    ts: str,
    span: timedelta,
    exprs: list[pl.Expr],
) -> pl.DataFrame:
    """`exprs` over the labels known at each event among the events of the `span` before it."""
    delay = contract.label.delay
    if span <= delay:
        msg = f"{contract.source_path}: label window {span} is not longer than the label delay"
        raise ValueError(msg)
    rolled = frame.rolling(
        index_column=ts,
        period=_duration(span - delay),
        offset=_duration(-span),
        closed="both" if delay > timedelta(0) else "left",
        group_by=list(view.entity_keys),
    ).agg(exprs)
    return rolled.drop([*view.entity_keys, ts])


def label_features(
    frame: pl.DataFrame, contract: DatasetContract, view: FeatureView, ts: str
) -> list[pl.DataFrame]:
    """One frame per window span, one row per row of `frame` (sorted by keys and time)."""
    label = contract.label_name
    by_span: dict[timedelta, list[pl.Expr]] = {}
    for spec in view.label_aggregates:
        for window in spec.windows:
            by_span.setdefault(window.duration or view.lookback, []).extend(
                _label_expr(contract, function, window.events).alias(
                    f"{label}_{function}_{window.suffix}"
                )
                for function in spec.functions
            )
    known = pl.col(label).drop_nulls()
    by_span.setdefault(view.lookback, []).extend(
        pl.when(pl.col(label).count() >= k).then(known.tail(k).first()).alias(f"{label}_lag_{k}")
        for k in view.label_lags
    )
    return [
        _known_labels(frame, contract, view, ts, span, exprs)
        for span, exprs in by_span.items()
        if exprs
    ]
