"""Point-in-time feature transforms declared by a contract's feature views.

Each output row describes one event as it was known at its own time: the event's contract
features, aggregates over the same entity's events in time or event-count windows, features of
the labels already known (`labels`: the contract's label delay), lags, the time since the
previous event, encodings and ratios.

The view's window closure applies to aggregates only: with "before" a window holds the entity's
events strictly before the event's time (never the event itself nor any event at the same
instant); with "including" it also holds the event itself and every event at the same instant.
Lags and the time since the previous event always look at strictly earlier events (`_lag_1` is
never the event itself), and label features always wait for the label delay.

A view with no entity keys is keyed by the series column (`platform_columns.SERIES`, the dataset's
name in every row): its windows and lags run over the whole dataset in event order.

Every window is bounded by the view's lookback, so a partition's features depend only on the
events of the lookback before it: computing one partition at a time or all at once gives the
same values.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.dtypes import polars_dtype
from retrain_platform.contracts.model import FeatureView
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.features.labels import label_feature_columns, label_features

_ROW = "__row"


def feature_table_name(contract: DatasetContract, view: FeatureView) -> str:
    """Name of a view's table and asset: `<dataset>_<view>`."""
    return f"{contract.dataset}_{view.name}"


def with_view_keys(
    frame: pl.DataFrame, contract: DatasetContract, view: FeatureView
) -> pl.DataFrame:
    """`frame` with the view's key columns: the series column is added for a keyless view."""
    if not view.keyless or pc.SERIES in frame.columns:
        return frame
    return frame.with_columns(pl.lit(contract.series_value, pl.String).alias(pc.SERIES))


def _duration(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() * 1_000_000)}us"


def _closed(view: FeatureView) -> str:
    """The aggregates' window edges: `[t - w, t)` ("before") or `[t - w, t]` ("including")."""
    return "left" if view.closure == "before" else "both"


def _aggregate(column: str, function: str, events: int | None) -> pl.Expr:
    value = pl.col(column).cast(pl.Float64) if function not in ("count", "last") else pl.col(column)
    if events is not None:
        value = value.tail(events)
    if function == "count":
        return value.count().cast(pl.Int64)
    if function == "last":
        return value.last()
    return getattr(value, function)().cast(pl.Float64)


def _rolling(
    frame: pl.DataFrame,
    view: FeatureView,
    ts: str,
    period: timedelta,
    exprs: list[pl.Expr],
    closed: str,
) -> pl.DataFrame:
    """One row per input row: `exprs` over the entity's events in the window before each event."""
    rolled = frame.rolling(
        index_column=ts,
        period=_duration(period),
        closed=closed,  # type: ignore[arg-type]  # one of polars' ClosedInterval words
        group_by=list(view.entity_keys),
    ).agg(exprs)
    return rolled.drop([*view.entity_keys, ts])


def _window_features(frame: pl.DataFrame, view: FeatureView, ts: str) -> list[pl.DataFrame]:
    """Aggregates (edges by the view's closure), then lags and the previous event's time (always
    strictly earlier events), grouped into one rolling pass per window span and edge."""
    by_period: dict[tuple[timedelta, str], list[pl.Expr]] = {}
    for aggregate in view.aggregates:
        for window in aggregate.windows:
            period = window.duration or view.lookback
            by_period.setdefault((period, _closed(view)), []).extend(
                _aggregate(aggregate.column, f, window.events).alias(
                    f"{aggregate.column}_{f}_{window.suffix}"
                )
                for f in aggregate.functions
            )
    history: list[pl.Expr] = []
    for lag in view.lags:
        history += [
            pl.when(pl.len() >= k)
            .then(pl.col(lag.column).tail(k).first())
            .alias(f"{lag.column}_lag_{k}")
            for k in lag.lags
        ]
    if view.time_since_previous:
        history.append(pl.col(f"{ts}__prev").last().alias("__prev_ts"))
    if history:
        by_period.setdefault((view.lookback, "left"), []).extend(history)
    return [
        _rolling(frame, view, ts, period, exprs, closed)
        for (period, closed), exprs in by_period.items()
    ]


