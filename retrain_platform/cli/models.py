"""`retrain-platform history | rollback | reproduce`: the decision history and the champion.

- `history` prints the decision history (one row per retraining cycle or rollback); `--at T`
  also answers "which version was champion at time T".
- `rollback` runs `<dataset>_rollback_job` in-process on the platform's Dagster instance:
  `champion` back to `previous` in seconds, recorded in the history and in the catalog.
- `reproduce VERSION` retrains a registered version from its recorded training-set version and
  configuration and compares the holdout predictions with the registered model's.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from datetime import UTC, datetime
from typing import Any

import polars as pl

from retrain_platform.contracts import (
    CONTRACT_ENV_VAR,
    DEFAULT_CONTRACT_PATH,
    DatasetContract,
    load_contract,
)
from retrain_platform.core.deployment.decisions import TRIGGER_TAG
from retrain_platform.home import HomeLayout, layout

HISTORY_COLUMNS = (
    "decided_at",
    "event",
    "trigger",
    "reason",
    "model_version",
    "dataset_version",
    "window_end",
    "gate_passed",
    "candidate_roc_auc",
    "champion_roc_auc",
    "promoted",
    "champion_before",
    "champion_after",
    "gate_failures",
)


def _contract(args: argparse.Namespace) -> DatasetContract:
    path = args.contract or os.environ.get(CONTRACT_ENV_VAR) or DEFAULT_CONTRACT_PATH
    return load_contract(path)


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        msg = f"{text!r} is not an ISO timestamp (e.g. 2026-05-01T12:00)"
        raise argparse.ArgumentTypeError(msg) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _decisions_uri(home: HomeLayout, contract: DatasetContract) -> str:
    from retrain_platform.core.lake import table_uri
    from retrain_platform.defs import model_keys as mk

    return table_uri(home.lake_uri, mk.DEPLOYMENT, mk.decisions_table(contract))


def format_history(history: pl.DataFrame, *, limit: int) -> str:
    """The history's main columns, newest last, failures joined into one cell."""
    table = (
        history.tail(limit)
        .select(HISTORY_COLUMNS)
        .with_columns(
            pl.col("decided_at").dt.strftime("%Y-%m-%d %H:%M:%S"),
            pl.col("candidate_roc_auc").round(4),
            pl.col("champion_roc_auc").round(4),
            pl.col("gate_failures").list.join("; "),
        )
    )
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=240,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        fmt_str_lengths=80,
    ):
        return str(table)


def cmd_history(args: argparse.Namespace) -> int:
    from retrain_platform.core.deployment.decisions import champion_at, read_decisions

    contract, home = _contract(args), layout()
    history = read_decisions(_decisions_uri(home, contract), home.lake_storage_options)
    if history.is_empty():
        print(f"{contract.dataset}: no decisions recorded yet")
        return 0
    print(format_history(history, limit=args.limit))
    if args.at is not None:
        version = champion_at(history, args.at)
        print(f"champion at {args.at.isoformat()}: {'none' if version is None else version}")
    return 0


def _rollback_definitions(contract: DatasetContract, home: HomeLayout) -> Any:
    import dagster as dg

    from retrain_platform.defs.deployment.rollback import build_rollback_job
    from retrain_platform.resources import lake_resource
    from retrain_platform.resources.tracking import default_mlflow_resource

    return dg.Definitions(
        jobs=[build_rollback_job(contract)],
        resources={
            "lake": lake_resource(home),
            "mlflow": default_mlflow_resource(home),
        },
    )


def cmd_rollback(args: argparse.Namespace) -> int:
    warnings.filterwarnings("ignore", module="dagster")
    from retrain_platform.defs.deployment.rollback import rollback_job_name
    from retrain_platform.demo.backfill import QUIET, ensure_instance

    contract, home = _contract(args), layout()
    defs = _rollback_definitions(contract, home)
    result = defs.resolve_job_def(rollback_job_name(contract)).execute_in_process(
        instance=ensure_instance(home),
        raise_on_error=False,
        run_config={
            **QUIET,
            "ops": {f"{contract.dataset}_rollback_champion": {"config": {"reason": args.reason}}},
        },
        tags={TRIGGER_TAG: "cli"},
    )
    if not result.success:
        failure = result.get_step_failure_events()
        error = failure[0].step_failure_data.error if failure else None
        detail = error.message.split(": ", 1)[-1].strip() if error else "see the run"
        print(f"rollback failed: {detail}", file=sys.stderr)
        return 1
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    print(
        f"{contract.dataset}: champion rolled back from version "
        f"{meta['rolled_back_version'].value} to {meta['champion_version'].value} "
        f"(previous now {meta['previous_version'].value}); run {result.run_id[:8]}"
    )
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from retrain_platform.core.models.reproduce import reproduce_version
    from retrain_platform.resources.tracking import embedded_store, registered_model_name

    contract, home = _contract(args), layout()
    outcome = reproduce_version(
        embedded_store(home),
        registered_model_name(contract),
        args.version,
        contract,
        storage_options=home.lake_storage_options,
    )
    print(outcome.summary())
    return 0 if outcome.identical else 1


def _add_contract_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--contract",
        help=f"contract file (default: ${CONTRACT_ENV_VAR} or the shipped transactions contract)",
    )


def add_model_commands(subparsers: Any) -> None:
    """Add `history`, `rollback` and `reproduce` to the `retrain-platform` parser."""
    history = subparsers.add_parser("history", help="print the decision history")
    _add_contract_option(history)
    history.add_argument(
        "--at", type=_timestamp, help="also print the champion at this time (ISO; UTC if naive)"
    )
    history.add_argument("--limit", type=int, default=50, help="newest rows shown (default 50)")
    history.set_defaults(func=cmd_history)
    rollback = subparsers.add_parser(
        "rollback", help="move the champion back to the previous version (no retraining)"
    )
    _add_contract_option(rollback)
    rollback.add_argument("--reason", default="manual rollback", help="recorded in the history")
    rollback.set_defaults(func=cmd_rollback)
    reproduce = subparsers.add_parser(
        "reproduce",
        help="retrain a registered version from its recorded inputs; compare holdout predictions",
    )
    _add_contract_option(reproduce)
    reproduce.add_argument("version", type=int, help="registered model version")
    reproduce.set_defaults(func=cmd_reproduce)
