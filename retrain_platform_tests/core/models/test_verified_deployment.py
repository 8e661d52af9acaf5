"""The deployment asset verifies before it promotes, records the model's digest, and times every
row of the history with the platform clock.

Two retraining cycles through Dagster (real MLflow, real Delta, a temporary platform home), each
with the `clock` resource fixed at its own simulated instant: the first deploys version 1; the
second's challenger passes the evaluation gate but not the serving budget (`max_model_mb`), so
it is refused before `champion` moves. The child verification is wrapped to note which version
was champion while it ran.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from retrain_platform.cli.main import build_parser
from retrain_platform.contracts import DatasetContract
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.deployment import promotion
from retrain_platform.core.deployment.decisions import champion_at, read_decisions
from retrain_platform.core.deployment.registry import CHAMPION, TAG_ROLLED_BACK, alias_version
from retrain_platform.core.features.transforms import feature_table_name
from retrain_platform.core.lake import overwrite_partitions, table_uri
from retrain_platform.core.models.loading import MODEL_FILE, TAG_MODEL_SHA256, digest
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.defs import deployment, models
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.datasets import build_training_dataset_asset
from retrain_platform.defs.models import RetrainOutcome, run_retrain_cycle
from retrain_platform.home import HomeLayout
from retrain_platform.resources import ClockResource, default_resources
from retrain_platform.resources.tracking import MlflowResource, profile_mlflow_store
from retrain_platform_tests.fixtures.models import AS_OF, WINDOW, with_policy
from retrain_platform_tests.fixtures.registry import model_dir
from retrain_platform_tests.homes import isolate_home

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
T1 = datetime(2026, 4, 10, 6, tzinfo=UTC)
T2 = T1 + timedelta(days=1)


def _run_config(contract: DatasetContract) -> dict:
    training_op = dg.AssetKey(["datasets", f"{contract.dataset}_training"]).to_python_identifier()
    candidate_op = mk.candidate_model_key(contract).to_python_identifier()
    options = {"max_rounds": 60, "early_stopping_rounds": 10, "folds": 2, "num_threads": 1}
    return {
        **QUIET,
        "ops": {
            training_op: {"config": {"as_of": AS_OF, **WINDOW}},
            candidate_op: {"config": options},
        },
    }


def _defs(
    contract: DatasetContract, home: HomeLayout, store: MlflowStore, at: datetime
) -> dg.Definitions:
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
                "clock": ClockResource(fixed_at=at.isoformat()),
            }
        ),
    )


@dataclass
class Cycles:
    home: HomeLayout
    store: MlflowStore
    contract: DatasetContract
    instance: dg.DagsterInstance
    first: RetrainOutcome
    refused: RetrainOutcome
    champion_while_verifying: list[int | None]

    @property
    def history(self):  # noqa: ANN201
        uri = table_uri(self.home.lake_uri, mk.DEPLOYMENT, mk.decisions_table(self.contract))
        return read_decisions(uri)


@pytest.fixture(scope="module")
def cycles(tmp_path_factory, contract, validated_frame, features_frame):
    with pytest.MonkeyPatch.context() as env:
        home = isolate_home(env, Path(tmp_path_factory.mktemp("verified")) / "home")
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
        client = store.client()
        seen: list[int | None] = []
        real = promotion.verify_in_child

        def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            seen.append(alias_version(client, contract.dataset, CHAMPION))
            return real(*args, **kwargs)

        env.setattr(promotion, "verify_in_child", spy)
        tight = with_policy(contract, max_model_mb=1e-6)
        with dg.instance_for_test(temp_dir=str(home.dagster_home)) as instance:
            outcomes = [
                run_retrain_cycle(
                    _defs(cycle_contract, home, store, at),
                    cycle_contract,
                    instance,
                    tags={"retrain/trigger": "schedule", "retrain/reason": "test"},
                    run_config=_run_config(cycle_contract),
                )
                for cycle_contract, at in ((contract, T1), (tight, T2))
            ]
            yield Cycles(home, store, contract, instance, *outcomes, seen)


def test_the_candidate_is_verified_while_the_old_champion_still_serves(cycles):
    assert cycles.first.success and cycles.first.champion_version == 1
    assert cycles.champion_while_verifying == [None, 1]


def test_the_registered_digest_is_the_files_and_is_reported(cycles):
    client = cycles.store.client()
    recorded = client.get_model_version(cycles.contract.dataset, "1").tags[TAG_MODEL_SHA256]
    path = model_dir(cycles.store, cycles.contract.dataset, 1) / MODEL_FILE
    assert recorded == digest(path.read_bytes())
    registered = cycles.instance.fetch_materializations(
        mk.registered_model_key(cycles.contract), limit=2
    ).records
    shas = {r.asset_materialization.metadata["model_sha256"].value for r in registered}
    assert recorded in shas
    deployed = cycles.instance.fetch_materializations(
        mk.deployment_key(cycles.contract), limit=1
    ).records[0]
    meta = deployed.asset_materialization.metadata
    assert meta["model_sha256"].value == recorded
    assert meta["verification_p99_ms"].value > 0 and meta["verification_model_mb"].value > 0
    # no MLflow UI configured (sqlite store): ids as text, no links
    assert "mlflow_run_url" not in meta and "model_version_url" not in meta
    assert isinstance(meta["mlflow_run_id"], dg.TextMetadataValue)


def test_a_candidate_over_budget_is_refused_before_it_becomes_champion(cycles):
    refused = cycles.refused
    assert not refused.success and refused.gate_passed is True and refused.model_version == 2
    client = cycles.store.client()
    assert alias_version(client, cycles.contract.dataset, CHAMPION) == 1
    tags = client.get_model_version(cycles.contract.dataset, "2").tags
    assert "deployment.deployed_at" not in tags and TAG_ROLLED_BACK not in tags  # never champion
    row = cycles.history.row(-1, named=True)
    assert (row["event"], row["model_version"], row["promoted"]) == ("retrain", 2, False)
    assert row["gate_passed"] is False and row["champion_after"] == 1
    assert row["gate_failures"][-1].startswith("size: model")
    assert "over the budget of 1e-06 MB" in row["gate_failures"][-1]
    assert "rollback" not in cycles.history.get_column("event").to_list()


def test_every_row_reads_the_platform_clock(cycles):
    history = cycles.history
    assert history.get_column("decided_at").to_list() == [T1, T2]
    tags = cycles.store.client().get_model_version(cycles.contract.dataset, "1").tags
    assert tags["deployment.deployed_at"] == T1.isoformat()
    assert champion_at(history, T1 - timedelta(seconds=1)) is None
    assert champion_at(history, T2) == 1


def test_history_at_names_the_champion_that_was_serving(cycles, capsys):
    args = build_parser().parse_args(["history", "--at", (T1 + timedelta(hours=1)).isoformat()])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert f"champion at {(T1 + timedelta(hours=1)).isoformat()}: 1" in out
    assert "size: model" in out
