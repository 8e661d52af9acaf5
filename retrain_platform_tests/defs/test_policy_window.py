"""A retrain the sensor requests trains on exactly the contract policy's window.

The retrain sensor requests the retrain job with no run config; the training set it freezes and
the candidate trained on it must then cover the policy's window (`window_partitions` labelled
partitions, the newest `holdout_partitions` the holdout, the `validation_partitions` before them
validation). Validated and feature partitions are written straight to Delta under a temporary
home and the validated asset's materializations reported on a real Dagster instance (the sensor's
new-labelled-data trigger counts their rows); the champion is a registry version tagged with a
training window that ends before the data, as a trained one is. Runs the requested run's first
step, the training set (the candidate reads its splits from the frozen version; the fake champion
has no model for the gate).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.datasets.training_set import HOLDOUT, SPLIT, TRAIN, VALIDATION
from retrain_platform.core.deployment.decisions import RETRAIN, TRIGGER_TAG, append_decision
from retrain_platform.core.deployment.decisions import Decision as HistoryRow
from retrain_platform.core.deployment.registry import CHAMPION
from retrain_platform.core.features.transforms import build_features, feature_table_name
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.lake import overwrite_partitions, read_partitions, table_uri
from retrain_platform.core.partitions import partition_end
from retrain_platform.core.synthetic import generate_day
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.models import retrain_job_name
from retrain_platform.defs.monitoring.retrain_sensor import retrain_sensor_name
from retrain_platform_tests.fixtures.models import DAYS, ROWS_PER_DAY, START, with_policy

WINDOW, VALIDATION_PARTS, HOLDOUT_PARTS = 4, 1, 1


def _land_validated_and_features(contract, home) -> list[str]:
    """`DAYS` synthetic days as validated rows and their features, written to the home's lake."""
    frames = []
    for i in range(DAYS):
        day = generate_day(contract, START + timedelta(days=i), rows=ROWS_PER_DAY, seed=31)
        file = LandingFile(f"d{i}.parquet", None, 1, i)  # type: ignore[arg-type]
        frames.append(conform_file(day, file, contract).rows)
    validated = pl.concat(frames)
    view = contract.feature_views[0]
    features = build_features(validated, contract, view)
    for uri, frame in (
        (table_uri(home.lake_uri, keys.VALIDATED, contract.dataset), validated),
        (table_uri(home.lake_uri, keys.FEATURES, feature_table_name(contract, view)), features),
    ):
        overwrite_partitions(uri, frame, frame.get_column(pc.PARTITION).unique())
    return sorted(validated.get_column(pc.PARTITION).unique().to_list())


def _register_old_champion(defs, contract, home) -> None:
    """A champion trained on a window that ended the day before the data starts."""
    mlflow = defs.resources["mlflow"]
    name, client = mlflow.registry_model_name(contract), mlflow.store().client()
    client.create_registered_model(name)
    before = (START - timedelta(days=1)).isoformat()
    ref = DatasetRef("/lake/datasets/old", 0, before, before, (), None, None)
    version = client.create_model_version(name, source="file:///nowhere", tags=ref.tags())
    client.set_registered_model_alias(name, CHAMPION, version.version)
    promoted = HistoryRow(
        decided_at=datetime.now(UTC) - timedelta(hours=1),
        event=RETRAIN,
        dataset=contract.dataset,
        trigger="schedule",
        reason="first champion",
        promoted=True,
        champion_before=None,
        champion_after=1,
    )
    append_decision(table_uri(home.lake_uri, mk.DEPLOYMENT, mk.decisions_table(contract)), promoted)


def test_a_sensor_requested_retrain_trains_on_the_policys_window(contract, home, instance):
    contract = with_policy(
        contract,
        window_partitions=WINDOW,
        validation_partitions=VALIDATION_PARTS,
        holdout_partitions=HOLDOUT_PARTS,
        retrain_on_new_labelled_rows=1,
    )
    days = _land_validated_and_features(contract, home)
    defs = build_definitions([contract], home)
    validated_key = keys.validated_key(contract)
    for (
        day
    ) in days:  # what the validated asset records per partition; the new-data trigger reads it
        rows = ROWS_PER_DAY
        event = dg.AssetMaterialization(
            validated_key, partition=day, metadata={"dagster/row_count": rows}
        )
        instance.report_runless_asset_event(event)
    _register_old_champion(defs, contract, home)

    sensor = defs.resolve_sensor_def(retrain_sensor_name(contract))
    tick = sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, definitions=defs, resources=defs.resources)
    )
    (request,) = tick.run_requests
    assert request.tags[TRIGGER_TAG] != "none"
    assert not request.run_config  # the sensor chooses no window: the policy does

    training_key = keys.training_dataset_key(contract)
    job = defs.resolve_job_def(retrain_job_name(contract))
    result = job.execute_in_process(
        instance=instance,
        run_config=request.run_config,
        tags=request.tags,
        asset_selection=[training_key],
    )
    assert result.success

    # at the end of the newest day, labels (due `label.delay` after the event) are complete for
    # the days ending that long before it; the window is the newest WINDOW of those
    newest_end = partition_end(days[-1], "daily")
    labelled = [d for d in days if partition_end(d, "daily") + contract.label.delay <= newest_end]
    expected = labelled[-WINDOW:]
    expected_splits = {
        TRAIN: expected[: WINDOW - VALIDATION_PARTS - HOLDOUT_PARTS],
        VALIDATION: expected[WINDOW - VALIDATION_PARTS - HOLDOUT_PARTS : WINDOW - HOLDOUT_PARTS],
        HOLDOUT: expected[WINDOW - HOLDOUT_PARTS :],
    }
    events = {
        e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    dataset = {k: v.value for k, v in events[training_key].items()}
    frame = pl.read_delta(
        table_uri(home.lake_uri, keys.DATASETS, f"{contract.dataset}_training"),
        version=dataset["delta_version"],
    )
    split_of = dict(frame.select(pc.PARTITION, SPLIT).unique().iter_rows())
    assert sorted(split_of) == expected
    assert {
        s: sorted(p for p, v in split_of.items() if v == s) for s in expected_splits
    } == expected_splits
    assert dataset["splits"] == expected_splits
    assert (dataset["training_window"], dataset["window_partitions"]) == ("sliding", WINDOW)
    assert (dataset["window_start"], dataset["window_end"]) == (expected[0], expected[-1])
    # every validated row of the window whose label is due is in it
    validated = read_partitions(
        table_uri(home.lake_uri, keys.VALIDATED, contract.dataset), expected
    )
    assert frame.height == validated.height
