"""Dataset contracts: the YAML format, its typed objects and how the active contract is chosen."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from retrain_platform.contracts.loader import ContractError, load_contract, parse_duration
from retrain_platform.contracts.model import (
    Column,
    DatasetContract,
    Expectations,
    Label,
    Partitioning,
    Policy,
    RowIndexTimestamp,
)

CONTRACT_ENV_VAR = "RETRAIN_CONTRACT"
DEFAULT_CONTRACT_PATH = Path(__file__).with_name("transactions.yaml")


def active_contract_paths(home_contracts: Sequence[Path] = ()) -> list[Path]:
    """Contract files chosen by `RETRAIN_CONTRACT` (os.pathsep-separated), else `home_contracts`
    (those the demo wrote into the platform home, `HomeLayout.contract_paths()`), else the
    shipped default."""
    value = os.environ.get(CONTRACT_ENV_VAR, "").strip()
    if not value:
        return list(home_contracts) or [DEFAULT_CONTRACT_PATH]
    return [Path(p).expanduser().resolve() for p in value.split(os.pathsep) if p.strip()]


def active_contracts(home_contracts: Sequence[Path] = ()) -> list[DatasetContract]:
    """Load every active contract (`active_contract_paths`); dataset names must be unique."""
    contracts = [load_contract(p) for p in active_contract_paths(home_contracts)]
    names = [c.dataset for c in contracts]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        msg = f"{CONTRACT_ENV_VAR}: dataset {duplicated[0]!r} is declared by more than one contract"
        raise ContractError(msg)
    return contracts


__all__ = [
    "CONTRACT_ENV_VAR",
    "DEFAULT_CONTRACT_PATH",
    "Column",
    "ContractError",
    "DatasetContract",
    "Expectations",
    "Label",
    "Partitioning",
    "Policy",
    "RowIndexTimestamp",
    "active_contract_paths",
    "active_contracts",
    "load_contract",
    "parse_duration",
]
