"""`retrain-platform history`: the decision history, and which version was champion when.

One row per retraining cycle or rollback; `--at T` also answers "which version was champion at
time T".
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import polars as pl

from retrain_platform.cli.options import add_contract_option, contract_from, parse_timestamp
from retrain_platform.contracts import DatasetContract
from retrain_platform.home import HomeLayout, layout

TABLE_COLUMNS = (
    "decided_at",
    "event",
    "trigger",
    "model_version",
    "dataset_version",
    "window_end",
    "gate_passed",
    "candidate_roc_auc",
    "champion_roc_auc",
    "promoted",
    "champion",
)


def _decisions_uri(home: HomeLayout, contract: DatasetContract) -> str:
    from retrain_platform.core.lake import table_uri
    from retrain_platform.defs import model_keys as mk

    return table_uri(home.lake_uri, mk.DEPLOYMENT, mk.decisions_table(contract))


def format_history(history: pl.DataFrame, *, limit: int) -> str:
    """The newest `limit` decisions: a table of the numbers, then every reason and failure in full.

    Reasons and gate failures are sentences; a table cell would cut them, so each decision's
    follow below the table, numbered like its row.
    """
    rows = history.tail(limit).with_row_index("#", offset=1)
    champion = (
        pl.col("champion_before").cast(pl.String).fill_null("-")
        + " -> "
        + pl.col("champion_after").cast(pl.String).fill_null("-")
    )
    table = rows.select(
        "#",
        pl.col("decided_at").dt.strftime("%Y-%m-%d %H:%M:%S"),
        *TABLE_COLUMNS[1:7],
        pl.col("candidate_roc_auc").round(4),
        pl.col("champion_roc_auc").round(4),
        "promoted",
        champion.alias("champion"),
    )
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=240,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
    ):
        lines = [str(table), "", "why:"]
    for row in rows.iter_rows(named=True):
        lines.append(f"  [{row['#']}] {row['event']}: {row['reason'] or '(no reason recorded)'}")
        lines.extend(f"      - {failure}" for failure in row["gate_failures"] or [])
    return "\n".join(lines)


def history_json_lines(history: pl.DataFrame, *, limit: int) -> str:
    """The newest `limit` decisions, every column, one JSON object per line (times in ISO)."""
    rows = history.tail(limit)
    return "\n".join(json.dumps(row, default=str) for row in rows.iter_rows(named=True))


def cmd_history(args: argparse.Namespace) -> int:
    from retrain_platform.core.deployment.decisions import champion_at, read_decisions

    contract, home = contract_from(args), layout()
    history = read_decisions(_decisions_uri(home, contract), home.lake_storage_options)
    if history.is_empty():
        print(f"{contract.dataset}: no decisions recorded yet")
        return 0
    if args.json:
        print(history_json_lines(history, limit=args.limit))
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
    history.add_argument(
        "--json", action="store_true", help="print every column of each decision as JSON lines"
    )
    history.set_defaults(func=cmd_history)
