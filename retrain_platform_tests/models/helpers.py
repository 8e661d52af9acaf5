"""Shared values of the models tests: the synthetic window and contracts with other policies."""

from dataclasses import replace
from datetime import date, timedelta

from retrain_platform.contracts import DatasetContract

START = date(2026, 4, 1)
DAYS = 10
ROWS_PER_DAY = 400
WINDOW = {"window_partitions": 8, "validation_partitions": 2, "holdout_partitions": 2}
AS_OF = (START + timedelta(days=DAYS - 1)).isoformat()


def with_policy(contract: DatasetContract, **changes: object) -> DatasetContract:
    """The contract with some policy values replaced."""
    return replace(contract, policy=replace(contract.policy, **changes))
