"""The evaluation gate: may a challenger replace the champion? A pure verdict, every failure listed.

Both models are scored on the same rows (the holdout of the challenger's training set). The
challenger fails when it misses an absolute minimum of the contract's policy (ROC-AUC, recall at
the decision threshold), when its ROC-AUC is below the champion's by more than the allowed
relative regression, or when the ROC-AUC of a slice (each value of each `policy.slice_columns`
column) falls below the champion's on that slice by more than `policy.max_slice_regression`.
Without a champion (first deployment) only the minimums apply.

With `policy.gate_method: bootstrap` the comparison with the champion is a non-inferiority test:
a paired bootstrap interval of champion-minus-challenger ROC-AUC whose upper bound must stay
within the tolerance (`max_relative_regression` x the champion's ROC-AUC). A point estimate
within the tolerance whose interval is not is reported as inconclusive, which also fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.models.inputs import label_vector
from retrain_platform.core.models.metrics import (
    BootstrapInterval,
    classification_metrics,
    paired_bootstrap_auc_difference,
    roc_auc,
)

THRESHOLD, BOOTSTRAP = "threshold", "bootstrap"
BELOW_MINIMUM = "below_minimum"
REGRESSION = "regression"
SLICE_REGRESSION = "slice_regression"
INCONCLUSIVE = "bootstrap_inconclusive"
CHAMPION_UNSCORABLE = "champion_unscorable"
GATE_SEED = 20_240_601


@dataclass(frozen=True)
class GateFailure:
    """One reason the challenger may not be promoted."""

    kind: str
    metric: str
    subject: str
    value: float
    bound: float
    detail: str = ""

    @property
    def message(self) -> str:
        text = (
            f"{self.kind}: {self.metric} of {self.subject} is {self.value:.4f}, "
            f"bound {self.bound:.4f}"
        )
        return f"{text} ({self.detail})" if self.detail else text


@dataclass(frozen=True)
class SliceResult:
    """One slice's ROC-AUC for both models and whether it was compared."""

    column: str
    value: str
    rows: int
    positives: int
    challenger_roc_auc: float
    champion_roc_auc: float | None
    status: str

    @property
    def subject(self) -> str:
        return f"{self.column}={self.value}"


@dataclass(frozen=True)
class GateVerdict:
    """The gate's decision with the numbers behind it."""

    passed: bool
    method: str
    failures: tuple[GateFailure, ...]
    challenger: dict[str, float]
    champion: dict[str, float] | None
    interval: BootstrapInterval | None = None
    tolerance: float | None = None
    slices: tuple[SliceResult, ...] = field(default_factory=tuple)

    @property
    def first_deployment(self) -> bool:
        return self.champion is None

    @property
    def label(self) -> str:
        return "passed" if self.passed else "failed"

    @property
    def messages(self) -> list[str]:
        return [failure.message for failure in self.failures]


def _finite(value: float) -> bool:
    return not math.isnan(value)


def _minimum_failures(metrics: dict[str, float], contract: DatasetContract) -> list[GateFailure]:
    policy = contract.policy
    failures = []
    for metric, bound in (
        ("roc_auc", policy.min_roc_auc),
        ("recall_at_threshold", policy.min_recall_at_threshold),
    ):
        value = metrics[metric]
        if not _finite(value) or value < bound:
            failures.append(
                GateFailure(BELOW_MINIMUM, metric, "challenger", value, bound, "policy minimum")
            )
    return failures


