"""The models and deployment layers of one dataset: assets, gate, jobs; and a retraining cycle.

`<dataset>_retrain_job` freezes a training-set version, trains the candidate, runs the gate,
approves and deploys; a failed gate stops it after the candidate (which is still registered and
recorded). `run_retrain_cycle` runs that job in-process and summarizes the outcome for the CLI.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.defs import keys
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.deployment.asset import build_deployment_asset
from retrain_platform.defs.deployment.rollback import build_rollback_job
from retrain_platform.defs.models.candidate import build_candidate_model_asset
from retrain_platform.defs.models.gate import build_evaluation_gate
from retrain_platform.defs.models.registered import build_registered_model_asset


def retrain_job_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_retrain_job"


def model_asset_keys(contract: DatasetContract) -> list[dg.AssetKey]:
    """The retrain job's steps after the training set: candidate (+ gate), approval, deployment."""
    return [
        mk.candidate_model_key(contract),
        mk.registered_model_key(contract),
        mk.deployment_key(contract),
    ]


def build_model_defs(contract: DatasetContract) -> dg.Definitions:
    """Candidate, gate, registered model, deployment, the retrain job and the rollback job."""
    if not contract.feature_views:
        return dg.Definitions()
    retrain = dg.define_asset_job(
        retrain_job_name(contract),
        selection=dg.AssetSelection.assets(
            keys.training_dataset_key(contract), *model_asset_keys(contract)
        ),
        description=(
            "Freeze a training set, train a challenger, gate it against the champion, and "
            "deploy it when the gate passes."
        ),
        tags={"dataset": contract.dataset},
    )
    return dg.Definitions(
        assets=[
            build_candidate_model_asset(contract),
            build_registered_model_asset(contract),
            build_deployment_asset(contract),
        ],
        asset_checks=[build_evaluation_gate(contract)],
        jobs=[retrain, build_rollback_job(contract)],
    )


@dataclass(frozen=True)
class RetrainOutcome:
    """What one retraining cycle did."""

    success: bool
    run_id: str
    dataset_version: int | None
    model_version: int | None
    gate_passed: bool | None
    failures: list[str]
    champion_version: int | None

    def lines(self) -> list[str]:
        if self.model_version is None:
            return [f"retraining run {self.run_id[:8]} failed before a model was registered"]
        verdict = {True: "passed", False: "FAILED", None: "not run"}[self.gate_passed]
        out = [
            f"model version {self.model_version} (training set v{self.dataset_version}): "
            f"gate {verdict}"
        ]
        out += [f"  - {failure}" for failure in self.failures]
        out.append(f"champion: version {self.champion_version}")
        return out


def _metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> Mapping[str, Any]:
    for event in result.get_asset_materialization_events():
        if event.asset_key == key:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    return {}


def run_retrain_cycle(
    defs: dg.Definitions,
    contract: DatasetContract,
    instance: dg.DagsterInstance,
    *,
    tags: Mapping[str, str] | None = None,
    run_config: Mapping[str, Any] | None = None,
    asset_selection: list[dg.AssetKey] | None = None,
    echo: Callable[[str], None] | None = None,
) -> RetrainOutcome:
    """Run `<dataset>_retrain_job` in-process and report the gate verdict and the champion."""
    job = defs.resolve_job_def(retrain_job_name(contract))
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config=dict(run_config or {}),
        tags=dict(tags or {}),
        asset_selection=asset_selection,
    )
    candidate = _metadata(result, mk.candidate_model_key(contract))
    gate = next(
        (e for e in result.get_asset_check_evaluations() if e.check_name == mk.EVALUATION_GATE),
        None,
    )
    failures = list(gate.metadata["failure_list"].value) if gate else []  # type: ignore[arg-type]
    deployed = _metadata(result, mk.deployment_key(contract))
    champion = deployed.get("champion_version")
    if champion is None and gate is not None:
        recorded = gate.metadata["champion_version"].value
        champion = recorded if isinstance(recorded, int) else None
    outcome = RetrainOutcome(
        success=result.success,
        run_id=result.run_id,
        dataset_version=candidate.get("dataset_version"),
        model_version=candidate.get("model_version"),
        gate_passed=gate.passed if gate else None,
        failures=failures,
        champion_version=champion,
    )
    if echo is not None:
        for line in outcome.lines():
            echo(line)
    return outcome
