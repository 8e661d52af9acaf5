"""Parse a contract's column declarations: plain columns, the event timestamp and the label.

Each column is checked on its own here (name, dtype, range, categories); how the columns relate
to each other (one role per name, the primary key) is checked by the loader.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from retrain_platform.contracts.model import (
    DTYPES,
    NUMERIC_DTYPES,
    Column,
    Label,
    RowIndexTimestamp,
)
from retrain_platform.contracts.parsing import (
    VALID_NAME,
    Reader,
    as_date,
    as_number,
    parse_duration,
)


def parse_column(path: str, key: str, raw: Any, *, default_dtype: str | None = None) -> Column:
    """One column mapping; without a `default_dtype` the dtype is required."""
    r = Reader(path, key, raw)
    name = r.get("name", required=True)
    if not isinstance(name, str) or not VALID_NAME.match(name):
        r.fail(f"{name!r} is not a valid column name (letters, digits, _)", r.sub("name"))
    if name.startswith("_"):
        r.fail(
            f"{name!r} is not a valid column name: names starting with _ are the platform's "
            "own columns (_partition, _series, ...)",
            r.sub("name"),
        )
    r.key = f"{key}[{name}]"
    dtype = r.get("dtype", default_dtype, required=default_dtype is None)
    if dtype not in DTYPES:
        r.fail(f"unknown dtype {dtype!r} (one of: {', '.join(DTYPES)})", r.sub("dtype"))
    nullable = r.get("nullable", False)
    if not isinstance(nullable, bool):
        r.fail(f"{nullable!r} is not true or false", r.sub("nullable"))
    low, high = _range(r, dtype)
    categories = _categories(r)
    description = str(r.get("description", ""))
    r.finish()
    return Column(name, dtype, nullable, low, high, categories, description)


def _range(r: Reader, dtype: str) -> tuple[float | None, float | None]:
    bounds = r.get("range")
    if bounds is None:
        return None, None
    if dtype not in NUMERIC_DTYPES:
        r.fail(f"a range needs a numeric dtype, not {dtype!r}", r.sub("range"))
    if not isinstance(bounds, list) or len(bounds) != 2:
        r.fail("expected [min, max] (use null for an open end)", r.sub("range"))
    low, high = as_number(r, "range", bounds[0]), as_number(r, "range", bounds[1])
    if low is not None and high is not None and low > high:
        r.fail(f"min {low} is above max {high}", r.sub("range"))
    return low, high


def _categories(r: Reader) -> tuple[str | int | bool, ...] | None:
    categories = r.get("categories")
    if categories is None:
        return None
    if not isinstance(categories, list) or not categories:
        r.fail("expected a non-empty list", r.sub("categories"))
    if len(set(map(str, categories))) != len(categories):
        r.fail("categories repeat a value", r.sub("categories"))
    return tuple(categories)


def parse_columns(r: Reader, name: str, *, required: bool = False) -> tuple[Column, ...]:
    """The list of columns under key `name` (at least one when `required`)."""
    raw = r.get(name, [], required=required)
    if not isinstance(raw, list):
        r.fail("expected a list of columns", r.sub(name))
    if required and not raw:
        r.fail("needs at least one column", r.sub(name))
    return tuple(parse_column(r.path, f"{r.sub(name)}[{i}]", item) for i, item in enumerate(raw))


def parse_event_timestamp(r: Reader) -> tuple[Column, RowIndexTimestamp | None]:
    """The event timestamp column, and how to derive it from row positions when declared so."""
    ts = r.child("event_timestamp", required=True)
    assert ts is not None
    derived = ts.child("from_row_index")
    from_row_index = None
    if derived is not None:
        from_row_index = RowIndexTimestamp(
            start=as_date(derived, "start", derived.get("start", required=True)),
            every=parse_duration(
                derived.get("every", required=True), path=r.path, key=derived.sub("every")
            ),
        )
        derived.finish()
    ts.mark_used("from_row_index")
    raw = {k: v for k, v in ts.value.items() if k != "from_row_index"}
    column = parse_column(r.path, ts.key, raw, default_dtype="datetime")
    if column.dtype not in ("datetime", "date"):
        r.fail(f"must be datetime or date, not {column.dtype!r}", f"{ts.key}.dtype")
    if column.nullable:
        r.fail("the event timestamp cannot be nullable", f"{ts.key}.nullable")
    return column, from_row_index


def parse_label(r: Reader) -> Label:
    """The label column, its positive class and its delay."""
    lab = r.child("label", required=True)
    assert lab is not None
    positive = lab.get("positive", required=True)
    delay = lab.get("delay")
    raw = {k: v for k, v in lab.value.items() if k not in ("positive", "delay")}
    lab.mark_used(*raw)
    column = parse_column(r.path, lab.key, raw)
    lab.finish()
    if column.nullable:
        r.fail(
            "the label cannot be nullable (unlabelled rows are not training data)",
            lab.sub("nullable"),
        )
    if column.categories is not None and positive not in column.categories:
        r.fail(
            f"positive class {positive!r} is not among {list(column.categories)}",
            lab.sub("positive"),
        )
    return Label(
        column=column,
        positive=positive,
        delay=parse_duration(delay, path=r.path, key=lab.sub("delay")) if delay else timedelta(0),
    )
