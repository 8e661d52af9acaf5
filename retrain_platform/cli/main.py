"""`retrain-platform`: the platform's command line; each subcommand lives in its own module.

generate (synthetic landing files), demo (the closed loop), landing (the landing ledger),
history, rollback, reproduce, backtest and serve. A contract error is reported with every
problem it found and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from retrain_platform.cli.backtest import add_backtest_command
from retrain_platform.cli.calibrate import add_calibrate_command
from retrain_platform.cli.demo import add_demo_command
from retrain_platform.cli.generate import add_generate_command
from retrain_platform.cli.history import add_history_command
from retrain_platform.cli.landing import add_landing_command
from retrain_platform.cli.reproduce import add_reproduce_command
from retrain_platform.cli.rollback import add_rollback_command
from retrain_platform.cli.serve import add_serve_command
from retrain_platform.contracts import ContractError


def build_parser() -> argparse.ArgumentParser:
    """The `retrain-platform` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="retrain-platform",
        description="Continuous training on Dagster: synthetic data, the closed-loop demo, the "
        "decision history, rollback, reproduction, backtests and the prediction service.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add_command in (
        add_generate_command,
        add_demo_command,
        add_landing_command,
        add_history_command,
        add_rollback_command,
        add_reproduce_command,
        add_backtest_command,
        add_calibrate_command,
        add_serve_command,
    ):
        add_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ContractError as exc:
        problems = str(exc).splitlines()
        if len(problems) == 1:
            print(f"contract error: {problems[0]}", file=sys.stderr)
        else:
            print(f"{len(problems)} contract errors:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
