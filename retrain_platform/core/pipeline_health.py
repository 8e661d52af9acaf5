"""Pipeline health read from the decision history: is the gate rejecting too many challengers?

One rejected challenger is the gate doing its job; most of them rejected means something upstream
(data, features, training) is broken and retraining has silently stopped improving the model.
The rate is the share of the most recent retraining cycles whose gate verdict was "failed";
rollbacks are not retraining cycles and are not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from retrain_platform.contracts.model import Policy
from retrain_platform.core import decisions

# Columns of the decision history (`core.decisions.SCHEMA`) this module reads.
EVENT_COLUMN = "event"
GATE_PASSED_COLUMN = "gate_passed"
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
