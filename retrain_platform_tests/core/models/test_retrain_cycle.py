"""Retraining cycles end to end through Dagster, with real MLflow (sqlite + local artifacts) and
real Delta tables under a temporary platform home.

One module-scoped scenario runs four things in order on one Dagster instance: a first cycle (no
champion), a second cycle, a third cycle under a policy its challenger cannot meet, and the
rollback job; the tests then check what each step left behind.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
from mlflow.models import get_model_info

from retrain_platform.cli.main import build_parser
from retrain_platform.contracts import DatasetContract
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.datasets.training_set import SPLIT
from retrain_platform.core.deployment import record_external_alias_moves
from retrain_platform.core.deployment.decisions import (
    GATE_VERDICT_TAG,
    champion_at,
    read_decisions,
)
from retrain_platform.core.deployment.registry import CHAMPION, PREVIOUS, alias_version
from retrain_platform.core.features.transforms import feature_table_name
from retrain_platform.core.lake import overwrite_partitions, table_uri
from retrain_platform.core.models import candidate_runs as runs
from retrain_platform.core.models.loading import (
    MODEL_FILE,
    TAG_MODEL_BYTES,
    TAG_MODEL_SHA256,
    digest,
)
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.core.models.reproduce import reproduce_version
from retrain_platform.core.models.run_records import (
    CUSTOM_MODEL_DEVELOPMENT,
    EXPERIMENT_KIND_TAG,
    NOTE_TAG,
)
from retrain_platform.defs import deployment, models
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.datasets import build_training_dataset_asset
from retrain_platform.defs.deployment.rollback import rollback_job_name
from retrain_platform.defs.models import RetrainOutcome, run_retrain_cycle
from retrain_platform.home import HomeLayout
from retrain_platform.resources import default_resources
from retrain_platform.resources.tracking import (
    UI_URL_ENV_VAR,
    MlflowResource,
    profile_mlflow_store,
)
from retrain_platform_tests.fixtures.models import AS_OF, WINDOW, with_policy
from retrain_platform_tests.homes import isolate_home

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
UI = "http://mlflow.example:5000"


def _run_config(contract: DatasetContract) -> dict:
    training_op = dg.AssetKey(["datasets", f"{contract.dataset}_training"]).to_python_identifier()
    candidate_op = mk.candidate_model_key(contract).to_python_identifier()
    return {
        **QUIET,
        "ops": {
            training_op: {"config": {"as_of": AS_OF, **WINDOW}},
            candidate_op: {
                "config": {
                    "max_rounds": 100,
                    "early_stopping_rounds": 10,
                    "folds": 2,
                    "num_threads": 1,
                }
            },
        },
    }


def _defs(contract: DatasetContract, home: HomeLayout, store: MlflowStore) -> dg.Definitions:
    return dg.Definitions.merge(
        dg.Definitions(assets=[build_training_dataset_asset(contract)]),
        models.build_defs(contract),
        deployment.build_defs(contract),
        dg.Definitions(
            resources={
                **default_resources(home),
                "mlflow": MlflowResource(
                    tracking_uri=store.tracking_uri, artifact_root=store.artifact_root
                ),
            }
        ),
    )


@dataclass
class Scenario:
    home: HomeLayout
    store: MlflowStore
    contract: DatasetContract
    instance: dg.DagsterInstance
    outcomes: dict[str, RetrainOutcome]
    aliases: dict[str, tuple[int | None, int | None]]
    rollback: dg.ExecuteInProcessResult

    @property
    def name(self) -> str:
        return self.contract.dataset

    @property
    def decisions_uri(self) -> str:
        return table_uri(self.home.lake_uri, mk.DEPLOYMENT, mk.decisions_table(self.contract))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, contract, validated_frame, features_frame):
    with pytest.MonkeyPatch.context() as env:
        home = isolate_home(env, Path(tmp_path_factory.mktemp("models")) / "home")
        env.setenv(UI_URL_ENV_VAR, UI)  # Dagster metadata links to this MLflow UI
        view = contract.feature_views[0]
        for uri, frame in (
            (table_uri(home.lake_uri, "validated", contract.dataset), validated_frame),
            (
                table_uri(home.lake_uri, "features", feature_table_name(contract, view)),
                features_frame,
            ),
        ):
            overwrite_partitions(uri, frame, frame.get_column(pc.PARTITION).unique())
        store = profile_mlflow_store(home)
        strict = with_policy(contract, min_roc_auc=0.995)
        with dg.instance_for_test(temp_dir=str(home.dagster_home)) as instance:
            client = store.client()

            def aliases() -> tuple[int | None, int | None]:
                return (
                    alias_version(client, contract.dataset, CHAMPION),
                    alias_version(client, contract.dataset, PREVIOUS),
                )

            outcomes, seen = {}, {}
            defs = _defs(contract, home, store)
            for step, cycle_contract, cycle_defs, trigger in (
                ("first", contract, defs, "schedule"),
                ("second", contract, defs, "drift"),
                ("failed", strict, _defs(strict, home, store), "performance"),
            ):
                outcomes[step] = run_retrain_cycle(
                    cycle_defs,
                    cycle_contract,
                    instance,
                    tags={"retrain/trigger": trigger, "retrain/reason": f"{step} cycle"},
                    run_config=_run_config(cycle_contract),
                )
                seen[step] = aliases()
            rollback = defs.resolve_job_def(rollback_job_name(contract)).execute_in_process(
                raise_on_error=False,
                instance=instance,
                run_config={
                    **QUIET,
                    "ops": {
                        f"{contract.dataset}_rollback_champion": {
                            "config": {"reason": "canary errors"}
                        }
                    },
                },
                tags={"retrain/trigger": "health_check"},
            )
            seen["rollback"] = aliases()
            yield Scenario(home, store, contract, instance, outcomes, seen, rollback)


def test_first_cycle_deploys_on_the_minimums_only(scenario):
    first = scenario.outcomes["first"]
    assert first.success and first.gate_passed and first.failures == []
    assert (first.model_version, first.dataset_version) == (1, 0)
    assert scenario.aliases["first"] == (1, None)
    tags = scenario.store.client().get_model_version(scenario.name, "1").tags
    assert tags[runs.TAG_GATE_VERDICT] == "passed"
    assert tags["dataset.version"] == "0"


def test_candidate_run_records_everything_needed(scenario):
    client = scenario.store.client()
    version = client.get_model_version(scenario.name, "1")
    run = client.get_run(version.run_id)
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["deterministic"] == "True" and params["num_threads"] == "1"
    assert params["config"] in {"shallow", "deep"}
    for split in ("validation", "holdout"):
        for metric in (
            "roc_auc",
            "pr_auc",
            "recall_at_threshold",
            "precision_at_threshold",
            "log_loss",
            "brier",
            "ece",
        ):
            assert f"{split}_{metric}" in metrics
    assert {"cv_roc_auc_shallow", "cv_roc_auc_deep"} <= set(metrics)
    assert tags["dataset.version"] == "0" and tags["dataset.window_end"] == "2026-04-08"
    assert tags[runs.TAG_CONTRACT_HASH] == scenario.contract.contract_hash
    assert tags[runs.TAG_CODE_VERSION] not in ("", None)
    assert tags[runs.TAG_TRIGGER] == "schedule"
    record = runs.load_json(scenario.store, version.run_id, runs.TRAINING_RECORD)
    model = runs.load_booster(scenario.store, runs.version_uri(scenario.name, 1))
    assert record["features"] == model.feature_name()
    model_id = version.source.removeprefix("models:/")
    (folder,) = Path(scenario.home.home / "mlflow" / "artifacts").glob(f"*/models/{model_id}")
    pinned = (folder / "artifacts" / "requirements.txt").read_text().split()
    stored = (folder / "artifacts" / MODEL_FILE).read_bytes()
    assert version.tags[TAG_MODEL_SHA256] == digest(stored)  # recorded at registration
    assert version.tags[TAG_MODEL_BYTES] == str(len(stored))
    assert any(line.startswith("lightgbm==") for line in pinned)
    assert not any(line.startswith("scikit-learn") for line in pinned)  # explicit, not inferred
    scenario.store.activate()
    info = get_model_info(runs.version_uri(scenario.name, 1))
    assert info.signature.inputs.input_names() == record["features"]
    assert info.saved_input_example_info is not None


def test_mlflow_shows_a_classic_ml_experiment_of_named_runs(scenario):
    """The experiment's kind, each run's name and description, as MLflow's UI reads them."""
    client = scenario.store.client()
    experiment = client.get_experiment_by_name(scenario.name)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == CUSTOM_MODEL_DEVELOPMENT
    assert experiment.tags[NOTE_TAG]
    runs_by_version = {
        int(client.get_model_version(scenario.name, str(v)).version): client.get_run(
            client.get_model_version(scenario.name, str(v)).run_id
        )
        for v in (1, 2, 3)
    }
    names = {v: run.info.run_name for v, run in runs_by_version.items()}
    n = scenario.name
    assert names == {1: f"{n}-v1-schedule", 2: f"{n}-v2-drift", 3: f"{n}-v3-performance"}
    note = runs_by_version[3].data.tags[NOTE_TAG]
    assert "trigger `performance`: failed cycle" in note and "training set: v2" in note
    assert f"Dagster run: `{scenario.outcomes['failed'].run_id}`" in note
    assert "**Gate rejected**" in note and scenario.outcomes["failed"].failures[0] in note


