"""Faults that real landing files have, put into a day's frame: nulls, out-of-range values, wrong
types, duplicates, missing and renamed columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from retrain_platform.contracts.dtypes import POLARS_DTYPES
from retrain_platform.contracts.model import Column, DatasetContract
from retrain_platform.core.synthetic.columns import _FAULT_DAYS, _bounds, _rng, _with_nulls

FAULT_KINDS = (
    "nulls",
    "out_of_range",
    "wrong_type",
    "duplicates",
    "missing_column",
    "renamed_column",
    "empty",
    "corrupt",
)


_FAULT_NULL_SHARE = 0.30
_FAULT_NULLABLE_NULL_SHARE = 0.40
_FAULT_OUT_OF_RANGE_SHARE = 0.02
_FAULT_WRONG_TYPE_SHARE = 0.02
_FAULT_DUPLICATE_SHARE = 0.03
_FAULT_KEEP_BYTES = 0.40
_RENAMED_SUFFIX = "_v2"
_JUNK_VALUES = ("n/a", "12,5eur", "unknown", "1.234,56", "#VALUE!", "--")


@dataclass(frozen=True)
class Fault:
    """A defect put into one landing file; `day=None` lets the seed pick a day of the range."""

    kind: str
    day: date | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            msg = f"unknown fault kind {self.kind!r} (one of: {', '.join(FAULT_KINDS)})"
            raise ValueError(msg)


def parse_faults(text: str) -> list[Fault]:
    """Parse 'nulls,duplicates@2026-01-05,corrupt' (kind or kind@YYYY-MM-DD, comma-separated)."""
    faults = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        kind, _, day_text = item.partition("@")
        faults.append(Fault(kind.strip(), _parse_fault_day(day_text.strip(), item)))
    return faults


def _parse_fault_day(text: str, item: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        msg = f"fault {item!r}: {text!r} is not a date (YYYY-MM-DD)"
        raise ValueError(msg) from None


def _keys(contract: DatasetContract) -> set[str]:
    return set(contract.primary_key) | set(contract.entity_key_names)


def _numeric_features(contract: DatasetContract) -> list[Column]:
    return [c for c in contract.features if c.is_numeric and c.name not in _keys(contract)]


def _out_of_range_sides(column: Column) -> list[str]:
    """Which sides of the column's range can hold a value its dtype can still represent."""
    if column.categories is not None:
        return []
    low, high = _bounds(column)
    limits = np.iinfo(column.dtype) if column.dtype.startswith("int") else None
    sides = []
    if np.isfinite(low) and (limits is None or low > limits.min):
        sides.append("below")
    if np.isfinite(high) and (limits is None or high < limits.max):
        sides.append("above")
    return sides


def _fault_candidates(contract: DatasetContract, kind: str) -> list[Column]:
    """Columns a fault may hit; an empty list means the contract cannot show this fault."""
    features = [c for c in contract.features if c.name not in _keys(contract)]
    if kind == "nulls":
        strict = [c for c in features if not c.nullable]
        return [c for c in strict if c.is_numeric] or strict
    if kind == "out_of_range":
        return [c for c in _numeric_features(contract) if _out_of_range_sides(c)]
    if kind == "wrong_type":
        return _numeric_features(contract)
    if kind in ("missing_column", "renamed_column"):
        return features
    return list(contract.features)


def _pick(rng: np.random.Generator, columns: Sequence[Column]) -> Column:
    return columns[int(rng.integers(len(columns)))]


