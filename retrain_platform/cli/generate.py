"""`retrain-platform generate`: deterministic synthetic landing files for a contract."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from retrain_platform.cli.options import add_contract_option, contract_from, parse_date
from retrain_platform.cli.progress import Bars, add_progress_option
from retrain_platform.home import layout


def _add_generation_options(parser: argparse.ArgumentParser, *, faults: str = "") -> None:
    add_contract_option(parser)
    parser.add_argument("--days", type=int, default=60, help="number of daily files (default 60)")
    parser.add_argument("--start", type=parse_date, help="first day (default: DAYS days ago)")
    parser.add_argument("--rows-per-day", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drift-start", type=parse_date, help="first day of drift")
    parser.add_argument("--drift-kind", choices=["covariate", "concept", "both"], default="both")
    parser.add_argument(
        "--faults",
        default=faults,
        help="comma-separated fault kinds, each optionally KIND@YYYY-MM-DD, "
        f"or 'none' (default: {faults or 'none'})",
    )


def _generation(args: argparse.Namespace):  # noqa: ANN202 - (start, drift, faults)
    from retrain_platform.core.synthetic import DriftSpec, parse_faults

    start = args.start or (datetime.now(UTC).date() - timedelta(days=args.days))
    drift = DriftSpec(args.drift_start, args.drift_kind) if args.drift_start else None
    wanted = args.faults.strip()
    faults = tuple(parse_faults(wanted)) if wanted and wanted != "none" else ()
    return start, drift, faults


def cmd_generate(args: argparse.Namespace) -> int:
    from retrain_platform.core.synthetic import write_landing_files

    contract = contract_from(args)
    landing = Path(args.landing) if args.landing else layout().landing_root / contract.dataset
    try:
        start, drift, faults = _generation(args)
        with Bars.for_args(args) as bars:
            files = write_landing_files(
                contract,
                landing,
                start=start,
                days=args.days,
                rows_per_day=args.rows_per_day,
                seed=args.seed,
                drift=drift,
                faults=faults,
                file_format=args.format,
                progress=bars,
            )
    except ValueError as error:  # bad options (days, rows, seed, faults): say which, no trace
        print(f"generate: {error}", file=sys.stderr)
        return 2
    for file in files:
        note = f"  fault: {file.fault}" if file.fault else ""
        print(f"{file.path}  {file.rows:>9,} rows{note}")
    print(f"{len(files)} files, {sum(f.rows for f in files):,} rows")
    return 0


def add_generate_command(subparsers: Any) -> None:
    """Add `generate` to the `retrain-platform` parser."""
    gen = subparsers.add_parser("generate", help="write synthetic landing files")
    _add_generation_options(gen)
    gen.add_argument("--format", choices=["parquet", "csv", "mixed"], default="parquet")
    gen.add_argument("--landing", help="landing directory (default: under the platform home)")
    add_progress_option(gen)
    gen.set_defaults(func=cmd_generate)
