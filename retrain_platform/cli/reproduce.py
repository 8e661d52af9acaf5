"""`retrain-platform reproduce VERSION`: retrain a registered version from its recorded inputs.

Uses the recorded training-set version and configuration and compares the holdout predictions
with the registered model's; exits 1 when they differ.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from retrain_platform.cli.options import add_contract_option, contract_from
from retrain_platform.home import layout


def cmd_reproduce(args: argparse.Namespace) -> int:
    from mlflow.exceptions import MlflowException

    from retrain_platform.core.models.reproduce import reproduce_version
    from retrain_platform.resources.tracking import profile_mlflow_store, registered_model_name

    contract, home = contract_from(args), layout()
    name = registered_model_name(contract)
    try:
        outcome = reproduce_version(
            profile_mlflow_store(home),
            name,
            args.version,
            contract,
            storage_options=home.lake_storage_options,
        )
    except MlflowException as error:  # no such version, or its run is gone: say so, no trace
        print(f"reproduce: {name} version {args.version}: {error.message}", file=sys.stderr)
        return 2
    print(outcome.summary())
    return 0 if outcome.identical else 1


def add_reproduce_command(subparsers: Any) -> None:
    """Add `reproduce` to the `retrain-platform` parser."""
    reproduce = subparsers.add_parser(
        "reproduce",
        help="retrain a registered version from its recorded inputs; compare holdout predictions",
    )
    add_contract_option(reproduce)
    reproduce.add_argument("version", type=int, help="registered model version")
    reproduce.set_defaults(func=cmd_reproduce)
