"""Data and prediction drift of a partition against a champion's training reference.

Retraining triggers read drift numbers on every partition, and Evidently is slow on wide or large
frames (seconds for 100k x 20), so this module keeps two paths over the same definitions:

- a fast path in vectorised numpy: `build_reference_profile` condenses the reference once (it can
  be cached per champion by its `fingerprint`), then `drift_summary` and `prediction_drift`
  compute PSI per feature and the two-sample Kolmogorov-Smirnov test per numeric feature;
- `evidently_report`, the only place that touches Evidently's (version-sensitive) API, which
  writes the HTML report and returns Evidently's own per-column scores, off the critical path.

PSI is computed exactly as Evidently 0.7's `psi` stat test (`get_binned_data`) computes it:

- numeric column whose reference has more than 20 distinct values: equal-width bins from the
  minimum to the maximum of reference and current *combined*, as many as numpy's "sturges" rule
  gives (`np.histogram_bin_edges(concat, "sturges")`, about log2(n_ref + n_cur) + 1), counted the
  way `np.histogram` counts them (half-open bins, the last one closed);
- categorical column, or numeric with at most 20 distinct reference values: one bin per value
  seen in either sample;
- proportions are counts over the non-null sample size; an empty bin gets
  `min(non-zero proportion) / 1e6` when that minimum is <= 1e-4, else 1e-4 (each side on its own,
  without renormalising); PSI = sum((ref - cur) * ln(ref / cur)).

Because the bin edges depend on the current sample, the profile keeps each numeric feature's
sorted reference values (which the KS test needs anyway) rather than fixed edges: any bin's
reference count is then two binary searches.

KS is scipy's `ks_2samp` (what Evidently's `ks` method calls): the same statistic, from sorted
samples, and the same p-value (`kstwo.sf(d, round(n1 n2 / (n1 + n2)))` above 10,000 rows per
side, scipy's exact method below).

Nulls: like Evidently, each column drops its nulls, NaN and +-inf before binning and testing, so
PSI and KS describe the distribution of present values; the null share of each side is recorded
separately (`null_share_change`). A column with no present value on one side is not scored.

Sampling: above `row_cap` rows a frame is sampled without replacement by a numpy generator seeded
with `seed` (the same rows every time); the sizes used are recorded.

Warm-up: a windowed feature (a 30-day count, a lag, the time since the previous event) read over a
history that starts less than its window before the event sees fewer earlier events than it would
with full history, so its distribution is lower in the first partitions of the data (or after a
backfill from the start) than in a reference computed with full history, and it would read as
drift. Only values whose whole window lies within the available history are comparable, so
(`feature_reach`, `warming_up`): a feature whose window, from the start of the current partition,
reaches before the first available partition is left out of that partition's drift (recorded
with the date from which it is complete), and the reference keeps, per feature, only rows whose
window lies within the history (`build_reference_profile(complete_from=...)`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from retrain_platform.contracts.model import DatasetContract, FeatureView

PROFILE_FORMAT = 2
DISCRETE_MAX_VALUES = 20  # Evidently bins a numeric column by value at or below this many values
_EXACT_KS_MAX_ROWS = 10_000  # scipy's ks_2samp switches from exact to asymptotic p-values above
_EMPTY_BIN_FLOOR = 1e-4
_EMPTY_BIN_SCALE = 1e6

Category = str | int | float | bool


# --- warm-up ----------------------------------------------------------------------------------


def feature_reach(contract: DatasetContract, view: FeatureView) -> dict[str, timedelta]:
    """How far before its event each feature of `view` may read (zero: the event alone).

    A time window reads its duration back; event-count windows, lags and the time since the
    previous event read as far as the view's lookback; label aggregates read their window; a
    ratio or difference reads as far as the further of its two sides.
    """
    zero = timedelta(0)
    reach: dict[str, timedelta] = dict.fromkeys(view.passthrough, zero)
    for aggregate in view.aggregates:
        for window in aggregate.windows:
            span = window.duration or view.lookback
            reach |= dict.fromkeys(
                (f"{aggregate.column}_{f}_{window.suffix}" for f in aggregate.functions), span
            )
    for spec in view.label_aggregates:
        for window in spec.windows:
            span = window.duration or view.lookback
            reach |= dict.fromkeys(
                (f"{contract.label_name}_{f}_{window.suffix}" for f in spec.functions), span
            )
    for lag in view.lags:
        reach |= dict.fromkeys(lag.output_names(), view.lookback)
    if view.time_since_previous:
        reach[view.time_since_previous_name] = view.lookback
    for encoding in view.encodings:
        reach |= dict.fromkeys(encoding.output_names(), zero)
    for combination in view.combinations:
        reach[combination.name] = max(
            reach.get(combination.left, zero), reach.get(combination.right, zero)
        )
    return reach


def complete_from(reach: Mapping[str, timedelta], history_start: datetime) -> dict[str, datetime]:
    """For each windowed feature, the first event time whose window lies within the history."""
    return {name: history_start + span for name, span in reach.items() if span > timedelta(0)}


def warming_up(
    reach: Mapping[str, timedelta], history_start: datetime, partition_start: datetime
) -> dict[str, datetime]:
    """Features whose window, from `partition_start`, reaches before `history_start`.

    Returns each such feature with the time from which its values are complete.
    """
    return {
        name: start
        for name, start in complete_from(reach, history_start).items()
        if partition_start < start
    }


def reaching_gaps(
    reach: Mapping[str, timedelta],
    gaps: Sequence[tuple[datetime, datetime]],
    partition_start: datetime,
) -> dict[str, datetime]:
    """Features whose window, from `partition_start`, covers a gap in the history.

    A gap is a partition (start, end) without validated rows, e.g. one whose file was refused:
    a window over it counts fewer events than it should, which reads as drift of the window
    features for as long as they reach back to it, although nothing changed in the data that
    did arrive. Returns each such feature with the time from which its values are complete again
    (the gap's end plus the window).
    """
    out: dict[str, datetime] = {}
    for name, span in reach.items():
        covered = [
            end for start, end in gaps if start < partition_start and end > partition_start - span
        ]
        if span > timedelta(0) and covered:
            out[name] = max(covered) + span
    return out


# --- profile ----------------------------------------------------------------------------------


def drift_features(contract: DatasetContract) -> tuple[list[str], list[str]]:
    """(numeric, categorical) features: numeric without categories; with categories, or bool."""
    numeric = [c.name for c in contract.features if c.is_numeric and c.categories is None]
    categorical = [
        c.name for c in contract.features if c.categories is not None or c.dtype == "bool"
    ]
    return numeric, categorical


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


# --- profile files ----------------------------------------------------------------------------


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


# --- statistics -------------------------------------------------------------------------------


def _fill_empty_bins(proportions: np.ndarray) -> np.ndarray:
    """Evidently's replacement for empty bins (one side at a time, not renormalised)."""
    nonzero = proportions[proportions != 0]
    if nonzero.size == 0:
        return proportions
    smallest = nonzero.min()
    fill = smallest / _EMPTY_BIN_SCALE if smallest <= _EMPTY_BIN_FLOOR else _EMPTY_BIN_FLOOR
    return np.where(proportions == 0, fill, proportions)


def psi(reference_proportions: np.ndarray, current_proportions: np.ndarray) -> float:
    """Population stability index of two binned distributions (Evidently's definition)."""
    ref = _fill_empty_bins(np.asarray(reference_proportions, dtype=np.float64))
    cur = _fill_empty_bins(np.asarray(current_proportions, dtype=np.float64))
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin exactly as `np.histogram(values, edges)` (last bin closed on the right)."""
    cumulative = np.concatenate(
        (
            np.searchsorted(sorted_values, edges[:-1], side="left"),
            np.searchsorted(sorted_values, edges[-1:], side="right"),
        )
    )
    return np.diff(cumulative)


def _value_counts(sorted_values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    right = np.searchsorted(sorted_values, keys, side="right")
    return right - np.searchsorted(sorted_values, keys, side="left")


def numeric_psi(
    reference_sorted: np.ndarray, current_sorted: np.ndarray, *, discrete: bool
) -> float:
    """PSI of two sorted, finite samples, binned as Evidently bins them."""
    if discrete:
        keys = np.unique(np.concatenate((np.unique(reference_sorted), np.unique(current_sorted))))
        ref_counts = _value_counts(reference_sorted, keys)
        cur_counts = _value_counts(current_sorted, keys)
    else:
        combined = np.concatenate((reference_sorted, current_sorted))
        edges = np.histogram_bin_edges(combined, bins="sturges")
        ref_counts = _bin_counts(reference_sorted, edges)
        cur_counts = _bin_counts(current_sorted, edges)
    return psi(ref_counts / reference_sorted.size, cur_counts / current_sorted.size)


def categorical_psi(reference: Mapping[Category, int], current: Mapping[Category, int]) -> float:
    """PSI of two category-count tables over every category seen in either."""
    keys = list(dict.fromkeys([*reference, *current]))
    ref = np.array([reference.get(k, 0) for k in keys], dtype=np.float64)
    cur = np.array([current.get(k, 0) for k in keys], dtype=np.float64)
    return psi(ref / ref.sum(), cur / cur.sum())


def ks_test(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample KS (statistic, p-value) of sorted samples, as scipy's `ks_2samp`."""
    n_ref, n_cur = reference_sorted.size, current_sorted.size
    if max(n_ref, n_cur) <= _EXACT_KS_MAX_ROWS:
        result = stats.ks_2samp(reference_sorted, current_sorted)
        return float(result.statistic), float(result.pvalue)
    statistic = max(
        0.0,
        _ecdf_excess(reference_sorted, current_sorted),
        _ecdf_excess(current_sorted, reference_sorted),
    )
    big, small = max(n_ref, n_cur), min(n_ref, n_cur)
    effective = np.round(float(big) * small / (big + small))
    pvalue = float(np.clip(stats.kstwo.sf(statistic, effective), 0.0, 1.0))
    return statistic, pvalue


def _ecdf_excess(sorted_values: np.ndarray, other_sorted: np.ndarray) -> float:
    """max(F - G) over the sample's own points (where F jumps), F its ECDF, G the other's.

    At the last of tied values F is (index + 1) / n, the count scipy divides; earlier ties give
    smaller gaps, so the maximum, and the statistic, are scipy's to the last bit.
    """
    own = np.arange(1, sorted_values.size + 1) / sorted_values.size
    other = np.searchsorted(other_sorted, sorted_values, side="right") / other_sorted.size
    return float((own - other).max())


# --- summaries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift: PSI (both kinds), KS (numeric), flags and null shares."""

    name: str
    kind: str
    psi: float
    drifted: bool
    ks_statistic: float | None
    ks_pvalue: float | None
    reference_null_share: float
    current_null_share: float

    @property
    def null_share_change(self) -> float:
        return self.current_null_share - self.reference_null_share

    @property
    def scored(self) -> bool:
        return not math.isnan(self.psi)


@dataclass(frozen=True)
class DriftSummary:
    """Drift of a partition's features against a reference profile, from the fast path."""

    features: tuple[FeatureDrift, ...]
    psi_threshold: float
    ks_threshold: float
    reference_rows: int
    current_rows: int
    reference_fingerprint: str
    warming_up: Mapping[str, datetime] | None = None

    @property
    def excluded_features(self) -> list[str]:
        """Features left out because their window reaches before the history (`warming_up`)."""
        return sorted(self.warming_up or {})

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    @property
    def ks_exceeding_features(self) -> list[str]:
        """Numeric features whose KS statistic is above the KS threshold (informational)."""
        return [
            f.name
            for f in self.features
            if f.ks_statistic is not None and f.ks_statistic > self.ks_threshold
        ]

    @property
    def drift_share(self) -> float:
        return len(self.drifted_features) / len(self.features) if self.features else 0.0

    @property
    def max_psi(self) -> float:
        scores = [f.psi for f in self.features if f.scored]
        return max(scores) if scores else 0.0

    @property
    def max_psi_feature(self) -> str | None:
        scored = [f for f in self.features if f.scored]
        return max(scored, key=lambda f: f.psi).name if scored else None

    @property
    def drifted(self) -> bool:
        """Any feature's PSI above the threshold (the retraining trigger's data-drift rule)."""
        return bool(self.drifted_features)

    def as_metadata(self) -> dict[str, float | int]:
        """Plain numbers: totals, then per feature `psi.`, `ks_stat.`, `ks_pvalue.`, nulls."""
        out: dict[str, float | int] = {
            "drift_share": self.drift_share,
            "drifted_features": len(self.drifted_features),
            "features": len(self.features),
            "unscored_features": sum(not f.scored for f in self.features),
            "warming_up_features": len(self.excluded_features),
            "max_psi": self.max_psi,
            "psi_threshold": self.psi_threshold,
            "ks_exceeding_features": len(self.ks_exceeding_features),
            "ks_threshold": self.ks_threshold,
            "reference_sample_rows": self.reference_rows,
            "current_sample_rows": self.current_rows,
        }
        for f in self.features:
            if f.scored:
                out[f"psi.{f.name}"] = f.psi
            if f.ks_statistic is not None and f.ks_pvalue is not None:
                out[f"ks_stat.{f.name}"] = f.ks_statistic
                out[f"ks_pvalue.{f.name}"] = f.ks_pvalue
            out[f"null_share_change.{f.name}"] = f.null_share_change
        return out


def drift_summary(
    current: pl.DataFrame,
    profile: ReferenceProfile,
    *,
    row_cap: int,
    seed: int,
    psi_threshold: float,
    ks_threshold: float,
    warming_up: Mapping[str, datetime] | None = None,
) -> DriftSummary:
    """Per-feature PSI (and KS for numeric features) of `current` against `profile`.

    A feature drifts when its PSI is above `psi_threshold` (the trigger's rule; Evidently's own
    test uses >=). Per-feature KS statistics above `ks_threshold` are only counted. Features in
    `warming_up` (see `warming_up`) are not scored: they count in neither the drift share nor
    the max PSI.
    """
    _check_columns(current, profile.features, "current")
    sample = sample_rows(current, row_cap, seed)
    skipped = set(warming_up or {})
    features = [
        _numeric_drift(name, ref, sample[name], psi_threshold)
        for name, ref in profile.numeric.items()
        if name not in skipped
    ]
    features += [
        _categorical_drift(name, ref, sample[name], psi_threshold)
        for name, ref in profile.categorical.items()
        if name not in skipped
    ]
    return DriftSummary(
        features=tuple(features),
        psi_threshold=psi_threshold,
        ks_threshold=ks_threshold,
        reference_rows=profile.sample_rows,
        current_rows=sample.height,
        reference_fingerprint=profile.fingerprint,
        warming_up={n: t for n, t in (warming_up or {}).items() if n in profile.features},
    )


def _numeric_drift(
    name: str, reference: NumericReference, series: pl.Series, threshold: float
) -> FeatureDrift:
    values, null_share = _present_values(series)
    score, statistic, pvalue = math.nan, None, None
    if values.size and reference.rows:
        score = numeric_psi(reference.values, values, discrete=reference.discrete)
        statistic, pvalue = ks_test(reference.values, values)
    return FeatureDrift(
        name=name,
        kind="numeric",
        psi=score,
        drifted=score > threshold,
        ks_statistic=statistic,
        ks_pvalue=pvalue,
        reference_null_share=reference.null_share,
        current_null_share=null_share,
    )


def _categorical_drift(
    name: str, reference: CategoricalReference, series: pl.Series, threshold: float
) -> FeatureDrift:
    counts, null_share = _category_counts(series)
    score = math.nan
    if counts and reference.rows:
        ref_counts = dict(zip(reference.categories, reference.counts, strict=True))
        score = categorical_psi(ref_counts, counts)
    return FeatureDrift(
        name=name,
        kind="categorical",
        psi=score,
        drifted=score > threshold,
        ks_statistic=None,
        ks_pvalue=None,
        reference_null_share=reference.null_share,
        current_null_share=null_share,
    )


@dataclass(frozen=True)
class PredictionDrift:
    """Drift of the champion's score distribution: KS (the trigger) and PSI."""

    ks_statistic: float
    ks_pvalue: float
    psi: float
    ks_threshold: float
    reference_rows: int
    current_rows: int

    @property
    def drifted(self) -> bool:
        return self.ks_statistic > self.ks_threshold

    def as_metadata(self) -> dict[str, float | int]:
        return {
            "prediction_ks_stat": self.ks_statistic,
            "prediction_ks_pvalue": self.ks_pvalue,
            "prediction_psi": self.psi,
            "prediction_ks_threshold": self.ks_threshold,
            "prediction_reference_rows": self.reference_rows,
            "prediction_current_rows": self.current_rows,
        }


def prediction_drift(
    current_scores: np.ndarray,
    reference_scores: np.ndarray,
    *,
    ks_threshold: float,
    row_cap: int | None = None,
    seed: int = 0,
) -> PredictionDrift:
    """KS and PSI of the current against the reference score distribution (finite scores only).

    Drift when the KS statistic is above `ks_threshold`. Above `row_cap` each side is sampled
    with `seed`.
    """
    current = _finite_sorted(current_scores, row_cap, seed)
    reference = _finite_sorted(reference_scores, row_cap, seed)
    if current.size == 0 or reference.size == 0:
        msg = "prediction drift needs at least one finite score on each side"
        raise ValueError(msg)
    statistic, pvalue = ks_test(reference, current)
    discrete = _distinct_count(reference) <= DISCRETE_MAX_VALUES
    return PredictionDrift(
        ks_statistic=statistic,
        ks_pvalue=pvalue,
        psi=numeric_psi(reference, current, discrete=discrete),
        ks_threshold=ks_threshold,
        reference_rows=int(reference.size),
        current_rows=int(current.size),
    )


def _finite_sorted(scores: np.ndarray, row_cap: int | None, seed: int) -> np.ndarray:
    values = np.asarray(scores, dtype=np.float64).ravel()
    if row_cap is not None and values.size > row_cap:
        rows = np.random.default_rng(seed).choice(values.size, row_cap, replace=False)
        values = values[np.sort(rows)]
    values = values[np.isfinite(values)]
    values.sort()
    return values


# --- Evidently --------------------------------------------------------------------------------


def evidently_report(
    current: pl.DataFrame,
    reference: pl.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    html_path: Path,
    *,
    method: str = "psi",
) -> dict[str, Any]:
    """Run Evidently's data-drift preset, save its HTML report, return its scores.

    Returns {"columns": {name: {"score", "method", "threshold"}}, "drifted_count",
    "drift_share", "html_path"}. Scores follow Evidently's method: `psi` a distance (high =
    drift), `ks` a p-value (low = drift). Slow on large frames: sample first (`sample_rows`).
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = [*numeric, *categorical]
    _check_columns(current, columns, "current")
    _check_columns(reference, columns, "reference")
    definition = DataDefinition(
        numerical_columns=list(numeric), categorical_columns=list(categorical)
    )
    datasets = [
        Dataset.from_pandas(frame.select(columns).to_pandas(), data_definition=definition)
        for frame in (current, reference)
    ]
    snapshot = Report([DataDriftPreset(method=method)]).run(*datasets)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(html_path))
    return {**_parse_snapshot(snapshot.dict()), "html_path": str(html_path)}


def _parse_snapshot(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"columns": {}, "drifted_count": None, "drift_share": None}
    for metric in snapshot["metrics"]:
        config, value = metric["config"], metric["value"]
        kind = config["type"]
        if kind.endswith(":DriftedColumnsCount"):
            out["drifted_count"] = int(value["count"])
            out["drift_share"] = float(value["share"])
        elif kind.endswith(":ValueDrift"):
            out["columns"][config["column"]] = {
                "score": float(value),
                "method": config.get("method"),
                "threshold": config.get("threshold"),
            }
    return out
