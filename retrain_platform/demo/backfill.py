"""The backfill that opens the closed loop: ingest, validate, features, a training set, a champion.

Runs on the real Dagster instance under the platform home (the one `make dev` shows), through the
jobs a person launches from the UI: one multi-partition run of the raw layer (what a UI backfill of
a `BackfillPolicy.single_run()` asset is), one run per partition of the validated layer (whose
blocking checks gate what follows), the Feast apply, one multi-partition run of the features and
online store, a frozen training set, and the retrain job that trains, gates and deploys the first
champion. `retrain_platform.demo.loop` then hands the days that follow to the sensors.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.decisions import REASON_TAG, TRIGGER_TAG
from retrain_platform.core.progress import ProgressCallback, report
from retrain_platform.defs import keys
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.jobs import (
    feature_store_job_name,
    features_job_name,
    training_dataset_job_name,
    validate_job_name,
)
from retrain_platform.defs.models import RetrainOutcome, model_asset_keys, run_retrain_cycle
from retrain_platform.home import HomeLayout, instance_config_template

APPLIED = ("feature_views", "feature_services", "feature_count")
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
TRIGGER = "main_job"
VALIDATING = "backfill: validate partitions"


def ensure_instance(home: HomeLayout) -> dg.DagsterInstance:
    """The Dagster instance at `$DAGSTER_HOME` (default: under the platform home).

    A new Dagster home gets the repository's `dagster.yaml` (as `make dev` does), so the instance
    the main job writes to is the one the UI shows.
    """
    os.environ.setdefault("DAGSTER_HOME", str(home.dagster_home))
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    template = instance_config_template()
    if not config.exists() and template.exists():
        shutil.copy(template, config)
    return dg.DagsterInstance.get()


def range_tags(partitions: Sequence[str]) -> dict[str, str]:
    """Tags that make one run cover `partitions` (assets with a single-run backfill policy)."""
    return {
        "dagster/asset_partition_range_start": min(partitions),
        "dagster/asset_partition_range_end": max(partitions),
    }


def retrain_run_config(
    contract: DatasetContract, candidate: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Run config of a retrain run: quiet logs, and the candidate's training options if given."""
    if not candidate:
        return dict(QUIET)
    op = mk.candidate_model_key(contract).to_python_identifier()
    return {**QUIET, "ops": {op: {"config": dict(candidate)}}}


@dataclass(frozen=True)
class BackfillResult:
    """What the backfill did: per-partition check verdicts, the training set, the first cycle."""

    checks: dict[str, dict[str, bool]]
    dataset: str | None
    outcome: RetrainOutcome | None


def backfill(
    defs: dg.Definitions,
    contract: DatasetContract,
    instance: dg.DagsterInstance,
    partitions: Sequence[str],
    *,
    run_config: Mapping[str, Any] | None = None,
    echo: Callable[[str], None] = print,
    clock_at: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> BackfillResult:
    """Validate each ingested partition, build features, freeze a training set, train a champion.

    The raw partitions must already be ingested (the closed loop serves the landing sensor's
    first requests as one range run). `run_config` is the retrain run's (default: quiet logs).
    `progress` is called (`VALIDATING`) as each partition's validation run ends.
    """
    validate = defs.resolve_job_def(validate_job_name(contract))
    checks: dict[str, dict[str, bool]] = {}
    for i, partition in enumerate(sorted(partitions), 1):
        run = validate.execute_in_process(
            instance=instance,
            partition_key=partition,
            raise_on_error=False,
            run_config=QUIET,
            tags={TRIGGER_TAG: TRIGGER},
        )
        checks[partition] = {e.check_name: e.passed for e in run.get_asset_check_evaluations()}
        report(progress, VALIDATING, i, len(partitions))
        if i % 10 == 0 or i == len(partitions):
            echo(f"validated {i}/{len(partitions)} partitions")
    dataset = _features_and_dataset(defs, contract, instance, partitions, echo)
    if dataset is None:
        return BackfillResult(checks, None, None)
    echo(dataset)
    outcome = run_retrain_cycle(
        defs,
        contract,
        instance,
        tags={TRIGGER_TAG: TRIGGER, REASON_TAG: "first training of the demo"},
        run_config=dict(run_config or QUIET),
        asset_selection=model_asset_keys(contract),
        echo=echo,
        clock_at=clock_at,
    )
    return BackfillResult(checks, dataset, outcome)


def _features_and_dataset(
    defs: dg.Definitions,
    contract: DatasetContract,
    instance: dg.DagsterInstance,
    partitions: Sequence[str],
    echo: Callable[[str], None],
) -> str | None:
    """Build every view's features over the range in one run, then freeze a training set."""
    if not contract.feature_views:
        return None
    tags = {TRIGGER_TAG: TRIGGER}
    registry = defs.resolve_job_def(feature_store_job_name(contract)).execute_in_process(
        instance=instance, run_config=QUIET, tags=tags
    )
    applied = registry.get_asset_materialization_events()[0].materialization.metadata
    echo(f"feast apply: {', '.join(f'{k}={v.value}' for k, v in applied.items() if k in APPLIED)}")
    features = defs.resolve_job_def(features_job_name(contract)).execute_in_process(
        instance=instance, run_config=QUIET, tags={**range_tags(partitions), **tags}
    )
    echo(f"features: {len(partitions)} partitions built in one run ({features.run_id[:8]})")
    online_keys = {keys.online_store_key(contract, view) for view in contract.feature_views}
    online = {
        e.materialization.asset_key: e.materialization.metadata
        for e in features.get_asset_materialization_events()
        if e.materialization.asset_key in online_keys
    }
    for meta in online.values():
        echo(
            f"online store: {meta['entities'].value:,} entities, "
            f"{meta['online_rows_written'].value:,} values written in "
            f"{meta['write_seconds'].value:.2f} s"
        )
    frozen = defs.resolve_job_def(training_dataset_job_name(contract)).execute_in_process(
        instance=instance, run_config=QUIET, tags=tags
    )
    meta = frozen.get_asset_materialization_events()[0].materialization.metadata
    return (
        f"training dataset version {meta['delta_version'].value}: "
        f"{meta['rows'].value:,} rows, label rate {meta['label_rate'].value:.4f}, "
        f"window {meta['window_start'].value}..{meta['window_end'].value}, "
        f"split {meta['split_rows'].value}"
    )
