"""`models/<dataset>_registered`: the newest registered version that passed the gate.

It moves the `challenger` alias to the approved version. For a version the gate rejected it
materializes nothing (its output is optional): the step succeeds with the gate's reasons in its
log, `deployment` after it is skipped, and the champion stays; a rejection is an expected outcome
of a cycle, not a failure. A version without a verdict (the gate did not run) is an error. It
checks the recorded verdict even though the blocking `evaluation_gate` runs before it, because a
blocking check only orders steps of its own run. Its metadata carries the sha256 and size of the
version's `model.lgb`, recorded at registration and checked by every load.
"""

from collections.abc import Iterator

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.registry import set_challenger
from retrain_platform.core.models import candidate_runs as runs
from retrain_platform.core.models.loading import TAG_MODEL_BYTES, TAG_MODEL_SHA256
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.models.metadata import latest_candidate, mlflow_links
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
        output_required=False,
        description=(
            f"The {contract.dataset} model version approved by the evaluation gate (MLflow "
            "alias `challenger`), ready for deployment; every challenger, approved or not, is a "
            "registered version tagged with its verdict. Not materialized when the gate rejects "
            "the challenger (deployment is then skipped)."
        ),
    )
    def registered_model(
        context: dg.AssetExecutionContext, mlflow: MlflowResource
    ) -> Iterator[dg.MaterializeResult]:
        candidate = latest_candidate(context.instance, contract)
        client = mlflow.client()
        tags = client.get_model_version(candidate.registered_name, str(candidate.version)).tags
        verdict = tags.get(runs.TAG_GATE_VERDICT, runs.PENDING)
        if verdict == "failed":
            reasons = client.get_run(candidate.run_id).data.tags.get(runs.TAG_GATE_FAILURES, "")
            context.log.warning(
                f"{candidate.registered_name} version {candidate.version} was rejected by the "
                "evaluation gate: not approved, deployment skipped, the champion stays"
                + "".join(f"\n  - {line}" for line in reasons.splitlines())
            )
            return
        if verdict != "passed":
            msg = (
                f"{candidate.registered_name} version {candidate.version} has gate verdict "
                f"{verdict!r}; only a version that passed the gate is approved"
            )
            raise dg.Failure(msg)
        set_challenger(client, candidate.registered_name, candidate.version)
        context.log.info(f"approved {candidate.version_uri}")
        yield dg.MaterializeResult(
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
                **mlflow_links(
                    mlflow.ui_base_url(),
                    experiment_id=candidate.experiment_id,
                    run_id=candidate.run_id,
                    name=candidate.registered_name,
                    version=candidate.version,
                ),
            }
        )

    return registered_model
