"""Data and prediction drift of a partition against a champion's training reference.

Retraining triggers read drift numbers on every partition, and Evidently is slow on wide or large
frames (seconds for 100k x 20), so this module keeps two paths over the same definitions:

- a fast path in vectorised numpy: `build_reference_profile` condenses the reference once (it can
  be cached per champion by its `fingerprint`), then `drift_summary` and `prediction_drift`
  compute PSI per feature and the two-sample Kolmogorov-Smirnov test per numeric feature;
- `evidently_report`, the only place that touches Evidently's (version-sensitive) API, which
  writes the HTML report off the critical path, configured with the same method, thresholds,
  columns and dataset rule as the fast path so that its verdicts are the metadata's
  (`drift_evidently`); `drift_table` lays the per-column numbers out as one table.

PSI and KS are defined in `drift_statistics` (exactly as Evidently 0.7 computes them).

Nulls: like Evidently, each column drops its nulls, NaN and +-inf before binning and testing, so
PSI and KS describe the distribution of present values; the null share of each side is recorded
separately (`null_share_change`). A column with fewer than `min_values` present values on
either side (no value at all, by default) is not scored: PSI over a dozen values of a sparse
feature (a 1-hour std of cards that rarely pay twice in an hour) is noise, not evidence.

Sampling: above `row_cap` rows a frame is sampled without replacement by a numpy generator seeded
with `seed` (the same rows every time); the sizes used are recorded.

Warm-up and gaps: see `drift_warm_up`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from retrain_platform.core.monitoring.drift_evidently import ScoreDrift, evidently_report
from retrain_platform.core.monitoring.drift_prediction import PredictionDrift, prediction_drift
from retrain_platform.core.monitoring.drift_profile import (
    DISCRETE_MAX_VALUES,
    PROFILE_FORMAT,
    CategoricalReference,
    NumericReference,
    ReferenceProfile,
    _category_counts,
    _check_columns,
    _present_values,
    build_reference_profile,
    load_profile,
    reference_fingerprint,
    sample_rows,
    save_profile,
)
from retrain_platform.core.monitoring.drift_statistics import (
    Category,
    categorical_psi,
    ks_test,
    numeric_psi,
    psi,
)
from retrain_platform.core.monitoring.drift_warm_up import (
    complete_from,
    drift_features,
    feature_reach,
    left_out,
    reaching_gaps,
    warming_up,
)

__all__ = [
    "CategoricalReference",
    "Category",
    "DISCRETE_MAX_VALUES",
    "DriftSummary",
    "FeatureDrift",
    "NumericReference",
    "PROFILE_FORMAT",
    "PredictionDrift",
    "ReferenceProfile",
    "ScoreDrift",
    "build_reference_profile",
    "categorical_psi",
    "complete_from",
    "drift_features",
    "drift_summary",
    "evidently_report",
    "feature_reach",
    "ks_test",
    "left_out",
    "load_profile",
    "numeric_psi",
    "prediction_drift",
    "psi",
    "reaching_gaps",
    "reference_fingerprint",
    "sample_rows",
    "save_profile",
    "warming_up",
]


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
    def scored_features(self) -> list[str]:
        """Features with enough values on both sides (the others cannot be compared)."""
        return [f.name for f in self.features if f.scored]

    @property
    def drift_share(self) -> float:
        """Drifted features over scored features (the columns Evidently's report compares)."""
        scored = len(self.scored_features)
        return len(self.drifted_features) / scored if scored else 0.0

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
        """The partition's totals as plain numbers (per-feature numbers: `drift_table`)."""
        return {
            "drift_share": self.drift_share,
            "n_drifted": len(self.drifted_features),
            "features": len(self.features),
            "scored_features": len(self.scored_features),
            "unscored_features": len(self.features) - len(self.scored_features),
            "warming_up_features": len(self.excluded_features),
            "max_psi": self.max_psi,
            "psi_threshold": self.psi_threshold,
            "ks_exceeding_features": len(self.ks_exceeding_features),
            "ks_threshold": self.ks_threshold,
            "reference_sample_rows": self.reference_rows,
            "current_sample_rows": self.current_rows,
        }


def drift_summary(
    current: pl.DataFrame,
    profile: ReferenceProfile,
    *,
    row_cap: int,
    seed: int,
    psi_threshold: float,
    ks_threshold: float,
    warming_up: Mapping[str, datetime] | None = None,
    min_values: int = 1,
    pvalues: bool = True,
) -> DriftSummary:
    """Per-feature PSI (and KS for numeric features) of `current` against `profile`.

    A feature drifts when its PSI is above `psi_threshold` (the trigger's rule; Evidently's own
    test uses >=). Per-feature KS statistics above `ks_threshold` are only counted. Features in
    `warming_up` (see `warming_up`) are not scored: they count in neither the drift share nor
    the max PSI. `pvalues=False` leaves the KS p-values out (None), for a caller that reads
    only the statistics (a backtest's thousands of reports).
    """
    _check_columns(current, profile.features, "current")
    sample = sample_rows(current, row_cap, seed)
    skipped = set(warming_up or {})
    features = [
        _numeric_drift(name, ref, sample[name], psi_threshold, max(min_values, 1), pvalues)
        for name, ref in profile.numeric.items()
        if name not in skipped
    ]
    features += [
        _categorical_drift(name, ref, sample[name], psi_threshold, max(min_values, 1))
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
    name: str,
    reference: NumericReference,
    series: pl.Series,
    threshold: float,
    min_values: int,
    pvalues: bool = True,
) -> FeatureDrift:
    values, null_share = _present_values(series)
    score, statistic, pvalue = math.nan, None, None
    if min(values.size, reference.rows) >= min_values:
        score = numeric_psi(reference.values, values, discrete=reference.discrete)
        statistic, pvalue = ks_test(reference.values, values, pvalue=pvalues)
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
    name: str,
    reference: CategoricalReference,
    series: pl.Series,
    threshold: float,
    min_values: int,
) -> FeatureDrift:
    counts, null_share = _category_counts(series)
    score = math.nan
    if min(sum(counts.values()), reference.rows) >= min_values:
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