def test_training_set_splits_are_the_runs_dataset_inputs(scenario):
    client = scenario.store.client()
    run = client.get_run(client.get_model_version(scenario.name, "1").run_id)
    inputs = {
        {t.key: t.value for t in i.tags}["mlflow.data.context"]: i.dataset
        for i in run.inputs.dataset_inputs
    }
    assert set(inputs) == {"training", "validation", "holdout"}
    ref = DatasetRef.from_tags(run.data.tags)
    frame = ref.read()
    for context, split in (
        ("training", "train"),
        ("validation", "validation"),
        ("holdout", "holdout"),
    ):
        dataset = inputs[context]
        assert dataset.name == f"{scenario.name}_training@v0"
        assert dataset.source_type == "delta_table"
        assert json.loads(dataset.source) == {"path": ref.uri, "delta_table_version": 0}
        rows = frame.filter(pl.col(SPLIT) == split).height
        assert rows > 0 and json.loads(dataset.profile)["num_rows"] == rows
    assert len({d.digest for d in inputs.values()}) == 3


def test_model_versions_describe_their_run_gate_and_deployment(scenario):
    client = scenario.store.client()
    first = client.get_model_version(scenario.name, "1").description
    assert first.startswith(f"Trained by Dagster run `{scenario.outcomes['first'].run_id}`")
    assert "**Gate passed** (threshold, against no champion)" in first
    assert "**Champion** since" in first and "(replaced no champion)" in first
    assert "**Rolled back**" not in first
    rejected = client.get_model_version(scenario.name, "3").description
    assert "**Gate rejected** (threshold, against champion v2)" in rejected
    assert f"Dagster run `{scenario.outcomes['failed'].run_id}`" in rejected
    assert f"- {scenario.outcomes['failed'].failures[0]}" in rejected
    assert "**Champion**" not in rejected


