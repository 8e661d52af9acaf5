"""Per-partition ROC-AUC and accuracy of one model over many partitions, in one vectorised pass.

A backtest scores every candidate model on every later partition (the oracle needs the whole
matrix): hundreds of thousands of small ROC-AUCs, too many for one library call each. The
ROC-AUC here is the Mann-Whitney statistic on average ranks within each partition (ties count
one half), the value `sklearn.metrics.roc_auc_score` gives; NaN where a partition has one class.
"""

from __future__ import annotations

import numpy as np


def grouped_scores(
    labels: np.ndarray, scores: np.ndarray, groups: np.ndarray, count: int, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(ROC-AUC, accuracy at `threshold`) of each group 0..count-1 (NaN for an empty group)."""
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    groups = np.asarray(groups, dtype=np.int64)
    rows = np.bincount(groups, minlength=count).astype(np.float64)
    correct = np.bincount(
        groups, weights=((scores >= threshold) == (labels == 1)).astype(np.float64), minlength=count
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(rows > 0, correct / rows, np.nan)
    if labels.size == 0:
        return np.full(count, np.nan), accuracy
    order = np.lexsort((scores, groups))
    g, s = groups[order], scores[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    sizes = np.diff(np.r_[starts, g.size])
    position = np.arange(g.size) - np.repeat(starts, sizes) + 1.0
    tie = np.cumsum(np.r_[True, (np.diff(g) != 0) | (np.diff(s) != 0)]) - 1
    average = (np.bincount(tie, weights=position) / np.bincount(tie))[tie]
    ranks = np.empty(g.size)
    ranks[order] = average
    positives = np.bincount(groups, weights=labels, minlength=count)
    negatives = rows - positives
    rank_sum = np.bincount(groups, weights=ranks * labels, minlength=count)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
    auc[(positives == 0) | (negatives == 0)] = np.nan
    return auc, accuracy
