"""Every layer's checks on a real graph: described, with their severity, run by the layer's jobs.

The keyless test contract (one small series) runs from landing to a deployed champion and a
drift report through its Dagster jobs on one instance (module-scoped); then a day whose file
lacks a contract column lands: all its rows are refused, and the failure shows on validated
itself (blocking checks failed there, the materialization says BLOCKED), not only downstream.
"""

from datetime import timedelta

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus,
    AssetCheckExecutionResolvedStatus,
)

from retrain_platform.core.synthetic import Fault, write_landing_files
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import jobs, keys
from retrain_platform.defs.monitoring.metadata import drift_report_key
from retrain_platform_tests.fixtures.graph import ingest_and_validate, range_tags, retrain
from retrain_platform_tests.fixtures.keyless import (
    FIRST_DAY,
    ROWS_PER_DAY,
    keyless_contract,
    keyless_days,
)
from retrain_platform_tests.fixtures.models import with_policy
from retrain_platform_tests.homes import isolate_home

pytestmark = [
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
]

DAYS = 8
ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
# (asset, check) -> (severity, blocking) of the checks added beyond validated's own
EXPECTED = {
    ("features/market_price_history", "features_match_schema"): (ERROR, True),
    ("features/market_price_history", "features_complete_after_warm_up"): (WARN, False),
    ("datasets/market_training", "label_in_categories"): (ERROR, True),
    ("datasets/market_training", "split_values_known"): (ERROR, True),
    ("datasets/market_training", "every_label_event_kept"): (ERROR, True),
    ("datasets/market_training", "features_not_from_the_future"): (ERROR, True),
    ("models/market_registered", "challenger_serves_contract_inputs"): (ERROR, True),
    ("deployment/market_champion", "champion_serves_contract_inputs"): (ERROR, False),
    ("monitoring/market_drift", "every_feature_covered"): (ERROR, False),
}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """The graph run once (features without the Feast store, which has no checks): landing to
    a champion and a drift report, then a day whose rows are all refused, validated."""
    # no Evidently HTML: the coverage check reads the report's metadata, not the page
    contract = with_policy(keyless_contract(), drift_html="never")
    with pytest.MonkeyPatch.context() as env:
        home = isolate_home(env, tmp_path_factory.mktemp("layer_checks") / "home")
        with dg.instance_for_test(temp_dir=str(home.dagster_home)) as instance:
            landing = home.landing_root / contract.dataset
            write_landing_files(
                contract,
                landing,
                start=FIRST_DAY,
                days=DAYS,
                rows_per_day=ROWS_PER_DAY,
                seed=3,
                late_share=0.0,
            )
            defs = build_definitions([contract], home)
            days = keyless_days(DAYS)
            ingest_and_validate(defs, contract, instance, days)
            everything = defs.resolve_implicit_global_asset_job_def()
            # features only: the online store and the Feast registry have no checks of their own
            assert everything.execute_in_process(
                instance=instance,
                asset_selection=[keys.features_key(contract, contract.view())],
                tags=range_tags(days),
            ).success
            retrain(
                defs,
                contract,
                instance,
                window_partitions=DAYS - 1,
                validation_partitions=2,
                holdout_partitions=2,
            )
            assert everything.execute_in_process(
                instance=instance,
                asset_selection=[drift_report_key(contract)],
                partition_key=days[-1],
            ).success
            refused = FIRST_DAY + timedelta(days=DAYS)
            write_landing_files(
                contract,
                landing,
                start=refused,
                days=1,
                rows_per_day=ROWS_PER_DAY,
                seed=4,
                late_share=0.0,
                faults=[Fault("missing_column", refused)],
            )
            ingest = defs.resolve_job_def(jobs.ingest_job_name(contract))
            assert ingest.execute_in_process(
                instance=instance, tags=range_tags([refused.isoformat()])
            ).success
            blocked = defs.resolve_job_def(jobs.validate_job_name(contract)).execute_in_process(
                instance=instance, partition_key=refused.isoformat(), raise_on_error=False
            )
            yield defs, instance, contract, blocked, refused.isoformat()


