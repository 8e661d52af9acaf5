"""Live performance follows labels: requested once a partition's labels are due, never before.

The real `live_performance` asset definition and its automation condition, evaluated with
`evaluate_automation_conditions` on a real instance at chosen evaluation times (no wall clock).
Its upstream (validated rows and features) are stand-in assets with the real keys and partitions,
reported as materialized; nothing is executed, so no model or lake is needed.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from retrain_platform.defs import keys
from retrain_platform.defs.automation import labels_due_lookback
from retrain_platform.defs.monitoring import metadata as mon
from retrain_platform.defs.monitoring.performance import build_live_performance_asset
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.resources import default_resources

pytestmark = [
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
]

NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)
DAYS = ["2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09"]


def requested(result: dg.EvaluateAutomationConditionsResult, key: dg.AssetKey) -> set[str]:
    subsets = [r.true_subset for r in result.results if r.key == key]
    return set(subsets[0].get_internal_value().get_partition_keys()) if subsets else set()


@pytest.fixture
def setup(contract, home, instance):
    upstream = [keys.validated_key(contract)] + [
        keys.features_key(contract, view) for view in contract.feature_views
    ]
    stand_ins = [dg.AssetSpec(key, partitions_def=partitions_for(contract)) for key in upstream]
    defs = dg.Definitions(
        assets=[*stand_ins, build_live_performance_asset(contract)],
        resources=default_resources(home),
    )
    return defs, instance, upstream, mon.live_performance_key(contract)


def land(instance: dg.DagsterInstance, keys_: list[dg.AssetKey], partitions: list[str]) -> None:
    for key in keys_:
        for partition in partitions:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=key, partition=partition)
            )


def test_lookback_is_exact_for_whole_day_delays(contract):
    assert contract.partitioning.grain == "daily" and contract.label.delay == timedelta(days=2)
    assert labels_due_lookback("daily", timedelta(days=2)) == timedelta(days=3)
    # a month counts as its longest so that a short month never makes labels due early
    assert labels_due_lookback("monthly", timedelta(days=2)) == timedelta(days=33)


def test_requested_once_labels_are_due_and_not_before(contract, setup):
    defs, instance, upstream, key = setup
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOON)
    assert tick.total_requested == 0  # the first evaluation only sets the cursor

    land(instance, upstream, DAYS)
    tick = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=NOON, cursor=tick.cursor
    )
    due = {p for p in DAYS if mon.labels_known_at(contract, p) <= NOON}
    assert due == {"2026-03-05", "2026-03-06", "2026-03-07"}
    assert requested(tick, key) == due

    # the next day, exactly one more partition's labels fall due: only it is requested
    next_day = NOON + timedelta(days=1)
    tick = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=next_day, cursor=tick.cursor
    )
    assert mon.labels_known_at(contract, "2026-03-08") <= next_day
    assert mon.labels_known_at(contract, "2026-03-09") > next_day
    assert requested(tick, key) == {"2026-03-08"}

    tick = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=next_day, cursor=tick.cursor
    )
    assert requested(tick, key) == set()  # requested once, not on every tick

    # a late file: the validated rows of a labelled partition change -> it is scored again;
    # a change to a partition whose labels are not due yet waits until they are
    land(instance, upstream[:1], ["2026-03-06", "2026-03-09"])
    tick = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=next_day, cursor=tick.cursor
    )
    assert requested(tick, key) == {"2026-03-06"}
    later = next_day + timedelta(days=1)
    tick = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=later, cursor=tick.cursor
    )
    assert requested(tick, key) == {"2026-03-09"}


def test_not_requested_while_an_upstream_partition_is_missing(contract, setup):
    defs, instance, upstream, key = setup
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOON)
    land(instance, upstream[:1], ["2026-03-05"])  # validated rows, but no features yet
    tick = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=NOON, cursor=tick.cursor
    )
    assert requested(tick, key) == set()
    land(instance, upstream[1:], ["2026-03-05"])
    tick = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=NOON, cursor=tick.cursor
    )
    assert requested(tick, key) == {"2026-03-05"}
