"""Deterministic synthetic data for a dataset contract: daily events, drift and faulty files.

The platform needs a source to exercise every stage (ingest, validation, training, monitoring)
without real data. This module builds one from the contract alone: every column follows its declared
dtype, range, categories and nullability, and the label follows a seeded rule over the features
(a linear logit of standardised numeric features plus per-category effects) so a model can learn it.
Drift (covariate and/or concept) starts on a chosen date, and faults put the defects real landing
files have (nulls, bad values and types, duplicates, schema changes, broken files) into the files.

Everything is a pure function of its arguments: a day's events depend on (contract, seed, day) only,
so the same call writes byte-identical files and any day can be regenerated on its own.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from retrain_platform.contracts.dtypes import POLARS_DTYPES
from retrain_platform.contracts.model import Column, DatasetContract

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
DRIFT_KINDS = ("covariate", "concept", "both")
FILE_FORMATS = ("parquet", "csv", "mixed")


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

_FAULT_NULL_SHARE = 0.30
_FAULT_NULLABLE_NULL_SHARE = 0.40
_FAULT_OUT_OF_RANGE_SHARE = 0.02
_FAULT_WRONG_TYPE_SHARE = 0.02
_FAULT_DUPLICATE_SHARE = 0.03
_FAULT_KEEP_BYTES = 0.40
_RENAMED_SUFFIX = "_v2"
_JUNK_VALUES = ("n/a", "12,5eur", "unknown", "1.234,56", "#VALUE!", "--")
_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "statistics": True,
    "row_group_size": 262_144,
}

# Each purpose draws from its own random stream, so adding one never shifts another.
_WORLD, _REFERENCE, _DAY, _LABEL, _LATE, _FAULT_DAYS, _FAULT = range(7)
_FEATURE_STREAM, _IDENTIFIER_STREAM, _TIMESTAMP_STREAM = range(3)


@dataclass(frozen=True)
class DriftSpec:
    """Drift from `start` on: "covariate" (feature distributions), "concept" (label rule) or "both".

    `strength` scales covariate shifts (in standard deviations of the latent draw); for concept
    drift `min(strength, 1)` is how far the label rule moves towards its alternative.
    """

    start: date
    kind: str
    strength: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in DRIFT_KINDS:
            msg = f"unknown drift kind {self.kind!r} (one of: {', '.join(DRIFT_KINDS)})"
            raise ValueError(msg)
        if not self.strength >= 0:
            msg = f"drift strength must be >= 0, got {self.strength!r}"
            raise ValueError(msg)


@dataclass(frozen=True)
class Fault:
    """A defect put into one landing file; `day=None` lets the seed pick a day of the range."""

    kind: str
    day: date | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            msg = f"unknown fault kind {self.kind!r} (one of: {', '.join(FAULT_KINDS)})"
            raise ValueError(msg)


@dataclass(frozen=True)
class GeneratedFile:
    """One written file: `rows` readable data rows; `fault` the comma-joined fault kinds or None."""

    path: Path
    day: date
    rows: int
    fault: str | None


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


# --- random streams -------------------------------------------------------------------------


def _rng(contract: DatasetContract, seed: int, *parts: int) -> np.random.Generator:
    dataset_tag = zlib.crc32(contract.dataset.encode())
    return np.random.default_rng([seed, dataset_tag, *parts])


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        msg = f"seed must be a non-negative integer, got {seed!r}"
        raise ValueError(msg)


# --- column generators ----------------------------------------------------------------------


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


# --- the seeded "world": generators, drift choices and the label rule ----------------------------


@dataclass(frozen=True, eq=False)
class _World:
    """What (contract, seed) fixes: column generators, drift directions, raw label coefficients."""

    entities: tuple[_EntityGen, ...]
    features: tuple[_Gen, ...]
    shifts: dict[str, float]
    coefs: dict[str, float]
    alt_coefs: dict[str, float]
    missing: dict[str, float]

    @property
    def terms(self) -> tuple[_Gen, ...]:
        """Generators whose draws feed the label rule."""
        return tuple(g for g in (*self.entities, *self.features) if not isinstance(g, _PlainGen))


@lru_cache(maxsize=16)
def _world(contract: DatasetContract, seed: int) -> _World:
    rng = _rng(contract, seed, _WORLD)
    entities = tuple(_entity_gen(contract, c, rng) for c in contract.entity_keys)
    features = tuple(_feature_gen(c, rng) for c in contract.features)
    numeric = [g.column.name for g in features if isinstance(g, _NumericGen)]
    drifting = [str(n) for n in rng.permutation(numeric)[: max(1, round(len(numeric) / 2))]]
    shifts = {name: float(rng.choice([-1.0, 1.0])) for name in drifting}
    shifts.update({g.column.name: 1.0 for g in features if isinstance(g, _CategoricalGen)})
    names = [g.column.name for g in (*entities, *features) if not isinstance(g, _PlainGen)]
    coefs = {
        n: (_ENTITY_COEF if n in contract.entity_key_names else float(rng.normal())) for n in names
    }
    flips = rng.choice([-1.0, 1.0], len(names))
    magnitudes = rng.permutation(np.abs([coefs[n] for n in names]))
    alt_coefs = {
        n: float(m * np.sign(coefs[n]) * f)
        for n, m, f in zip(names, magnitudes, flips, strict=True)
    }
    missing = {n: float(rng.uniform(-1.5, 1.5)) for n in names}
    return _World(entities, features, shifts, coefs, alt_coefs, missing)


@dataclass(frozen=True, eq=False)
class _Rule:
    """The label logit: intercept + sum of weight * clipped standardised signal."""

    centers: dict[str, float]
    scales: dict[str, float]
    missing: dict[str, float]
    weights: dict[str, float]
    intercept: float

    def logit(self, signals: dict[str, np.ndarray], n: int) -> np.ndarray:
        total = np.full(n, self.intercept)
        for name, signal in signals.items():
            total += self.weights[name] * self.standardise(name, signal)
        return total

    def standardise(self, name: str, signal: np.ndarray) -> np.ndarray:
        z = np.clip((signal - self.centers[name]) / self.scales[name], -_CLIP_Z, _CLIP_Z)
        return np.where(np.isnan(z), self.missing[name], z)


@lru_cache(maxsize=16)
def _reference_signals(contract: DatasetContract, seed: int) -> dict[str, np.ndarray]:
    """Undrifted signals of a fixed, day-independent sample, used to calibrate the label rule."""
    world = _world(contract, seed)
    signals = {}
    for i, gen in enumerate(world.terms):
        rng = _rng(contract, seed, _REFERENCE, i)
        _, signal = gen.draw(rng, _REFERENCE_ROWS, contract.partitioning.start, 0.0)
        signals[gen.column.name] = signal
    return signals


@lru_cache(maxsize=32)
def _rule(contract: DatasetContract, seed: int, concept: float) -> _Rule:
    """The label rule, `concept` of the way to the alternative coefficients, at ~6 % positives."""
    world = _world(contract, seed)
    signals = _reference_signals(contract, seed)
    stats = {name: _center_and_scale(signal) for name, signal in signals.items()}
    centers = {name: center for name, (center, _) in stats.items()}
    scales = {name: scale for name, (_, scale) in stats.items()}
    coefs = {n: (1 - concept) * world.coefs[n] + concept * world.alt_coefs[n] for n in signals}
    draft = _Rule(centers, scales, world.missing, coefs, 0.0)
    raw = draft.logit(signals, _REFERENCE_ROWS)
    factor = _LOGIT_STD / raw.std() if raw.size and raw.std() > 0 else 0.0
    weights = {n: c * factor for n, c in coefs.items()}
    return _Rule(centers, scales, world.missing, weights, _intercept(raw * factor))


def _center_and_scale(signal: np.ndarray) -> tuple[float, float]:
    finite = signal[np.isfinite(signal)]
    if finite.size == 0:
        return 0.0, 1.0
    scale = float(finite.std())
    return float(finite.mean()), scale if scale > 0 else 1.0


def _intercept(scores: np.ndarray) -> float:
    """Bisect the intercept giving the target positive rate on `scores`."""
    low, high = -30.0, 30.0
    for _ in range(60):
        mid = (low + high) / 2
        rate = float(_sigmoid(mid + scores).mean()) if scores.size else float(_sigmoid(mid))
        low, high = (low, mid) if rate > _POSITIVE_RATE else (mid, high)
    return (low + high) / 2


# --- one day of events ----------------------------------------------------------------------


def _day_timestamps(rng: np.random.Generator, n: int, day: date, *, sort: bool) -> pl.Series:
    offsets = rng.integers(0, _US_PER_DAY, n, dtype=np.int64)
    if sort:
        offsets.sort()
    epoch_us = (day.toordinal() - _EPOCH_ORDINAL) * _US_PER_DAY
    return pl.Series(offsets + epoch_us).cast(pl.Datetime("us", "UTC"))


def _timestamp_column(
    contract: DatasetContract, rng: np.random.Generator, n: int, day: date
) -> pl.Series:
    name = contract.timestamp_name
    if contract.event_timestamp.dtype == "date":
        return pl.repeat(day, n, eager=True).alias(name)
    return _day_timestamps(rng, n, day, sort=True).alias(name)


def _identifier_column(
    contract: DatasetContract, position: int, rng: np.random.Generator, n: int, day: date
) -> pl.Series:
    """Unique ids in event order: '{dataset}-{yyyymmdd}-{i:08d}' (or day-unique integers)."""
    column = contract.identifiers[position]
    if column.dtype == "string":
        tag = "" if position == 0 else f"{position}-"
        prefix = f"{contract.dataset}-{tag}{day:%Y%m%d}-"
        counter = pl.int_range(0, n, dtype=pl.Int64, eager=True).cast(pl.String).str.zfill(8)
        series = (prefix + counter).alias(column.name)
    elif column.dtype.startswith("int"):
        base = day.toordinal() * 1_000_000_000 if column.dtype == "int64" else 0
        series = pl.Series(column.name, np.arange(n, dtype=np.int64) + base)
        series = series.cast(POLARS_DTYPES[column.dtype])
    else:
        msg = (
            f"{contract.source_path}: identifier {column.name!r} has dtype {column.dtype!r}; "
            "the synthetic source generates string or integer identifiers only"
        )
        raise ValueError(msg)
    return _with_nulls(series, _null_mask(column, rng, n))


def _drift_levels(drift: DriftSpec | None, day: date) -> tuple[float, float]:
    """(covariate shift, concept weight) in force on `day`."""
    if drift is None or day < drift.start:
        return 0.0, 0.0
    covariate = drift.strength if drift.kind in ("covariate", "both") else 0.0
    concept = min(drift.strength, 1.0) if drift.kind in ("concept", "both") else 0.0
    return covariate, concept


def _label_column(contract: DatasetContract, positive: np.ndarray) -> pl.Series:
    column = contract.label.column
    pos = contract.label.positive
    others = [c for c in (column.categories or ()) if c != pos]
    neg: Any = others[0] if others else (not pos if column.dtype == "bool" else 0)
    if neg == pos:
        msg = f"{contract.source_path}: label: no negative class to generate next to {pos!r}"
        raise ValueError(msg)
    classes = pl.Series(column.name, [neg, pos], strict=False).cast(POLARS_DTYPES[column.dtype])
    return classes.gather(positive.astype(np.int64))


def generate_day(
    contract: DatasetContract, day: date, *, rows: int, seed: int, drift: DriftSpec | None = None
) -> pl.DataFrame:
    """All events of one day, in the contract's column order and dtypes.

    The frame is in event-time order; identifiers count up in that order. It depends only on
    (contract, day, rows, seed, drift), never on other days.
    """
    _check_seed(seed)
    if rows < 0:
        msg = f"rows must be >= 0, got {rows}"
        raise ValueError(msg)
    world = _world(contract, seed)
    covariate, concept = _drift_levels(drift, day)
    ordinal = day.toordinal()
    columns: dict[str, pl.Series] = {}
    signals: dict[str, np.ndarray] = {}
    for i, gen in enumerate((*world.entities, *world.features)):
        name = gen.column.name
        rng = _rng(contract, seed, _DAY, ordinal, _FEATURE_STREAM, i)
        columns[name], signal = gen.draw(rng, rows, day, covariate * world.shifts.get(name, 0.0))
        if signal is not None:
            signals[name] = signal
    for position in range(len(contract.identifiers)):
        rng = _rng(contract, seed, _DAY, ordinal, _IDENTIFIER_STREAM, position)
        series = _identifier_column(contract, position, rng, rows, day)
        columns[series.name] = series
    columns[contract.timestamp_name] = _timestamp_column(
        contract, _rng(contract, seed, _DAY, ordinal, _TIMESTAMP_STREAM), rows, day
    )
    logit = _rule(contract, seed, concept).logit(signals, rows)
    positive = _rng(contract, seed, _LABEL, ordinal).random(rows) < _sigmoid(logit)
    columns[contract.label_name] = _label_column(contract, positive)
    return pl.DataFrame([columns[name] for name in contract.column_names])


# --- faults -----------------------------------------------------------------------------------


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


# --- landing files ----------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _encode(frame: pl.DataFrame, file_format: str) -> bytes:
    buffer = io.BytesIO()
    if file_format == "csv":
        frame.write_csv(buffer)
    else:
        frame.write_parquet(buffer, **_PARQUET_OPTIONS)
    return buffer.getvalue()


def _corrupt(frame: pl.DataFrame, rng: np.random.Generator) -> bytes:
    """A truncated parquet file: its first 40 % of bytes, then random bytes to the full length."""
    valid = _encode(frame, "parquet")
    keep = int(len(valid) * _FAULT_KEEP_BYTES)
    garbage = bytearray(rng.bytes(len(valid) - keep))
    if garbage[-4:] == b"PAR1":
        garbage[-1] ^= 0xFF
    return valid[:keep] + bytes(garbage)


def _write_file(
    contract: DatasetContract,
    landing_dir: Path,
    day: date,
    frame: pl.DataFrame,
    *,
    file_format: str,
    kinds: list[str],
    rng: np.random.Generator,
) -> GeneratedFile:
    for kind, apply in _FRAME_FAULTS.items():
        if kind in kinds:
            frame = apply(frame, contract, rng)
    if "empty" in kinds:
        data, rows = b"", 0
    elif "corrupt" in kinds:
        file_format, data, rows = "parquet", _corrupt(frame, rng), 0
    else:
        file_format = "csv" if "wrong_type" in kinds else file_format
        data, rows = _encode(frame, file_format), frame.height
    path = landing_dir / f"{contract.dataset}_{day:%Y-%m-%d}.{file_format}"
    _write_atomic(path, data)
    return GeneratedFile(path, day, rows, ",".join(kinds) or None)


def _split_late(
    frame: pl.DataFrame, contract: DatasetContract, seed: int, day: date, late_share: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(on-time rows, rows that arrive with the next day's file), chosen by the seed."""
    rng = _rng(contract, seed, _LATE, day.toordinal())
    late = np.zeros(frame.height, dtype=bool)
    count = round(late_share * frame.height)
    late[rng.choice(frame.height, count, replace=False)] = True
    mask = pl.Series(late)
    return frame.filter(~mask), frame.filter(mask)


