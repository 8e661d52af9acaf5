"""The training set leaves out validated partitions whose blocking checks failed, and lists them.

Runs ingest, validation and features in process on a temporary home for a week in which one day's
file is empty (only the previous day's late rows land in that partition: `has_min_rows` fails,
yet some rows are valid), then freezes a training set through the asset and reads the version
back. Does not train a model.
"""

import json
from datetime import date

import dagster as dg
import polars as pl
import pytest

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.training_set import EXCLUDED, read_version, version_history
from retrain_platform.core.synthetic import Fault, write_landing_files
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import jobs, keys
from retrain_platform.defs.datasets import failed_blocking_checks

pytestmark = [
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
]

START = date(2026, 3, 2)
DAYS = 7
THIN = "2026-03-05"  # its own file is empty: only late rows of the day before remain
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@pytest.fixture
def platform(contract, home, instance):
    """A week landed, ingested, validated partition by partition and featurized."""
    write_landing_files(
        contract,
        home.landing_root / contract.dataset,
        start=START,
        days=DAYS,
        rows_per_day=1200,
        seed=5,
        faults=[Fault("empty", date.fromisoformat(THIN))],
    )
    defs = build_definitions([contract], home)
    days = [f"2026-03-0{2 + i}" for i in range(DAYS)]
    range_tags = {RANGE_START: days[0], RANGE_END: days[-1]}
    ingest = defs.resolve_job_def(jobs.ingest_job_name(contract))
    assert ingest.execute_in_process(instance=instance, tags=range_tags).success
    validate = defs.resolve_job_def(jobs.validate_job_name(contract))
    for day in days:
        result = validate.execute_in_process(
            instance=instance, partition_key=day, raise_on_error=False
        )
        assert result.success == (day != THIN), day
    view = contract.feature_views[0]
    everything = defs.resolve_implicit_global_asset_job_def()
    features = everything.execute_in_process(
        instance=instance, asset_selection=[keys.features_key(contract, view)], tags=range_tags
    )
    assert features.success
    return defs, days


def _freeze(defs, contract, instance, **config):
    key = keys.training_dataset_key(contract)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[key],
        run_config={"ops": {key.to_python_identifier(): {"config": config}}},
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_partitions_with_failed_blocking_checks_are_left_out_and_listed(
    platform, contract, home, instance
):
    defs, days = platform
    validated = pl.read_delta(f"{home.lake_uri}/validated/{contract.dataset}")
    thin_rows = validated.filter(pl.col(pc.PARTITION) == THIN).height
    assert 0 < thin_rows < contract.expectations.min_rows_per_partition  # rows kept, check failed
    assert failed_blocking_checks(instance, contract, days) == {THIN: ["has_min_rows"]}

    # label delay 2 days: at the end of the last day labels are complete up to days[-3]
    meta = _freeze(
        defs,
        contract,
        instance,
        window_partitions=4,
        validation_partitions=1,
        holdout_partitions=1,
    )
    assert meta[EXCLUDED] == {THIN: ["has_min_rows"]}
    frame = read_version(f"{home.lake_uri}/datasets/{contract.dataset}_training", 0)
    used = sorted(frame.get_column(pc.PARTITION).unique().to_list())
    assert THIN not in used
    # the older partition takes its place: the window still has 4 partitions
    assert used == [d for d in days[: DAYS - 2] if d != THIN]
    history = version_history(f"{home.lake_uri}/datasets/{contract.dataset}_training")
    assert json.loads(history.get_column(EXCLUDED)[0]) == {THIN: ["has_min_rows"]}


def test_a_partition_that_passes_when_revalidated_is_used_again(platform, contract, home, instance):
    defs, days = platform
    check = dg.AssetCheckKey(keys.validated_key(contract), "has_min_rows")
    passing = dg.AssetCheckEvaluation(
        asset_key=check.asset_key, check_name=check.name, passed=True, partition=THIN
    )
    instance.report_runless_asset_event(passing)
    assert failed_blocking_checks(instance, contract, days) == {}
    meta = _freeze(
        defs, contract, instance, window_partitions=4, validation_partitions=1, holdout_partitions=1
    )
    assert meta[EXCLUDED] == {}
    frame = read_version(f"{home.lake_uri}/datasets/{contract.dataset}_training", 0)
    assert THIN in set(frame.get_column(pc.PARTITION).to_list())
