"""What a backtest found: per-partition scores, per-policy results, the table and the plot."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from retrain_platform.core.backtest.policies import SMOOTHING, RetrainPolicy


@dataclass(frozen=True)
class PreparedSource:
    """A source's validated rows, their partitions in time order, and what was held back."""

    rows: pl.DataFrame
    partitions: tuple[str, ...]
    files: tuple[str, ...]
    rows_read: int
    rows_rejected: int
    rows_quarantined: int
    duplicates: int


@dataclass(frozen=True)
class PartitionScore:
    """One evaluated partition under one policy."""

    partition: str
    rows: int
    accuracy: float
    roc_auc: float
    refit: bool
    promoted: bool
    reason: str


@dataclass
class PolicyResult:
    """A policy's scores per evaluated partition, its fits and how long it took."""

    policy: RetrainPolicy
    scores: list[PartitionScore] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def fits(self) -> int:
        return sum(s.refit for s in self.scores)

    @property
    def promotions(self) -> int:
        return sum(s.promoted for s in self.scores)

    @property
    def mean_accuracy(self) -> float:
        return float(np.mean([s.accuracy for s in self.scores])) if self.scores else math.nan

    @property
    def mean_roc_auc(self) -> float:
        values = [s.roc_auc for s in self.scores if not math.isnan(s.roc_auc)]
        return float(np.mean(values)) if values else math.nan


@dataclass(frozen=True)
class BacktestResult:
    """Every policy's result over the same evaluated partitions."""

    source: PreparedSource
    window: int
    drift_window: int
    policies: list[PolicyResult]

    def table(self) -> pl.DataFrame:
        """One row per policy: fits, promotions, mean accuracy and ROC-AUC, seconds."""
        return pl.DataFrame(
            {
                "policy": [r.policy.name for r in self.policies],
                "fits": [r.fits for r in self.policies],
                "promoted": [r.promotions for r in self.policies],
                "partitions": [len(r.scores) for r in self.policies],
                "mean_accuracy": [r.mean_accuracy for r in self.policies],
                "mean_roc_auc": [r.mean_roc_auc for r in self.policies],
                "seconds": [r.seconds for r in self.policies],
            }
        )

    def per_partition(self) -> pl.DataFrame:
        """Long frame: policy, partition, rows, accuracy, ROC-AUC, refit, promoted, reason."""
        return pl.DataFrame(
            [{"policy": r.policy.name, **asdict(s)} for r in self.policies for s in r.scores]
        )


def format_table(result: BacktestResult) -> str:
    """The comparison table as aligned text, one line per policy."""
    header = f"{'policy':<10} {'fits':>5} {'promoted':>8} {'partitions':>10} "
    header += f"{'accuracy':>9} {'roc_auc':>8} {'seconds':>8}"
    lines = [header]
    for row in result.table().iter_rows(named=True):
        lines.append(
            f"{row['policy']:<10} {row['fits']:>5} {row['promoted']:>8} {row['partitions']:>10} "
            f"{row['mean_accuracy']:>9.2%} {row['mean_roc_auc']:>8.4f} {row['seconds']:>8.1f}"
        )
    return "\n".join(lines)


def plot_backtest(result: BacktestResult, path: Path, *, title: str = "") -> Path:
    """Save accuracy per partition per policy, with a marker where a model was (re)fitted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(14, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    for policy in result.policies:
        x = np.arange(len(policy.scores))
        accuracy = np.array([s.accuracy for s in policy.scores])
        refits = np.array([s.promoted for s in policy.scores])
        label = f"{policy.policy.name} ({policy.fits} fits, {policy.mean_accuracy:.1%})"
        (line,) = top.plot(x, accuracy, linewidth=0.6, alpha=0.3)
        top.scatter(x[refits], accuracy[refits], s=10, marker="^", color=line.get_color())
        # A trailing mean over a year of monthly partitions makes the policies comparable.
        span = min(SMOOTHING, len(accuracy))
        smooth = np.convolve(accuracy, np.ones(span) / span, mode="valid")
        top.plot(x[span - 1 :], smooth, linewidth=1.8, color=line.get_color(), label=label)
        bottom.step(x, np.cumsum(refits), where="post", color=line.get_color())
    labels = [s.partition for s in result.policies[0].scores] if result.policies else []
    ticks = np.arange(0, len(labels), max(1, len(labels) // 12))
    bottom.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right")
    top.set_ylabel(f"accuracy per partition, {SMOOTHING}-partition mean (^ = new model)")
    bottom.set_ylabel("models served")
    top.legend(loc="lower left", fontsize=8)
    top.set_title(title or f"backtest, window {result.window} partitions")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
