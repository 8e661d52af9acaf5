"""A late file for an old partition re-runs that partition's monitoring, through automation.

The platform's real definitions on a temporary home and instance: two days land and are
ingested, validated, turned into features and monitored (no champion yet, so the monitoring
steps record that quickly). Then a late file lands for the first day, it is re-ingested, and the
automation conditions are evaluated tick by tick (at a fixed evaluation time), each tick's
requests executed as the automation sensor would (one run per partition): the old partition's
validated rows, features, drift report and live performance are requested again, and nothing of
the other day is.
"""

from datetime import UTC, date, datetime

import dagster as dg
import pytest

from retrain_platform.core.synthetic import generate_day, write_landing_files
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform.defs.jobs import ingest_job_name
from retrain_platform.defs.monitoring import metadata as mon

pytestmark = [
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
]

START = date(2026, 1, 5)
DAYS = ["2026-01-05", "2026-01-06"]
OLD = DAYS[0]
# Labels of both days are long due at this time; fixed so that no wall clock is involved.
EVALUATED_AT = datetime(2026, 1, 20, 12, tzinfo=UTC)
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def requested(result: dg.EvaluateAutomationConditionsResult, key: dg.AssetKey) -> set[str]:
    subsets = [r.true_subset for r in result.results if r.key == key]
    return set(subsets[0].get_internal_value().get_partition_keys()) if subsets else set()


def ingest(defs: dg.Definitions, instance, contract, first: str, last: str) -> None:
    result = defs.resolve_job_def(ingest_job_name(contract)).execute_in_process(
        instance=instance, tags={RANGE_START: first, RANGE_END: last}, run_config=QUIET
    )
    assert result.success


def run(defs: dg.Definitions, instance, selection: list[dg.AssetKey], partition: str) -> None:
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=selection, partition_key=partition, run_config=QUIET
    )
    assert result.success, selection


def test_late_file_reruns_the_old_partition_down_to_live_performance(contract, home, instance):
    landing = home.landing_root / contract.dataset
    write_landing_files(contract, landing, start=START, days=len(DAYS), rows_per_day=1500, seed=0)
    defs = build_definitions([contract], home)
    view = contract.feature_views[0]
    validated = [keys.validated_key(contract), keys.quarantine_key(contract)]
    chain = [
        keys.validated_key(contract),
        keys.features_key(contract, view),
        mon.drift_report_key(contract),
        mon.live_performance_key(contract),
    ]

    ingest(defs, instance, contract, DAYS[0], DAYS[-1])
    for day in DAYS:
        run(defs, instance, validated, day)
        run(defs, instance, chain[1:], day)
    for key in chain:
        assert instance.get_materialized_partitions(key) == set(DAYS), key

    tick = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=EVALUATED_AT
    )
    assert tick.total_requested == 0  # the first evaluation only sets the cursor

    late = generate_day(contract, START, rows=25, seed=11)
    late.write_parquet(landing / f"{contract.dataset}_{OLD}_resent.parquet")
    ingest(defs, instance, contract, OLD, OLD)

    seen: dict[dg.AssetKey, set[str]] = {key: set() for key in chain}
    for _ in range(5):
        tick = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=EVALUATED_AT, cursor=tick.cursor
        )
        by_partition: dict[str, list[dg.AssetKey]] = {}
        for key in chain:
            for partition in requested(tick, key):
                seen[key].add(partition)
                by_partition.setdefault(partition, []).append(key)
        if not by_partition:
            break
        for partition, selected in by_partition.items():
            if keys.validated_key(contract) in selected:
                selected = [keys.quarantine_key(contract), *selected]
            run(defs, instance, selected, partition)
    else:
        pytest.fail(f"automation did not settle: still requesting {by_partition}")

    assert seen == {key: {OLD} for key in chain}
