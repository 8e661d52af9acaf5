"""Retraining policies a backtest compares (never, every N partitions, drift) and its options."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.window import WindowSpec, window_spec

NEVER, EVERY, DRIFT = "never", "every", "drift"
ALL_POLICIES = ("never", "every:1", "every:6", "every:12", "drift")


# The training window is the contract policy's (`core.datasets.window`), as in the platform.
DEFAULT_DRIFT_WINDOWS = {"monthly": 12, "weekly": 13, "daily": 7, "hourly": 24}
SMOOTHING = 12  # partitions in the plot's trailing mean


@dataclass(frozen=True)
class RetrainPolicy:
    """When to refit: never, every N partitions, or on drift."""

    kind: str
    every: int = 0

    @property
    def name(self) -> str:
        return f"{EVERY}:{self.every}" if self.kind == EVERY else self.kind


def parse_policy(text: str) -> RetrainPolicy:
    """`never`, `every:N` (N >= 1) or `drift`; anything else is a ValueError naming the forms."""
    value = text.strip().lower()
    if value in (NEVER, DRIFT):
        return RetrainPolicy(value)
    kind, _, count = value.partition(":")
    if kind == EVERY and count.isdigit() and int(count) >= 1:
        return RetrainPolicy(EVERY, int(count))
    msg = f"unknown policy {text!r} (expected never, every:N with N >= 1, drift, or all)"
    raise ValueError(msg)


def parse_policies(texts: Sequence[str]) -> list[RetrainPolicy]:
    """Policies in the order given, `all` expanding to `ALL_POLICIES`, duplicates dropped."""
    expanded: list[str] = []
    for text in texts:
        expanded.extend(ALL_POLICIES if text.strip().lower() == "all" else [text])
    unique = {parse_policy(t).name: parse_policy(t) for t in expanded}
    return list(unique.values())


@dataclass(frozen=True)
class BacktestOptions:
    """Model size, window lengths, seed and threads of a backtest.

    `window` and `training_window` override the policy's `window_partitions` and
    `training_window`; unset, the backtest trains on the window the platform would.
    """

    window: int | None = None
    training_window: str | None = None
    drift_window: int | None = None
    num_trees: int = 200
    num_leaves: int = 15
    learning_rate: float = 0.1
    seed: int = 42
    num_threads: int = 1
    gate: bool = False

    def window_spec(self, contract: DatasetContract) -> WindowSpec:
        """The policy's training window with this backtest's overrides. Its split is the
        backtest's own: nothing for validation, and the newest partition the gate's holdout when
        there is a gate (none without: a refit uses the whole window)."""
        return window_spec(
            contract,
            kind=self.training_window,
            partitions=self.window,
            validation=0,
            holdout=1 if self.gate else 0,
        )

    def window_for(self, contract: DatasetContract) -> int:
        return self.window_spec(contract).partitions

    def drift_window_for(self, contract: DatasetContract) -> int:
        return self.drift_window or DEFAULT_DRIFT_WINDOWS.get(contract.partitioning.grain, 12)
