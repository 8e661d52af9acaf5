"""Options and argument types every subcommand shares: the one `--contract` option, dates, times."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, date, datetime
from pathlib import Path

from retrain_platform.contracts import (
    CONTRACT_ENV_VAR,
    DEFAULT_CONTRACT_PATH,
    DatasetContract,
    load_contract,
)
from retrain_platform.home import HomeLayout, layout


def add_contract_option(parser: argparse.ArgumentParser) -> None:
    """`--contract PATH`: which dataset a subcommand works on."""
    parser.add_argument(
        "--contract",
        help=f"contract file (default: ${CONTRACT_ENV_VAR}, else the contract the demo wrote "
        "into the platform home, else the shipped transactions contract)",
    )


def contract_from(args: argparse.Namespace) -> DatasetContract:
    """The contract named by `--contract`, else by `$RETRAIN_CONTRACT`, else the one the demo
    wrote into the platform home (as `make dev` serves it), else the shipped one."""
    path = args.contract or os.environ.get(CONTRACT_ENV_VAR) or default_contract_path()
    return load_contract(path)


def default_contract_path(home: HomeLayout | None = None) -> Path:
    """The home's copy of the shipped dataset's contract, else its first copy, else the shipped
    contract (the copies are written by `retrain-platform demo`)."""
    copies = (home or layout()).contract_paths()
    named = [path for path in copies if path.name == DEFAULT_CONTRACT_PATH.name]
    return (named or copies or [DEFAULT_CONTRACT_PATH])[0]


def parse_date(text: str) -> date:
    """An argparse type: `YYYY-MM-DD`."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        msg = f"{text!r} is not a date (YYYY-MM-DD)"
        raise argparse.ArgumentTypeError(msg) from exc


def parse_timestamp(text: str) -> datetime:
    """An argparse type: an ISO timestamp, UTC when it names no zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        msg = f"{text!r} is not an ISO timestamp (e.g. 2026-05-01T12:00)"
        raise argparse.ArgumentTypeError(msg) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)