def _rows_share(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    count = min(n, max(1, round(share * n))) if n else 0
    return np.sort(rng.choice(n, count, replace=False))


def _fault_nulls(
    frame: pl.DataFrame, contract: DatasetContract, rng: np.random.Generator
) -> pl.DataFrame:
    strict = _pick(rng, _fault_candidates(contract, "nulls"))
    nullable = [c for c in contract.features if c.nullable]
    updates = [(strict, _FAULT_NULL_SHARE)]
    if nullable:
        updates.append((_pick(rng, nullable), _FAULT_NULLABLE_NULL_SHARE))
    for column, share in updates:
        mask = rng.random(frame.height) < share
        frame = frame.with_columns(_with_nulls(frame[column.name], mask))
    return frame


def _fault_out_of_range(
    frame: pl.DataFrame, contract: DatasetContract, rng: np.random.Generator
) -> pl.DataFrame:
    column = _pick(rng, _fault_candidates(contract, "out_of_range"))
    low, high = _bounds(column)
    rows = _rows_share(rng, frame.height, _FAULT_OUT_OF_RANGE_SHARE)
    sides = _out_of_range_sides(column)
    if len(sides) == 2:
        above = rng.random(rows.size) < 0.5
    else:
        above = np.full(rows.size, sides == ["above"])
    span = high - low if np.isfinite(high - low) and high > low else max(abs(low), abs(high), 1.0)
    distance = np.maximum(span * rng.uniform(0.5, 2.0, rows.size), 1.0)
    values = np.where(above, high + distance, low - distance)
    if column.dtype.startswith("int"):
        info = np.iinfo(column.dtype)
        values = np.clip(np.where(above, np.ceil(values), np.floor(values)), info.min, info.max)
    dtype = POLARS_DTYPES[column.dtype]
    series = frame[column.name].scatter(rows, pl.Series(values).cast(dtype))
    return frame.with_columns(series)


def _fault_wrong_type(
    frame: pl.DataFrame, contract: DatasetContract, rng: np.random.Generator
) -> pl.DataFrame:
    column = _pick(rng, _fault_candidates(contract, "wrong_type"))
    rows = _rows_share(rng, frame.height, _FAULT_WRONG_TYPE_SHARE)
    junk = pl.Series(list(_JUNK_VALUES)).gather(rng.integers(len(_JUNK_VALUES), size=rows.size))
    series = frame[column.name].cast(pl.String).scatter(rows, junk)
    return frame.with_columns(series)


def _changed_values(series: pl.Series, column: Column) -> pl.Series:
    """Different values of the same dtype (still inside the range where there is one)."""
    low, high = _bounds(column)
    values = series.cast(pl.Float64).fill_null(0.0 if not np.isfinite(low) else low).to_numpy()
    if np.isfinite(low) and np.isfinite(high) and high > low:
        integer = column.dtype.startswith("int")
        period = high - low + (1 if integer else 0)
        step = max(1.0, round(period * 0.37)) if integer else period * 0.37
        values = low + np.mod(values - low + step, period)
    else:
        values = values + 1.0
    return pl.Series(series.name, values).cast(series.dtype)


def _fault_duplicates(
    frame: pl.DataFrame, contract: DatasetContract, rng: np.random.Generator
) -> pl.DataFrame:
    rows = _rows_share(rng, frame.height, _FAULT_DUPLICATE_SHARE)
    copies = frame[rng.permutation(rows)]
    exact, changed = copies[: rows.size // 2], copies[rows.size // 2 :]
    numeric = _numeric_features(contract)
    if numeric:
        column = _pick(rng, [c for c in numeric if not c.nullable] or numeric)
        changed = changed.with_columns(_changed_values(changed[column.name], column))
    combined = pl.concat([frame, exact, changed])
    return combined.sort(contract.timestamp_name, maintain_order=True)


def _fault_missing_column(
    frame: pl.DataFrame, contract: DatasetContract, rng: np.random.Generator
) -> pl.DataFrame:
    present = [c for c in _fault_candidates(contract, "missing_column") if c.name in frame.columns]
    return frame.drop(_pick(rng, present).name) if present else frame


def _fault_renamed_column(
    frame: pl.DataFrame, contract: DatasetContract, rng: np.random.Generator
) -> pl.DataFrame:
    present = [c for c in _fault_candidates(contract, "renamed_column") if c.name in frame.columns]
    if not present:
        return frame
    name = _pick(rng, present).name
    return frame.rename({name: name + _RENAMED_SUFFIX})


# Applied in this order, so duplicates are made from clean rows and type changes come last.
_FRAME_FAULTS = {
    "duplicates": _fault_duplicates,
    "nulls": _fault_nulls,
    "out_of_range": _fault_out_of_range,
    "wrong_type": _fault_wrong_type,
    "missing_column": _fault_missing_column,
    "renamed_column": _fault_renamed_column,
}


def _check_faults(contract: DatasetContract, faults: Sequence[Fault], days: list[date]) -> None:
    for fault in faults:
        if fault.day is not None and fault.day not in days:
            msg = f"fault {fault.kind!r} is set for {fault.day}, outside {days[0]}..{days[-1]}"
            raise ValueError(msg)
        if fault.kind in _FRAME_FAULTS and not _fault_candidates(contract, fault.kind):
            msg = f"{contract.source_path}: no column a {fault.kind!r} fault can hit"
            raise ValueError(msg)


def _fault_days(
    contract: DatasetContract, faults: Sequence[Fault], days: list[date], seed: int
) -> dict[date, list[str]]:
    """Kinds per day; faults without a day go to seed-chosen days, distinct ones while days last."""
    by_day: dict[date, list[str]] = {}
    for fault in faults:
        if fault.day is not None:
            by_day.setdefault(fault.day, []).append(fault.kind)
    order = [days[i] for i in _rng(contract, seed, _FAULT_DAYS).permutation(len(days))]
    free = [d for d in order if d not in by_day] or order
    for i, fault in enumerate(f for f in faults if f.day is None):
        by_day.setdefault(free[i % len(free)], []).append(fault.kind)
    return {d: [k for k in FAULT_KINDS if k in kinds] for d, kinds in by_day.items()}