def _slice_results(
    holdout: pl.DataFrame,
    labels: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray | None,
    contract: DatasetContract,
) -> tuple[list[SliceResult], list[GateFailure]]:
    policy = contract.policy
    results, failures = [], []
    for column in policy.slice_columns:
        declared = contract.column(column).categories
        values = holdout.get_column(column).cast(pl.String)
        categories = (
            [str(v) for v in declared] if declared else sorted(values.drop_nulls().unique())
        )
        for category in categories:
            mask = (values == category).fill_null(False).to_numpy()
            rows, positives = int(mask.sum()), int(labels[mask].sum())
            new = roc_auc(labels[mask], challenger[mask])
            old = roc_auc(labels[mask], champion[mask]) if champion is not None else None
            status = "compared"
            if old is None:
                status = "no champion"
            elif rows < policy.min_slice_rows or not (_finite(new) and _finite(old)):
                status = "too small"
            elif new < old * (1.0 - policy.max_slice_regression):
                status = "regressed"
                failures.append(
                    GateFailure(
                        SLICE_REGRESSION,
                        "roc_auc",
                        f"{column}={category}",
                        new,
                        old * (1.0 - policy.max_slice_regression),
                        f"champion {old:.4f}, allowed regression {policy.max_slice_regression:.0%}",
                    )
                )
            results.append(SliceResult(column, category, rows, positives, new, old, status))
    return results, failures


def _comparison_failures(
    labels: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    new: dict[str, float],
    old: dict[str, float],
    contract: DatasetContract,
    seed: int,
) -> tuple[list[GateFailure], BootstrapInterval | None, float]:
    policy = contract.policy
    tolerance = policy.max_relative_regression * old["roc_auc"]
    floor = old["roc_auc"] - tolerance
    if policy.gate_method != BOOTSTRAP:
        if new["roc_auc"] < floor:
            detail = (
                f"champion {old['roc_auc']:.4f}, allowed regression "
                f"{policy.max_relative_regression:.0%}"
            )
            return (
                [GateFailure(REGRESSION, "roc_auc", "challenger", new["roc_auc"], floor, detail)],
                None,
                tolerance,
            )
        return [], None, tolerance
    interval = paired_bootstrap_auc_difference(
        labels,
        champion,
        challenger,
        resamples=policy.bootstrap_resamples,
        confidence=policy.bootstrap_confidence,
        seed=seed,
    )
    if interval.high <= tolerance:
        return [], interval, tolerance
    kind = REGRESSION if interval.point > tolerance else INCONCLUSIVE
    detail = (
        f"{interval.confidence:.0%} interval of champion - challenger ROC-AUC "
        f"[{interval.low:.4f}, {interval.high:.4f}] must stay within the tolerance "
        f"{tolerance:.4f}"
    )
    failure = GateFailure(
        kind, "roc_auc_difference", "challenger", interval.high, tolerance, detail
    )
    return [failure], interval, tolerance


def evaluate_gate(
    holdout: pl.DataFrame,
    challenger: np.ndarray,
    champion: np.ndarray | None,
    contract: DatasetContract,
    *,
    seed: int = GATE_SEED,
) -> GateVerdict:
    """Decide whether the challenger (scores on `holdout`) may replace the champion.

    Args:
        holdout: the scored rows; needs the contract's label and slice columns.
        challenger: the challenger's positive-class probabilities, one per row.
        champion: the champion's probabilities on the same rows, None when there is none.
        contract: supplies the label and the policy (minimums, regressions, method).
        seed: seed of the bootstrap resamples.

    Returns:
        The verdict: passed or not, every failure, both models' metrics, the interval.
    """
    policy = contract.policy
    labels = label_vector(holdout, contract)
    new = classification_metrics(labels, challenger, threshold=policy.decision_threshold)
    old = (
        classification_metrics(labels, champion, threshold=policy.decision_threshold)
        if champion is not None
        else None
    )
    failures = _minimum_failures(new, contract)
    interval, tolerance = None, None
    if champion is not None and old is not None:
        compared, interval, tolerance = _comparison_failures(
            labels, challenger, champion, new, old, contract, seed
        )
        failures += compared
    slices, slice_failures = _slice_results(holdout, labels, challenger, champion, contract)
    failures += slice_failures
    return GateVerdict(
        passed=not failures,
        method=policy.gate_method,
        failures=tuple(failures),
        challenger=new,
        champion=old,
        interval=interval,
        tolerance=tolerance,
        slices=tuple(slices),
    )


def with_failure(verdict: GateVerdict, failure: GateFailure) -> GateVerdict:
    """The verdict with one more failure (e.g. a champion that could not be scored)."""
    return replace(verdict, passed=False, failures=(*verdict.failures, failure))