def _check_landing_args(
    contract: DatasetContract, *, days: int, rows_per_day: int, file_format: str, late_share: float
) -> None:
    if days < 1:
        msg = f"days must be >= 1, got {days}"
        raise ValueError(msg)
    if rows_per_day < 0:
        msg = f"rows_per_day must be >= 0, got {rows_per_day}"
        raise ValueError(msg)
    if file_format not in FILE_FORMATS:
        msg = f"unknown file_format {file_format!r} (one of: {', '.join(FILE_FORMATS)})"
        raise ValueError(msg)
    if not 0 <= late_share < 1:
        msg = f"late_share must be in [0, 1), got {late_share}"
        raise ValueError(msg)
    if contract.timestamp_from_row_index is not None:
        msg = (
            f"{contract.source_path}: the contract derives event timestamps from row positions; "
            "the synthetic source only writes files that carry the timestamp column"
        )
        raise ValueError(msg)


def write_landing_files(
    contract: DatasetContract,
    landing_dir: Path,
    *,
    start: date,
    days: int,
    rows_per_day: int = 20_000,
    seed: int = 0,
    drift: DriftSpec | None = None,
    faults: Sequence[Fault] = (),
    file_format: str = "parquet",
    late_share: float = 0.03,
) -> list[GeneratedFile]:
    """Write one file per day, `{dataset}_{YYYY-MM-DD}.{parquet|csv}`, into `landing_dir`.

    A file holds its day's on-time events plus the previous day's late ones (`late_share` of each
    day arrive a day late); the last day's late events go into one extra file for the day after the
    range. "mixed" alternates parquet and csv by day. A `wrong_type` fault always writes csv and a
    `corrupt` one a truncated parquet file. Same arguments, same bytes.
    """
    _check_seed(seed)
    _check_landing_args(
        contract,
        days=days,
        rows_per_day=rows_per_day,
        file_format=file_format,
        late_share=late_share,
    )
    range_days = [start + timedelta(days=i) for i in range(days)]
    _check_faults(contract, faults, range_days)
    faulted = _fault_days(contract, faults, range_days, seed)
    landing_dir.mkdir(parents=True, exist_ok=True)

    def write(index: int, day: date, frame: pl.DataFrame) -> GeneratedFile:
        fmt = ("parquet", "csv")[index % 2] if file_format == "mixed" else file_format
        rng = _rng(contract, seed, _FAULT, day.toordinal())
        kinds = faulted.get(day, [])
        return _write_file(contract, landing_dir, day, frame, file_format=fmt, kinds=kinds, rng=rng)

    written = []
    carried: pl.DataFrame | None = None
    for index, day in enumerate(range_days):
        events = generate_day(contract, day, rows=rows_per_day, seed=seed, drift=drift)
        on_time, late = _split_late(events, contract, seed, day, late_share)
        frame = on_time if carried is None else pl.concat([carried, on_time])
        written.append(write(index, day, frame))
        carried = late
    if carried is not None and not carried.is_empty():
        written.append(write(days, start + timedelta(days=days), carried))
    return written
