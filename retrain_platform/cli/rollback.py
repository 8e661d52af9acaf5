"""`retrain-platform rollback`: `champion` back to `previous` in seconds, without retraining.

Runs `<dataset>_rollback_job` in-process on the platform's Dagster instance with the platform's
resources; the move is recorded in the decision history and in the catalog.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from retrain_platform.cli.options import add_contract_option, contract_from
from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.decisions import TRIGGER_TAG
from retrain_platform.home import HomeLayout, layout


def _rollback_definitions(contract: DatasetContract, home: HomeLayout) -> Any:
    import dagster as dg

    from retrain_platform.defs.deployment.rollback import build_rollback_job
    from retrain_platform.resources import default_resources

    # Every platform resource, as the code location has them: the job's ops may need any of
    # them (the notifier, the clock), and a subset here once left `notifier` unprovided.
    return dg.Definitions(jobs=[build_rollback_job(contract)], resources=default_resources(home))


def cmd_rollback(args: argparse.Namespace) -> int:
    warnings.filterwarnings("ignore", module="dagster")
    from retrain_platform.defs.deployment.rollback import rollback_job_name
    from retrain_platform.demo.backfill import QUIET, ensure_instance

    contract, home = contract_from(args), layout()
    defs = _rollback_definitions(contract, home)
    result = defs.resolve_job_def(rollback_job_name(contract)).execute_in_process(
        instance=ensure_instance(home),
        raise_on_error=False,
        run_config={
            **QUIET,
            "ops": {f"{contract.dataset}_rollback_champion": {"config": {"reason": args.reason}}},
        },
        tags={TRIGGER_TAG: "cli"},
    )
    if not result.success:
        failure = result.get_step_failure_events()
        error = failure[0].step_failure_data.error if failure else None
        detail = error.message.split(": ", 1)[-1].strip() if error else "see the run"
        print(f"rollback failed: {detail}", file=sys.stderr)
        return 1
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    print(
        f"{contract.dataset}: champion rolled back from version "
        f"{meta['rolled_back_version'].value} to {meta['champion_version'].value} "
        f"(previous now {meta['previous_version'].value}); run {result.run_id[:8]}"
    )
    return 0


def add_rollback_command(subparsers: Any) -> None:
    """Add `rollback` to the `retrain-platform` parser."""
    rollback = subparsers.add_parser(
        "rollback", help="move the champion back to the previous version (no retraining)"
    )
    add_contract_option(rollback)
    rollback.add_argument("--reason", default="manual rollback", help="recorded in the history")
    rollback.set_defaults(func=cmd_rollback)
