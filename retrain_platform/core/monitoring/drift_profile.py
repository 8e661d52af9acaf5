"""The champion's reference profile for drift: per-feature bins or category counts and a sample.

Built once from the champion's training rows, saved beside the model and loaded by every drift
report, so a partition is compared without re-reading the training set.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.training_set import SPLIT, TRAIN
from retrain_platform.core.monitoring.drift_statistics import Category

PROFILE_FORMAT = 2
SAMPLE_SEED = 0  # the seed of every drift sample: the reference's and each partition's
DISCRETE_MAX_VALUES = 20  # Evidently bins a numeric column by value at or below this many values


@dataclass(frozen=True, eq=False)
class NumericReference:
    """A numeric feature's reference: sorted present values, and its null share."""

    values: np.ndarray
    null_share: float
    discrete: bool

    @property
    def rows(self) -> int:
        return int(self.values.size)


@dataclass(frozen=True)
class CategoricalReference:
    """A categorical feature's reference: counts per present category, and its null share."""

    categories: tuple[Category, ...]
    counts: tuple[int, ...]
    null_share: float

    @property
    def rows(self) -> int:
        return sum(self.counts)

    def proportions(self) -> dict[Category, float]:
        total = self.rows
        return {c: n / total for c, n in zip(self.categories, self.counts, strict=True)}


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """Everything the fast path needs from a reference, built once per champion."""

    numeric: Mapping[str, NumericReference]
    categorical: Mapping[str, CategoricalReference]
    rows: int
    sample_rows: int
    row_cap: int
    seed: int
    fingerprint: str
    complete_from: Mapping[str, str] | None = None

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def reference_fingerprint(
    reference: pl.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    row_cap: int,
    seed: int,
    complete_from: Mapping[str, str] | None = None,
) -> str:
    """Hash of the reference columns' values and the profile parameters (a cache key)."""
    digest = hashlib.sha256()
    header = {"format": PROFILE_FORMAT, "numeric": list(numeric), "categorical": list(categorical)}
    header |= {"row_cap": row_cap, "seed": seed, "rows": reference.height}
    header |= {"complete_from": dict(complete_from or {})}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for name in numeric:
        digest.update(reference[name].cast(pl.Float64).to_numpy().tobytes())
    for name in categorical:
        text = reference[name].cast(pl.String).fill_null("\x00").str.join("\x1f").item()
        digest.update(text.encode())
    return digest.hexdigest()[:32]


def sample_rows(frame: pl.DataFrame, row_cap: int, seed: int) -> pl.DataFrame:
    """`frame` up to `row_cap` rows, else `row_cap` rows chosen by `seed` (kept in frame order)."""
    if row_cap < 1:
        msg = f"row_cap must be >= 1, got {row_cap}"
        raise ValueError(msg)
    if frame.height <= row_cap:
        return frame
    rows = np.random.default_rng(seed).choice(frame.height, row_cap, replace=False)
    return frame[np.sort(rows)]


def build_reference_profile(
    reference: pl.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    row_cap: int,
    seed: int,
    complete_from: Mapping[str, datetime] | None = None,
    timestamp: str | None = None,
) -> ReferenceProfile:
    """Condense `reference` (sampled above `row_cap`) into a profile for `drift_summary`.

    With `complete_from` (feature -> time, see `complete_from`) a feature keeps only the sampled
    rows whose `timestamp` is at or after its time: values computed over a whole window.

    The sample and the fingerprint depend on row order: pass the reference in a stable order
    (e.g. sorted by primary key) so that the same dataset version gives the same profile.
    """
    cutoffs = dict(complete_from or {})
    if cutoffs and timestamp is None:
        msg = "complete_from needs the timestamp column"
        raise ValueError(msg)
    _check_columns(reference, [*numeric, *categorical], "reference")
    sample = sample_rows(reference, row_cap, seed)

    def column(name: str) -> pl.Series:
        if name not in cutoffs:
            return sample[name]
        return sample.filter(pl.col(timestamp) >= cutoffs[name])[name]  # type: ignore[arg-type]

    recorded = {name: start.isoformat() for name, start in sorted(cutoffs.items())}
    return ReferenceProfile(
        numeric={name: _numeric_reference(column(name)) for name in numeric},
        categorical={name: _categorical_reference(column(name)) for name in categorical},
        rows=reference.height,
        sample_rows=sample.height,
        row_cap=row_cap,
        seed=seed,
        fingerprint=reference_fingerprint(
            reference, numeric, categorical, row_cap=row_cap, seed=seed, complete_from=recorded
        ),
        complete_from=recorded,
    )


def _check_columns(frame: pl.DataFrame, names: Sequence[str], role: str) -> None:
    missing = [name for name in names if name not in frame.columns]
    if missing:
        msg = f"{role} frame has no column(s) {missing}"
        raise ValueError(msg)


def _present_values(series: pl.Series) -> tuple[np.ndarray, float]:
    """Sorted finite values as float64, and the share of rows that were null, NaN or infinite."""
    values = series.cast(pl.Float64).to_numpy()
    present = values[np.isfinite(values)]
    present.sort()
    return present, _missing_share(series.len(), present.size)


