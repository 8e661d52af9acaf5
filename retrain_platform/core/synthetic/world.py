"""The simulated world: entities, the label rule over the features, drift, and one day's events.

A day's events depend on (contract, seed, day) only, so any day can be regenerated on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl

from retrain_platform.contracts.dtypes import POLARS_DTYPES
from retrain_platform.contracts.model import DatasetContract
from retrain_platform.core.synthetic.columns import (
    _CLIP_Z,
    _DAY,
    _ENTITY_COEF,
    _FEATURE_STREAM,
    _IDENTIFIER_STREAM,
    _LABEL,
    _LOGIT_STD,
    _POSITIVE_RATE,
    _REFERENCE,
    _REFERENCE_ROWS,
    _TIMESTAMP_STREAM,
    _WORLD,
    _CategoricalGen,
    _check_seed,
    _day_timestamps,
    _entity_gen,
    _EntityGen,
    _feature_gen,
    _Gen,
    _null_mask,
    _NumericGen,
    _PlainGen,
    _rng,
    _sigmoid,
    _with_nulls,
)

DRIFT_KINDS = ("covariate", "concept", "both")


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
