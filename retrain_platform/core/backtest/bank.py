"""Every model a backtest may serve, fitted once and shared by every policy that needs it.

The model a retrain at step `i` would produce depends on nothing but the step: its training
window is `select_window` at that step's time over the partitions landed by then (the policy's
window), its training the platform's own candidate search (`training.train_candidates`). So the
bank keys models by step, fits each at most once (in worker processes when several are known to
be needed, e.g. for fixed schedules and the oracle: `fitting.FitPool`) and scores it on every
later partition in one pass; policies then only look up which model serves which partition, and
what it scored. A fit also keeps its training set's holdout (rows, feature matrix and its own
scores), so a gate only has to score the champion on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.backtest.history import ReplayHistory
from retrain_platform.core.backtest.scoring import grouped_scores
from retrain_platform.core.datasets.window import DatasetWindow, WindowSpec, select_window
from retrain_platform.core.models import training
from retrain_platform.core.models.gate import GateVerdict, evaluate_gate
from retrain_platform.core.models.inputs import feature_matrix, label_vector
from retrain_platform.core.monitoring.drift_profile import (
    ReferenceProfile,
    profile_and_scores,
    train_split,
)
from retrain_platform.core.monitoring.drift_warm_up import complete_from


@dataclass(frozen=True, eq=False)
class Reference:
    """A model's drift reference: the profile of its train split and its scores on the sample."""

    profile: ReferenceProfile
    scores: np.ndarray


@dataclass(frozen=True, eq=False)
class Fitted:
    """A model fitted at one step: its booster text, its scores on every later partition, and
    its training set's holdout rows with their feature matrix and the model's scores."""

    step: int
    model: str
    roc_auc: np.ndarray
    accuracy: np.ndarray
    seconds: float
    holdout: pl.DataFrame
    holdout_x: np.ndarray
    holdout_scores: np.ndarray
    reference: Reference | None = None


@dataclass(frozen=True, eq=False)
class Matrix:
    """Every partition's scoring rows as one feature matrix, with labels and partition indexes."""

    x: np.ndarray
    y: np.ndarray
    group: np.ndarray
    offsets: np.ndarray  # rows of partition k are offsets[k]:offsets[k + 1]

    @classmethod
    def of(cls, history: ReplayHistory) -> Matrix:
        frames = [history.scoring[p] for p in history.partitions]
        sizes = np.array([f.height for f in frames], dtype=np.int64)
        frame = pl.concat(frames)
        return cls(
            x=feature_matrix(frame, history.features),
            y=label_vector(frame, history.contract).astype(np.float64),
            group=np.repeat(np.arange(len(frames)), sizes),
            offsets=np.r_[0, np.cumsum(sizes)],
        )


def step_window(history: ReplayHistory, spec: WindowSpec, step: int) -> DatasetWindow | None:
    """The window a retrain at `step` trains on, None when too few partitions are labelled."""
    try:
        return select_window(
            history.contract, history.partitions[: step + 1], history.as_of(step), spec=spec
        )
    except ValueError:
        return None


def fit_step(
    history: ReplayHistory,
    matrix: Matrix,
    spec: WindowSpec,
    options: training.TrainingOptions,
    contract: DatasetContract,
    step: int,
    references: bool = False,
) -> Fitted:
    """Train the step's candidate as the retrain job would and score it on later partitions;
    with `references`, build its drift reference too (while its training set is at hand)."""
    started = time.perf_counter()
    window = step_window(history, spec, step)
    if window is None:
        msg = f"step {step} ({history.partitions[step]}) has no training window"
        raise ValueError(msg)
    frame = history.training_frame(window)
    booster = training.train_candidates(frame, contract, list(history.features), options).booster
    holdout = training.holdout_rows(frame)
    holdout_x = feature_matrix(holdout, history.features)
    holdout_scores = np.asarray(booster.predict(holdout_x, num_threads=1), dtype=np.float64)
    start = matrix.offsets[step + 1]
    count = len(history.partitions) - step - 1
    auc, accuracy = np.full(0, np.nan), np.full(0, np.nan)
    if count > 0:
        scores = np.asarray(booster.predict(matrix.x[start:]), dtype=np.float64)
        auc, accuracy = grouped_scores(
            matrix.y[start:],
            scores,
            matrix.group[start:] - (step + 1),
            count,
            contract.policy.decision_threshold,
        )
    reference = drift_reference(history, contract, frame, booster) if references else None
    seconds = time.perf_counter() - started
    return Fitted(
        step,
        booster.model_to_string(),
        auc,
        accuracy,
        seconds,
        holdout,
        holdout_x,
        holdout_scores,
        reference,
    )