def _missing_share(rows: int, present: int) -> float:
    return (rows - present) / rows if rows else 0.0


def _distinct_count(sorted_values: np.ndarray) -> int:
    if sorted_values.size == 0:
        return 0
    return int(np.count_nonzero(np.diff(sorted_values))) + 1


def _numeric_reference(series: pl.Series) -> NumericReference:
    values, null_share = _present_values(series)
    discrete = _distinct_count(values) <= DISCRETE_MAX_VALUES
    return NumericReference(values=values, null_share=null_share, discrete=discrete)


def _category_counts(series: pl.Series) -> tuple[dict[Category, int], float]:
    present = series.drop_nulls()
    if present.dtype.is_float():
        present = present.filter(present.is_finite())
    counts = present.alias("value").value_counts()
    table = dict(zip(counts["value"].to_list(), counts["count"].to_list(), strict=True))
    return table, _missing_share(series.len(), present.len())


def _categorical_reference(series: pl.Series) -> CategoricalReference:
    table, null_share = _category_counts(series)
    ordered = sorted(table.items(), key=lambda item: (type(item[0]).__name__, item[0]))
    return CategoricalReference(
        categories=tuple(c for c, _ in ordered),
        counts=tuple(int(n) for _, n in ordered),
        null_share=null_share,
    )


def save_profile(profile: ReferenceProfile, path: Path) -> None:
    """Write `profile` to one .npz file (numpy arrays plus a JSON header), atomically."""
    header = {
        "format": PROFILE_FORMAT,
        "rows": profile.rows,
        "sample_rows": profile.sample_rows,
        "row_cap": profile.row_cap,
        "seed": profile.seed,
        "fingerprint": profile.fingerprint,
        "complete_from": dict(profile.complete_from or {}),
        "numeric": {
            name: {"null_share": ref.null_share, "discrete": ref.discrete}
            for name, ref in profile.numeric.items()
        },
        "categorical": {
            name: {
                "categories": list(ref.categories),
                "counts": list(ref.counts),
                "null_share": ref.null_share,
            }
            for name, ref in profile.categorical.items()
        },
    }
    arrays = {f"numeric_{i}": ref.values for i, ref in enumerate(profile.numeric.values())}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        np.savez(handle, header=np.array(json.dumps(header)), **arrays)
    os.replace(tmp, path)


def load_profile(path: Path) -> ReferenceProfile:
    """Read a profile written by `save_profile`."""
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        if header.get("format") != PROFILE_FORMAT:
            msg = f"{path}: profile format {header.get('format')!r}, expected {PROFILE_FORMAT}"
            raise ValueError(msg)
        numeric = {
            name: NumericReference(
                values=data[f"numeric_{i}"],
                null_share=meta["null_share"],
                discrete=meta["discrete"],
            )
            for i, (name, meta) in enumerate(header["numeric"].items())
        }
    categorical = {
        name: CategoricalReference(
            categories=tuple(meta["categories"]),
            counts=tuple(meta["counts"]),
            null_share=meta["null_share"],
        )
        for name, meta in header["categorical"].items()
    }
    return ReferenceProfile(
        numeric=numeric,
        categorical=categorical,
        rows=header["rows"],
        sample_rows=header["sample_rows"],
        row_cap=header["row_cap"],
        seed=header["seed"],
        fingerprint=header["fingerprint"],
        complete_from=header["complete_from"],
    )


def drift_columns(
    schema: Mapping[str, pl.DataType], features: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(numeric, categorical) among `features`: booleans are categorical, the rest numeric."""
    categorical = [name for name in features if schema[name] == pl.Boolean()]
    return [name for name in features if name not in categorical], categorical


def train_split(frame: pl.DataFrame, contract: DatasetContract) -> pl.DataFrame:
    """The train split of a training set, sorted by primary key (or time and entity keys):
    the rows a model's drift reference is profiled from."""
    keys = list(contract.primary_key) or [contract.timestamp_name, *contract.entity_key_names]
    return frame.filter(pl.col(SPLIT) == TRAIN).sort(keys, maintain_order=True)


def profile_and_scores(
    train: pl.DataFrame,
    features: Sequence[str],
    contract: DatasetContract,
    *,
    row_cap: int,
    complete_from: Mapping[str, datetime] | None,
    score: Callable[[pl.DataFrame], np.ndarray],
) -> tuple[ReferenceProfile, np.ndarray]:
    """A model's drift reference from its train split (`train_split`): the profile of
    `features` and `score` (the model's positive-class probabilities) on the profile's sample.
    The monitoring asset and the backtest both build references this way."""
    numeric, categorical = drift_columns(train.schema, features)
    profile = build_reference_profile(
        train,
        numeric,
        categorical,
        row_cap=row_cap,
        seed=SAMPLE_SEED,
        complete_from=complete_from,
        timestamp=contract.timestamp_name,
    )
    return profile, score(sample_rows(train, row_cap, SAMPLE_SEED))
