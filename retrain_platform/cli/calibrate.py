"""`retrain-platform calibrate`: the trigger settings of best C_alpha on the history, for a cost
alpha, and the recommended `policy:` block.

The search replays contract variants on the first `--split` share of the evaluated partitions
only; the chosen settings are then reported on the rest beside the contract's current policy,
`never`, the grain's fixed schedules and the oracle with as many fits. `--write` sets the changed
keys in the contract file (the rest of it unchanged). `--set` overrides the contract's policy
before the search; `--json` saves the calibration, `--csv` the report part's per-partition steps,
`--plot` and `--frontier` its plots. See `core/backtest/calibrate`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

from retrain_platform.cli.backtest import (
    add_replay_arguments,
    backtest_options,
    positive_int,
    write_outputs,
)
from retrain_platform.cli.options import default_contract_path
from retrain_platform.cli.progress import Bars
from retrain_platform.contracts import CONTRACT_ENV_VAR, load_contract
from retrain_platform.core.backtest import (
    CONTRACT,
    RetrainPolicy,
    parse_settings,
)
from retrain_platform.core.backtest.calibrate import calibrate
from retrain_platform.core.backtest.calibrate_policy import policy_block, write_policy
from retrain_platform.core.backtest.calibrate_results import Calibration, Score


def _cell(value: float, pattern: str) -> str:
    return "-" if math.isnan(value) else format(value, pattern)


def format_comparison(calibration: Calibration) -> str:
    """The report part's table: policy, fits, mean metric, C_alpha, the oracle at those fits."""
    metric = calibration.metric
    lines = [f"{'policy':<28} {'fits':>5} {metric:>9} {'C_alpha':>9} {'oracle@fits':>11}"]
    for row in calibration.report:
        lines.append(
            f"{row.policy[:28]:<28} {row.fits:>5} {_cell(row.mean, '.4f'):>9} "
            f"{_cell(row.c_alpha, '.4f'):>9} {_cell(row.oracle, '.4f'):>11}"
        )
    return "\n".join(lines)


def _summary(calibration: Calibration, best: Score) -> str:
    first, last = calibration.search_partitions
    report_first, report_last = calibration.report_partitions
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in calibration.stage_seconds)
    return (
        f"{calibration.dataset}: searched {len(calibration.search)} policy variant(s) on "
        f"{first} .. {last} at alpha {calibration.alpha:g}; best C_alpha {best.c_alpha:.4f} "
        f"({best.policy}, {best.fits} fits, {calibration.metric} {best.mean:.4f}); "
        f"{calibration.seconds:.1f} s ({stages})\nreport part {report_first} .. {report_last}:"
    )


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Calibrate the contract's triggers; 2 on bad input or an unusable source."""
    path = Path(args.contract or os.environ.get(CONTRACT_ENV_VAR) or default_contract_path())
    contract = load_contract(path)
    try:
        settings = parse_settings(args.set or [], separator="\0")
        contract = RetrainPolicy(CONTRACT, overrides=settings).contract_for(contract)
        with Bars.for_args(args) as bars:
            calibration = calibrate(
                Path(args.source),
                contract,
                alpha=args.alpha,
                split=args.split,
                options=backtest_options(args),
                progress=bars,
            )
    except (FileNotFoundError, ValueError) as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    print(_summary(calibration, calibration.best))
    print(format_comparison(calibration))
    print(f"recommended (alpha {calibration.alpha:g}):")
    print(policy_block(contract, dict(calibration.chosen)), end="")
    write_outputs(
        calibration.report_result,
        args,
        contract.partitioning.grain,
        payload=calibration.to_json(),
        steps="per-partition steps (report part)",
    )
    if args.write:
        written = {**dict(settings), **dict(calibration.changed)}
        try:
            write_policy(path, written)
        except ValueError as exc:
            print(f"calibrate: {path} left unchanged: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {len(written)} key(s) to {path}")
    return 0


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        msg = f"{text!r} is not a share between 0 and 1 (exclusive)"
        raise argparse.ArgumentTypeError(msg)
    return value


def add_calibrate_command(subparsers: Any) -> None:
    """Add `calibrate` to the `retrain-platform` parser."""
    parser = subparsers.add_parser(
        "calibrate",
        help="search the trigger settings of best C_alpha on the history (choose on its first "
        "part, report on the rest) and print the recommended policy block",
    )
    add_replay_arguments(parser)
    parser.add_argument(
        "--alpha",
        type=float,
        required=True,
        help="cost of a retrain: C_alpha = mean metric - alpha x retrains per partition",
    )
    parser.add_argument(
        "--split",
        type=_share,
        default=0.6,
        help="share of the evaluated partitions the search sees (default 0.6); the rest reports",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        help="max boosting rounds of each fit (default: the retrain job's 400); fewer is faster",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="set the changed keys (and --set ones) in the contract file's policy section",
    )
    parser.set_defaults(func=cmd_calibrate)
