"""End to end on small data: a first champion, drift reports, the sensor, the retrain it asks for.

Real MLflow (sqlite + local artifacts), real Delta tables under a temporary platform home, one
Dagster instance. Two days after the training data carry injected covariate drift.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from retrain_platform.core import platform_columns as pc
from retrain_platform.core.deployment.decisions import TRIGGER_TAG, read_decisions
from retrain_platform.core.features.transforms import build_features, feature_table_name
from retrain_platform.core.ingest.landing import LandingFile
from retrain_platform.core.ingest.rows import conform_file
from retrain_platform.core.lake import overwrite_partitions, table_uri
from retrain_platform.core.monitoring.drift_prediction import PREDICTION_COLUMN
from retrain_platform.core.synthetic import DriftSpec, generate_day
from retrain_platform.defs import deployment, models, monitoring
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.datasets import build_training_dataset_asset
from retrain_platform.defs.models import retrain_job_name, run_retrain_cycle
from retrain_platform.defs.monitoring import metadata as mon
from retrain_platform.defs.monitoring.retrain_sensor import retrain_sensor_name
from retrain_platform.resources import default_resources
from retrain_platform.resources.tracking import MlflowResource, profile_mlflow_store
from retrain_platform_tests.fixtures.models import AS_OF, DAYS, ROWS_PER_DAY, START, WINDOW
from retrain_platform_tests.homes import isolate_home

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
STATIONARY = (START + timedelta(days=DAYS - 1)).isoformat()
DRIFTED = (START + timedelta(days=DAYS + 1)).isoformat()


def _run_config(contract) -> dict:
    training_op = dg.AssetKey(["datasets", f"{contract.dataset}_training"]).to_python_identifier()
    return {
        **QUIET,
        "ops": {
            training_op: {"config": {"as_of": AS_OF, **WINDOW}},
            mk.candidate_model_key(contract).to_python_identifier(): {
                "config": {"max_rounds": 60, "early_stopping_rounds": 10, "folds": 2,
                           "num_threads": 1}
            },
        },
    }  # fmt: skip


def _frames(contract) -> tuple[pl.DataFrame, pl.DataFrame]:
    spec = DriftSpec(START + timedelta(days=DAYS), "covariate", strength=2.0)
    frames = []
    for i in range(DAYS + 2):
        day = generate_day(
            contract, START + timedelta(days=i), rows=ROWS_PER_DAY, seed=23, drift=spec
        )
        file = LandingFile(f"d{i}.parquet", None, 1, i)  # type: ignore[arg-type]
        frames.append(conform_file(day, file, contract).rows)
    validated = pl.concat(frames)
    return validated, build_features(validated, contract, contract.feature_views[0])


def _materialize(defs, instance, key, partition) -> dg.ExecuteInProcessResult:
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[key], partition_key=partition, run_config=QUIET
    )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, contract):
    with pytest.MonkeyPatch.context() as env:
        home = isolate_home(env, Path(tmp_path_factory.mktemp("monitoring")) / "home")
        view = contract.feature_views[0]
        validated, features = _frames(contract)
        for uri, frame in (
            (table_uri(home.lake_uri, "validated", contract.dataset), validated),
            (table_uri(home.lake_uri, "features", feature_table_name(contract, view)), features),
        ):
            overwrite_partitions(uri, frame, frame.get_column(pc.PARTITION).unique())
        store = profile_mlflow_store(home)
        resources = {
            **default_resources(home),
            "mlflow": MlflowResource(
                tracking_uri=store.tracking_uri, artifact_root=store.artifact_root
            ),
        }
        defs = dg.Definitions.merge(
            dg.Definitions(assets=[build_training_dataset_asset(contract)]),
            models.build_defs(contract),
            deployment.build_defs(contract),
            monitoring.build_defs(contract),
            dg.Definitions(resources=resources),
        )
        with dg.instance_for_test(temp_dir=str(home.dagster_home)) as instance:
            first = run_retrain_cycle(
                defs, contract, instance, tags={TRIGGER_TAG: "manual"},
                run_config=_run_config(contract),
            )  # fmt: skip
            assert first.champion_version == 1
            reports = {
                p: _materialize(defs, instance, mon.drift_report_key(contract), p)
                for p in (STATIONARY, DRIFTED)
            }
            yield {
                "home": home, "defs": defs, "instance": instance, "resources": resources,
                "reports": reports,
            }  # fmt: skip


def _meta(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_drift_report_numbers_and_html(scenario, contract):
    stationary, drifted = (_meta(scenario["reports"][p]) for p in (STATIONARY, DRIFTED))
    assert stationary[mon.CHAMPION_VERSION] == drifted[mon.CHAMPION_VERSION] == 1
    assert drifted[mon.MAX_PSI] > contract.policy.drift_psi_threshold
    assert drifted[mon.MAX_PSI] > stationary[mon.MAX_PSI]
    for meta in (stationary, drifted):
        assert {mon.DRIFT_SHARE, mon.PREDICTION_KS, mon.SAMPLE_ROWS} <= set(meta)
        assert isinstance(meta[mon.SAMPLE_ROWS], float) and meta[mon.SAMPLE_ROWS] > 0
        assert Path(meta[mon.REPORT]).is_file(), meta.get("evidently_error")
    assert drifted[mon.DRIFTED] is True
    assert drifted[mon.N_DRIFTED] == len(drifted[mon.DRIFTED_FEATURES]) > 0
    assert stationary["reference_cached"] is False and drifted["reference_cached"] is True
    cache = scenario["home"].state_root / "drift_reference" / contract.dataset / "v1.npz"
    assert cache.is_file()


def test_drift_metadata_is_a_few_plots_and_one_table(scenario, contract):
    """Numbers (what Dagster plots) only where a chart helps, thresholds beside them; every
    per-column number in one table, with a row per scored feature and one for the score."""
    for partition in (STATIONARY, DRIFTED):
        (event,) = scenario["reports"][partition].get_asset_materialization_events()
        entries = event.materialization.metadata
        numbers = [k for k, v in entries.items() if isinstance(v.value, int | float)
                   and not isinstance(v.value, bool)]  # fmt: skip
        assert numbers == [
            mon.MAX_PSI, mon.PSI_THRESHOLD, mon.DRIFT_SHARE, mon.N_DRIFTED, mon.PREDICTION_KS,
            mon.PREDICTION_KS_THRESHOLD, mon.TRIGGER_PSI, mon.CHAMPION_VERSION, mon.SAMPLE_ROWS,
        ]  # fmt: skip
        # the policy restricts no features: the trigger reads the max PSI over all of them
        assert entries[mon.TRIGGER_PSI].value == entries[mon.MAX_PSI].value
        assert entries[mon.PSI_THRESHOLD].value == contract.policy.drift_psi_threshold
        assert not any("." in key for key in entries)  # no flat `psi.X` entries
        table = entries[mon.DRIFT_TABLE]
        assert isinstance(table, dg.TableMetadataValue)
        assert [c.name for c in table.schema.columns][:5] == [
            "column", "kind", "status", "drifted", "psi",
        ]  # fmt: skip
        rows = [r.data for r in table.records]
        assert rows[-1]["column"] == PREDICTION_COLUMN
        meta = {k: v.value for k, v in entries.items()}
        flagged = [r["column"] for r in rows if r["drifted"] and r["kind"] != "prediction"]
        assert sorted(flagged) == sorted(meta[mon.DRIFTED_FEATURES])
        assert max(r["psi"] for r in rows[:-1] if r["psi"] is not None) == meta[mon.MAX_PSI]


def test_evidently_html_says_what_the_metadata_says(scenario):
    """On the asset itself: Evidently's verdicts (from its snapshot, kept in the `evidently`
    entry) are the metadata's, and its HTML says the same sentence. (Both partitions drift on
    this small data; a calm one: `test_drift_metadata`.)"""
    for partition in (STATIONARY, DRIFTED):
        meta = _meta(scenario["reports"][partition])
        rows = [r.data for r in meta[mon.DRIFT_TABLE].records]
        evidently = meta[mon.EVIDENTLY]
        assert evidently["drifted_columns"] == sorted(r["column"] for r in rows if r["drifted"])
        assert evidently["dataset_drift"] is meta[mon.DRIFTED]
        assert evidently["column_count"] == sum(r["status"] in ("ok", "drifted") for r in rows)
        assert meta[mon.EVIDENTLY_AGREES] is True
        verdict = "detected" if meta[mon.DRIFTED] else "NOT detected"
        html = Path(meta[mon.REPORT]).read_text(errors="replace")
        assert f"Dataset Drift is {verdict}. Dataset drift detection threshold is" in html


def test_live_performance_waits_for_labels_then_scores(scenario, contract):
    defs, instance = scenario["defs"], scenario["instance"]
    key = mon.live_performance_key(contract)
    today = datetime.now(UTC).date().isoformat()
    assert _meta(_materialize(defs, instance, key, today))[mon.LABELS_KNOWN] is False
    meta = _meta(_materialize(defs, instance, key, STATIONARY))
    assert meta[mon.LABELS_KNOWN] is True and meta[mon.CHAMPION_VERSION] == 1
    assert 0.5 < meta[mon.ROC_AUC] <= 1.0 and 0.0 <= meta["accuracy"] <= 1.0
    assert meta[mon.ROWS] == ROWS_PER_DAY


def test_sensor_requests_a_drift_retrain_that_runs(scenario, contract):
    defs, instance = scenario["defs"], scenario["instance"]
    sensor = defs.resolve_sensor_def(retrain_sensor_name(contract))

    def tick(cursor=None):
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, definitions=defs, resources=scenario["resources"]
        )
        return sensor.evaluate_tick(context)

    fired = tick()
    (request,) = fired.run_requests
    assert request.tags[TRIGGER_TAG] == "drift" and request.run_key.startswith("drift:1:")
    job = defs.resolve_job_def(retrain_job_name(contract))
    result = job.execute_in_process(
        instance=instance, tags=request.tags, run_config=_run_config(contract),
        raise_on_error=False,
    )  # fmt: skip
    run = instance.get_run_by_id(result.run_id)
    assert run.tags[TRIGGER_TAG] == "drift"
    assert result.get_asset_materialization_events()  # the cycle ran (gate verdict aside)
    history = read_decisions(
        table_uri(scenario["home"].lake_uri, mk.DEPLOYMENT, mk.decisions_table(contract))
    )
    assert "drift" in history.filter(history["event"] == "retrain").get_column("trigger")
    after = tick(fired.cursor)
    assert after.run_requests == []
    again = tick(after.cursor)
    assert again.run_requests == []
    history = read_decisions(
        table_uri(scenario["home"].lake_uri, mk.DEPLOYMENT, mk.decisions_table(contract))
    )
    assert history.filter(history["event"] == "no_retrain").height == 1
