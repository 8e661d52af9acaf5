"""`retrain-platform`: generate synthetic data, run the main job, show the per-partition status."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from retrain_platform.cli_backtest import add_backtest_command
from retrain_platform.cli_models import add_model_commands
from retrain_platform.cli_serve import add_serve_command
from retrain_platform.contracts import (
    CONTRACT_ENV_VAR,
    DEFAULT_CONTRACT_PATH,
    ContractError,
    DatasetContract,
    load_contract,
)
from retrain_platform.home import layout


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        msg = f"{text!r} is not a date (YYYY-MM-DD)"
        raise argparse.ArgumentTypeError(msg) from exc


def _contract(args: argparse.Namespace) -> DatasetContract:
    path = args.contract or os.environ.get(CONTRACT_ENV_VAR) or DEFAULT_CONTRACT_PATH
    return load_contract(path)


def _add_contract_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--contract",
        help=f"contract file (default: ${CONTRACT_ENV_VAR} or the shipped transactions contract)",
    )


DEMO_FAULTS = "duplicates,out_of_range,wrong_type,nulls,renamed_column,corrupt"


def _add_generation_options(parser: argparse.ArgumentParser, *, faults: str = "") -> None:
    _add_contract_option(parser)
    parser.add_argument("--days", type=int, default=60, help="number of daily files (default 60)")
    parser.add_argument("--start", type=_date, help="first day (default: DAYS days ago)")
    parser.add_argument("--rows-per-day", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drift-start", type=_date, help="first day of drift")
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

    contract = _contract(args)
    start, drift, faults = _generation(args)
    landing = Path(args.landing) if args.landing else layout().landing_root / contract.dataset
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
    )
    for file in files:
        note = f"  fault: {file.fault}" if file.fault else ""
        print(f"{file.path}  {file.rows:>9,} rows{note}")
    print(f"{len(files)} files, {sum(f.rows for f in files):,} rows")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", message=".*noload.*")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from retrain_platform.definitions import build_definitions
    from retrain_platform.main_job import MainJobOptions, format_summary, run_main_job

    contract = _contract(args)
    start, drift, faults = _generation(args)
    options = MainJobOptions(
        days=args.days,
        start=start,
        rows_per_day=args.rows_per_day,
        seed=args.seed,
        faults=faults,
        drift=drift,
    )
    result = run_main_job(build_definitions(), contract, layout(), options)
    summary = result.summary
    print(format_summary(summary))
    total = summary.sum().row(0, named=True)
    quarantined = total["q_cast"] + total["q_missing_col"] + total["q_check"]
    print(
        f"landed {total['landed']:,} rows: raw {total['raw']:,}, valid {total['valid']:,}, "
        f"quarantined {quarantined:,}, duplicates removed {total['duplicates']:,}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="retrain-platform", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write synthetic landing files")
    _add_generation_options(gen)
    gen.add_argument("--format", choices=["parquet", "csv", "mixed"], default="parquet")
    gen.add_argument("--landing", help="landing directory (default: under the platform home)")
    gen.set_defaults(func=cmd_generate)
    demo = sub.add_parser("demo", help="run the main job on the embedded default")
    _add_generation_options(demo, faults=DEMO_FAULTS)
    demo.set_defaults(func=cmd_demo)
    add_model_commands(sub)
    add_backtest_command(sub)
    add_serve_command(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ContractError as exc:
        print(f"contract error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
