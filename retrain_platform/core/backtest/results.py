"""What a backtest found: each policy's steps, and the figures that compare policies.

Per policy: fits (training runs, the first included), promotions, mean ROC-AUC and accuracy of
the model serving each evaluated partition, the share of partitions under the performance floor
(`policy.min_roc_auc`), the partitions to recover after each drift onset
(`monitoring.recovery`, the rule the demo prints too), and UPF's
C_alpha = mean performance - alpha x retrains per partition over alpha in [0, alpha_max], with
the mean of C_alpha over that range (its area divided by alpha_max).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

from retrain_platform.core.backtest.policies import RetrainPolicy
from retrain_platform.core.monitoring.recovery import recovery_partitions

ALPHA_POINTS = 21


@dataclass
class StepRecord:
    """One evaluated partition under one policy: who served it, how well, what was decided."""

    partition: str
    version: int
    roc_auc: float
    accuracy: float
    fit: bool = False
    promoted: bool = False
    trigger: str | None = None
    code: str = ""
    reason: str = ""
    gate_reasons: tuple[str, ...] = ()


@dataclass
class PolicyResult:
    """A policy's steps over the evaluated partitions, and how long it took."""

    policy: RetrainPolicy
    steps: list[StepRecord] = field(default_factory=list)
    seconds: float = 0.0
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.policy.name

    @property
    def fits(self) -> int:
        return 1 + sum(s.fit for s in self.steps)

    @property
    def promotions(self) -> int:
        return sum(s.promoted for s in self.steps)

    def values(self, metric: str) -> np.ndarray:
        return np.array([getattr(s, metric) for s in self.steps], dtype=np.float64)

    def mean(self, metric: str) -> float:
        values = self.values(metric)
        finite = values[np.isfinite(values)]
        return float(finite.mean()) if finite.size else math.nan

    def below(self, floor: float) -> float:
        values = self.values("roc_auc")
        finite = values[np.isfinite(values)]
        return float((finite < floor).mean()) if finite.size else math.nan

    def c_alpha(self, metric: str, alphas: np.ndarray) -> np.ndarray:
        """C_alpha for each alpha: mean metric minus alpha times retrains per partition."""
        rate = (self.fits - 1) / max(1, len(self.steps))
        return self.mean(metric) - alphas * rate

    def recovery(self, onset: str, metric: str) -> int | None:
        """Partitions from `onset` until the metric has recovered (`recovery_partitions`);
        None if it never does."""
        partitions = [s.partition for s in self.steps]
        if onset not in partitions:
            return None
        return recovery_partitions(list(self.values(metric)), partitions.index(onset))


@dataclass(frozen=True)
class BacktestResult:
    """Every policy over the same evaluated partitions, and the oracle's frontier."""

    dataset: str
    partitions: tuple[str, ...]
    policies: list[PolicyResult]
    frontier: dict[int, float]  # oracle: fits -> best mean metric
    metric: str
    floor: float
    alpha_max: float
    onsets: tuple[str, ...] = ()
    window: str = ""
    seconds: float = 0.0
    fitted_models: int = 0
    fit_seconds: float = 0.0

    def alphas(self) -> np.ndarray:
        return np.linspace(0.0, self.alpha_max, ALPHA_POINTS)

    def table(self) -> pl.DataFrame:
        """One row per policy with every figure of the module docstring."""
        alphas = self.alphas()
        rows = []
        for result in self.policies:
            curve = result.c_alpha(self.metric, alphas)
            row = {
                "policy": result.name,
                "fits": result.fits,
                "promoted": result.promotions,
                "partitions": len(result.steps),
                "mean_roc_auc": result.mean("roc_auc"),
                "mean_accuracy": result.mean("accuracy"),
                "below_floor": result.below(self.floor),
                "c_alpha_area": float(np.trapezoid(curve, alphas) / self.alpha_max),
                "c_alpha_max": float(curve[-1]),
                "oracle_at_fits": self.frontier.get(result.fits, math.nan),
            }
            for onset in self.onsets:
                row[f"recovery_{onset}"] = result.recovery(onset, "roc_auc")
            rows.append(row)
        return pl.DataFrame(rows)

    def per_partition(self) -> pl.DataFrame:
        """Long frame: one row per policy and evaluated partition."""
        return pl.DataFrame(
            [
                {"policy": r.name, **{k: v for k, v in asdict(s).items() if k != "gate_reasons"}}
                | {"gate_reasons": "; ".join(s.gate_reasons)}
                for r in self.policies
                for s in r.steps
            ],
            infer_schema_length=None,
        )

    def to_json(self) -> dict[str, object]:
        """The table, the frontier and the settings, as plain values."""
        return {
            "dataset": self.dataset,
            "metric": self.metric,
            "floor": self.floor,
            "alpha_max": self.alpha_max,
            "window": self.window,
            "evaluated": [self.partitions[0], self.partitions[-1]] if self.partitions else [],
            "policies": self.table().to_dicts(),
            "frontier": [{"fits": k, self.metric: v} for k, v in sorted(self.frontier.items())],
            "seconds": self.seconds,
        }


def _cell(value: object, pattern: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, pattern)


def format_table(result: BacktestResult) -> str:
    """The comparison table as aligned text, one line per policy."""
    table = result.table()
    recovery = [c for c in table.columns if c.startswith("recovery_")]
    width = max([6, *(len(name) for name in table.get_column("policy"))])
    header = (
        f"{'policy':<{width}} {'fits':>5} {'promoted':>8} {'roc_auc':>8} {'accuracy':>9} "
        f"{'<floor':>7} {'C_a area':>9} {'oracle@fits':>11}"
        + "".join(f" {'recover ' + c.removeprefix('recovery_'):>20}" for c in recovery)
    )
    lines = [header]
    for row in table.iter_rows(named=True):
        lines.append(
            f"{row['policy']:<{width}} {row['fits']:>5} {row['promoted']:>8} "
            f"{_cell(row['mean_roc_auc'], '.4f'):>8} {_cell(row['mean_accuracy'], '.2%'):>9} "
            f"{_cell(row['below_floor'], '.1%'):>7} {_cell(row['c_alpha_area'], '.4f'):>9} "
            f"{_cell(row['oracle_at_fits'], '.4f'):>11}"
            + "".join(f" {_cell(row[c], 'd'):>20}" for c in recovery)
        )
    return "\n".join(lines)