def test_dagster_links_runs_and_versions_to_the_mlflow_ui(scenario):
    client = scenario.store.client()
    version = client.get_model_version(scenario.name, "2")
    experiment_id = client.get_run(version.run_id).info.experiment_id
    run_url = f"{UI}/#/experiments/{experiment_id}/runs/{version.run_id}"
    version_url = f"{UI}/#/models/{scenario.name}/versions/2"
    result_run = scenario.outcomes["second"].run_id
    for key in (
        mk.candidate_model_key(scenario.contract),
        mk.registered_model_key(scenario.contract),
        mk.deployment_key(scenario.contract),
    ):
        (record,) = [
            r
            for r in scenario.instance.fetch_materializations(key, limit=10).records
            if r.run_id == result_run
        ]
        meta = record.asset_materialization.metadata
        assert isinstance(meta["model_version_url"], dg.UrlMetadataValue)
        assert meta["model_version_url"].value == version_url
        assert meta["mlflow_run_url"].value == run_url
        assert meta["mlflow_run_id"].value == version.run_id  # the id stays text
    evaluation = next(
        r.event_log_entry.dagster_event.event_specific_data
        for r in scenario.instance.get_records_for_run(
            result_run, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
    )
    assert evaluation.metadata["mlflow_run_url"].value == run_url


def test_a_passing_challenger_becomes_champion_and_keeps_previous(scenario):
    second = scenario.outcomes["second"]
    assert second.gate_passed and second.model_version == 2
    assert scenario.aliases["second"] == (2, 1)


def test_a_gate_rejection_is_a_successful_run_that_skips_deployment(scenario):
    """The rejected cycle: run SUCCESS, tagged rejected; the reasons are the gate check's
    description in the run's event log; approval materialized nothing and deployment was
    skipped, neither failed; the champion is unchanged."""
    failed = scenario.outcomes["failed"]
    assert failed.success and failed.rejected and failed.champion_version == 2
    run = scenario.instance.get_run_by_id(failed.run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags[GATE_VERDICT_TAG] == "rejected"
    events = [
        record.event_log_entry.dagster_event
        for record in scenario.instance.get_records_for_run(failed.run_id).records
        if record.event_log_entry.dagster_event is not None
    ]
    assert not [e for e in events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    (evaluation,) = [
        e.event_specific_data
        for e in events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.description.startswith("**Rejected**")
    assert "champion version 2 keeps serving" in evaluation.description
    assert f"- {failed.failures[0]}" in evaluation.description
    skipped = {e.step_key for e in events if e.event_type == dg.DagsterEventType.STEP_SKIPPED}
    assert skipped == {mk.deployment_key(scenario.contract).to_python_identifier()}
    materialized = {
        e.asset_key for e in events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
    }
    assert mk.registered_model_key(scenario.contract) not in materialized
    assert mk.deployment_key(scenario.contract) not in materialized
    assert "gate rejected" in "\n".join(failed.lines())
    assert (
        scenario.instance.get_run_by_id(scenario.outcomes["second"].run_id).tags[GATE_VERDICT_TAG]
        == "passed"
    )


def test_a_failed_gate_registers_the_version_but_moves_no_alias(scenario):
    failed = scenario.outcomes["failed"]
    assert failed.gate_passed is False
    assert failed.model_version == 3
    assert failed.failures and failed.failures[0].startswith("below_minimum: roc_auc")
    assert scenario.aliases["failed"] == (2, 1)
    client = scenario.store.client()
    assert client.get_model_version(scenario.name, "3").tags[runs.TAG_GATE_VERDICT] == "failed"
    run_tags = client.get_run(client.get_model_version(scenario.name, "3").run_id).data.tags
    assert run_tags["gate.failure_count"] == str(len(failed.failures))
    assert run_tags["gate.failure.1"] == failed.failures[0]
    for key in (mk.registered_model_key(scenario.contract), mk.deployment_key(scenario.contract)):
        latest = scenario.instance.fetch_materializations(key, limit=1).records[0]
        assert latest.event_log_entry.run_id != failed.run_id  # blocked in the failed run


def test_history_has_a_row_per_cycle_including_the_failed_one(scenario):
    history = read_decisions(scenario.decisions_uri)
    assert history.get_column("event").to_list() == ["retrain"] * 3 + ["rollback"]
    assert history.get_column("promoted").to_list() == [True, True, False, False]
    assert history.get_column("trigger").to_list() == [
        "schedule",
        "drift",
        "performance",
        "health_check",
    ]
    failed = history.row(2, named=True)
    assert failed["gate_passed"] is False and failed["model_version"] == 3
    assert failed["champion_before"] == failed["champion_after"] == 2
    assert failed["previous_after"] == 1
    assert failed["gate_failures"][0].startswith("below_minimum")
    assert failed["champion_roc_auc"] is not None and failed["dataset_version"] == 2
    second = history.row(1, named=True)
    assert second["champion_roc_auc"] == pytest.approx(second["candidate_roc_auc"])


def test_rollback_restores_the_previous_champion(scenario):
    assert scenario.rollback.success
    assert scenario.aliases["rollback"] == (1, None)
    (event,) = scenario.rollback.get_asset_materialization_events()
    assert event.asset_key == mk.deployment_key(scenario.contract)
    meta = event.materialization.metadata
    assert meta["champion_version"].value == 1 and meta["event"].value == "rollback"
    rolled = read_decisions(scenario.decisions_uri).row(-1, named=True)
    assert (rolled["champion_before"], rolled["champion_after"]) == (2, 1)
    assert rolled["reason"] == "canary errors"


def test_a_rolled_back_version_is_not_deployed_again(scenario):
    defs = _defs(scenario.contract, scenario.home, scenario.store)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=scenario.instance,
        asset_selection=[mk.deployment_key(scenario.contract)],
        run_config=QUIET,
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "was rolled back" in failure.step_failure_data.error.message
    client = scenario.store.client()
    assert alias_version(client, scenario.name, CHAMPION) == 1


def test_champion_at_a_time_is_one_query_on_the_history(scenario):
    history = read_decisions(scenario.decisions_uri)
    times = history.get_column("decided_at").to_list()
    assert champion_at(history, times[0] - timedelta(microseconds=1)) is None
    assert [champion_at(history, t) for t in times] == [1, 2, 2, 1]


def test_reproduce_gives_identical_holdout_predictions(scenario):
    outcome = reproduce_version(scenario.store, scenario.name, 2, scenario.contract)
    assert outcome.identical and outcome.max_abs_difference == 0.0
    assert outcome.dataset.version == 1 and outcome.holdout_rows > 0
    assert np.all((outcome.scores >= 0) & (outcome.scores <= 1))


def test_cli_prints_history_and_reproduces(scenario, capsys):
    parser = build_parser()
    at = read_decisions(scenario.decisions_uri).get_column("decided_at")[1].isoformat()
    args = parser.parse_args(["history", "--at", at])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "below_minimum" in out and "rollback" in out and f"champion at {at}: 2" in out
    args = parser.parse_args(["reproduce", "1"])
    assert args.func(args) == 0
    assert "identical" in capsys.readouterr().out


def test_rollback_command_moves_the_champion_back_as_a_process(scenario):
    """`retrain-platform rollback` run as a user runs it: champion back to previous, recorded."""
    client = scenario.store.client()
    client.set_registered_model_alias(scenario.name, CHAMPION, "2")
    client.set_registered_model_alias(scenario.name, PREVIOUS, "1")
    env = {
        **os.environ,
        "RETRAIN_HOME": str(scenario.home.home),
        "DAGSTER_HOME": str(scenario.home.dagster_home),
    }
    script = Path(sys.executable).with_name("retrain-platform")
    done = subprocess.run(
        [str(script), "rollback", "--reason", "cli drill"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rolled back from version 2 to 1" in done.stdout
    assert alias_version(client, scenario.name, CHAMPION) == 1
    last = read_decisions(scenario.decisions_uri).row(-1, named=True)
    assert (last["event"], last["reason"], last["champion_after"]) == ("rollback", "cli drill", 1)


def test_rollback_after_a_hand_moved_champion_returns_to_the_version_that_served(scenario):
    """Champion moved by hand twice (1 -> 2, noticed by a tick; 2 -> 3, unnoticed): `previous`
    still says 1, but the version serving before the last move was 2, and rollback returns there."""
    client = scenario.store.client()
    assert alias_version(client, scenario.name, CHAMPION) == 1
    client.set_registered_model_alias(scenario.name, CHAMPION, "2")
    noticed = record_external_alias_moves(
        client, scenario.name, scenario.decisions_uri, dataset=scenario.name, now=datetime.now(UTC)
    )
    assert noticed is not None and (noticed.champion_before, noticed.champion_after) == (1, 2)
    client.set_registered_model_alias(scenario.name, CHAMPION, "3")  # a rejected version, forced
    assert alias_version(client, scenario.name, PREVIOUS) == 1
    env = {
        **os.environ,
        "RETRAIN_HOME": str(scenario.home.home),
        "DAGSTER_HOME": str(scenario.home.dagster_home),
    }
    script = Path(sys.executable).with_name("retrain-platform")
    done = subprocess.run(
        [str(script), "rollback", "--reason", "hand move went wrong"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rolled back from version 3 to 2" in done.stdout
    assert alias_version(client, scenario.name, CHAMPION) == 2
    history = read_decisions(scenario.decisions_uri)
    tail = history.tail(3).select("event", "trigger", "champion_before", "champion_after").rows()
    assert tail == [
        ("alias_move", "external", 1, 2),
        ("alias_move", "external", 2, 3),
        ("rollback", "cli", 3, 2),
    ]
    moved_at = history.get_column("decided_at")[-2]
    assert champion_at(history, moved_at) == 3
