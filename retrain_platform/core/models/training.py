"""LightGBM training: candidate configurations compared by time-ordered CV, the best one refit.

Only the train and validation parts of a training set are used here; the holdout is left to the
evaluation gate. The development partitions are cut into expanding-window folds (train on every
partition before a block, validate on the block; the last fold's block is the training set's own
validation split). Each candidate configuration is early-stopped (on log loss) on every fold;
the one with the best mean validation ROC-AUC is refit on train + validation with its mean best
iteration count.

Training is deterministic: fixed seed, `deterministic=True`, `force_row_wise=True`, a fixed
thread count (recorded, since predictions differ in the last bits between thread counts) and a
stable row order. `refit` is the exact code path of the final fit, which is what
`retrain-platform reproduce` reruns.
"""

# ruff: noqa: E402 - OMP_WAIT_POLICY must be set before lightgbm (and its OpenMP runtime) loads.

from __future__ import annotations

import os

# LightGBM's OpenMP threads spin-wait by default; on a 2-core machine that runs Dagster too, two
# spinning threads made training 2-10x slower than one thread. PASSIVE makes idle threads sleep.
# libgomp reads the variable once, when it is loaded, hence before the import below.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.training_set import HOLDOUT, SPLIT, VALIDATION
from retrain_platform.core.models.inputs import feature_matrix, label_vector, stable_order
from retrain_platform.core.models.metrics import roc_auc

LIGHTGBM_VERSION = lgb.__version__


def default_num_threads() -> int:
    """One thread fewer than the machine has cores (the orchestrator needs one), at least one."""
    return max(1, (os.cpu_count() or 1) - 1)


@dataclass(frozen=True)
class CandidateConfig:
    """A named set of LightGBM hyperparameters to compare."""

    name: str
    params: Mapping[str, Any]


DEFAULT_CANDIDATES = (
    CandidateConfig(
        "shallow",
        {
            "num_leaves": 15,
            "learning_rate": 0.1,
            "min_data_in_leaf": 50,
            "feature_fraction": 0.8,
            "lambda_l2": 1.0,
        },
    ),
    CandidateConfig(
        "deep",
        {
            "num_leaves": 63,
            "learning_rate": 0.1,
            "min_data_in_leaf": 20,
            "feature_fraction": 0.9,
            "lambda_l2": 0.0,
        },
    ),
)


@dataclass(frozen=True)
class TrainingOptions:
    """How hard to search: rounds, folds, seed, threads and the configurations compared."""

    max_rounds: int = 400
    early_stopping_rounds: int = 30
    # One fold: each configuration early-stopped on the validation split, the best refit on
    # train + validation, so the search costs about three fits, not seven (more folds: steadier
    # selection for that cost).
    folds: int = 1
    seed: int = 42
    num_threads: int = field(default_factory=default_num_threads)
    candidates: tuple[CandidateConfig, ...] = DEFAULT_CANDIDATES


def lightgbm_params(config: CandidateConfig, options: TrainingOptions) -> dict[str, Any]:
    """Return the full, deterministic LightGBM parameters of one configuration."""
    return {
        "objective": "binary",
        # Early stopping on log loss, not AUC: AUC peaks after a few rounds, while the scores
        # are still squeezed towards the base rate and the contract's decision threshold would
        # flag nothing; log loss keeps going until the probabilities are calibrated.
        "metric": "binary_logloss",
        "verbose": -1,
        "seed": options.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": options.num_threads,
        **config.params,
    }


@dataclass(frozen=True)
class Fold:
    """Partitions trained on and the block validated on."""

    train: tuple[str, ...]
    validation: tuple[str, ...]


def time_folds(partitions: Sequence[str], *, folds: int, block: int) -> list[Fold]:
    """Return up to `folds` expanding-window folds over time-ordered `partitions`, oldest first.

    Each fold validates on `block` partitions and trains on every partition before them; the
    last fold validates on the newest block. Folds that would have nothing to train on are
    dropped.
    """
    ordered = sorted(partitions)
    result = []
    for k in range(folds, 0, -1):
        end = len(ordered) - (k - 1) * block
        start = end - block
        if start < 1:
            continue
        result.append(Fold(tuple(ordered[:start]), tuple(ordered[start:end])))
    if not result:
        msg = f"{len(ordered)} development partition(s) cannot make a fold of {block}"
        raise ValueError(msg)
    return result


@dataclass(frozen=True)
class FoldResult:
    """One configuration's score on one fold."""

    config: str
    fold: int
    roc_auc: float
    best_iteration: int


