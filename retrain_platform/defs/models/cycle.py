"""A retraining cycle run in-process: `<dataset>_retrain_job` and what it did (CLI and demo).

`run_retrain_cycle` runs the job and summarizes the gate verdict and the champion. A cycle the
gate rejected is a successful run (`success` and `rejected` both true): the champion stays.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.models.jobs import retrain_job_name


@dataclass(frozen=True)
class RetrainOutcome:
    """What one retraining cycle did (`success`: the run's; a gate rejection succeeds)."""

    success: bool
    run_id: str
    dataset_version: int | None
    model_version: int | None
    gate_passed: bool | None
    failures: list[str]
    champion_version: int | None

    @property
    def rejected(self) -> bool:
        """The gate judged the challenger and rejected it (an expected outcome)."""
        return self.gate_passed is False

    def lines(self) -> list[str]:
        if self.model_version is None:
            return [f"retraining run {self.run_id[:8]} failed before a model was registered"]
        verdict = {True: "passed", False: "rejected", None: "not run"}[self.gate_passed]
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
    clock_at: datetime | None = None,
) -> RetrainOutcome:
    """Run `<dataset>_retrain_job` in-process and report the gate verdict and the champion.

    `clock_at` fixes the run's platform clock (the demo's simulated now), so the gate and
    deployment rows of the decision history carry the same clock as the sensor's.
    """
    job = defs.resolve_job_def(retrain_job_name(contract))
    config: dict[str, Any] = dict(run_config or {})
    if clock_at is not None:
        fixed = {"clock": {"config": {"fixed_at": clock_at.isoformat()}}}
        config["resources"] = {**config.get("resources", {}), **fixed}
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config=config,
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
