"""Parse the `feature_views` section of a contract: declared point-in-time feature transforms.

Every name a view refers to is checked against the contract (or the view's own earlier outputs),
so a typo fails when the contract is loaded, not in the middle of a run; the label column may be
read only by the view's label section (`label_views`), which waits for `label.delay`. A view with
no entity keys (none declared, none in the contract) is keyed by the series column `SERIES_KEY`;
a contract with no feature views gets one, `DEFAULT_VIEW_NAME`, passing its features through.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from retrain_platform.contracts.feature_view_model import default_view
from retrain_platform.contracts.label_views import (
    check_label_reach,
    parse_label_aggregates,
    parse_label_lags,
    refuse_label,
)
from retrain_platform.contracts.model import (
    AGGREGATE_FUNCTIONS,
    ENCODINGS,
    SERIES_KEY,
    Aggregate,
    Column,
    Combination,
    Encoding,
    FeatureView,
    Label,
    Lag,
)
from retrain_platform.contracts.parsing import Reader, parse_duration
from retrain_platform.contracts.view_reading import (
    CLOSURES,
    NAME_PATTERN,
    read_choices,
    read_list,
    read_windows,
)


def parse_feature_views(
    reader: Reader,
    columns: dict[str, Column],
    label: Label,
    default_keys: tuple[str, ...],
    features: tuple[str, ...],
) -> tuple[FeatureView, ...]:
    """The contract's feature views; `features` are the contract's feature column names.

    With none declared, the one default view: the contract's features per event, keyed by the
    contract's entity keys (or by the series column when it declares none).
    """
    raw = reader.get("feature_views", [])
    if not isinstance(raw, list):
        reader.fail("expected a list of feature views", "feature_views")
    if not raw:
        return (default_view(default_keys, features),)
    views = tuple(
        _parse_view(
            Reader(reader.path, f"feature_views[{i}]", item), columns, label, default_keys, features
        )
        for i, item in enumerate(raw)
    )
    names = [view.name for view in views]
    if len(set(names)) != len(names):
        reader.fail("feature view names repeat", "feature_views")
    return views


def _parse_view(
    v: Reader,
    columns: dict[str, Column],
    label: Label,
    default_keys: tuple[str, ...],
    features: tuple[str, ...],
) -> FeatureView:
    """One feature view: its keys and closure, then each transform section in turn."""
    name = v.get("name", required=True)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        v.fail(f"{name!r} is not a valid view name", v.sub("name"))
    v.key = f"feature_views[{name}]"
    declared = v.get("entity_keys", list(default_keys))
    if not isinstance(declared, list):
        v.fail("expected a list of column names (or [] for one series)", v.sub("entity_keys"))
    for key in declared:
        if key == label.column.name:
            refuse_label(v, key, "an entity key", v.sub("entity_keys"))
        if key not in columns:
            v.fail(f"unknown column {key!r}", v.sub("entity_keys"))
    keys = tuple(declared) or (SERIES_KEY,)
    closure = v.get("window_closure", "before")
    if closure not in CLOSURES:
        v.fail(f"{closure!r} is not one of {', '.join(CLOSURES)}", v.sub("window_closure"))
    passthrough = tuple(v.get("passthrough", list(features)))
    for col in passthrough:
        if col == label.column.name:
            refuse_label(v, col, "passing it through", v.sub("passthrough"))
        if col not in features:
            v.fail(f"{col!r} is not a contract feature", v.sub("passthrough"))
    numeric = {n for n, c in columns.items() if c.is_numeric or c.dtype == "bool"}
    aggregates, spans = _parse_aggregates(v, numeric, label)
    label_aggregates, label_spans = parse_label_aggregates(v, label)
    spans += label_spans
    partial = FeatureView(
        name,
        keys,
        closure,
        timedelta(0),
        timedelta(0),
        passthrough,
        aggregates=aggregates,
        label_aggregates=label_aggregates,
        lags=_parse_lags(v, features, label),
        encodings=_parse_encodings(v, columns, label),
        time_since_previous=bool(v.get("time_since_previous", False)),
        label_lags=parse_label_lags(v),
    )
    available = set(columns) | set(partial.derived_names(label.column.name))
    combinations = _parse_combinations(v, available, label)
    lookback, ttl = _parse_lookback_and_ttl(v, spans)
    check_label_reach(v, label, lookback, label_aggregates, partial.label_lags)
    v.finish()
    return replace(partial, lookback=lookback, ttl=ttl, combinations=combinations)


def _parse_aggregates(
    v: Reader, numeric: set[str], label: Label
) -> tuple[tuple[Aggregate, ...], list[timedelta]]:
    """`aggregates`: functions of a contract column over windows; also the windows' spans.

    The label column is refused here: an aggregate would read labels before they are known
    (label features are declared under `label_aggregates`, which honour `label.delay`).
    """
    aggregates, spans = [], []
    for j, entry in enumerate(read_list(v, "aggregates")):
        a = Reader(v.path, f"{v.sub('aggregates')}[{j}]", entry)
        column = a.get("column", required=True)
        if column == label.column.name:
            refuse_label(a, column, "an aggregate", a.sub("column"))
        functions = read_choices(a, "functions", AGGREGATE_FUNCTIONS)
        if column not in numeric and set(functions) - {"count", "last"}:
            a.fail(f"{column!r} is not a numeric contract column", a.sub("column"))
        windows = read_windows(a)
        a.finish()
        aggregates.append(Aggregate(column, functions, windows))
        spans += [w.duration for w in windows if w.duration]
    return tuple(aggregates), spans


def _parse_lags(v: Reader, features: tuple[str, ...], label: Label) -> tuple[Lag, ...]:
    """`lags`: a contract feature's value k events earlier."""
    lags = []
    for j, entry in enumerate(read_list(v, "lags")):
        a = Reader(v.path, f"{v.sub('lags')}[{j}]", entry)
        column = a.get("column", required=True)
        if column == label.column.name:
            refuse_label(a, column, "a lag", a.sub("column"))
        if column not in features:
            a.fail(f"{column!r} is not a contract feature", a.sub("column"))
        values = read_list(a, "lags", required=True)
        if not all(isinstance(k, int) and k >= 1 for k in values):
            a.fail("lags are whole numbers of earlier events, 1 or more", a.sub("lags"))
        a.finish()
        lags.append(Lag(column, tuple(values)))
    return tuple(lags)


