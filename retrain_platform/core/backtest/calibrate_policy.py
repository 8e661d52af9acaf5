"""The policy side of calibration: which keys are searched over which values, the recommended
`policy:` block as YAML, and writing chosen values into a contract file in place.

Candidate values are YAML text, as `--set` and `contract:key=value` take them, so a variant is a
plain `RetrainPolicy(CONTRACT, overrides=...)` and what is written is what was replayed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import median
from typing import Any

import yaml

from retrain_platform.contracts import DatasetContract, load_contract
from retrain_platform.contracts.model import Policy
from retrain_platform.contracts.policy import POLICY_KEYS, override_policy, window_defaults
from retrain_platform.core.backtest.history import ReplayHistory
from retrain_platform.core.backtest.policies import DEFAULT_SCHEDULES
from retrain_platform.core.partitions import partition_end, partition_start

# Keys that change what a retrain fits (window, threshold, drift sample) would need a model bank
# each; calibration searches when to retrain, not what.
UNSEARCHABLE = (
    "training_window",
    "window_partitions",
    "validation_partitions",
    "holdout_partitions",
    "decision_threshold",
    "drift_row_cap",
)


@dataclass(frozen=True)
class GridContext:
    """What the default candidate values are relative to: the policy and the partitions."""

    policy: Policy
    partition_hours: float  # mean length of a partition
    median_rows: int  # median rows of a partition
    schedules: tuple[int, ...]  # the grain's fixed schedules (partitions between fits)


def _floors(c: GridContext) -> tuple[object, ...]:
    value = c.policy.min_roc_auc
    return (round(value - 0.1, 4), value, round(min(value + 0.05, 0.99), 4))


def _partitions(c: GridContext, count: int) -> float:
    """Hours that elapse by `count` partitions and not by one fewer (age and cooldown fire on
    `>=` and hold on `<` the elapsed time; months differ in length)."""
    return c.partition_hours * (count - 0.5) if count else 0.0


def _ages(c: GridContext) -> tuple[object, ...]:
    counts = (2, *c.schedules[1:], 30)
    return tuple(max(1, math.ceil(_partitions(c, n) / 24)) for n in counts)


def _cooldowns(c: GridContext) -> tuple[object, ...]:
    return tuple(round(_partitions(c, n), 1) for n in (0, 2, 7, *c.schedules[1:]))


# The keys searched, in search order, and their candidate values: a new key is one entry here (a
# key not in POLICY_KEYS is skipped, e.g. drift_persistence until the policy has it). The
# contract's own value is always a candidate too. PSI goes up to 5 and 10 (drift off in
# practice): on monthly weather a season's partition against a year-round reference has a PSI of
# 3-6 every month. The model age is searched too (its default of 30 days fires every month);
# ages and cooldowns are whole partitions: 2, 7 (cooldown), the grain's fixed schedules, 30.
SEARCH_GRID: dict[str, Callable[[GridContext], tuple[object, ...]]] = {
    "drift_psi_threshold": lambda c: (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
    "drift_ks_threshold": lambda c: (0.1, 0.2, 0.3, 1.0),
    "drift_persistence": lambda c: (1, 2, 3),
    "min_roc_auc": _floors,
    "retrain_cooldown_hours": _cooldowns,
    "max_model_age_days": _ages,
    "retrain_on_new_labelled_rows": lambda c: (None, 7 * c.median_rows, 30 * c.median_rows),
}


def yaml_value(value: object) -> str:
    """`value` as a contract writes it (flow style, `null` for None)."""
    plain = list(value) if isinstance(value, tuple) else value
    text = yaml.safe_dump(plain, default_flow_style=True, width=10_000)
    return text.removesuffix("...\n").strip()


def default_grid(history: ReplayHistory, policy: Policy) -> dict[str, tuple[str, ...]]:
    """The candidate values (YAML text) of every key of `SEARCH_GRID` that is a policy key."""
    grain = history.grain
    spans = [partition_end(p, grain) - partition_start(p, grain) for p in history.partitions]
    context = GridContext(
        policy=policy,
        partition_hours=sum(s.total_seconds() for s in spans) / 3600 / len(spans),
        median_rows=max(1, int(median(history.rows(p) for p in history.partitions))),
        schedules=DEFAULT_SCHEDULES[grain],
    )
    return {
        key: tuple(dict.fromkeys(yaml_value(v) for v in values(context)))
        for key, values in SEARCH_GRID.items()
        if key in POLICY_KEYS
    }


def checked_grid(grid: Mapping[str, Sequence[object]]) -> dict[str, tuple[str, ...]]:
    """A given grid as YAML text; a key that is no policy key or changes the fits is refused."""
    checked: dict[str, tuple[str, ...]] = {}
    for key, values in grid.items():
        if key not in POLICY_KEYS or key in UNSEARCHABLE:
            why = "changes what a retrain fits" if key in UNSEARCHABLE else "is no policy key"
            msg = f"cannot search {key!r}: it {why}"
            raise ValueError(msg)
        checked[key] = tuple(
            dict.fromkeys(v if isinstance(v, str) else yaml_value(v) for v in values)
        )
    return checked


def policy_block(contract: DatasetContract, overrides: Mapping[str, str]) -> str:
    """The recommended `policy:` section: every value that differs from the defaults, and the
    `overrides` (the calibrated keys) whatever their value."""
    policy = override_policy(contract.policy, dict(overrides))
    sizes: dict[str, Any] = window_defaults(contract.partitioning.grain)
    defaults = replace(Policy(), **sizes)
    lines = ["policy:"]
    for key in POLICY_KEYS:
        value = getattr(policy, key)
        if key in overrides or value != getattr(defaults, key):
            lines.append(f"  {key}: {yaml_value(value)}")
    if policy.max_feature_age is not None:
        minutes = int(policy.max_feature_age.total_seconds() // 60)
        lines.append(f"  max_feature_age: {minutes}m")
    return "\n".join(lines) + "\n"


def _section(lines: list[str], path: Path) -> tuple[int, int, str] | None:
    """The `policy:` line, the line after its last entry and its entries' indent (None when
    the file has no policy section)."""
    heads = [i for i, line in enumerate(lines) if re.match(r"policy:(\s|$)", line)]
    if not heads:
        return None
    head = heads[0]
    if lines[head].split("#")[0].strip() != "policy:":
        msg = f"{path}: policy is not a block mapping (`policy:` and one key a line)"
        raise ValueError(msg)
    end, indent = head + 1, None
    for index in range(head + 1, len(lines)):
        line = lines[index]
        if not line.strip() or line.startswith("#"):
            continue
        if not line[0].isspace():
            break
        end = index + 1
        if indent is None and not line.lstrip().startswith("#"):
            indent = line[: len(line) - len(line.lstrip())]
    return head, end, indent or "  "


def _edited(text: str, overrides: Mapping[str, str], path: Path) -> str:
    lines = text.splitlines(keepends=True)
    section = _section(lines, path)
    if section is None:
        lines.append("policy:\n")
        section = (len(lines) - 1, len(lines), "  ")
    head, end, indent = section
    if end == len(lines) and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for key, value in overrides.items():
        entry = re.compile(rf"{re.escape(indent)}{re.escape(key)}:(?:[^\S\n][^#\n]*?)?(\s+#.*)?$")
        found = next((i for i in range(head + 1, end) if entry.match(lines[i].rstrip("\n"))), None)
        if found is None:
            lines.insert(end, f"{indent}{key}: {value}\n")
            end += 1
            continue
        match = entry.match(lines[found].rstrip("\n"))
        comment = match.group(1) if match and match.group(1) else ""
        lines[found] = f"{indent}{key}: {value}{comment}\n"
    return "".join(lines)


def write_policy(contract_path: Path, overrides: Mapping[str, str]) -> None:
    """Set `overrides` (policy key -> YAML text) in the contract file's `policy:` mapping in
    place: an existing `key: value` line gets the new value (its comment kept), a new key goes
    after the section's last entry (a section is added at the end when there is none); every
    other byte stays. The file is then loaded again: if it does not load, or a value reads back
    different, the original text is restored and a ValueError raised."""
    path = Path(contract_path)
    unknown = [key for key in overrides if key not in POLICY_KEYS]
    if unknown:
        msg = f"unknown policy key(s) {', '.join(map(repr, unknown))}"
        raise ValueError(msg)
    original = path.read_text()
    expected = override_policy(load_contract(path).policy, dict(overrides))
    path.write_text(_edited(original, overrides, path))
    try:
        loaded = load_contract(path).policy
        wrong = [key for key in overrides if getattr(loaded, key) != getattr(expected, key)]
        if wrong:
            msg = f"{path}: {', '.join(wrong)} did not read back as written"
            raise ValueError(msg)
    except ValueError:
        path.write_text(original)
        raise
