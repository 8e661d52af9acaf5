"""`models/<dataset>_registered`: the newest registered version that passed the gate.

It moves the `challenger` alias to the approved version. It refuses a version whose recorded
verdict is not `passed` even though the blocking `evaluation_gate` stops it in the same run,
because a blocking check only stops steps of its own run. Its metadata carries the sha256 and
size of the version's `model.lgb`, recorded at registration and checked by every load.
"""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.registry import set_challenger
from retrain_platform.core.models import candidate_runs as runs
from retrain_platform.core.models.loading import TAG_MODEL_BYTES, TAG_MODEL_SHA256
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.models.metadata import latest_candidate
from retrain_platform.resources.tracking import MlflowResource


def build_registered_model_asset(contract: DatasetContract) -> dg.AssetsDefinition:
    """`models/<dataset>_registered`: the newest registered version that passed the gate."""

    @dg.asset(
        key=mk.registered_model_key(contract),
        deps=[mk.candidate_model_key(contract)],
        group_name=mk.GROUPS[mk.MODELS],
        kinds={"mlflow"},
        tags=mk.tags(contract, mk.MODELS),
        owners=[contract.owner],
        description=(
            f"The {contract.dataset} model version approved by the evaluation gate (MLflow "
            "alias `challenger`), ready for deployment; every challenger, approved or not, is a "
            "registered version tagged with its verdict."
        ),
    )
    def registered_model(
        context: dg.AssetExecutionContext, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        candidate = latest_candidate(context.instance, contract)
        client = mlflow.client()
        tags = client.get_model_version(candidate.registered_name, str(candidate.version)).tags
        verdict = tags.get(runs.TAG_GATE_VERDICT, runs.PENDING)
        if verdict != "passed":
            msg = (
                f"{candidate.registered_name} version {candidate.version} has gate verdict "
                f"{verdict!r}; only a version that passed the gate is approved"
            )
            raise dg.Failure(msg)
        set_challenger(client, candidate.registered_name, candidate.version)
        context.log.info(f"approved {candidate.version_uri}")
        return dg.MaterializeResult(
            metadata={
                "registered_model": candidate.registered_name,
                "model_version": candidate.version,
                "model_uri": candidate.version_uri,
                "mlflow_run_id": candidate.run_id,
                "gate_verdict": verdict,
                "dataset_version": candidate.dataset_version,
                "alias": "challenger",
                "model_sha256": tags.get(TAG_MODEL_SHA256, "not recorded"),
                "model_bytes": int(tags.get(TAG_MODEL_BYTES, "-1")),
            }
        )

    return registered_model