def build_features(
    validated: pl.DataFrame,
    contract: DatasetContract,
    view: FeatureView,
    partitions: list[str] | None = None,
) -> pl.DataFrame:
    """Features of the events of `partitions` (all when None), from `validated` rows that must
    include the view's lookback before them."""
    ts = contract.timestamp_name
    keys = list(view.entity_keys)
    keyed = with_view_keys(validated, contract, view)
    order = [*keys, ts, pc.INGESTED_AT, pc.SOURCE_FILE, pc.SOURCE_ROW]
    order = [c for c in order if c in keyed.columns]
    frame = keyed.sort(order).with_row_index(_ROW)
    if view.time_since_previous:
        frame = frame.with_columns(pl.col(ts).alias(f"{ts}__prev"))
    parts = [frame, *_window_features(frame, view, ts), *label_features(frame, contract, view, ts)]
    out = pl.concat(parts, how="horizontal")
    if view.time_since_previous:
        seconds = (pl.col(ts) - pl.col("__prev_ts")).dt.total_microseconds() / 1_000_000
        out = out.with_columns(seconds.alias(view.time_since_previous_name))
    for encoding in view.encodings:
        if encoding.kind == "ordinal":
            out = out.with_columns(
                pl.col(encoding.column)
                .replace_strict(
                    list(encoding.categories),
                    list(range(len(encoding.categories))),
                    default=None,
                    return_dtype=pl.Int32,
                )
                .alias(f"{encoding.column}_code")
            )
        else:
            out = out.with_columns(
                (pl.col(encoding.column) == c).cast(pl.Int8).alias(f"{encoding.column}__{c}")
                for c in encoding.categories
            )
    for combo in view.combinations:
        left, right = pl.col(combo.left).cast(pl.Float64), pl.col(combo.right).cast(pl.Float64)
        value = pl.when(right != 0).then(left / right) if combo.kind == "ratio" else left - right
        out = out.with_columns(value.alias(combo.name))
    if partitions is not None:
        out = out.filter(pl.col(pc.PARTITION).is_in(partitions))
    columns = feature_columns(contract, view)
    return out.sort(_ROW).select(list(columns)).cast(columns)  # type: ignore[arg-type]


def feature_columns(contract: DatasetContract, view: FeatureView) -> dict[str, pl.DataType]:
    """Schema of a view's table: entity keys, event timestamp, identifiers, features, partition."""
    schema: dict[str, pl.DataType] = {}
    for name in (
        *view.entity_keys,
        contract.timestamp_name,
        *(c.name for c in contract.identifiers),
    ):
        schema[name] = polars_dtype(contract.key_column(name).dtype)
    for name in view.passthrough:
        schema[name] = polars_dtype(contract.column(name).dtype)
    for aggregate in view.aggregates:
        for window in aggregate.windows:
            for function in aggregate.functions:
                name = f"{aggregate.column}_{function}_{window.suffix}"
                source = polars_dtype(contract.column(aggregate.column).dtype)
                schema[name] = (
                    pl.Int64()
                    if function == "count"
                    else source
                    if function == "last"
                    else pl.Float64()
                )
    schema |= label_feature_columns(contract, view)
    for lag in view.lags:
        for name in lag.output_names():
            schema[name] = polars_dtype(contract.column(lag.column).dtype)
    if view.time_since_previous:
        schema[view.time_since_previous_name] = pl.Float64()
    for encoding in view.encodings:
        for name in encoding.output_names():
            schema[name] = pl.Int32() if encoding.kind == "ordinal" else pl.Int8()
    for combo in view.combinations:
        schema[combo.name] = pl.Float64()
    schema[pc.PARTITION] = pl.String()
    return schema
