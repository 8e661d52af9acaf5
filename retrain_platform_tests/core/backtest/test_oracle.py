"""The oracle's dynamic programme finds the best schedule (checked against every schedule), and
the grouped ROC-AUC it scores partitions with is scikit-learn's, ties included."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from retrain_platform.core.backtest.bank import Fitted
from retrain_platform.core.backtest.oracle import oracle_frontier
from retrain_platform.core.backtest.scoring import grouped_scores

PARTITIONS = 9  # candidate steps 0..7 score partitions 1..8


def _bank(scores: np.ndarray) -> SimpleNamespace:
    """A stand-in bank: model j's score on partition k is scores[j, k] (k > j)."""
    no_holdout = (pl.DataFrame(), np.empty((0, 0)), np.empty(0))
    fitted = {
        j: Fitted(j, "", scores[j, j + 1 :], scores[j, j + 1 :], 0.0, *no_holdout)
        for j in range(PARTITIONS - 1)
    }
    return SimpleNamespace(fit=lambda step: fitted[step])


def _brute_force(scores: np.ndarray, fits: int) -> float:
    """The best mean over every schedule of at most `fits` fits, the first at step 0."""
    best = -np.inf
    for count in range(1, fits + 1):
        for later in itertools.combinations(range(1, PARTITIONS - 1), count - 1):
            schedule, total, served = (0, *later), 0.0, 0
            for k in range(1, PARTITIONS):
                served = max(j for j in schedule if j < k)
                total += scores[served, k]
            best = max(best, total / (PARTITIONS - 1))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_frontier_is_the_best_schedule_for_each_number_of_fits(seed: int) -> None:
    scores = np.random.default_rng(seed).uniform(0.5, 1.0, size=(PARTITIONS, PARTITIONS))
    frontier = oracle_frontier(_bank(scores), 0, PARTITIONS - 1, "roc_auc", PARTITIONS - 1)
    for fits in range(1, PARTITIONS):
        assert frontier.means[fits] == pytest.approx(_brute_force(scores, fits)), fits
        schedule = frontier.schedules[fits]
        assert schedule[0] == 0 and len(schedule) <= fits
        served = [max(j for j in schedule if j < k) for k in range(1, PARTITIONS)]
        value = np.mean([scores[j, k] for j, k in zip(served, range(1, PARTITIONS), strict=True)])
        assert value == pytest.approx(frontier.means[fits])


def test_partitions_without_both_classes_do_not_count() -> None:
    scores = np.full((PARTITIONS, PARTITIONS), 0.8)
    scores[:, 4] = np.nan  # partition 4 has one class: no ROC-AUC for any model
    frontier = oracle_frontier(_bank(scores), 0, PARTITIONS - 1, "roc_auc", 2)
    assert frontier.means[1] == pytest.approx(0.8)


def test_grouped_scores_match_scikit_learn_with_ties_and_single_class_groups() -> None:
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(6), 40)
    labels = (rng.uniform(size=groups.size) < 0.3).astype(float)
    labels[groups == 2] = 0.0  # one class only
    scores = np.round(rng.uniform(size=groups.size), 1)  # many ties
    auc, accuracy = grouped_scores(labels, scores, groups, 7, 0.5)
    for g in range(6):
        mask = groups == g
        expected = np.nan if g == 2 else roc_auc_score(labels[mask], scores[mask])
        np.testing.assert_allclose(auc[g], expected, atol=1e-12)
        assert accuracy[g] == pytest.approx(np.mean((scores[mask] >= 0.5) == (labels[mask] == 1)))
    assert np.isnan(auc[6]) and np.isnan(accuracy[6])  # an empty group
