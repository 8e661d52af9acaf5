"""What a calibration found: each policy's score on one part of the history, and the choice.

A part's score is UPF's C_alpha over that part alone: its mean metric minus alpha times the
retrains made within it per partition; fits count the model serving at the part's start too, as
`results.PolicyResult.fits` counts the first fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from retrain_platform.core.backtest.results import BacktestResult, PolicyResult, StepRecord


@dataclass(frozen=True)
class Score:
    """A policy on one part of the history: fits (the model serving at its start included),
    mean metric of the serving models and C_alpha; `oracle` is the oracle's mean at `fits`."""

    policy: str
    fits: int
    mean: float
    c_alpha: float
    oracle: float = math.nan
    overrides: tuple[tuple[str, str], ...] = ()


def c_alpha_of(steps: Sequence[StepRecord], metric: str, alpha: float) -> float:
    """C_alpha of a slice of steps: its mean finite metric - alpha x its retrains per partition."""
    values = [v for s in steps if math.isfinite(v := float(getattr(s, metric)))]
    mean = sum(values) / len(values) if values else math.nan
    return mean - alpha * sum(s.fit for s in steps) / max(1, len(steps))


def score_of(
    result: PolicyResult,
    metric: str,
    alpha: float,
    *,
    oracle: float = math.nan,
    overrides: tuple[tuple[str, str], ...] = (),
) -> Score:
    """`result`'s score over its steps (a policy's steps cut to one part)."""
    sliced = result.steps
    values = [v for s in sliced if math.isfinite(v := float(getattr(s, metric)))]
    return Score(
        policy=result.name,
        fits=1 + sum(s.fit for s in sliced),
        mean=sum(values) / len(values) if values else math.nan,
        c_alpha=c_alpha_of(sliced, metric, alpha),
        oracle=oracle,
        overrides=overrides,
    )


@dataclass(frozen=True)
class Calibration:
    """The chosen settings, every variant's search score and the report part's comparison."""

    dataset: str
    alpha: float
    metric: str
    chosen: tuple[tuple[str, str], ...]  # every searched key's chosen value
    changed: tuple[tuple[str, str], ...]  # those that differ from the contract's policy
    search: tuple[Score, ...]
    report: tuple[Score, ...]
    search_partitions: tuple[str, str]
    report_partitions: tuple[str, str]
    report_result: BacktestResult = field(repr=False)
    seconds: float = 0.0
    stage_seconds: tuple[tuple[str, float], ...] = ()  # wall time of fitting, search, report

    @property
    def best(self) -> Score:
        return max(self.search, key=lambda s: s.c_alpha)

    def to_json(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "alpha": self.alpha,
            "metric": self.metric,
            "chosen": dict(self.chosen),
            "changed": dict(self.changed),
            "search_partitions": list(self.search_partitions),
            "report_partitions": list(self.report_partitions),
            "search": [_plain(s) for s in self.search],
            "report": [_plain(s) for s in self.report],
            "report_backtest": self.report_result.to_json(),
            "seconds": self.seconds,
            "stage_seconds": dict(self.stage_seconds),
        }


def _plain(score: Score) -> dict[str, object]:
    values = {k: v for k, v in score.__dict__.items() if k != "overrides"}
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in values.items()}
