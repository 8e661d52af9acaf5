"""Prediction drift: the champion's score distribution on a partition vs. its training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrain_platform.core.monitoring.drift_profile import (
    DISCRETE_MAX_VALUES,
    _distinct_count,
)
from retrain_platform.core.monitoring.drift_statistics import (
    ks_test,
    numeric_psi,
)

# The champion's score as a column of the drift table and of Evidently's report: underscored
# like the platform's own columns (`core.platform_columns`), so no contract column can clash.
PREDICTION_COLUMN = "_champion_score"


@dataclass(frozen=True)
class PredictionDrift:
    """Drift of the champion's score distribution: KS (the trigger) and PSI."""

    ks_statistic: float
    ks_pvalue: float | None
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
    pvalue: bool = True,
) -> PredictionDrift:
    """KS and PSI of the current against the reference score distribution (finite scores only).

    Drift when the KS statistic is above `ks_threshold`. Above `row_cap` each side is sampled
    with `seed`. `pvalue=False` leaves the KS p-value out (None).
    """
    current = _finite_sorted(current_scores, row_cap, seed)
    reference = _finite_sorted(reference_scores, row_cap, seed)
    if current.size == 0 or reference.size == 0:
        msg = "prediction drift needs at least one finite score on each side"
        raise ValueError(msg)
    statistic, p = ks_test(reference, current, pvalue=pvalue)
    discrete = _distinct_count(reference) <= DISCRETE_MAX_VALUES
    return PredictionDrift(
        ks_statistic=statistic,
        ks_pvalue=p,
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