def _latest_evaluations(instance, defs) -> dict[tuple[str, str], object]:
    graph = defs.resolve_asset_graph()
    out = {}
    for key in graph.asset_check_keys:
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])
        found = record.get(key)
        if found is not None and found.event is not None:
            evaluation = found.event.dagster_event.event_specific_data
            out[(key.asset_key.to_user_string(), key.name)] = evaluation
    return out


def test_every_layer_has_described_checks_that_ran_and_passed(graph):
    defs, instance, contract, _, _ = graph
    asset_graph = defs.resolve_asset_graph()
    specs = {
        (key.asset_key.to_user_string(), key.name): asset_graph.get_check_spec(key)
        for key in asset_graph.asset_check_keys
    }
    assert set(EXPECTED) <= set(specs)
    for key, spec in specs.items():
        assert spec.description and len(spec.description) > 40, key
    for key, (_, blocking) in EXPECTED.items():
        assert specs[key].blocking is blocking, key
    evaluations = _latest_evaluations(instance, defs)
    for key, (severity, _) in EXPECTED.items():
        evaluation = evaluations[key]
        assert evaluation.passed, (key, evaluation.metadata)
        assert evaluation.severity == severity, key
    training = evaluations[("datasets/market_training", "every_label_event_kept")].metadata
    assert training["lost"].value == 0 and training["rows"].value == training["label_events"].value
    drift = evaluations[("monitoring/market_drift", "every_feature_covered")].metadata
    assert drift["missing"].value == [] and drift["model_features"].value > 0
    served = evaluations[("models/market_registered", "challenger_serves_contract_inputs")]
    assert served.metadata["version"].value == 1 and served.metadata["problems"].value == []


def test_the_features_range_run_leaves_none_of_its_partitions_checks_skipped(graph):
    """#16.4: the one run that built every features partition completed each partition's planned
    check, so the UI (the worst status over partitions) shows the checks passed, not skipped."""
    defs, instance, contract, _, _ = graph
    asset = keys.features_key(contract, contract.view())
    partitions_def = defs.resolve_asset_graph().get(asset).partitions_def
    days = keyless_days(DAYS)
    for name in ("features_match_schema", "features_complete_after_warm_up"):
        key = dg.AssetCheckKey(asset, name)
        latest = {}  # newest first: the first record of a partition is its latest
        for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=50):
            latest.setdefault(record.partition, record)
        assert {day: latest[day].status for day in days} == dict.fromkeys(
            days, AssetCheckExecutionRecordStatus.SUCCEEDED
        ), name
        rows = [_metadata(latest[day])["rows"].value for day in days]  # each its own rows
        assert min(rows) > 0 and sum(rows) == _metadata(latest[None])["rows"].value, rows
        state = instance.event_log_storage.get_asset_check_state([(key, partitions_def)])[key]
        shown = {status: subset for status, subset in state.subsets.items() if not subset.is_empty}
        assert set(shown) == {AssetCheckExecutionResolvedStatus.SUCCEEDED}, (name, shown)
        assert set(days) <= set(
            shown[AssetCheckExecutionResolvedStatus.SUCCEEDED].subset_value.get_partition_keys()
        ), name


def _metadata(record) -> dict:
    return record.event.dagster_event.event_specific_data.metadata


def test_a_partition_whose_rows_were_all_refused_shows_blocked_on_validated(graph):
    defs, instance, contract, blocked, partition = graph
    assert not blocked.success
    evaluations = {e.check_name: e for e in blocked.get_asset_check_evaluations()}
    refused = evaluations["not_all_rows_refused"]
    assert not refused.passed and refused.severity == ERROR and refused.partition == partition
    assert refused.metadata["partition"].value == partition
    assert refused.metadata["valid_rows"].value == 0 and refused.metadata["refused_rows"].value > 0
    assert not evaluations["matches_schema"].passed
    # a warning check keeps WARN severity, so it never looks like the blocking failure
    assert evaluations["label_rate_in_band"].severity == WARN
    (mat,) = [
        e.materialization
        for e in blocked.get_asset_materialization_events()
        if e.asset_key == keys.validated_key(contract)
    ]
    assert mat.metadata["blocked"].value is True
    assert "not_all_rows_refused" in mat.metadata["status"].value
