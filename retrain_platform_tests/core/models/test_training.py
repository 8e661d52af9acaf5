"""LightGBM training: time-ordered folds, no holdout leakage, deterministic refits.

Runs the real learner on a small seeded training set (a few hundred rows a day); no MLflow.
"""

import os

import numpy as np
import polars as pl
import pytest

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.training_set import HOLDOUT, SPLIT
from retrain_platform.core.models.inputs import model_feature_names
from retrain_platform.core.models.training import (
    CandidateConfig,
    TrainingOptions,
    holdout_rows,
    predict,
    refit,
    time_folds,
    train_candidates,
)

FAST = TrainingOptions(max_rounds=40, early_stopping_rounds=10, folds=2, num_threads=1)


@pytest.fixture(scope="module")
def features(contract):
    return model_feature_names(contract, contract.feature_views[0])


@pytest.fixture(scope="module")
def trained(training_frame, contract, features):
    return train_candidates(training_frame, contract, features, FAST)


def test_openmp_threads_sleep_when_idle():
    assert os.environ["OMP_WAIT_POLICY"].upper() == "PASSIVE"


def test_folds_expand_forward_in_time():
    parts = [f"2026-04-0{i}" for i in range(1, 8)]
    folds = time_folds(parts, folds=3, block=2)
    assert [list(f.validation) for f in folds] == [parts[1:3], parts[3:5], parts[5:7]]
    assert [list(f.train) for f in folds] == [parts[:1], parts[:3], parts[:5]]
    assert all(max(f.train) < min(f.validation) for f in folds)
    assert len(time_folds(parts[:3], folds=3, block=2)) == 1  # folds without history are dropped
    with pytest.raises(ValueError, match="cannot make a fold"):
        time_folds(parts[:2], folds=2, block=2)


def test_cross_validation_never_sees_the_holdout(trained, training_frame):
    holdout = set(holdout_rows(training_frame).get_column(pc.PARTITION).unique())
    assert holdout
    for fold in trained.folds:
        assert holdout.isdisjoint(fold.train) and holdout.isdisjoint(fold.validation)
    assert trained.folds[-1].validation == tuple(
        sorted(training_frame.filter(pl.col(SPLIT) == "validation")[pc.PARTITION].unique())
    )


def test_holdout_labels_do_not_change_the_model(trained, training_frame, contract, features):
    label = contract.label_name
    flipped = training_frame.with_columns(
        pl.when(pl.col(SPLIT) == HOLDOUT)
        .then(1 - pl.col(label))
        .otherwise(pl.col(label))
        .cast(training_frame.schema[label])
        .alias(label)
    )
    again = train_candidates(flipped, contract, features, FAST)
    assert again.booster.model_to_string() == trained.booster.model_to_string()


def test_best_configuration_by_mean_validation_auc_is_refit(training_frame, contract, features):
    hopeless = CandidateConfig("hopeless", {"num_leaves": 2, "learning_rate": 1e-4})
    options = TrainingOptions(
        max_rounds=40,
        early_stopping_rounds=10,
        folds=2,
        num_threads=1,
        candidates=(hopeless, CandidateConfig("useful", {"num_leaves": 15})),
    )
    result = train_candidates(training_frame, contract, features, options)
    means = result.cv_means()
    assert set(means) == {"hopeless", "useful"}
    assert result.config.name == max(means, key=means.get) == "useful"
    assert len(result.fold_results) == 2 * len(result.folds)
    assert result.params["num_leaves"] == 15 and result.params["deterministic"] is True


def test_training_is_deterministic_and_refit_repeats_it(
    trained, training_frame, contract, features
):
    holdout = holdout_rows(training_frame)
    shuffled = training_frame.sample(fraction=1.0, shuffle=True, seed=3)
    again = train_candidates(shuffled, contract, features, FAST)
    assert again.booster.model_to_string() == trained.booster.model_to_string()
    refitted = refit(training_frame, contract, features, trained.params, trained.num_boost_round)
    expected = predict(trained.booster, holdout, features)
    assert np.array_equal(predict(refitted, holdout, features), expected)
    assert trained.booster.feature_name() == features
