"""`retrain-platform backtest`: replay a historical source through the platform's loop under
retraining policies and compare them.

Draws progress bars on a terminal (files read, features, models fitted, then each policy's
partitions; `--no-progress` for none), then prints the comparison table: fits, mean ROC-AUC and
accuracy of the serving model, the share of partitions under the floor, the C_alpha area, the
oracle at the same number of fits and, with `--onset`, the partitions to recover after each drift
onset. `--plot` saves the per-partition plot, `--frontier` the frontier plot, `--csv` the
per-partition steps and `--json` the table and the frontier. See `core/backtest`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from retrain_platform.cli.options import add_contract_option, contract_from
from retrain_platform.cli.progress import Bars, add_progress_option
from retrain_platform.contracts import DatasetContract
from retrain_platform.contracts.policy import override_policy
from retrain_platform.core.backtest import (
    BacktestOptions,
    BacktestResult,
    format_table,
    parse_policies,
    parse_settings,
    plot_frontier,
    plot_partitions,
    run_backtest,
)
from retrain_platform.core.backtest.policies import DEFAULT_SCHEDULES, METRICS, replay_training


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        msg = f"{text!r} is not a positive integer"
        raise argparse.ArgumentTypeError(msg)
    return value


def backtest_options(args: argparse.Namespace) -> BacktestOptions:
    """The options the shared backtest arguments describe (`--rounds`: a smaller search)."""
    return BacktestOptions(
        training=replay_training(getattr(args, "rounds", None)),
        gate=not args.no_gate,
        metric=args.metric,
        alpha_max=args.alpha_max,
        onsets=tuple(args.onset or ()),
        workers=args.workers,
        view=args.view,
        first_fit=args.first_fit,
    )


def contract_with_settings(
    contract: DatasetContract, settings: list[str] | None
) -> DatasetContract:
    """The contract with `--set key=value` applied to its policy, for every policy replayed."""
    if not settings:
        return contract
    changed = override_policy(contract.policy, dict(parse_settings(settings, separator="\0")))
    return replace(contract, policy=changed)


def write_outputs(
    result: BacktestResult,
    args: argparse.Namespace,
    grain: str,
    *,
    payload: dict[str, object] | None = None,
    steps: str = "per-partition steps",
) -> None:
    """The plots, CSV and JSON the arguments ask for, each path printed (`payload`: the JSON,
    by default the result's table and frontier; `steps`: what the CSV holds)."""
    if args.plot:
        print(f"plot: {plot_partitions(result, Path(args.plot), grain=grain)}")
    if args.frontier:
        print(f"frontier: {plot_frontier(result, Path(args.frontier))}")
    if args.csv:
        result.per_partition().write_csv(args.csv)
        print(f"{steps}: {args.csv}")
    if args.json:
        text = json.dumps(payload or result.to_json(), indent=2, default=str)
        Path(args.json).write_text(text + "\n")
        print(f"json: {args.json}")


def _duration(delta: timedelta) -> str:
    hours = delta / timedelta(hours=1)
    return f"{hours / 24:g} day(s)" if hours >= 24 else f"{hours:g} hour(s)"


def describe(result: BacktestResult, contract: DatasetContract, gated: bool) -> str:
    """The line before the table: the data, the window, what was evaluated and fitted."""
    evaluated = result.partitions
    return (
        f"{contract.dataset}: {len(evaluated)} {contract.partitioning.grain} partitions "
        f"evaluated ({evaluated[0]} .. {evaluated[-1]}), {result.window} window, "
        f"label delay {_duration(contract.label.delay)}, {'gated' if gated else 'no gate'}; "
        f"{result.fitted_models} models fitted ({result.fit_seconds:.0f} s of fitting), "
        f"{result.seconds:.1f} s in all"
    )


def cmd_backtest(args: argparse.Namespace) -> int:
    """Run the backtest the arguments describe; 2 on a bad policy or an unusable source."""
    try:
        contract = contract_with_settings(contract_from(args), args.set)
        policies = parse_policies(args.policy or ["all"], contract.partitioning.grain)
        for policy in policies:
            policy.contract_for(contract)  # a bad override fails here, before any work
        with Bars.for_args(args) as bars:
            result = run_backtest(
                Path(args.source), contract, policies, backtest_options(args), steps=bars
            )
    except (FileNotFoundError, ValueError) as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 2
    print(describe(result, contract, not args.no_gate))
    print(format_table(result))
    write_outputs(result, args, contract.partitioning.grain)
    return 0


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments `backtest` and `calibrate` share: source, gate, metric, alpha, outputs."""
    add_contract_option(parser)
    parser.add_argument("--source", required=True, help="a landing file or a directory of them")
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override one key of the contract's policy for the whole replay (repeatable)",
    )
    parser.add_argument("--metric", choices=METRICS, default="roc_auc", help="oracle's metric")
    parser.add_argument(
        "--alpha-max",
        type=float,
        default=0.1,
        help="C_alpha = mean metric - alpha x retrains per partition, alpha in [0, this]",
    )
    parser.add_argument(
        "--onset", action="append", help="a drift onset partition: recovery is measured after it"
    )
    parser.add_argument("--no-gate", action="store_true", help="deploy every retrain ungated")
    parser.add_argument("--workers", type=int, default=0, help="fitting processes (0: cores)")
    parser.add_argument("--view", help="the feature view the model uses (default: the first)")
    parser.add_argument(
        "--first-fit", help="partition of the first fit (default: the first full window)"
    )
    parser.add_argument("--plot", help="save the per-partition ROC-AUC plot as a PNG")
    parser.add_argument("--frontier", help="save the frontier plot (metric against fits)")
    parser.add_argument("--csv", help="save every policy's per-partition steps as CSV")
    parser.add_argument("--json", help="save the table and the oracle frontier as JSON")
    add_progress_option(parser)


def add_backtest_command(subparsers: Any) -> None:
    """Add `backtest` to the `retrain-platform` parser."""
    parser = subparsers.add_parser(
        "backtest",
        help="replay a historical source through the loop under retraining policies",
    )
    schedules = "; ".join(f"{g}: {', '.join(map(str, n))}" for g, n in DEFAULT_SCHEDULES.items())
    parser.add_argument(
        "--policy",
        action="append",
        help="never | every:N | contract | contract:key=value,... | oracle | all (never, "
        f"every:N per grain ({schedules}), contract, oracle); repeatable; default all",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        help="boosting rounds at most per fit (default: the retrain job's 400, early-stopped)",
    )
    add_replay_arguments(parser)
    parser.set_defaults(func=cmd_backtest)