@dataclass(frozen=True)
class TrainingResult:
    """The refit model and how it was chosen."""

    booster: lgb.Booster
    config: CandidateConfig
    params: dict[str, Any]
    num_boost_round: int
    features: list[str]
    folds: list[Fold]
    fold_results: list[FoldResult]
    validation_labels: np.ndarray
    validation_scores: np.ndarray
    seconds: float

    def cv_means(self) -> dict[str, float]:
        """Mean validation ROC-AUC per configuration."""
        names = dict.fromkeys(r.config for r in self.fold_results)
        return {
            name: float(np.nanmean([r.roc_auc for r in self.fold_results if r.config == name]))
            for name in names
        }


def development_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """The train and validation rows of a training set (never the holdout)."""
    return frame.filter(pl.col(SPLIT) != HOLDOUT)


def holdout_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """The holdout rows of a training set: its most recent partitions."""
    return frame.filter(pl.col(SPLIT) == HOLDOUT)


def _dataset(x: np.ndarray, y: np.ndarray, features: Sequence[str], **kwargs: Any) -> lgb.Dataset:
    return lgb.Dataset(x, y, feature_name=list(features), free_raw_data=False, **kwargs)


def _fit_fold(
    params: dict[str, Any],
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    features: Sequence[str],
    options: TrainingOptions,
) -> tuple[np.ndarray, int]:
    x_train, y_train, x_valid, y_valid = data
    train_set = _dataset(x_train, y_train, features)
    valid_set = _dataset(x_valid, y_valid, features, reference=train_set)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=options.max_rounds,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(options.early_stopping_rounds, verbose=False)],
        keep_training_booster=True,  # discarded after scoring: no round trip through text
    )
    best = booster.best_iteration or booster.current_iteration()
    return booster.predict(x_valid, num_iteration=best), best


def refit(
    frame: pl.DataFrame,
    contract: DatasetContract,
    features: Sequence[str],
    params: Mapping[str, Any],
    num_boost_round: int,
) -> lgb.Booster:
    """Fit the final model on every train and validation row of a training set."""
    development = stable_order(development_rows(frame), contract)
    x, y = feature_matrix(development, features), label_vector(development, contract)
    return _final_fit(x, y, features, params, num_boost_round)


def _final_fit(
    x: np.ndarray,
    y: np.ndarray,
    features: Sequence[str],
    params: Mapping[str, Any],
    num_boost_round: int,
) -> lgb.Booster:
    """The final fit on the development rows' matrix (`refit`'s, and the search's last step on
    the matrix it already holds)."""
    return lgb.train(dict(params), _dataset(x, y, features), num_boost_round=num_boost_round)


def predict(booster: lgb.Booster, frame: pl.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Return positive-class probabilities for the frame's rows."""
    return np.asarray(booster.predict(feature_matrix(frame, features)), dtype=np.float64)


def _finite_mean(values: Sequence[float]) -> float:
    """The mean of the finite values, NaN when there is none (a one-class validation block)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def train_candidates(
    frame: pl.DataFrame,
    contract: DatasetContract,
    features: Sequence[str],
    options: TrainingOptions | None = None,
) -> TrainingResult:
    """Compare the candidate configurations by time-ordered CV and refit the best one."""
    options = options or TrainingOptions()
    started = time.perf_counter()
    development = stable_order(development_rows(frame), contract)
    partitions = development.get_column(pc.PARTITION).unique().sort().to_list()
    block = max(
        1,
        development.filter(pl.col(SPLIT) == VALIDATION).get_column(pc.PARTITION).n_unique(),
    )
    folds = time_folds(partitions, folds=options.folds, block=block)
    x, y = feature_matrix(development, features), label_vector(development, contract)
    row_partition = development.get_column(pc.PARTITION).to_numpy()
    results: list[FoldResult] = []
    last_fold_scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for config in options.candidates:
        params = lightgbm_params(config, options)
        for i, fold in enumerate(folds):
            train_mask = np.isin(row_partition, fold.train)
            valid_mask = np.isin(row_partition, fold.validation)
            data = (x[train_mask], y[train_mask], x[valid_mask], y[valid_mask])
            scores, best = _fit_fold(params, data, features, options)
            results.append(FoldResult(config.name, i, roc_auc(y[valid_mask], scores), best))
            last_fold_scores[config.name] = (y[valid_mask], scores)
    means = {
        c.name: _finite_mean([r.roc_auc for r in results if r.config == c.name])
        for c in options.candidates
    }
    chosen = max(options.candidates, key=lambda c: np.nan_to_num(means[c.name], nan=-1.0))
    rounds = max(
        1, round(float(np.mean([r.best_iteration for r in results if r.config == chosen.name])))
    )
    params = lightgbm_params(chosen, options)
    booster = _final_fit(x, y, features, params, rounds)  # = refit(frame, ...), matrix reused
    labels, scores = last_fold_scores[chosen.name]
    return TrainingResult(
        booster=booster,
        config=chosen,
        params=params,
        num_boost_round=rounds,
        features=list(features),
        folds=folds,
        fold_results=results,
        validation_labels=labels,
        validation_scores=scores,
        seconds=time.perf_counter() - started,
    )
