"""Values for each contract column: numeric, categorical, boolean, entity and plain generators.

Every column follows its declared dtype, range, categories and nullability; each purpose draws
from its own seeded random stream, so adding one never shifts another.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from retrain_platform.contracts.dtypes import POLARS_DTYPES
from retrain_platform.contracts.model import Column, DatasetContract

_POSITIVE_RATE = 0.06
_LOGIT_STD = 2.5
_ENTITY_COEF = 0.5
_NULL_SHARE = 0.05
_ENTITY_POOL = 3_000
_ENTITY_ID_LIMIT = 1_000_000
_TOKEN_POOL = 100
_REFERENCE_ROWS = 50_000
_UNIFORM_INT_SPAN = 31
_WIDE_SPAN = 1_000.0
_SHIFT_SCALE = 0.75
_CLIP_Z = 4.0
_US_PER_DAY = 86_400_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


# Each purpose draws from its own random stream, so adding one never shifts another.
_WORLD, _REFERENCE, _DAY, _LABEL, _LATE, _FAULT_DAYS, _FAULT = range(7)
_FEATURE_STREAM, _IDENTIFIER_STREAM, _TIMESTAMP_STREAM = range(3)


def _rng(contract: DatasetContract, seed: int, *parts: int) -> np.random.Generator:
    dataset_tag = zlib.crc32(contract.dataset.encode())
    return np.random.default_rng([seed, dataset_tag, *parts])


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        msg = f"seed must be a non-negative integer, got {seed!r}"
        raise ValueError(msg)


def _null_mask(column: Column, rng: np.random.Generator, n: int) -> np.ndarray | None:
    return rng.random(n) < _NULL_SHARE if column.nullable else None


def _with_nulls(series: pl.Series, mask: np.ndarray | None) -> pl.Series:
    if mask is None or not mask.any():
        return series
    nulled = pl.when(pl.Series(mask)).then(None).otherwise(series).alias(series.name)
    return pl.select(nulled).to_series()


def _bounds(column: Column) -> tuple[float, float]:
    low = -np.inf if column.min is None else float(column.min)
    high = np.inf if column.max is None else float(column.max)
    if column.dtype.startswith("int"):
        low, high = float(np.ceil(low)), float(np.floor(high))
    return low, high


def _fit_to_column(values: np.ndarray, column: Column, low: float, high: float) -> np.ndarray:
    """Round to the column's precision and clip into its range (and its integer dtype's limits)."""
    if column.dtype.startswith("int"):
        info = np.iinfo(column.dtype)
        return np.clip(np.rint(values), max(low, info.min), min(high, info.max))
    decimals = 2 if high - low >= 100 else 4
    return np.clip(np.round(values, decimals), low, high)


def _sigmoid(x: np.ndarray | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(x)))


@dataclass(frozen=True)
class _NumericGen:
    """A numeric column: uniform (small int range), beta (bounded), log-normal (wide) or normal."""

    column: Column
    kind: str
    low: float
    high: float
    p1: float
    p2: float

    def values(self, rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
        if self.kind == "uniform":
            return self._uniform(rng, n, shift)
        if self.kind == "beta":
            a = self.p1 * np.exp(_SHIFT_SCALE * shift)
            raw = self.low + (self.high - self.low) * rng.beta(a, self.p2, n)
        elif self.kind == "lognormal":
            offset = np.exp(rng.normal(self.p1 + _SHIFT_SCALE * shift * self.p2, self.p2, n))
            raw = self.low + offset if np.isfinite(self.low) else self.high - offset
        else:
            raw = rng.normal(self.p1 + _SHIFT_SCALE * shift * self.p2, self.p2, n)
        return _fit_to_column(raw, self.column, self.low, self.high)

    def _uniform(self, rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
        if shift == 0:
            return rng.integers(int(self.low), int(self.high) + 1, n).astype(np.float64)
        support = np.arange(int(self.low), int(self.high) + 1, dtype=np.float64)
        centred = (support - support.mean()) / max((self.high - self.low) / 2, 1.0)
        weights = np.exp(2 * _SHIFT_SCALE * shift * centred)
        return rng.choice(support, n, p=weights / weights.sum())

    def signal(self, values: np.ndarray) -> np.ndarray:
        if self.kind != "lognormal":
            return values
        anchor = self.low if np.isfinite(self.low) else self.high
        return np.log1p(np.abs(values - anchor))

    def draw(
        self, rng: np.random.Generator, n: int, day: date, shift: float
    ) -> tuple[pl.Series, np.ndarray]:
        values = self.values(rng, n, shift)
        mask = _null_mask(self.column, rng, n)
        if mask is not None:
            values = np.where(mask, np.nan, values)
        dtype = POLARS_DTYPES[self.column.dtype]
        series = pl.Series(self.column.name, values).fill_nan(None).cast(dtype)
        return series, self.signal(values)


def _numeric_gen(column: Column, rng: np.random.Generator) -> _NumericGen:
    low, high = _bounds(column)
    bounded = bool(np.isfinite(low) and np.isfinite(high))
    integer = column.dtype.startswith("int")
    if bounded and integer and high - low <= _UNIFORM_INT_SPAN:
        return _NumericGen(column, "uniform", low, high, 0.0, 0.0)
    if bounded and (high - low < _WIDE_SPAN or low < 0):
        return _NumericGen(column, "beta", low, high, rng.uniform(1.5, 3.0), rng.uniform(2.5, 6.0))
    if np.isfinite(low) or np.isfinite(high):
        span = high - low if bounded else _WIDE_SPAN
        mu = float(np.log(span) - rng.uniform(4.5, 6.5))
        return _NumericGen(column, "lognormal", low, high, mu, rng.uniform(1.0, 1.6))
    return _NumericGen(column, "normal", low, high, 0.0, 10.0 if integer else 1.0)


@dataclass(frozen=True, eq=False)
class _CategoricalGen:
    """A column with declared categories, drawn with unequal (Dirichlet-seeded) frequencies."""

    column: Column
    probs: np.ndarray
    effects: np.ndarray

    def draw(
        self, rng: np.random.Generator, n: int, day: date, shift: float
    ) -> tuple[pl.Series, np.ndarray]:
        weight = min(1.0, 0.5 * shift)
        probs = (1 - weight) * self.probs + weight * np.roll(self.probs, 1)
        index = np.minimum(
            np.searchsorted(np.cumsum(probs), rng.random(n), side="right"), len(probs) - 1
        )
        mask = _null_mask(self.column, rng, n)
        values = pl.Series(self.column.name, list(self.column.categories or ()), strict=False)
        series = values.cast(POLARS_DTYPES[self.column.dtype]).gather(index)
        signal = self.effects[index]
        if mask is not None:
            signal = np.where(mask, np.nan, signal)
        return _with_nulls(series, mask), signal


def _categorical_gen(column: Column, rng: np.random.Generator) -> _CategoricalGen:
    k = len(column.categories or ())
    probs = 0.9 * rng.dirichlet(np.full(k, 1.5)) + 0.1 / k
    return _CategoricalGen(column, probs, rng.normal(0.0, 1.0, k))


@dataclass(frozen=True)
class _BoolGen:
    column: Column
    p: float

    def draw(
        self, rng: np.random.Generator, n: int, day: date, shift: float
    ) -> tuple[pl.Series, np.ndarray]:
        p = float(_sigmoid(np.log(self.p / (1 - self.p)) + _SHIFT_SCALE * shift))
        values = rng.random(n) < p
        mask = _null_mask(self.column, rng, n)
        signal = values.astype(np.float64)
        if mask is not None:
            signal = np.where(mask, np.nan, signal)
        return _with_nulls(pl.Series(self.column.name, values), mask), signal


@dataclass(frozen=True)
class _PlainGen:
    """Strings without categories (a Zipf-ish token pool) and date/datetime features (the day)."""

    column: Column

    def draw(
        self, rng: np.random.Generator, n: int, day: date, shift: float
    ) -> tuple[pl.Series, None]:
        name, dtype = self.column.name, self.column.dtype
        if dtype == "string":
            weights = 1.0 / (np.arange(_TOKEN_POOL) + 5.0)
            tokens = rng.choice(_TOKEN_POOL, n, p=weights / weights.sum())
            series = pl.Series(name, tokens).cast(pl.String).str.zfill(3)
        elif dtype == "date":
            series = pl.repeat(day, n, eager=True).alias(name)
        else:
            series = _day_timestamps(rng, n, day, sort=False).alias(name)
        return _with_nulls(series, _null_mask(self.column, rng, n)), None


@dataclass(frozen=True, eq=False)
class _EntityGen:
    """An entity key drawn from a fixed pool of ids with Zipf-ish frequencies and a risk effect."""

    column: Column
    ids: np.ndarray
    probs: np.ndarray
    effects: np.ndarray

    def draw(
        self, rng: np.random.Generator, n: int, day: date, shift: float
    ) -> tuple[pl.Series, np.ndarray]:
        index = np.minimum(
            np.searchsorted(np.cumsum(self.probs), rng.random(n), side="right"), len(self.probs) - 1
        )
        mask = _null_mask(self.column, rng, n)
        ids = pl.Series(self.column.name, self.ids).cast(POLARS_DTYPES[self.column.dtype])
        signal = self.effects[index]
        if mask is not None:
            signal = np.where(mask, np.nan, signal)
        return _with_nulls(ids.gather(index), mask), signal


def _entity_gen(contract: DatasetContract, column: Column, rng: np.random.Generator) -> _EntityGen:
    if column.dtype == "string":
        limit = _ENTITY_ID_LIMIT
    elif column.dtype.startswith("int"):
        limit = min(_ENTITY_ID_LIMIT, int(np.iinfo(column.dtype).max))
    else:
        msg = (
            f"{contract.source_path}: entity key {column.name!r} has dtype {column.dtype!r}; "
            "the synthetic source generates integer or string entity keys only"
        )
        raise ValueError(msg)
    pool = min(_ENTITY_POOL, limit - 1)
    ids = rng.choice(np.arange(1, limit, dtype=np.int64), pool, replace=False)
    weights = (np.arange(pool) + 50.0) ** -1.2
    return _EntityGen(column, ids, weights / weights.sum(), rng.normal(0.0, 1.0, pool))


_Gen = _NumericGen | _CategoricalGen | _BoolGen | _PlainGen | _EntityGen


def _feature_gen(column: Column, rng: np.random.Generator) -> _Gen:
    if column.categories is not None:
        return _categorical_gen(column, rng)
    if column.dtype == "bool":
        return _BoolGen(column, float(rng.uniform(0.05, 0.3)))
    if column.is_numeric:
        return _numeric_gen(column, rng)
    return _PlainGen(column)


def _day_timestamps(rng: np.random.Generator, n: int, day: date, *, sort: bool) -> pl.Series:
    offsets = rng.integers(0, _US_PER_DAY, n, dtype=np.int64)
    if sort:
        offsets.sort()
    epoch_us = (day.toordinal() - _EPOCH_ORDINAL) * _US_PER_DAY
    return pl.Series(offsets + epoch_us).cast(pl.Datetime("us", "UTC"))