def drift_reference(
    history: ReplayHistory, contract: DatasetContract, frame: pl.DataFrame, booster: lgb.Booster
) -> Reference:
    """A model's drift reference (as `monitoring.reference`): the profile of its training set's
    train split and its scores on the profile's sample."""
    profile, scores = profile_and_scores(
        train_split(frame, contract),
        list(history.features),
        contract,
        row_cap=contract.policy.drift_row_cap,
        complete_from=complete_from(history.reach, history.history_start),
        score=lambda sample: np.asarray(
            booster.predict(feature_matrix(sample, history.features), num_threads=1),
            dtype=np.float64,
        ),
    )
    return Reference(profile, scores)


@dataclass(eq=False)
class ModelBank:
    """The fitted models of one (window, training, contract) setting, by step. `fetch`, when
    set, is asked first for a step not fitted yet (a worker pool that has it queued stores it
    and says True); otherwise the step is fitted here."""

    history: ReplayHistory
    spec: WindowSpec
    options: training.TrainingOptions
    contract: DatasetContract
    matrix: Matrix
    fitted: dict[int, Fitted] = field(default_factory=dict)
    _boosters: dict[int, lgb.Booster] = field(default_factory=dict)
    _references: dict[int, Reference] = field(default_factory=dict)
    _windows: dict[int, DatasetWindow | None] = field(default_factory=dict)
    _early: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict)
    references: bool = False  # build each fit's drift reference with it (a contract policy)
    fetch: Callable[[int], bool] | None = None
    _verdicts: dict[tuple[int, int, object], GateVerdict] = field(default_factory=dict)
    drift_reports: dict[tuple[object, ...], object] = field(default_factory=dict)

    def window(self, step: int) -> DatasetWindow | None:
        if step not in self._windows:
            self._windows[step] = step_window(self.history, self.spec, step)
        return self._windows[step]

    def fit(self, step: int) -> Fitted:
        if step not in self.fitted and not (self.fetch is not None and self.fetch(step)):
            self.fitted[step] = fit_step(
                self.history,
                self.matrix,
                self.spec,
                self.options,
                self.contract,
                step,
                self.references,
            )
        return self.fitted[step]

    def booster(self, step: int) -> lgb.Booster:
        if step not in self._boosters:
            self._boosters[step] = lgb.Booster(model_str=self.fit(step).model)
        return self._boosters[step]

    def predict(self, step: int, frame: pl.DataFrame) -> np.ndarray:
        """The model's scores on `frame`, on one thread (a booster read back from its text
        carries no thread count, and OpenMP's team costs more than a small frame's scoring)."""
        x = feature_matrix(frame, self.history.features)
        return np.asarray(self.booster(step).predict(x, num_threads=1), dtype=np.float64)

    def score(self, step: int, partition: int) -> tuple[float, float]:
        """(ROC-AUC, accuracy) of the model fitted at `step` on partition index `partition`."""
        fitted = self.fit(step)
        if partition > step:
            offset = partition - step - 1
            return float(fitted.roc_auc[offset]), float(fitted.accuracy[offset])
        key = (step, partition)
        if key not in self._early:  # a partition it was trained on (the first catch-up)
            rows = slice(self.matrix.offsets[partition], self.matrix.offsets[partition + 1])
            x = self.matrix.x[rows]
            scores = np.asarray(self.booster(step).predict(x, num_threads=1), dtype=np.float64)
            auc, accuracy = grouped_scores(
                self.matrix.y[rows],
                scores,
                np.zeros(scores.size, dtype=np.int64),
                1,
                self.contract.policy.decision_threshold,
            )
            self._early[key] = (float(auc[0]), float(accuracy[0]))
        return self._early[key]

    def reference(self, step: int) -> Reference:
        """The drift reference of the model fitted at `step` (built with the fit when the bank
        asks for `references`)."""
        if step not in self._references:
            reference = self.fit(step).reference
            if reference is None:
                window = self.window(step)
                assert window is not None
                frame = self.history.training_frame(window)
                reference = drift_reference(self.history, self.contract, frame, self.booster(step))
            self._references[step] = reference
        return self._references[step]

    def gate(self, challenger: int, champion: int, contract: DatasetContract) -> GateVerdict:
        """The gate (`contract`'s policy) on the challenger's holdout, against the champion;
        each verdict computed once (policies that retrain at the same step share it)."""
        key = (challenger, champion, contract.policy)
        if key not in self._verdicts:
            fitted = self.fit(challenger)
            champion_scores = self.booster(champion).predict(fitted.holdout_x, num_threads=1)
            self._verdicts[key] = evaluate_gate(
                fitted.holdout,
                fitted.holdout_scores,
                np.asarray(champion_scores, dtype=np.float64),
                contract,
            )
        return self._verdicts[key]
