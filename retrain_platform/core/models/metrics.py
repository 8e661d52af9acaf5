"""Binary-classifier metrics on scored rows, and a paired bootstrap of the ROC-AUC difference.

Every function takes labels as 0/1 and scores as probabilities of the positive class. The
metrics are numpy one-pass computations with scikit-learn's definitions (ROC-AUC with tied
scores counted half, average precision over distinct thresholds, log loss with scores clipped
to [eps, 1 - eps]): the gate and a backtest compute them thousands of times on small holdouts,
where scikit-learn's input validation cost ten times the arithmetic. The
bootstrap draws one set of row indices per resample and applies it to both models (paired), and
computes each AUC from per-row counts over one pre-sorted order, so a thousand resamples of a
large holdout stay in the seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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
    """Return the ROC-AUC, NaN when only one class is present (Mann-Whitney: the share of
    positive-negative pairs the positive outranks, ties counted half)."""
    labels = np.asarray(labels)
    if not _both_classes(labels):
        return math.nan
    scores = np.asarray(scores, dtype=np.float64)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]  # 1-based mean rank of each tie group
    positive = labels == 1
    n_pos = int(positive.sum())
    n_neg = labels.size - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Return the average precision: precision at each distinct threshold, from the highest
    score down, weighted by the recall it adds (scikit-learn's definition)."""
    labels = np.asarray(labels)
    order = np.argsort(np.asarray(scores, dtype=np.float64), kind="mergesort")[::-1]
    ranked, hits = np.asarray(scores, dtype=np.float64)[order], labels[order] == 1
    last_of_group = np.r_[np.flatnonzero(np.diff(ranked)), ranked.size - 1]
    true_pos = np.cumsum(hits)[last_of_group]
    precision = true_pos / (last_of_group + 1)
    recall = true_pos / true_pos[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def log_loss(labels: np.ndarray, scores: np.ndarray) -> float:
    """Return the mean binary cross-entropy, each class's probability clipped to
    [eps, 1 - eps] as scikit-learn does."""
    eps = np.finfo(np.float64).eps
    p = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    positive = np.log(np.clip(p, eps, 1 - eps))
    negative = np.log(np.clip(1 - p, eps, 1 - eps))
    return float(-np.mean(y * positive + (1 - y) * negative))


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
        "pr_auc": average_precision(labels, scores) if both else math.nan,
        "recall_at_threshold": hits / positives if positives else math.nan,
        "precision_at_threshold": hits / flagged if flagged else math.nan,
        "log_loss": log_loss(labels, scores) if labels.size else math.nan,
        "brier": float(np.mean((scores - labels) ** 2)) if labels.size else math.nan,
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
