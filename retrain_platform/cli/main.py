"""`retrain-platform`: generate synthetic data, run the main job, show the per-partition status."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from retrain_platform.cli.backtest import add_backtest_command
from retrain_platform.cli.models import add_model_commands
from retrain_platform.cli.serve import add_serve_command
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


def _add_demo_options(parser: argparse.ArgumentParser) -> None:
    _add_contract_option(parser)
    parser.add_argument("--days", type=int, default=90, help="simulated days in all (default 90)")
    parser.add_argument(
        "--backfill-days",
        type=int,
        default=30,
        help="first days backfilled before the first champion is trained (default 30)",
    )
    parser.add_argument("--start", type=_date, help="first day (default: DAYS days ago)")
    parser.add_argument(
        "--rows-per-day", type=int, default=3_000, help="rows in each daily file (default 3000)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--drift-day",
        type=int,
        default=60,
        help="index of the first drifted day, or -1 for no drift (default 60)",
    )
    parser.add_argument("--drift-kind", choices=["covariate", "concept", "both"], default="both")
    parser.add_argument("--drift-strength", type=float, default=1.0)
    parser.add_argument(
        "--faults",
        default="auto",
        help="comma-separated fault kinds, each optionally KIND@YYYY-MM-DD, 'none', or 'auto' "
        "(default: nulls, duplicates and a renamed column on days of the daily phase)",
    )
    parser.add_argument(
        "--training-window",
        type=int,
        default=14,
        help="labelled partitions in each retrain's training set (default 14)",
    )
    parser.add_argument(
        "--retrain-every-days",
        type=int,
        default=7,
        help="when the contract sets no new-labelled-data trigger, retrain after this many days "
        "of new labelled rows; 0 for none (default 7)",
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """The closed loop on the embedded default: backfill, then the sensors decide day by day."""
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*noload.*")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from retrain_platform.core.synthetic import parse_faults
    from retrain_platform.demo.loop import LoopOptions, LoopSetupError, run_closed_loop

    contract = _contract(args)
    wanted = args.faults.strip()
    faults = None if wanted == "auto" else tuple(parse_faults(wanted)) if wanted != "none" else ()
    options = LoopOptions(
        days=args.days,
        backfill_days=args.backfill_days,
        rows_per_day=args.rows_per_day,
        drift_day=args.drift_day if args.drift_day >= 0 else None,
        drift_kind=args.drift_kind,
        drift_strength=args.drift_strength,
        seed=args.seed,
        faults=faults,
        start=args.start,
        training_window=args.training_window,
        retrain_every_days=args.retrain_every_days or None,
    )
    try:
        result = run_closed_loop(contract, layout(), options)
    except LoopSetupError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    retrains = result.cycles.height
    passed = result.cycles.filter(result.cycles["gate"] == "passed").height
    rate = "n/a" if math.isnan(result.rejection_rate) else f"{result.rejection_rate:.0%}"
    print(
        f"{result.timeline.height} days in {result.seconds:.0f} s: {retrains} retrain(s), "
        f"{passed} passed the gate; gate rejection rate (last {options.rejection_window} "
        f"cycles) {rate}"
    )
    print(f"report: {result.report}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="retrain-platform", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write synthetic landing files")
    _add_generation_options(gen)
    gen.add_argument("--format", choices=["parquet", "csv", "mixed"], default="parquet")
    gen.add_argument("--landing", help="landing directory (default: under the platform home)")
    gen.set_defaults(func=cmd_generate)
    demo = sub.add_parser(
        "demo",
        help="run the closed loop (backfill, then sensors day by day) on the embedded default",
    )
    _add_demo_options(demo)
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
