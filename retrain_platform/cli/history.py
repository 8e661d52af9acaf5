"""`retrain-platform history`: the decision history, and which version was champion when.

One row per retraining cycle or rollback; `--at T` also answers "which version was champion at
time T".
"""

from __future__ import annotations

import argparse
from typing import Any

import polars as pl

from retrain_platform.cli.options import add_contract_option, contract_from, parse_timestamp
from retrain_platform.contracts import DatasetContract
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

    contract, home = contract_from(args), layout()
    history = read_decisions(_decisions_uri(home, contract), home.lake_storage_options)
    if history.is_empty():
        print(f"{contract.dataset}: no decisions recorded yet")
        return 0
    print(format_history(history, limit=args.limit))
    if args.at is not None:
        version = champion_at(history, args.at)
        print(f"champion at {args.at.isoformat()}: {'none' if version is None else version}")
    return 0


def add_history_command(subparsers: Any) -> None:
    """Add `history` to the `retrain-platform` parser."""
    history = subparsers.add_parser("history", help="print the decision history")
    add_contract_option(history)
    history.add_argument(
        "--at",
        type=parse_timestamp,
        help="also print the champion at this time (ISO; UTC if naive)",
    )
    history.add_argument("--limit", type=int, default=50, help="newest rows shown (default 50)")
    history.set_defaults(func=cmd_history)
