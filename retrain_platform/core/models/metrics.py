"""Binary-classifier metrics on scored rows, and a paired bootstrap of the ROC-AUC difference.

Every function takes labels as 0/1 and scores as probabilities of the positive class. The
bootstrap draws one set of row indices per resample and applies it to both models (paired), and
computes each AUC from per-row counts over one pre-sorted order, so a thousand resamples of a
large holdout stay in the seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

METRIC_NAMES = (
    "roc_auc",
    "pr_auc",
    "recall_at_threshold",
    "precision_at_threshold",
    "log_loss",
    "brier",
    "ece",
)
CALIBRATION_BINS = 10


def _both_classes(labels: np.ndarray) -> bool:
    return 0 < int(labels.sum()) < labels.size


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Return the ROC-AUC, NaN when only one class is present."""
    return float(roc_auc_score(labels, scores)) if _both_classes(labels) else math.nan


def expected_calibration_error(
    labels: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """Return the row-weighted mean |observed rate - mean score| over equal-width score bins."""
    if labels.size == 0:
        return math.nan
    which = np.minimum((scores * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    positives = np.bincount(which, weights=labels, minlength=bins)
    score_sums = np.bincount(which, weights=scores, minlength=bins)
    used = counts > 0
    gaps = np.abs(positives[used] - score_sums[used])
    return float(gaps.sum() / labels.size)


def classification_metrics(
    labels: np.ndarray, scores: np.ndarray, *, threshold: float
) -> dict[str, float]:
    """Return every metric of `METRIC_NAMES` plus row and positive counts."""
    labels = np.asarray(labels, dtype=np.int8)
    scores = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    predicted = scores >= threshold
    positives = int(labels.sum())
    flagged = int(predicted.sum())
    hits = int((predicted & (labels == 1)).sum())
    both = _both_classes(labels)
    return {
        "roc_auc": roc_auc(labels, scores),
        "pr_auc": float(average_precision_score(labels, scores)) if both else math.nan,
        "recall_at_threshold": hits / positives if positives else math.nan,
        "precision_at_threshold": hits / flagged if flagged else math.nan,
        "log_loss": float(log_loss(labels, scores, labels=[0, 1])) if labels.size else math.nan,
        "brier": float(brier_score_loss(labels, scores)) if labels.size else math.nan,
        "ece": expected_calibration_error(labels, scores),
        "rows": float(labels.size),
        "positives": float(positives),
    }


class _SortedScores:
    """One model's scores sorted once, with tie groups, for AUCs under many row weightings."""

    def __init__(self, labels: np.ndarray, scores: np.ndarray) -> None:
        self.order = np.argsort(scores, kind="stable")
        ranked = scores[self.order]
        self.positive = labels[self.order].astype(bool)
        self.starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        self.ties = self.starts.size < scores.size

    def auc(self, weights: np.ndarray) -> np.ndarray:
        """AUC for each row of `weights` (resamples x rows: how often each row was drawn)."""
        w = weights[:, self.order]
        pos = np.where(self.positive, w, 0)
        neg = w - pos
        if self.ties:
            pos = np.add.reduceat(pos, self.starts, axis=1)
            neg = np.add.reduceat(neg, self.starts, axis=1)
        # each positive beats the negatives ranked below it and ties with those in its group
        wins = (pos * (np.cumsum(neg, axis=1) - 0.5 * neg)).sum(axis=1)
        total = pos.sum(axis=1) * neg.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return wins / total


def weighted_roc_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    """Return the ROC-AUC with per-row weights (a bootstrap resample's draw counts)."""
    return float(_SortedScores(labels, scores).auc(weights[np.newaxis, :])[0])


@dataclass(frozen=True)
class BootstrapInterval:
    """A percentile interval of (champion - challenger) ROC-AUC over paired resamples."""

    point: float
    low: float
    high: float
    confidence: float
    resamples: int


def paired_bootstrap_auc_difference(
    labels: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    *,
    resamples: int,
    confidence: float,
    seed: int,
    chunk: int = 50,
) -> BootstrapInterval:
    """Return the interval of champion-minus-challenger ROC-AUC on the same resampled rows."""
    labels = np.asarray(labels, dtype=np.int8)
    n = labels.size
    rng = np.random.default_rng(seed)
    first, second = _SortedScores(labels, champion), _SortedScores(labels, challenger)
    differences: list[np.ndarray] = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        draws = rng.integers(0, n, size=(size, n)) + n * np.arange(size)[:, np.newaxis]
        weights = np.bincount(draws.ravel(), minlength=size * n).reshape(size, n)
        differences.append(first.auc(weights) - second.auc(weights))
    values = np.concatenate(differences)
    values = values[np.isfinite(values)]
    alpha = (1.0 - confidence) / 2.0
    return BootstrapInterval(
        point=roc_auc(labels, champion) - roc_auc(labels, challenger),
        low=float(np.quantile(values, alpha)),
        high=float(np.quantile(values, 1.0 - alpha)),
        confidence=confidence,
        resamples=int(values.size),
    )
