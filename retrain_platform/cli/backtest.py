"""`retrain-platform backtest`: replay a historical source under retraining policies.

Draws progress bars on a terminal (files read, then each policy's partitions; `--no-progress`
for none), prints one line per policy as it finishes, then the comparison table (fits, mean
accuracy and ROC-AUC over the evaluated partitions); `--plot PATH` saves accuracy per partition
per policy as a PNG and `--csv PATH` the per-partition scores. See `core/backtest.py` for the
protocol.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from retrain_platform.cli.options import add_contract_option, contract_from
from retrain_platform.cli.progress import Bars, add_progress_option
from retrain_platform.core.backtest import (
    ALL_POLICIES,
    BacktestOptions,
    PolicyResult,
    format_table,
    parse_policies,
    plot_backtest,
    run_backtest,
)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = f"{text!r} is not a positive integer"
        raise argparse.ArgumentTypeError(msg)
    return value


def cmd_backtest(args: argparse.Namespace) -> int:
    """Run the backtest the arguments describe; 2 on a bad policy or an unusable source."""
    contract = contract_from(args)
    try:
        policies = parse_policies(args.policy or ["all"])
    except ValueError as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 2
    options = BacktestOptions(
        window=args.window,
        training_window=args.training_window,
        drift_window=args.drift_window,
        num_trees=args.trees,
        num_leaves=args.leaves,
        seed=args.seed,
        gate=args.gate,
    )

    def progress(result: PolicyResult) -> None:
        print(
            f"  {result.policy.name}: {result.fits} fits, accuracy {result.mean_accuracy:.2%}, "
            f"{result.seconds:.1f}s",
            flush=True,
        )

    source = Path(args.source)
    try:
        with Bars.for_args(args) as bars:
            result = run_backtest(
                source, contract, policies, options, progress=progress, steps=bars
            )
    except (FileNotFoundError, ValueError) as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 2
    prepared = result.source
    print(
        f"{contract.dataset}: {len(prepared.partitions)} {contract.partitioning.grain} partitions "
        f"from {len(prepared.files)} file(s), {prepared.rows.height:,} valid rows "
        f"({prepared.rows_rejected} rejected at typing, {prepared.rows_quarantined} quarantined, "
        f"{prepared.duplicates} duplicates); {options.window_spec(contract).kind} window "
        f"{result.window}, drift window "
        f"{result.drift_window}, evaluated {result.policies[0].scores[0].partition} .. "
        f"{result.policies[0].scores[-1].partition}{', gated' if args.gate else ''}"
    )
    print(format_table(result))
    if args.plot:
        path = plot_backtest(result, Path(args.plot), title=f"{contract.dataset} backtest")
        print(f"plot: {path}")
    if args.csv:
        result.per_partition().write_csv(args.csv)
        print(f"per-partition scores: {args.csv}")
    return 0


def add_backtest_command(subparsers: Any) -> None:
    """Add `backtest` to the `retrain-platform` parser."""
    parser = subparsers.add_parser(
        "backtest", help="replay a historical source under retraining policies and compare them"
    )
    add_contract_option(parser)
    parser.add_argument("--source", required=True, help="a landing file or a directory of them")
    parser.add_argument(
        "--policy",
        action="append",
        help=f"never | every:N | drift | all (= {', '.join(ALL_POLICIES)}); repeatable; "
        "default all",
    )
    parser.add_argument(
        "--window",
        type=_positive,
        help="labelled partitions trained on (default: the contract's policy.window_partitions)",
    )
    parser.add_argument(
        "--training-window",
        choices=["sliding", "expanding"],
        help="the newest --window partitions, or every one from --window on (default: the "
        "contract's policy.training_window)",
    )
    parser.add_argument(
        "--drift-window",
        type=_positive,
        help="recent partitions compared with the training window (default 12 for monthly)",
    )
    parser.add_argument("--trees", type=_positive, default=200, help="boosting rounds (200)")
    parser.add_argument("--leaves", type=_positive, default=15, help="leaves per tree (15)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--gate",
        action="store_true",
        help="a refit serves only if it passes the evaluation gate on the window's last partition",
    )
    parser.add_argument("--plot", help="save accuracy per partition per policy as a PNG")
    parser.add_argument("--csv", help="save the per-partition scores as CSV")
    add_progress_option(parser)
    parser.set_defaults(func=cmd_backtest)
