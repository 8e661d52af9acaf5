"""The demo's contract copy: partitions from the data's first day, served when none is chosen."""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date

import pytest

from retrain_platform.cli.options import contract_from
from retrain_platform.contracts import CONTRACT_ENV_VAR, DEFAULT_CONTRACT_PATH, active_contracts
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform.demo.contract import ContractCopyError, write_demo_contract
from retrain_platform.demo.loop import LoopOptions, new_labelled_rows

FIRST_DAY = date(2026, 9, 3)


def test_the_copy_starts_on_the_data_first_day_and_is_what_the_code_location_serves(
    contract, home, monkeypatch
):
    monkeypatch.delenv(CONTRACT_ENV_VAR, raising=False)
    assert active_contracts(home.contract_paths())[0].source_path == str(DEFAULT_CONTRACT_PATH)
    options = LoopOptions(days=12, backfill_days=10, rows_per_day=1_500, start=FIRST_DAY)
    written = write_demo_contract(
        contract, home, FIRST_DAY, new_labelled_rows=new_labelled_rows(options)
    )

    assert home.contract_paths() == [home.contract_path(contract.dataset)]
    assert written.partitioning.start == FIRST_DAY != contract.partitioning.start
    assert written.policy.drift_html == "on_drift"
    assert written.policy.retrain_on_new_labelled_rows == 7 * 1_500
    # nothing else of the shipped contract changed
    unchanged = replace(written, partitioning=contract.partitioning, policy=contract.policy)
    assert unchanged.contract_hash == contract.contract_hash

    served = build_definitions(home=home)
    raw = served.resolve_assets_def(keys.raw_key(contract))
    assert raw.partitions_def.get_first_partition_key() == FIRST_DAY.isoformat()
    (served_contract,) = active_contracts(home.contract_paths())
    assert served_contract.contract_hash == written.contract_hash
    no_option = argparse.Namespace(contract=None)
    assert contract_from(no_option).contract_hash == written.contract_hash

    monkeypatch.setenv(CONTRACT_ENV_VAR, str(DEFAULT_CONTRACT_PATH))  # a chosen contract wins
    assert active_contracts(home.contract_paths())[0].partitioning == contract.partitioning
    assert contract_from(no_option).partitioning == contract.partitioning


def test_a_contract_changed_in_memory_is_not_copied_from_its_file(contract, home):
    changed = replace(contract, description="not what the file says")
    with pytest.raises(ContractCopyError, match="differs from its file"):
        write_demo_contract(changed, home, FIRST_DAY, new_labelled_rows=None)
    assert home.contract_paths() == []
