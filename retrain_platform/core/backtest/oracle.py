"""The hindsight oracle: for each number of fits K, the retrain points that serve best.

As in CARA's offline optimum (Mahadevan & Mathioudakis, 2024), by dynamic programming over the
candidate retrain steps. Every step from the first fit to the one before the last partition is a
candidate; the model a retrain there produces is the bank's (the same fit every policy gets), and
`S[j, k]` is its score on partition k > j. A schedule j_1 = first < j_2 < ... < j_K serves
partition k with the newest model fitted before it; its value is the sum of those scores. With
`best_K[m]` the best value of the partitions before candidate m by K fits the last of which is
at m, `best_K[m'] = max_{m < m'} best_{K-1}[m] + seg(m, m')`, each K one vectorised pass over
the M x M segment matrix. Mean performance = value / partitions with a finite score (which
partitions those are depends on their labels only, not on the model). No gate: it bounds every
policy, gated or not, whose served models are the bank's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrain_platform.core.backtest.bank import ModelBank


@dataclass(frozen=True)
class OracleFrontier:
    """Best mean metric with at most K fits, for each K, and the schedule reaching it."""

    first: int
    means: dict[int, float]
    schedules: dict[int, tuple[int, ...]]


def score_matrix(bank: ModelBank, first: int, last: int, metric: str) -> np.ndarray:
    """Rows: candidate steps first..last-1; columns: evaluated partitions first+1..last."""
    count = last - first
    matrix = np.zeros((count, count))
    for m in range(count):
        fitted = bank.fit(first + m)
        values = fitted.roc_auc if metric == "roc_auc" else fitted.accuracy
        matrix[m, m:] = values[: count - m]
    return matrix


def oracle_frontier(
    bank: ModelBank, first: int, last: int, metric: str, max_fits: int
) -> OracleFrontier:
    """The best schedule of 1..max_fits fits (the first at `first`) over partitions to `last`."""
    scores = score_matrix(bank, first, last, metric)
    count = scores.shape[0]
    finite = np.isfinite(scores[0])
    evaluated = max(1, int(finite.sum()))
    values = np.where(np.isfinite(scores), scores, 0.0)
    cumulative = np.hstack([np.zeros((count, 1)), np.cumsum(values, axis=1)])
    own = cumulative[np.arange(count), np.arange(count)]
    segment = cumulative[:, :count] - own[:, None]  # model m serving until candidate m' fits
    segment[np.tril_indices(count)] = -np.inf
    tail = cumulative[:, count] - own
    best = np.full(count, -np.inf)
    best[0] = 0.0
    choices: list[np.ndarray] = []
    means: dict[int, float] = {}
    schedules: dict[int, tuple[int, ...]] = {}
    for fits in range(1, min(max_fits, count) + 1):
        if fits > 1:
            candidates = best[:, None] + segment
            choices.append(np.argmax(candidates, axis=0))
            best = candidates[choices[-1], np.arange(count)]
        total = best + tail
        end = int(np.argmax(total))
        mean = float(total[end] / evaluated)
        if fits > 1 and means[fits - 1] >= mean:  # at most K fits: fewer may serve better
            means[fits], schedules[fits] = means[fits - 1], schedules[fits - 1]
            continue
        means[fits] = mean
        schedules[fits] = tuple(first + m for m in _backtrack(choices, end))
    return OracleFrontier(first, means, schedules)


def _backtrack(choices: list[np.ndarray], end: int) -> list[int]:
    path = [end]
    for choice in reversed(choices):
        path.append(int(choice[path[-1]]))
    return path[::-1]
