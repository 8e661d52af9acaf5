"""`retrain-platform demo`: the closed loop on the embedded default (what `make demo` runs)."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import warnings
from datetime import timedelta
from typing import Any

from retrain_platform.cli.options import add_contract_option, contract_from, parse_date
from retrain_platform.cli.progress import Bars, add_progress_option
from retrain_platform.core.monitoring.recovery import (
    RECOVERY_BASELINE,
    RECOVERY_RUN,
    RECOVERY_TOLERANCE,
)
from retrain_platform.home import layout
from retrain_platform.resources.landing import GRACE_ENV_VAR


def _add_demo_options(parser: argparse.ArgumentParser) -> None:
    add_contract_option(parser)
    parser.add_argument("--days", type=int, default=90, help="simulated days in all (default 90)")
    parser.add_argument(
        "--backfill-days",
        type=int,
        default=30,
        help="first days backfilled before the first champion is trained (default 30)",
    )
    parser.add_argument("--start", type=parse_date, help="first day (default: DAYS days ago)")
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
    add_progress_option(parser)


def quiet_third_party_output() -> None:
    """Keep third-party deprecation warnings out of the demo's output.

    Seen in the demo's stderr: SQLAlchemy's `SADeprecationWarning` ("The ``noload`` loader
    strategy is deprecated", a `DeprecationWarning`) when MLflow's tracking store is imported, and
    Dagster's beta/preview/supersession warnings. Feast's modules call
    `warnings.simplefilter("once", DeprecationWarning)` when imported, which puts such warnings
    back in front of any filter set earlier, so Feast is imported before the filters are set.
    """
    import feast  # noqa: F401 - imported for its side effect on the warning filters (above)

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", module="mlflow")
    logging.getLogger("mlflow").setLevel(logging.WARNING)


def cmd_demo(args: argparse.Namespace) -> int:
    """The closed loop on the embedded default: backfill, then the sensors decide day by day."""
    quiet_third_party_output()
    from retrain_platform.core.synthetic import parse_faults
    from retrain_platform.demo.loop import LoopOptions, LoopSetupError, run_closed_loop

    contract = contract_from(args)
    # The demo moves whole files into the landing zone (a rename: nothing is written there in
    # place), so its own runs need not wait for the landing grace period.
    os.environ.setdefault(GRACE_ENV_VAR, "0")
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
        with Bars.for_args(args) as bars:
            result = run_closed_loop(contract, layout(), options, progress=bars)
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
    if result.onset is not None:
        delay_days = contract.label.delay / timedelta(days=1)
        goal = f"; goal: at most the label delay + 3 = {delay_days + 3:g} days"
        recovered = (
            f"{result.recovery_days} day(s)"
            if result.recovery_days is not None
            else "not within the run"
        )
        print(
            f"recovery after the drift onset {result.onset}: {recovered} until live ROC-AUC "
            f"was back within {RECOVERY_TOLERANCE} of its mean over the {RECOVERY_BASELINE} days "
            f"before, for {RECOVERY_RUN} days running{goal}"
        )
    print(f"report: {result.report}")
    return 0


def add_demo_command(subparsers: Any) -> None:
    """Add `demo` to the `retrain-platform` parser."""
    demo = subparsers.add_parser(
        "demo",
        help="run the closed loop (backfill, then sensors day by day) on the embedded default",
    )
    _add_demo_options(demo)
    demo.set_defaults(func=cmd_demo)