def _parse_encodings(v: Reader, columns: dict[str, Column], label: Label) -> tuple[Encoding, ...]:
    """`encodings`: ordinal or one-hot codes of a column with categories (never the label)."""
    encodings = []
    for j, entry in enumerate(read_list(v, "encodings")):
        a = Reader(v.path, f"{v.sub('encodings')}[{j}]", entry)
        column = a.get("column", required=True)
        if column == label.column.name:
            refuse_label(a, column, "an encoding", a.sub("column"))
        kind = a.get("kind", "ordinal")
        if column not in columns or columns[column].categories is None:
            a.fail(f"{column!r} is not a contract column with categories", a.sub("column"))
        if kind not in ENCODINGS:
            a.fail(f"unknown encoding {kind!r} (one of: {', '.join(ENCODINGS)})", a.sub("kind"))
        a.finish()
        encodings.append(Encoding(column, kind, columns[column].categories or ()))
    return tuple(encodings)


def _parse_combinations(v: Reader, available: set[str], label: Label) -> tuple[Combination, ...]:
    """`ratios` and `differences` of two columns known to the view (never the label)."""
    combinations = []
    for kind in ("ratios", "differences"):
        for j, entry in enumerate(read_list(v, kind)):
            a = Reader(v.path, f"{v.sub(kind)}[{j}]", entry)
            out = a.get("name", required=True)
            if not isinstance(out, str) or not NAME_PATTERN.match(out) or out in available:
                a.fail(f"{out!r} is not a new, valid column name", a.sub("name"))
            sides = ("numerator", "denominator") if kind == "ratios" else ("left", "right")
            left, right = (a.get(side, required=True) for side in sides)
            what = "a ratio" if kind == "ratios" else "a difference"
            for side, col in zip(sides, (left, right), strict=True):
                if col == label.column.name:
                    refuse_label(a, col, what, a.sub(side))
                if col not in available:
                    a.fail(f"unknown column {col!r}", a.sub(side))
            a.finish()
            combinations.append(
                Combination(out, "ratio" if kind == "ratios" else "difference", left, right)
            )
            available.add(out)
    return tuple(combinations)


def _parse_lookback_and_ttl(v: Reader, spans: list[timedelta]) -> tuple[timedelta, timedelta]:
    """History a view reads (at least its longest window) and how long its values stay valid."""
    lookback_raw = v.get("lookback")
    lookback = (
        parse_duration(lookback_raw, path=v.path, key=v.sub("lookback"))
        if lookback_raw
        else max(spans, default=timedelta(days=1))
    )
    if spans and lookback < max(spans):
        v.fail(
            f"lookback {lookback} is shorter than the longest window {max(spans)}",
            v.sub("lookback"),
        )
    ttl_raw = v.get("ttl")
    ttl = parse_duration(ttl_raw, path=v.path, key=v.sub("ttl")) if ttl_raw else lookback
    return lookback, ttl
