"""The main job of the embedded default: land synthetic data, ingest and validate every partition.

Runs on a real Dagster instance under the platform home (the one `make dev` shows), through the
same jobs a person launches from the UI: one multi-partition run of the raw layer, then one run per
partition of the validated layer, whose blocking checks gate what follows.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from retrain_platform.assets import keys
from retrain_platform.assets import model_keys as mk
from retrain_platform.contracts import DatasetContract
from retrain_platform.core.lake import table_uri
from retrain_platform.core.summary import partition_summary
from retrain_platform.core.synthetic import DriftSpec, Fault, write_landing_files
from retrain_platform.core.table_checks import PARTITION_CHECKS
from retrain_platform.home import HomeLayout, instance_config_template
from retrain_platform.jobs import (
    feature_store_job_name,
    features_job_name,
    freshness_job_name,
    ingest_job_name,
    training_dataset_job_name,
    validate_job_name,
)
from retrain_platform.model_defs import model_asset_keys, run_retrain_cycle

APPLIED = ("feature_views", "feature_services", "feature_count")
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

CHECK_ABBREVIATIONS = {
    "matches_schema": "schema",
    "has_min_rows": "volume",
    "label_rate_in_band": "label",
    "null_share_within_limit": "nulls",
}


@dataclass(frozen=True)
class MainJobOptions:
    days: int = 60
    start: date | None = None
    rows_per_day: int = 20_000
    seed: int = 7
    faults: tuple[Fault, ...] = ()
    drift: DriftSpec | None = None


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


def run_main_job(
    defs: dg.Definitions,
    contract: DatasetContract,
    home: HomeLayout,
    options: MainJobOptions,
    *,
    echo: Callable[[str], None] = print,
) -> MainJobResult:
    """Generate, ingest, validate, build features and freeze a training set."""
    start = options.start or (datetime.now(UTC).date() - timedelta(days=options.days))
    landing = home.landing_root / contract.dataset
    files = write_landing_files(
        contract,
        landing,
        start=start,
        days=options.days,
        rows_per_day=options.rows_per_day,
        seed=options.seed,
        drift=options.drift,
        faults=options.faults,
    )
    echo(f"landed {len(files)} files, {sum(f.rows for f in files):,} rows in {landing}")
    instance = ensure_instance(home)
    partitions = [(start + timedelta(days=i)).isoformat() for i in range(options.days)]

    ingest = defs.resolve_job_def(ingest_job_name(contract))
    result = ingest.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config=QUIET,
        tags={
            "dagster/asset_partition_range_start": partitions[0],
            "dagster/asset_partition_range_end": partitions[-1],
            "retrain/trigger": "main_job",
        },
    )
    if not result.success:
        echo("raw ingest run failed; see the run in the Dagster UI")
        sys.exit(1)
    echo(f"raw: {len(partitions)} partitions ingested in one run ({result.run_id[:8]})")

    validate = defs.resolve_job_def(validate_job_name(contract))
    checks: dict[str, dict[str, bool]] = {}
    for i, partition in enumerate(partitions, 1):
        run = validate.execute_in_process(
            instance=instance,
            partition_key=partition,
            raise_on_error=False,
            run_config=QUIET,
            tags={"retrain/trigger": "main_job"},
        )
        checks[partition] = {e.check_name: e.passed for e in run.get_asset_check_evaluations()}
        if i % 10 == 0 or i == len(partitions):
            echo(f"validated {i}/{len(partitions)} partitions")

    freshness = defs.resolve_job_def(freshness_job_name(contract)).execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False
    )
    for evaluation in freshness.get_asset_check_evaluations():
        age = evaluation.metadata.get("age_hours")
        echo(
            f"freshness of validated {contract.dataset}: "
            f"{'pass' if evaluation.passed else 'FAIL'} (newest event "
            f"{age.value if age else '?'} h old)"
        )

    dataset_line = _features_and_dataset(defs, contract, instance, partitions, echo)
    if dataset_line is not None:
        echo(dataset_line)
        candidate = mk.candidate_model_key(contract).to_python_identifier()
        run_retrain_cycle(
            defs,
            contract,
            instance,
            tags={"retrain/trigger": "main_job", "retrain/reason": "first training of the demo"},
            run_config={**QUIET, "ops": {candidate: {"config": {"folds": 2}}}},
            asset_selection=model_asset_keys(contract),
            echo=echo,
        )

    summary = partition_summary(
        raw_uri=table_uri(home.lake_uri, keys.RAW, contract.dataset),
        validated_uri=table_uri(home.lake_uri, keys.VALIDATED, contract.dataset),
        quarantine_uri=table_uri(home.lake_uri, keys.VALIDATED, keys.quarantine_table(contract)),
        storage_options=home.lake_storage_options,
    ).filter(pl.col("partition").is_in(partitions))
    table = summary.with_columns(
        pl.col("partition")
        .map_elements(lambda p: _check_cell(checks.get(p, {})), return_dtype=pl.String)
        .alias("checks")
    )
    return MainJobResult(table, dataset_line)


@dataclass(frozen=True)
class MainJobResult:
    summary: pl.DataFrame
    dataset: str | None


def _features_and_dataset(
    defs: dg.Definitions,
    contract: DatasetContract,
    instance: dg.DagsterInstance,
    partitions: list[str],
    echo: Callable[[str], None],
) -> str | None:
    """Build every view's features over the range in one run, then freeze a training set."""
    if not contract.feature_views:
        return None
    registry = defs.resolve_job_def(feature_store_job_name(contract)).execute_in_process(
        instance=instance, run_config=QUIET, tags={"retrain/trigger": "main_job"}
    )
    applied = registry.get_asset_materialization_events()[0].materialization.metadata
    echo(f"feast apply: {', '.join(f'{k}={v.value}' for k, v in applied.items() if k in APPLIED)}")
    features = defs.resolve_job_def(features_job_name(contract)).execute_in_process(
        instance=instance,
        run_config=QUIET,
        tags={
            "dagster/asset_partition_range_start": partitions[0],
            "dagster/asset_partition_range_end": partitions[-1],
            "retrain/trigger": "main_job",
        },
    )
    online = {
        e.materialization.asset_key: e.materialization.metadata
        for e in features.get_asset_materialization_events()
        if e.materialization.asset_key.path[-1].endswith("_online")
    }
    echo(f"features: {len(partitions)} partitions built in one run ({features.run_id[:8]})")
    for meta in online.values():
        echo(
            f"online store: {meta['entities'].value:,} entities, "
            f"{meta['online_rows_written'].value:,} values written in "
            f"{meta['write_seconds'].value:.2f} s"
        )
    frozen = defs.resolve_job_def(training_dataset_job_name(contract)).execute_in_process(
        instance=instance, run_config=QUIET, tags={"retrain/trigger": "main_job"}
    )
    meta = frozen.get_asset_materialization_events()[0].materialization.metadata
    return (
        f"training dataset version {meta['delta_version'].value}: "
        f"{meta['rows'].value:,} rows, label rate {meta['label_rate'].value:.4f}, "
        f"window {meta['window_start'].value}..{meta['window_end'].value}, "
        f"split {meta['split_rows'].value}"
    )


def _check_cell(results: dict[str, bool]) -> str:
    if not results:
        return "not run"
    failed = [CHECK_ABBREVIATIONS[name] for name in PARTITION_CHECKS if results.get(name) is False]
    return "all pass" if not failed else "FAIL " + ",".join(failed)


def format_summary(summary: pl.DataFrame) -> str:
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=200,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        fmt_str_lengths=40,
    ):
        return str(summary)
