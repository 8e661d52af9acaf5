"""The Pandera schema of a feature view's table, derived from the contract and the view.

Every output column gets a rule from the kind of function that produced it, so a new function
or window fits without a hand-written schema: counts are whole numbers >= 0, rates are in
[0, 1], a mean, min, max, last value or lag of a column stays within that column's contract
range (or categories), a standard deviation or a time since the previous event is >= 0, a
one-hot indicator is 0 or 1, an ordinal code lies within the category count, and keys,
timestamps and the event's own features follow the contract.

Nullability: a column that needs no history (keys, the event's features, counts, encodings) is
null only where its base column is nullable. An aggregate over a duration, or a rate of known
labels, is null whenever its window holds no event (an empty window is a value, not a defect).
A column that needs earlier events (a lag, an N-event window, the time since the previous
event) is null for an entity's first events. For a view keyed by one series those come only at
the start of the data (the warm-up: rows whose lookback reaches before the first validated
partition), so the schema can require them non-null after it (`warm_up_end`); an entity view's
entities start at any time, so there it cannot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

import pandera.errors
import pandera.polars as pa
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import Column, FeatureView
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.features.transforms import feature_columns

NO_NULLS_AFTER_WARM_UP = "no_nulls_after_warm_up"
_TOLERANCE = 1e-9  # relative slack of float bounds (a mean of values at the maximum)
MAX_CASES = 5  # failing values listed per (column, check)


@dataclass(frozen=True)
class FeatureRule:
    """What one output column may hold: a range or categories, and where it may be null."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    categories: tuple[object, ...] | None = None
    nullable: bool = False  # null allowed in any row
    needs_history: bool = False  # null for an entity's first events (its warm-up)

    def checks(self) -> list[pa.Check]:
        checks = []
        if self.low is not None:
            checks.append(pa.Check.ge(self.low - _TOLERANCE * max(1.0, abs(self.low))))
        if self.high is not None:
            checks.append(pa.Check.le(self.high + _TOLERANCE * max(1.0, abs(self.high))))
        if self.categories is not None:
            checks.append(pa.Check.isin(list(self.categories)))
        return checks


def _source(col: Column) -> tuple[float | None, float | None, tuple[object, ...] | None]:
    """Range of a column's values as numbers (a boolean is 0..1) and its categories."""
    if col.dtype == "bool":
        return 0.0, 1.0, None
    return col.min, col.max, col.categories


def _within(name: str, kind: str, col: Column, *, numeric: bool) -> FeatureRule:
    """A value of `col` (last, lag) or a mean/min/max of its values: within its range."""
    low, high, categories = _source(col)
    if not numeric and col.dtype == "bool":
        low = high = None  # a boolean value, not a number
    return FeatureRule(
        name,
        kind,
        low,
        high,
        None if numeric else categories,
        nullable=col.nullable,
        needs_history=True,
    )


def _aggregate_rule(name: str, function: str, col: Column, *, timed: bool) -> FeatureRule:
    """`timed`: over a duration, which may hold no event at all (then the value is null)."""
    if function == "count":
        return FeatureRule(name, "count", low=0)
    if function in ("mean", "min", "max"):
        rule = _within(name, function, col, numeric=True)
    elif function == "last":
        rule = _within(name, function, col, numeric=False)
    else:
        low = col.min if function == "sum" else 0.0  # sum, std
        low = 0.0 if low is not None and low >= 0 else None
        rule = FeatureRule(name, function, low=low, nullable=col.nullable, needs_history=True)
    return replace(rule, nullable=rule.nullable or timed)


def _label_rule(name: str, contract: DatasetContract) -> FeatureRule:
    """Label features: counts >= 0, rates in [0, 1], a label value (lag, last) a category."""
    label = contract.label.column
    if "_count_" in name:
        return FeatureRule(name, "count", low=0)
    if "_rate_" in name:  # null when no label in the window is known yet
        return FeatureRule(name, "rate", low=0, high=1, nullable=True, needs_history=True)
    return FeatureRule(
        name, "label_value", categories=label.categories, nullable=True, needs_history=True
    )


