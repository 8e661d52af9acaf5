"""Blocking checks: a thin partition stops its downstream, in a run and in automation."""

from datetime import date

import dagster as dg
import polars as pl
import pytest

from retrain_platform.core.synthetic import Fault, write_landing_files
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform.defs.automation import follows_upstream
from retrain_platform.defs.partitions import partitions_for

pytestmark = [
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
]

START = date(2026, 1, 5)
GOOD = ["2026-01-05", "2026-01-07"]
BAD = "2026-01-06"  # its file is empty: only the late rows in the next day's file remain
ALL = sorted([*GOOD, BAD])
VALIDATED = dg.AssetKey(["validated", "transactions_validated"])
FEATURES = dg.AssetKey(["features", "transactions"])
EAGER_PROBE = dg.AssetKey(["probe", "transactions_eager"])
SAME_RUN_JOB = "validate_and_features"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@pytest.fixture
def setup(contract, home, instance):
    """Landing files for 3 days (the middle one empty) and the platform plus a downstream asset."""
    files = write_landing_files(
        contract,
        home.landing_root / contract.dataset,
        start=START,
        days=3,
        rows_per_day=1500,
        seed=0,
        faults=[Fault("empty", date(2026, 1, 6))],
    )
    assert [f.fault for f in files] == [None, "empty", None, None]
    ts = contract.timestamp_name
    readable = pl.concat([pl.read_parquet(f.path, columns=[ts]) for f in files if f.rows])
    rows_by_day = {
        d.isoformat(): n for d, n in readable.group_by(pl.col(ts).dt.date()).len().iter_rows()
    }
    minimum = contract.expectations.min_rows_per_partition
    assert {k for k, n in rows_by_day.items() if n < minimum} == {BAD}
    assert 0 < rows_by_day[BAD] and set(rows_by_day) == set(ALL)

    partitions = partitions_for(contract)
    validated = keys.validated_key(contract)

    @dg.asset(
        key=FEATURES,
        deps=[validated],
        partitions_def=partitions,
        automation_condition=follows_upstream(),
    )
    def features(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"partition": context.partition_key})

    # Dagster's plain eager(): what follows_upstream must differ from on old partitions
    @dg.asset(
        key=EAGER_PROBE,
        deps=[keys.raw_key(contract)],
        partitions_def=partitions,
        automation_condition=dg.AutomationCondition.eager(),
    )
    def eager_probe() -> None:
        return None

    same_run = dg.define_asset_job(
        SAME_RUN_JOB,
        selection=dg.AssetSelection.assets(validated, keys.quarantine_key(contract), FEATURES),
    )
    defs = dg.Definitions.merge(
        build_definitions([contract], home),
        dg.Definitions(assets=[features, eager_probe], jobs=[same_run]),
    )
    return defs, instance, rows_by_day, minimum


def ingest(defs, instance, first: str, last: str) -> None:
    result = defs.resolve_job_def("transactions_ingest_job").execute_in_process(
        instance=instance, tags={RANGE_START: first, RANGE_END: last}
    )
    assert result.success
    mats = result.get_asset_materialization_events()
    assert sorted(e.partition for e in mats) == sorted(
        k for k in ALL if first <= k <= last
    )  # one run, one materialization per partition


def requested(result, key: dg.AssetKey) -> set[str]:
    subsets = [r.true_subset for r in result.results if r.key == key]
    if not subsets:
        return set()
    return set(subsets[0].get_internal_value().get_partition_keys())


def test_failed_blocking_check_stops_downstream_in_the_same_run(setup):
    defs, instance, rows_by_day, minimum = setup
    ingest(defs, instance, ALL[0], ALL[-1])
    job = defs.resolve_job_def(SAME_RUN_JOB)
    results = {
        pk: job.execute_in_process(instance=instance, partition_key=pk, raise_on_error=False)
        for pk in ALL
    }

    for pk in GOOD:
        assert results[pk].success, pk
    assert not results[BAD].success
    assert instance.get_materialized_partitions(FEATURES) == set(GOOD)
    # the blocking check does not undo the asset itself: validated/<BAD> is materialized
    bad_mats = {e.asset_key for e in results[BAD].get_asset_materialization_events()}
    assert bad_mats == {
        dg.AssetKey(["validated", "transactions_validated"]),
        dg.AssetKey(["validated", "transactions_quarantine"]),
    }
    step_failures = [e for e in results[BAD].all_events if e.is_step_failure]
    assert len(step_failures) == 1
    assert "has_min_rows" in step_failures[0].event_specific_data.error.message

    evaluations = {e.check_name: e for e in results[BAD].get_asset_check_evaluations()}
    # every per-partition check of the step is evaluated and reported, not just the first failure
    step_checks = {spec.name for spec in defs.resolve_assets_def(VALIDATED).check_specs}
    assert {
        "matches_schema",
        "has_min_rows",
        "label_rate_in_band",
        "null_share_within_limit",
    } <= step_checks
    assert set(evaluations) == step_checks
    assert all(e.partition == BAD for e in evaluations.values())
    volume = evaluations["has_min_rows"]
    assert volume.passed is False
    assert volume.severity == dg.AssetCheckSeverity.ERROR
    meta = {k: v.value for k, v in volume.metadata.items()}
    assert meta == {"partition": BAD, "rows": rows_by_day[BAD], "min_rows": minimum}
    assert meta["rows"] < meta["min_rows"]
    assert evaluations["matches_schema"].passed  # the failure is the volume, not the schema

    for pk in GOOD:
        good = {e.check_name: e for e in results[pk].get_asset_check_evaluations()}
        assert good["has_min_rows"].passed and good["matches_schema"].passed
        assert good["has_min_rows"].metadata["rows"].value == rows_by_day[pk]


def test_automation_follows_good_partitions_only_and_old_ones_too(setup):
    defs, instance, _, _ = setup
    validated = dg.AssetKey(["validated", "transactions_validated"])
    quarantine = dg.AssetKey(["validated", "transactions_quarantine"])

    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert tick.total_requested == 0  # the first evaluation only sets the cursor

    ingest(defs, instance, ALL[0], ALL[-1])
    validate = defs.resolve_job_def("transactions_validate_job")
    for pk in ALL:
        result = validate.execute_in_process(
            instance=instance, partition_key=pk, raise_on_error=False
        )
        assert result.success == (pk != BAD), pk

    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert requested(tick, FEATURES) == set(GOOD)
    assert tick.get_num_requested(FEATURES) == len(GOOD)
    assert requested(tick, validated) == set()  # already handled by the validate runs

    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert requested(tick, FEATURES) == set()  # requested once, not on every tick

    # raw is re-ingested for two old partitions (a late file): validated follows exactly those,
    # although neither is in the latest time window; plain eager() would not
    ingest(defs, instance, ALL[0], ALL[1])
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert requested(tick, validated) == set(ALL[:2])
    assert requested(tick, quarantine) == set(ALL[:2])
    assert tick.get_num_requested(EAGER_PROBE) == 0
