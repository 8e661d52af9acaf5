"""The training window: which labelled partitions a model is trained on, and how they split.

One function, `select_window`, decides it from the contract's policy (`training_window`,
`window_partitions`, `validation_partitions`, `holdout_partitions`) for every caller: the
training-set asset (so retrains the sensor requests, runs launched by hand or by the CLI, and the
demo's retrains) and the backtest's refits. A hand-launched run may override any of the four
(`window_spec`); nothing else chooses a window.

Only partitions with labels due at "now" count: those up to the one holding `now - label.delay`
(a row of the newest one enters a training set only once its own label is due). Of those, the
window is the newest `window_partitions` (sliding) or all of them (expanding); its newest
`holdout_partitions` are the holdout, the `validation_partitions` before them validation, the
rest train. Partitions whose blocking data checks failed are skipped (older ones take their place)
and recorded on the window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.model import TRAINING_WINDOWS
from retrain_platform.contracts.policy import window_defaults
from retrain_platform.core.partitions import partition_end, partition_key_of, partitions_between

SLIDING, EXPANDING = TRAINING_WINDOWS
TRAIN, VALIDATION, HOLDOUT = "train", "validation", "holdout"
SPLITS = (TRAIN, VALIDATION, HOLDOUT)


@dataclass(frozen=True)
class WindowSpec:
    """How a window is chosen: sliding or expanding, its length and its validation / holdout."""

    kind: str
    partitions: int
    validation: int
    holdout: int


def window_spec(
    contract: DatasetContract,
    *,
    kind: str | None = None,
    partitions: int | None = None,
    validation: int | None = None,
    holdout: int | None = None,
) -> WindowSpec:
    """The contract policy's window, any argument given overriding its value.

    A policy value left unset (a policy built in code) is the grain's default. Validation and
    holdout may be 0 here (the backtest fits on the whole window); a contract asks for at least 1.
    """
    policy = contract.policy
    defaults = window_defaults(contract.partitioning.grain)
    spec = WindowSpec(
        kind=kind or policy.training_window,
        partitions=_first(partitions, policy.window_partitions, defaults["window_partitions"]),
        validation=_first(
            validation, policy.validation_partitions, defaults["validation_partitions"]
        ),
        holdout=_first(holdout, policy.holdout_partitions, defaults["holdout_partitions"]),
    )
    if spec.kind not in TRAINING_WINDOWS:
        msg = f"training window {spec.kind!r} is not one of {', '.join(TRAINING_WINDOWS)}"
        raise ValueError(msg)
    if spec.partitions < 1 or spec.validation < 0 or spec.holdout < 0:
        msg = f"window sizes must be a positive length and non-negative splits, got {spec}"
        raise ValueError(msg)
    return spec


def _first(*values: int | None) -> int:
    return next(v for v in values if v is not None)


@dataclass(frozen=True)
class DatasetWindow:
    """Which partitions a training set covers and how they are split."""

    partitions: tuple[str, ...]
    validation_partitions: int
    holdout_partitions: int
    as_of: datetime
    # partitions left out because blocking checks failed on them: partition -> failed checks
    excluded: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kind: str = SLIDING

    def split_of(self) -> dict[str, str]:
        """Each partition's split: holdout (newest), validation (before it), train (the rest)."""
        n = len(self.partitions)
        holdout_start = n - self.holdout_partitions
        validation_start = holdout_start - self.validation_partitions
        return {
            p: HOLDOUT if i >= holdout_start else VALIDATION if i >= validation_start else TRAIN
            for i, p in enumerate(self.partitions)
        }

    def splits(self) -> dict[str, list[str]]:
        """The partitions of each split, oldest first (train, validation, holdout)."""
        by_split = self.split_of()
        return {s: [p for p in self.partitions if by_split[p] == s] for s in SPLITS}

    def describe(self) -> str:
        """One line: kind, range, and the size of each split."""
        sizes = ", ".join(f"{len(ps)} {s}" for s, ps in self.splits().items())
        return f"{self.kind} window {self.partitions[0]}..{self.partitions[-1]} ({sizes})"


def labelled_partitions(
    contract: DatasetContract, available: Sequence[str], now: datetime
) -> list[str]:
    """The `available` partitions, sorted, with labels due at `now` (the contract's label delay
    after an event): every one up to the partition holding `now - label.delay`."""
    grain = contract.partitioning.grain
    last = partition_key_of(now - contract.label.delay - timedelta(microseconds=1), grain)
    return sorted(p for p in set(available) if p <= last)


def select_window(
    contract: DatasetContract,
    available: Sequence[str],
    now: datetime,
    *,
    spec: WindowSpec | None = None,
    excluded: Mapping[str, Sequence[str]] | None = None,
) -> DatasetWindow:
    """The training window at `now` over the `available` partition keys (the policy's unless
    `spec` is given), skipping the `excluded` ones (partition -> its failed blocking checks).

    Raises ValueError when no partition is left to train on after validation and holdout.
    """
    spec = spec or window_spec(contract)
    left_out = dict(excluded or {})
    labelled = labelled_partitions(contract, available, now)
    usable = [k for k in labelled if k not in left_out]
    keys = usable[-spec.partitions :] if spec.kind == SLIDING else usable
    if len(keys) <= spec.validation + spec.holdout:
        last = labelled[-1] if labelled else "none"
        msg = (
            f"{contract.dataset}: only {len(keys)} partition(s) up to {last} have known labels "
            f"at {now.isoformat()}"
            + (f" and passed their blocking checks ({len(left_out)} left out)" if left_out else "")
            + f"; nothing is left to train on after {spec.validation} validation and "
            f"{spec.holdout} holdout"
        )
        raise ValueError(msg)
    inside = {k: tuple(sorted(left_out[k])) for k in labelled if k in left_out and k > keys[0]}
    return DatasetWindow(tuple(keys), spec.validation, spec.holdout, now, inside, spec.kind)


def make_window(
    contract: DatasetContract,
    as_of_partition: str,
    *,
    first_available: str,
    window_partitions: int | None = None,
    validation_partitions: int | None = None,
    holdout_partitions: int | None = None,
    training_window: str | None = None,
    excluded: Mapping[str, Sequence[str]] | None = None,
) -> DatasetWindow:
    """`select_window` at the end of `as_of_partition` over every partition from
    `first_available` to it; the sizes given override the policy's."""
    grain = contract.partitioning.grain
    spec = window_spec(
        contract,
        kind=training_window,
        partitions=window_partitions,
        validation=validation_partitions,
        holdout=holdout_partitions,
    )
    available = partitions_between(first_available, as_of_partition, grain)
    now = partition_end(as_of_partition, grain)
    return select_window(contract, available, now, spec=spec, excluded=excluded)
