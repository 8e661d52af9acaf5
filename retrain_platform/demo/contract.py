"""The contract the demo runs with, written into the platform home for `make dev` to serve.

A shipped contract's partitions start on a fixed date (the transactions contract: 2026-01-01),
while the demo's history ends yesterday: every partitioned asset in the UI would show most of its
partitions missing. So the demo writes its own copy, `<home>/contracts/<dataset>.yaml`: the given
contract's document with `partitioning.start` on the first day of the generated data and the
demo's policy overrides (`demo_policy`). The loop then runs on that file, and the code location
of `make dev` serves the home's contracts while `RETRAIN_CONTRACT` is unset, so the demo and the
UI work on the same contract (same partitions, same policy, same contract hash).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from retrain_platform.contracts import DatasetContract, load_contract
from retrain_platform.contracts.model import Partitioning, Policy
from retrain_platform.home import HomeLayout

ON_DRIFT = "on_drift"


def demo_policy(
    policy: Policy, *, new_labelled_rows: int | None, window_partitions: int | None = None
) -> dict[str, Any]:
    """The policy fields the demo overrides: Evidently's HTML for drifted partitions only (seconds
    a day otherwise), `new_labelled_rows` as the new-data trigger if the policy has none, and
    `window_partitions` (when given) as the training window's length: every training set of the
    demo, the backfill's and the retrains' the sensor requests, covers the policy's window."""
    overrides: dict[str, Any] = {"drift_html": ON_DRIFT}
    if new_labelled_rows is not None and policy.retrain_on_new_labelled_rows is None:
        overrides["retrain_on_new_labelled_rows"] = new_labelled_rows
    if window_partitions is not None:
        overrides["window_partitions"] = window_partitions
    return overrides


def demo_contract(
    contract: DatasetContract,
    first_day: date,
    *,
    new_labelled_rows: int | None,
    window_partitions: int | None = None,
) -> DatasetContract:
    """`contract` as the demo runs it: partitions from `first_day`, the `demo_policy` overrides."""
    overrides = demo_policy(
        contract.policy, new_labelled_rows=new_labelled_rows, window_partitions=window_partitions
    )
    policy = replace(contract.policy, **overrides)
    partitioning = Partitioning(contract.partitioning.grain, first_day)
    return replace(contract, partitioning=partitioning, policy=policy)


def demo_document(
    contract: DatasetContract,
    first_day: date,
    *,
    new_labelled_rows: int | None,
    window_partitions: int | None = None,
) -> dict[str, Any]:
    """The YAML document of `demo_contract`: the contract's file with the two sections changed."""
    document = yaml.safe_load(Path(contract.source_path).read_text())
    document["partitioning"] = {**document["partitioning"], "start": first_day.isoformat()}
    overrides = demo_policy(
        contract.policy, new_labelled_rows=new_labelled_rows, window_partitions=window_partitions
    )
    document["policy"] = {**(document.get("policy") or {}), **overrides}
    return document


class ContractCopyError(ValueError):
    """The contract given differs from its file, so a copy of the file would not be it."""


def write_demo_contract(
    contract: DatasetContract,
    home: HomeLayout,
    first_day: date,
    *,
    new_labelled_rows: int | None,
    window_partitions: int | None = None,
) -> DatasetContract:
    """Write `demo_contract(...)` to `home.contract_path(dataset)` and return it read back.

    Raises `ContractCopyError` when the file read back is not `demo_contract(...)` (a contract
    changed in memory after it was loaded: its file no longer describes it).
    """
    path = home.contract_path(contract.dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    sizes = {"new_labelled_rows": new_labelled_rows, "window_partitions": window_partitions}
    document = demo_document(contract, first_day, **sizes)
    header = (
        f"# Written by `retrain-platform demo` from {contract.source_path}: partitions start on\n"
        f"# the demo data's first day ({first_day}), policy: {document['policy']['drift_html']}"
        " drift HTML, the demo's new-data trigger and training window.\n"
        "# `make dev` on this home serves it while RETRAIN_CONTRACT is unset.\n"
    )
    path.write_text(header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    written = load_contract(path)
    expected = demo_contract(contract, first_day, **sizes)
    if written.contract_hash != expected.contract_hash:
        path.unlink()
        msg = (
            f"{contract.source_path}: the contract given differs from its file, so the demo "
            "cannot write a copy of it for `make dev`; pass an unmodified contract"
        )
        raise ContractCopyError(msg)
    return written
