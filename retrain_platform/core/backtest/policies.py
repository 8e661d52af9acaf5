"""The retraining policies a backtest compares, and its options.

- `never`: the first model serves throughout;
- `every:N`: a retrain every N partitions (the defaults of `all` follow the grain: for daily
  data every day, week and month);
- `contract`: the contract's own policy, replayed through `triggers.decide` as the retrain
  sensor runs it; `contract:key=value,key=value` is a named variant with those policy keys
  overridden (`--set key=value` overrides them for every contract policy);
- `oracle`: for each number of fits K, the K retrain points that maximise mean performance over
  the replay, in hindsight (`core.backtest.oracle`); it bounds every policy from above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.policy import override_policy
from retrain_platform.core.models.training import TrainingOptions

NEVER, EVERY, CONTRACT, ORACLE = "never", "every", "contract", "oracle"
# `every:N` schedules of `all` per grain: each partition, then two natural periods
DEFAULT_SCHEDULES = {
    "hourly": (1, 24, 168),
    "daily": (1, 7, 30),
    "weekly": (1, 4, 13),
    "monthly": (1, 6, 12),
}
METRICS = ("roc_auc", "accuracy")


@dataclass(frozen=True)
class RetrainPolicy:
    """When to refit: never, every N partitions, the contract's triggers (with overrides), or
    the hindsight oracle."""

    kind: str
    every: int = 0
    overrides: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        if self.kind == EVERY:
            return f"{EVERY}:{self.every}"
        if self.overrides:
            return f"{self.kind}:" + ",".join(f"{k}={v}" for k, v in self.overrides)
        return self.kind

    def contract_for(self, contract: DatasetContract) -> DatasetContract:
        """The contract with this policy's overrides applied to its `policy`."""
        if not self.overrides:
            return contract
        return replace(contract, policy=override_policy(contract.policy, dict(self.overrides)))


def parse_settings(texts: Sequence[str], separator: str = ",") -> tuple[tuple[str, str], ...]:
    """`key=value` pairs (split by `separator` when several are in one text)."""
    pairs: list[tuple[str, str]] = []
    for text in texts:
        for item in filter(None, (part.strip() for part in text.split(separator))):
            key, sign, value = item.partition("=")
            if not sign or not key.strip():
                msg = f"{item!r} is not key=value"
                raise ValueError(msg)
            pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def parse_policy(text: str) -> RetrainPolicy:
    """One policy; anything but the forms of the module docstring is a ValueError naming them."""
    value = text.strip()
    lowered = value.lower()
    if lowered in (NEVER, CONTRACT, ORACLE):
        return RetrainPolicy(lowered)
    kind, _, rest = value.partition(":")
    if kind.lower() == EVERY and rest.isdigit() and int(rest) >= 1:
        return RetrainPolicy(EVERY, int(rest))
    if kind.lower() == CONTRACT and rest:
        return RetrainPolicy(CONTRACT, overrides=parse_settings([rest]))
    msg = (
        f"unknown policy {text!r} (expected never, every:N with N >= 1, contract, "
        "contract:key=value,..., oracle, or all)"
    )
    raise ValueError(msg)


def default_policies(grain: str) -> list[RetrainPolicy]:
    """What `all` means for a grain: never, its fixed schedules, the contract, the oracle."""
    schedules = [RetrainPolicy(EVERY, n) for n in DEFAULT_SCHEDULES[grain]]
    return [RetrainPolicy(NEVER), *schedules, RetrainPolicy(CONTRACT), RetrainPolicy(ORACLE)]


def parse_policies(texts: Sequence[str], grain: str = "daily") -> list[RetrainPolicy]:
    """Policies in the order given, `all` expanded for the grain, duplicates dropped."""
    policies: list[RetrainPolicy] = []
    for text in texts:
        if text.strip().lower() == "all":
            policies.extend(default_policies(grain))
        else:
            policies.append(parse_policy(text))
    return list({p.name: p for p in policies}.values())


def with_settings(
    policies: Sequence[RetrainPolicy], settings: Mapping[str, str]
) -> list[RetrainPolicy]:
    """Every contract policy with `settings` added to its overrides (`--set`)."""
    if not settings:
        return list(policies)
    extra = tuple(settings.items())
    return [
        replace(p, overrides=(*extra, *p.overrides)) if p.kind == CONTRACT else p for p in policies
    ]


def replay_training(max_rounds: int | None = None) -> TrainingOptions:
    """The candidate search a backtest's retrains run: the retrain job's, on one thread each
    (the backtest runs its fits in parallel processes); `max_rounds` caps each fit's rounds for
    a quicker look, with early stopping scaled down to match."""
    options = TrainingOptions(num_threads=1)
    if max_rounds is None:
        return options
    return replace(
        options, max_rounds=max_rounds, early_stopping_rounds=max(1, min(30, max_rounds // 4))
    )


@dataclass(frozen=True)
class BacktestOptions:
    """How the backtest runs: the gate, the oracle's metric, C_alpha's range, drift onsets, the
    training search, the processes, the view and the first fit."""

    gate: bool = True
    metric: str = "roc_auc"
    alpha_max: float = 0.1
    onsets: tuple[str, ...] = ()
    training: TrainingOptions = field(default_factory=replay_training)
    workers: int = 0  # 0: one per core
    view: str | None = None
    first_fit: str | None = None  # partition of the first fit (default: the first full window)
    oracle_max_fits: int | None = None  # None: up to the largest fit count of the others
