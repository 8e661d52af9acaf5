"""`retrain-platform landing`: every file of the landing zone and what became of it (the ledger).

One line per file version: status, size, when first seen, rows landed, to raw, quarantined (by
reason), outside the partitions, still waiting, the partitions it touched and the message;
`--status S` keeps one status, `--json` prints the records. The last line adds the rows up, so a
reader sees that every landed row is accounted for.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import polars as pl

from retrain_platform.cli.options import add_contract_option, contract_from
from retrain_platform.core.ingest.ledger import SUMMARY_SCHEMA
from retrain_platform.home import layout

# The summary's columns shown in the table (the fingerprint and the message are not).
COLUMNS = tuple(c for c in SUMMARY_SCHEMA if c not in ("fingerprint", "message"))


def format_ledger(summary: pl.DataFrame) -> str:
    """The ledger's files as a table, their messages below it, and the row totals."""
    if summary.is_empty():
        return "no landing file recorded yet"
    rows = summary.with_row_index("#", offset=1)
    table = rows.select(
        "#",
        *COLUMNS[:3],
        pl.col("first_seen").dt.strftime("%Y-%m-%d %H:%M:%S"),
        *COLUMNS[4:],
    )
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        fmt_str_lengths=60,
        tbl_width_chars=260,
        tbl_hide_dataframe_shape=True,
    ):
        lines = [str(table)]
    for number, message in rows.select("#", "message").iter_rows():
        if message:
            lines.append(f"{number}. {message}")
    lines.append(totals_line(summary))
    return "\n".join(lines)


def _sum(frame: pl.DataFrame, column: str) -> int:
    return int(frame.get_column(column).fill_null(0).sum())


def totals_line(summary: pl.DataFrame) -> str:
    """Rows landed against where they went (current file versions only)."""
    current = summary.filter(pl.col("status") != "superseded")
    accepted = current.filter(pl.col("status").is_in(["accepted", "ingested"]))
    landed, raw = _sum(accepted, "rows_landed"), _sum(accepted, "rows_raw")
    quarantined, waiting = _sum(accepted, "rows_quarantined"), _sum(accepted, "rows_pending")
    outside = current.filter(pl.col("status") == "outside_partitions")
    unreadable = current.filter(pl.col("status") == "unreadable").height
    return (
        f"{current.height} file(s): rows landed {landed} = raw {raw} + quarantined {quarantined} "
        f"+ waiting {waiting} + not yet ingested {landed - raw - quarantined - waiting}; "
        f"rows in files moved aside {_sum(outside, 'rows_landed')} "
        f"(+ {unreadable} unreadable file(s))"
    )


def cmd_landing(args: argparse.Namespace) -> int:
    """Print the landing ledger of the contract's dataset."""
    from retrain_platform.core.ingest import ledger
    from retrain_platform.core.lake import table_uri
    from retrain_platform.defs import keys

    contract = contract_from(args)
    home = layout()
    uri = table_uri(home.lake_uri, keys.LANDING, keys.ledger_table(contract))
    summary = ledger.file_summary(ledger.read(uri, home.lake_storage_options))
    if args.status:
        summary = summary.filter(pl.col("status") == args.status)
    if args.json:
        records: list[dict[str, Any]] = summary.with_columns(
            pl.col("first_seen").dt.to_string("iso")
        ).to_dicts()
        print(json.dumps(records, indent=2))
        return 0
    print(format_ledger(summary))
    return 0


def add_landing_command(sub: argparse._SubParsersAction) -> None:
    from retrain_platform.core.ingest.ledger import INGESTED, STATUSES

    parser = sub.add_parser(
        "landing",
        help="every landing file and what became of it (the landing ledger)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_contract_option(parser)
    parser.add_argument("--status", choices=sorted({*STATUSES, INGESTED}), help="only this status")
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    parser.set_defaults(func=cmd_landing)
