"""Classifier metrics and the paired bootstrap's weighted AUC, against scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from retrain_platform.core.models.metrics import (
    METRIC_NAMES,
    classification_metrics,
    expected_calibration_error,
    paired_bootstrap_auc_difference,
    weighted_roc_auc,
)


def test_metrics_at_the_decision_threshold():
    labels = np.array([1, 1, 0, 0, 0])
    scores = np.array([0.9, 0.2, 0.4, 0.1, 0.05])
    metrics = classification_metrics(labels, scores, threshold=0.3)
    assert set(METRIC_NAMES) <= set(metrics)
    assert metrics["recall_at_threshold"] == 0.5
    assert metrics["precision_at_threshold"] == 0.5
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert (metrics["rows"], metrics["positives"]) == (5, 2)


def test_one_class_gives_nan_auc_not_an_error():
    metrics = classification_metrics(np.zeros(4), np.full(4, 0.1), threshold=0.5)
    assert np.isnan(metrics["roc_auc"]) and np.isnan(metrics["recall_at_threshold"])


def test_calibration_error_is_zero_when_scores_match_rates_and_large_when_not():
    labels = np.array([1] * 2 + [0] * 8 + [1] * 8 + [0] * 2)
    calibrated = np.array([0.2] * 10 + [0.8] * 10)
    assert expected_calibration_error(labels, calibrated) == pytest.approx(0.0)
    assert expected_calibration_error(labels, np.full(20, 0.95)) == pytest.approx(0.45)


def test_weighted_auc_equals_sklearn_on_repeated_rows_with_ties():
    rng = np.random.default_rng(0)
    labels = (rng.random(500) < 0.3).astype(np.int8)
    scores = np.round(rng.random(500) + labels * 0.3, 1)  # rounding makes many ties
    weights = np.bincount(rng.integers(0, 500, 500), minlength=500)
    expected = roc_auc_score(labels, scores, sample_weight=weights)
    assert weighted_roc_auc(labels, scores, weights) == pytest.approx(expected, abs=1e-12)


def test_paired_bootstrap_is_seeded_and_brackets_the_difference():
    rng = np.random.default_rng(1)
    labels = (rng.random(2000) < 0.2).astype(np.int8)
    a = labels * 1.5 + rng.normal(size=2000)
    b = labels * 1.0 + rng.normal(size=2000)
    first = paired_bootstrap_auc_difference(labels, a, b, resamples=300, confidence=0.9, seed=5)
    second = paired_bootstrap_auc_difference(labels, a, b, resamples=300, confidence=0.9, seed=5)
    assert first == second
    assert first.low < first.point < first.high
    assert first.point == pytest.approx(roc_auc_score(labels, a) - roc_auc_score(labels, b))
    assert first.low > 0  # model a is clearly better


@pytest.mark.parametrize("seed", range(6))
def test_every_metric_equals_scikit_learn_with_ties_and_extreme_scores(seed):
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss

    rng = np.random.default_rng(seed)
    size = int(rng.integers(5, 400))
    labels = (rng.random(size) < rng.uniform(0.05, 0.6)).astype(np.int8)
    labels[:2] = [0, 1]
    scores = np.clip(rng.random(size) * 0.7 + labels * 0.3, 0, 1)
    scores = np.round(scores, int(rng.integers(1, 4)))  # ties at every seed
    scores[rng.integers(0, size, 3)] = [0.0, 1.0, 1.0]  # log loss's clipped ends
    metrics = classification_metrics(labels, scores, threshold=0.5)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert metrics["log_loss"] == pytest.approx(log_loss(labels, scores), rel=1e-12)
    assert metrics["brier"] == pytest.approx(brier_score_loss(labels, scores), abs=1e-12)