def feature_rules(contract: DatasetContract, view: FeatureView) -> dict[str, FeatureRule]:
    """One rule per column of the view's table (`feature_columns` order)."""
    rules: dict[str, FeatureRule] = {}
    for name in (
        *view.entity_keys,
        contract.timestamp_name,
        *(c.name for c in contract.identifiers),
    ):
        col = contract.key_column(name)
        rules[name] = FeatureRule(name, "key", col.min, col.max, col.categories)
    for name in view.passthrough:
        col = contract.column(name)
        rules[name] = FeatureRule(
            name, "passthrough", col.min, col.max, col.categories, nullable=col.nullable
        )
    for aggregate in view.aggregates:
        col = contract.column(aggregate.column)
        for window in aggregate.windows:
            for function in aggregate.functions:
                name = f"{aggregate.column}_{function}_{window.suffix}"
                timed = window.duration is not None
                rules[name] = _aggregate_rule(name, function, col, timed=timed)
    label = contract.label_name
    for name in view.label_output_names(label):
        rules[name] = _label_rule(name, contract)
    for lag in view.lags:
        for name in lag.output_names():
            rules[name] = _within(name, "lag", contract.column(lag.column), numeric=False)
    if view.time_since_previous:
        name = view.time_since_previous_name
        rules[name] = FeatureRule(name, "time_since_previous", low=0, needs_history=True)
    for encoding in view.encodings:
        base = contract.column(encoding.column).nullable
        for name in encoding.output_names():
            if encoding.kind == "ordinal":
                high = len(encoding.categories) - 1
                rules[name] = FeatureRule(name, "ordinal", low=0, high=high, nullable=base)
            else:
                rules[name] = FeatureRule(name, "one_hot", categories=(0, 1), nullable=base)
    for combo in view.combinations:
        sides = [rules.get(combo.left), rules.get(combo.right)]
        rules[combo.name] = FeatureRule(
            combo.name,
            combo.kind,
            # a ratio is null where its denominator is 0; a difference where a side is null
            nullable=combo.kind == "ratio" or any(s is None or s.nullable for s in sides),
            needs_history=any(s is not None and s.needs_history for s in sides),
        )
    rules[pc.PARTITION] = FeatureRule(pc.PARTITION, "partition")
    for name in feature_columns(contract, view):
        if name in rules:
            continue
        if name.startswith(f"{label}_"):
            rules[name] = _label_rule(name, contract)  # label features added since (lags, last)
        else:
            rules[name] = FeatureRule(name, "derived", nullable=True, needs_history=True)
    return rules


def warm_up_columns(view: FeatureView, rules: dict[str, FeatureRule]) -> list[str]:
    """Columns that may be null only in the warm-up: history columns of a one-series view."""
    if not view.keyless:
        return []
    return [name for name, rule in rules.items() if rule.needs_history and not rule.nullable]


def feature_schema(
    contract: DatasetContract, view: FeatureView, *, warm_up_end: datetime | None = None
) -> pa.DataFrameSchema:
    """The view table's Pandera schema: dtypes, derived ranges and nullability.

    With `warm_up_end` (when the history covers every lookback: the first validated partition's
    start plus the view's lookback), a one-series view's history columns must not be null in
    rows at or after it (check `NO_NULLS_AFTER_WARM_UP`).
    """
    rules = feature_rules(contract, view)
    dtypes = feature_columns(contract, view)
    columns = {
        name: pa.Column(
            dtypes[name],
            checks=rule.checks(),
            nullable=rule.nullable or rule.needs_history,
            description=f"{rule.kind}",
        )
        for name, rule in rules.items()
    }
    checks = []
    late = warm_up_columns(view, rules)
    if warm_up_end is not None and late:
        ts = contract.timestamp_name
        covered = pl.col(ts) >= pl.lit(warm_up_end).cast(dtypes[ts])
        complete = pl.all_horizontal([pl.col(name).is_not_null() for name in late])

        def no_nulls_after_warm_up(data: pa.PolarsData) -> pl.LazyFrame:
            return data.lazyframe.select((~covered | complete).alias(NO_NULLS_AFTER_WARM_UP))

        checks.append(pa.Check(no_nulls_after_warm_up, name=NO_NULLS_AFTER_WARM_UP))
    name = f"{contract.dataset}_{view.name}"
    return pa.DataFrameSchema(columns, checks=checks, name=name, strict=False, ordered=False)


@dataclass(frozen=True)
class SchemaProblem:
    """Rows of a frame failing one check of one column (or of the table)."""

    column: str
    check: str
    rows: int
    examples: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "column": self.column,
            "check": self.check,
            "rows": self.rows,
            "examples": list(self.examples),
        }


def schema_problems(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> list[SchemaProblem]:
    """Every failure of `frame` against `schema` at once, one entry per (column, check)."""
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases.with_columns(
            pl.col("column").fill_null("<table>"),
            pl.col("failure_case").cast(pl.String).fill_null("null"),
        )
        grouped = cases.group_by("column", "check", maintain_order=True).agg(
            pl.len().alias("rows"), pl.col("failure_case").head(MAX_CASES).alias("examples")
        )
        return [
            SchemaProblem(row["column"], row["check"], row["rows"], tuple(row["examples"]))
            for row in grouped.iter_rows(named=True)
        ]
    return []


def split_problems(
    problems: Iterable[SchemaProblem],
) -> tuple[list[SchemaProblem], list[SchemaProblem]]:
    """(schema problems, warm-up problems): the latter are nulls after the warm-up only."""
    problems = list(problems)
    warm = [p for p in problems if p.check == NO_NULLS_AFTER_WARM_UP]
    return [p for p in problems if p.check != NO_NULLS_AFTER_WARM_UP], warm
