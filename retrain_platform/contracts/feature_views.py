"""Parse the `feature_views` section of a contract: declared point-in-time feature transforms.

Every name a view refers to is checked against the contract (or the view's own earlier outputs),
so a typo fails when the contract is loaded, not in the middle of a run.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from retrain_platform.contracts.model import (
    AGGREGATE_FUNCTIONS,
    ENCODINGS,
    LABEL_FUNCTIONS,
    Aggregate,
    Column,
    Combination,
    Encoding,
    FeatureView,
    Label,
    LabelAggregate,
    Lag,
    Window,
)

if TYPE_CHECKING:
    from retrain_platform.contracts.loader import _Reader

_EVENTS = re.compile(r"^(\d+)\s*(ev|events?)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
CLOSURES = ("before", "including")


def parse_window(reader: _Reader, key: str, text: Any) -> Window:
    from retrain_platform.contracts.loader import ContractError, parse_duration

    raw = str(text).strip()
    match = _EVENTS.match(raw)
    if match:
        count = int(match.group(1))
        if count < 1:
            reader.fail("an event window needs at least 1 event", key)
        return Window(raw.replace(" ", ""), events=count)
    try:
        duration = parse_duration(raw, path=reader.path, key=key)
    except ContractError:
        reader.fail(f"{raw!r} is not a window like '1h', '7d' or '10 events'", key)
        raise
    return Window(raw, duration=duration)


def _list(reader: _Reader, name: str, *, required: bool = False) -> list[Any]:
    value = reader.get(name, [], required=required)
    if not isinstance(value, list) or (required and not value):
        reader.fail("expected a non-empty list", reader.sub(name))
    return value


def _windows(reader: _Reader) -> tuple[Window, ...]:
    return tuple(
        parse_window(reader, f"{reader.sub('windows')}[{i}]", w)
        for i, w in enumerate(_list(reader, "windows", required=True))
    )


def _choices(reader: _Reader, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = _list(reader, name, required=True)
    for value in values:
        if value not in allowed:
            reader.fail(
                f"unknown {name[:-1]} {value!r} (one of: {', '.join(allowed)})", reader.sub(name)
            )
    return tuple(values)


def parse_feature_views(
    reader: _Reader,
    columns: dict[str, Column],
    label: Label,
    default_keys: tuple[str, ...],
    features: tuple[str, ...],
) -> tuple[FeatureView, ...]:
    """The contract's feature views; `features` are the contract's feature column names."""
    from retrain_platform.contracts.loader import _Reader, parse_duration

    raw = reader.get("feature_views", [])
    if not isinstance(raw, list):
        reader.fail("expected a list of feature views", "feature_views")
    views = []
    for i, item in enumerate(raw):
        v = _Reader(reader.path, f"feature_views[{i}]", item)
        name = v.get("name", required=True)
        if not isinstance(name, str) or not _NAME.match(name):
            v.fail(f"{name!r} is not a valid view name", v.sub("name"))
        v.key = f"feature_views[{name}]"
        keys = tuple(v.get("entity_keys", list(default_keys)))
        if not keys:
            v.fail(
                "a feature view needs entity keys (the contract declares none)",
                v.sub("entity_keys"),
            )
        for key in keys:
            if key not in columns:
                v.fail(f"unknown column {key!r}", v.sub("entity_keys"))
        closure = v.get("window_closure", "before")
        if closure not in CLOSURES:
            v.fail(f"{closure!r} is not one of {', '.join(CLOSURES)}", v.sub("window_closure"))
        known = set(columns)
        numeric = {n for n, c in columns.items() if c.is_numeric or c.dtype == "bool"}
        passthrough = tuple(v.get("passthrough", list(features)))
        for col in passthrough:
            if col not in features:
                v.fail(f"{col!r} is not a contract feature", v.sub("passthrough"))

        aggregates, spans = [], []
        for j, entry in enumerate(_list(v, "aggregates")):
            a = _Reader(v.path, f"{v.sub('aggregates')}[{j}]", entry)
            column = a.get("column", required=True)
            functions = _choices(a, "functions", AGGREGATE_FUNCTIONS)
            if column not in numeric and set(functions) - {"count", "last"}:
                a.fail(f"{column!r} is not a numeric contract column", a.sub("column"))
            windows = _windows(a)
            a.finish()
            aggregates.append(Aggregate(column, functions, windows))
            spans += [w.duration for w in windows if w.duration]
        label_aggregates = []
        for j, entry in enumerate(_list(v, "label_aggregates")):
            a = _Reader(v.path, f"{v.sub('label_aggregates')}[{j}]", entry)
            functions = _choices(a, "functions", LABEL_FUNCTIONS)
            windows = _windows(a)
            a.finish()
            label_aggregates.append(LabelAggregate(functions, windows))
            spans += [w.duration for w in windows if w.duration]
        lags = []
        for j, entry in enumerate(_list(v, "lags")):
            a = _Reader(v.path, f"{v.sub('lags')}[{j}]", entry)
            column = a.get("column", required=True)
            if column not in features:
                a.fail(f"{column!r} is not a contract feature", a.sub("column"))
            values = _list(a, "lags", required=True)
            if not all(isinstance(k, int) and k >= 1 for k in values):
                a.fail("lags are whole numbers of earlier events, 1 or more", a.sub("lags"))
            a.finish()
            lags.append(Lag(column, tuple(values)))
        encodings = []
        for j, entry in enumerate(_list(v, "encodings")):
            a = _Reader(v.path, f"{v.sub('encodings')}[{j}]", entry)
            column = a.get("column", required=True)
            kind = a.get("kind", "ordinal")
            if column not in columns or columns[column].categories is None:
                a.fail(f"{column!r} is not a contract column with categories", a.sub("column"))
            if kind not in ENCODINGS:
                a.fail(f"unknown encoding {kind!r} (one of: {', '.join(ENCODINGS)})", a.sub("kind"))
            a.finish()
            encodings.append(Encoding(column, kind, columns[column].categories or ()))
        since_previous = bool(v.get("time_since_previous", False))

        partial = FeatureView(
            name,
            keys,
            closure,
            timedelta(0),
            timedelta(0),
            passthrough,
            tuple(aggregates),
            tuple(label_aggregates),
            tuple(lags),
            (),
            tuple(encodings),
            since_previous,
        )
        available = known | set(partial.derived_names(label.column.name))
        combinations = []
        for kind in ("ratios", "differences"):
            for j, entry in enumerate(_list(v, kind)):
                a = _Reader(v.path, f"{v.sub(kind)}[{j}]", entry)
                out = a.get("name", required=True)
                if not isinstance(out, str) or not _NAME.match(out) or out in available:
                    a.fail(f"{out!r} is not a new, valid column name", a.sub("name"))
                sides = ("numerator", "denominator") if kind == "ratios" else ("left", "right")
                left, right = (a.get(s, required=True) for s in sides)
                for side, col in zip(sides, (left, right), strict=True):
                    if col not in available or col == label.column.name:
                        a.fail(f"unknown column {col!r}", a.sub(side))
                a.finish()
                combinations.append(
                    Combination(out, "ratio" if kind == "ratios" else "difference", left, right)
                )
                available.add(out)

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
        v.finish()
        views.append(
            FeatureView(
                name,
                keys,
                closure,
                lookback,
                ttl,
                passthrough,
                tuple(aggregates),
                tuple(label_aggregates),
                tuple(lags),
                tuple(combinations),
                tuple(encodings),
                since_previous,
            )
        )
    names = [view.name for view in views]
    if len(set(names)) != len(names):
        reader.fail("feature view names repeat", "feature_views")
    return tuple(views)
