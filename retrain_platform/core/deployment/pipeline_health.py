"""Pipeline health read from the decision history: is the gate rejecting too many challengers?

One rejected challenger is the gate doing its job; most of them rejected means something upstream
(data, features, training) is broken and retraining has silently stopped improving the model.
The rate is the share of the most recent retraining cycles whose gate verdict was "failed";
rollbacks are not retraining cycles and are not counted.

The champion-metric trend is the champion's holdout ROC-AUC as the gate measured it at each recent
cycle (on that cycle's fresh holdout): a falling champion is the slow decay retraining is for.
`health_metadata` gives both as plain numbers for the assets and checks recorded every cycle,
so that the Dagster UI plots them over time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from retrain_platform.contracts.model import Policy
from retrain_platform.core.deployment import decisions

# Columns of the decision history (`core.decisions.SCHEMA`) this module reads.
EVENT_COLUMN = "event"
GATE_PASSED_COLUMN = "gate_passed"
CHAMPION_ROC_AUC_COLUMN = "champion_roc_auc"
DEFAULT_REJECTION_WINDOW = 10


def _check_history(history: pl.DataFrame) -> None:
    needed = (decisions.DECIDED_AT, EVENT_COLUMN, GATE_PASSED_COLUMN)
    missing = [name for name in needed if name not in history.columns]
    if missing:
        msg = f"the decision history lacks column(s) {missing}"
        raise ValueError(msg)


def gate_rejection_rate(history: pl.DataFrame, last_n: int) -> float:
    """Share of the last `last_n` retraining cycles the gate failed; NaN when there are none.

    Cycles are ordered by `decided_at`; a cycle without a gate verdict (null) is not counted.
    """
    if last_n < 1:
        msg = f"last_n must be >= 1, got {last_n}"
        raise ValueError(msg)
    _check_history(history)
    cycles = (
        history.filter(
            (pl.col(EVENT_COLUMN) == decisions.RETRAIN) & pl.col(GATE_PASSED_COLUMN).is_not_null()
        )
        .sort(decisions.DECIDED_AT, maintain_order=True)
        .tail(last_n)
    )
    if cycles.is_empty():
        return math.nan
    return float((~cycles.get_column(GATE_PASSED_COLUMN)).mean())  # type: ignore[arg-type]


def max_gate_rejection_rate(policy: Policy) -> float:
    """The contract's alert threshold on the gate rejection rate (default 20 %)."""
    return float(policy.max_gate_rejection_rate)


@dataclass(frozen=True)
class RejectionRateCheck:
    """The rate over the window, the threshold and whether to alert."""

    rate: float
    last_n: int
    threshold: float

    @property
    def alert(self) -> bool:
        return not math.isnan(self.rate) and self.rate > self.threshold


def check_gate_rejection_rate(
    history: pl.DataFrame,
    policy: Policy,
    last_n: int = DEFAULT_REJECTION_WINDOW,
) -> RejectionRateCheck:
    """The rejection rate of the last `last_n` cycles against the policy's threshold."""
    return RejectionRateCheck(
        gate_rejection_rate(history, last_n), last_n, max_gate_rejection_rate(policy)
    )


@dataclass(frozen=True)
class MetricTrend:
    """The champion's holdout ROC-AUC over the last cycles that scored one (oldest first)."""

    values: tuple[float, ...]

    @property
    def latest(self) -> float:
        return self.values[-1] if self.values else math.nan

    @property
    def change(self) -> float:
        """Latest minus oldest of the window (negative: the champion is decaying)."""
        return self.values[-1] - self.values[0] if len(self.values) > 1 else math.nan


def champion_metric_trend(history: pl.DataFrame, last_n: int) -> MetricTrend:
    """The champion ROC-AUC the gate measured at each of the last `last_n` cycles that had one."""
    if last_n < 1:
        msg = f"last_n must be >= 1, got {last_n}"
        raise ValueError(msg)
    if CHAMPION_ROC_AUC_COLUMN not in history.columns:
        msg = f"the decision history lacks column(s) {[CHAMPION_ROC_AUC_COLUMN]}"
        raise ValueError(msg)
    _check_history(history)
    values = (
        history.filter(
            (pl.col(EVENT_COLUMN) == decisions.RETRAIN)
            & pl.col(CHAMPION_ROC_AUC_COLUMN).is_not_null()
            & pl.col(CHAMPION_ROC_AUC_COLUMN).is_not_nan()
        )
        .sort(decisions.DECIDED_AT, maintain_order=True)
        .tail(last_n)
        .get_column(CHAMPION_ROC_AUC_COLUMN)
    )
    return MetricTrend(tuple(float(v) for v in values))


def with_pending_cycle(
    history: pl.DataFrame,
    *,
    decided_at: datetime,
    gate_passed: bool,
    champion_roc_auc: float | None,
) -> pl.DataFrame:
    """`history` plus the verdict of a cycle whose row is written later (a passed gate's row is
    appended by the deployment)."""
    row = {
        decisions.DECIDED_AT: [decided_at],
        EVENT_COLUMN: [decisions.RETRAIN],
        GATE_PASSED_COLUMN: [gate_passed],
        CHAMPION_ROC_AUC_COLUMN: [champion_roc_auc],
    }
    schema = {name: history.schema[name] for name in row}
    return pl.concat([history, pl.DataFrame(row, schema=schema)], how="diagonal_relaxed")


def health_metadata(
    history: pl.DataFrame, policy: Policy, last_n: int = DEFAULT_REJECTION_WINDOW
) -> dict[str, float | int | bool]:
    """Gate rejection rate and champion-metric trend over the last `last_n` cycles, as numbers.

    Values that do not exist yet (no cycle, a single champion score) are left out rather than
    written as NaN, so that plots start when there is something to plot.
    """
    check = check_gate_rejection_rate(history, policy, last_n)
    trend = champion_metric_trend(history, last_n)
    out: dict[str, float | int | bool] = {
        "health_window_cycles": last_n,
        "max_gate_rejection_rate": check.threshold,
        "gate_rejection_rate_alert": check.alert,
        "champion_roc_auc_cycles": len(trend.values),
    }
    if not math.isnan(check.rate):
        out["gate_rejection_rate"] = check.rate
    if not math.isnan(trend.latest):
        out["champion_roc_auc_latest"] = trend.latest
    if not math.isnan(trend.change):
        out["champion_roc_auc_change"] = trend.change
    return out
