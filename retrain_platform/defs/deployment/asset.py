"""The deployment layer: which registered version serves as champion, and the decision history.

Deployment moves MLflow registry aliases only (stages are deprecated): `champion` to the approved
version and `previous` to the champion it replaces, which keeps an instant rollback target.
Before `champion` moves, the version is verified in a child process with the service's loader
(golden requests against the gate's offline scores, p99 latency and model size within the
policy's budgets); a version that fails is recorded as a refused cycle and the champion stays.
The promotion is appended to the decision history; failed gate cycles are appended by the gate.
A champion moved outside the platform is noticed and recorded first (`alias_moves`).
"""

import os
from dataclasses import replace
from typing import Any

import dagster as dg
import polars as pl

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.datasets.training_set import HOLDOUT, SPLIT, read_version
from retrain_platform.core.deployment.alias_moves import record_external_alias_moves
from retrain_platform.core.deployment.decisions import (
    Decision,
    append_decision,
    from_gate_record,
    read_decisions,
    trigger_and_reason,
)
from retrain_platform.core.deployment.pipeline_health import health_metadata
from retrain_platform.core.deployment.promotion import GateOutcome, promote_with_health_gate
from retrain_platform.core.deployment.registry import (
    CHAMPION,
    PREVIOUS,
    TAG_ROLLED_BACK,
    AliasMove,
    alias_version,
)
from retrain_platform.core.deployment.verification import (
    GOLDEN_ROWS,
    Budgets,
    GoldenRequests,
    load_golden,
)
from retrain_platform.core.models import candidate_runs as runs
from retrain_platform.core.models.inputs import feature_matrix, model_feature_names
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.deployment.state import record_deployment_event
from retrain_platform.defs.freshness import model_freshness_policy
from retrain_platform.defs.models.metadata import MODEL_VERSION, RUN_ID, mlflow_links
from retrain_platform.resources import ClockResource, DeltaLakeResource
from retrain_platform.resources.notifier import NotifierResource
from retrain_platform.resources.tracking import MlflowResource


def _approved(instance: dg.DagsterInstance, contract: DatasetContract) -> tuple[int, str]:
    """Version and run id of the registered model's latest materialization."""
    records = instance.fetch_materializations(mk.registered_model_key(contract), limit=1).records
    materialization = records[0].asset_materialization if records else None
    if materialization is None:
        msg = f"{contract.dataset}: no approved model version yet"
        raise dg.Failure(msg)
    meta = materialization.metadata
    return int(meta[MODEL_VERSION].value), str(meta[RUN_ID].value)  # type: ignore[arg-type]


def _deployable(client: Any, name: str, version: int) -> dict[str, str]:
    """The version's tags; refuse one that did not pass the gate or was rolled back."""
    tags = client.get_model_version(name, str(version)).tags
    if tags.get(runs.TAG_GATE_VERDICT) != "passed":
        msg = f"{name} version {version} did not pass the evaluation gate; not deploying"
        raise dg.Failure(msg)
    if tags.get(TAG_ROLLED_BACK) == "true":
        msg = (
            f"{name} version {version} was rolled back; retrain (or move the alias by hand) "
            "instead of deploying it again"
        )
        raise dg.Failure(msg)
    return dict(tags)


def build_deployment_asset(contract: DatasetContract) -> dg.AssetsDefinition:
    """`deployment/<dataset>_champion`: the champion alias moved to the approved version, once
    verified.

    Before the move a child process loads the version as the service does and answers the
    golden requests, within the policy's latency and size budgets; after it, when
    `$RETRAIN_SERVING_URL` is set, the running service's `/health` must show the new version.
    A failure before the move leaves the champion as it was; one after it (or any error in the
    gate) moves the alias back to `previous`. Both are recorded with the reason.
    """

    @dg.asset(
        key=mk.deployment_key(contract),
        deps=[mk.registered_model_key(contract)],
        group_name=mk.GROUPS[mk.DEPLOYMENT],
        kinds={"mlflow"},
        tags=mk.tags(contract, mk.DEPLOYMENT),
        owners=[contract.owner],
        freshness_policy=model_freshness_policy(contract),
        description=(
            f"The {contract.dataset} champion: registry alias `champion` on the approved "
            "version, `previous` on the one it replaced (the rollback target)."
        ),
    )
    def deployment(
        context: dg.AssetExecutionContext,
        mlflow: MlflowResource,
        lake: DeltaLakeResource,
        notifier: NotifierResource,
        clock: ClockResource,
    ) -> dg.MaterializeResult:
        version, run_id = _approved(context.instance, contract)
        client, store = mlflow.client(), mlflow.store()
        name = mlflow.registry_model_name(contract)
        decisions_uri = lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract))
        noticed = record_external_alias_moves(
            client,
            name,
            decisions_uri,
            dataset=contract.dataset,
            now=clock.now(),
            storage_options=lake.storage_options,
        )
        if noticed is not None:
            context.log.warning(noticed.reason)
        tags = _deployable(client, name, version)
        trigger, reason = trigger_and_reason(context.run.tags)
        record = runs.load_json(store, run_id, runs.GATE_RECORD)
        dataset = DatasetRef.from_tags(tags)

        def cycle(move: AliasMove | None, *, promoted: bool) -> Decision:
            """This cycle's row; `move` None: refused, the champion as it is now."""
            if move is None:
                before = after = alias_version(client, name, CHAMPION)
                previous = alias_version(client, name, PREVIOUS)
            else:
                before, after, previous = move.replaced, move.champion, move.previous
            return from_gate_record(
                record,
                decided_at=clock.now(),
                dataset=contract.dataset,
                trigger=trigger,
                reason=reason,
                promoted=promoted,
                champion_before=before,
                champion_after=after,
                previous_after=previous,
                dagster_run_id=context.run.run_id,
                mlflow_run_id=run_id,
                model_version=version,
                dataset_version=dataset.version,
                window=(dataset.window_start, dataset.window_end),
            )

        state: dict[str, Any] = {}

        def promoted(move: AliasMove) -> None:
            if move.moved:
                client.set_model_version_tag(
                    name, str(version), "deployment.deployed_at", clock.now().isoformat()
                )
            state.update(
                record_deployment_event(
                    contract,
                    cycle(move, promoted=True),
                    move,
                    name=name,
                    lake=lake,
                    notifier=notifier,
                )
            )

        champion = alias_version(client, name, CHAMPION)
        health: GateOutcome | None = None
        if champion == version:
            promoted(AliasMove(version, alias_version(client, name, PREVIOUS), version, False))
        else:
            golden = _golden(store, run_id, contract, dataset, lake)
            health = promote_with_health_gate(
                store,
                name,
                version,
                golden.rows,
                expected_scores=golden.scores,
                budgets=Budgets(contract.policy.max_p99_ms, contract.policy.max_model_mb),
                now=clock.now,
                on_promoted=promoted,
                decisions_uri=decisions_uri,
                dataset=contract.dataset,
                service_url=os.environ.get(SERVING_URL_ENV_VAR) or None,
                storage_options=lake.storage_options,
            )
            if not health.passed:
                _refuse(contract, cycle(None, promoted=False), health, lake, notifier)
            context.log.info(
                f"{name} version {version} passed the health gate ({health.reason}; "
                f"{health.smoke_seconds:.1f} s in the child)"
            )
        context.log.info(
            f"{name}: champion {'moved to' if health else 'already'} version {version}"
            + (f" (previous: {state['previous_version']})" if state.get("previous_version") else "")
        )
        return dg.MaterializeResult(
            metadata={
                **state,
                "promoted": health is not None and health.moved,
                "gate_verdict": "passed",
                "first_deployment": record.get("champion") is None,
                "dataset_version": dataset.version,
                "challenger_metrics": dg.MetadataValue.json(record.get("challenger") or {}),
                "replaced_champion_metrics": dg.MetadataValue.json(record.get("champion") or {}),
                RUN_ID: run_id,
                **mlflow_links(
                    mlflow.ui_base_url(),
                    experiment_id=client.get_run(run_id).info.experiment_id,
                    run_id=run_id,
                    name=name,
                    version=version,
                ),
                **_verification_metadata(health),
                # gate rejection rate and champion-metric trend over the last cycles (plotted)
                **health_metadata(
                    read_decisions(decisions_uri, lake.storage_options), contract.policy
                ),
            }
        )

    return deployment


SERVING_URL_ENV_VAR = "RETRAIN_SERVING_URL"
HEALTH_GATE_SAMPLE_ROWS = GOLDEN_ROWS


def _refuse(
    contract: DatasetContract,
    refused: Decision,
    health: GateOutcome,
    lake: DeltaLakeResource,
    notifier: NotifierResource,
) -> None:
    """Record and alert a version the health gate refused, then fail the step."""
    if health.moved or health.rolled_back_to is not None:
        # the promotion and its rollback are recorded already (by `promoted` and the gate)
        notifier.rollback(contract.dataset, health.version, health.rolled_back_to)
        outcome = f"champion rolled back to {health.rolled_back_to}"
    else:
        failures = [*refused.gate_failures, health.reason]
        append_decision(
            lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)),
            replace(refused, gate_passed=False, gate_failures=failures),
            lake.storage_options,
        )
        notifier.gate_rejected(contract.dataset, health.version, [health.reason])
        outcome = f"champion unchanged ({refused.champion_after})"
    msg = (
        f"{contract.dataset} version {health.version} failed the health gate at the "
        f"{health.stage} stage ({health.reason}); {outcome}"
    )
    raise dg.Failure(msg)


def _verification_metadata(health: GateOutcome | None) -> dict[str, Any]:
    verification = health.verification if health else None
    if verification is None or not verification.passed:
        return {}
    return {
        "verification": verification.reason,
        "verification_p99_ms": verification.p99_ms,
        "verification_model_mb": verification.model_mb,
        "model_sha256": verification.sha256 or "not recorded",
    }


def _golden(
    store: MlflowStore,
    run_id: str,
    contract: DatasetContract,
    dataset: DatasetRef,
    lake: DeltaLakeResource,
) -> GoldenRequests:
    """The golden requests the gate recorded; for an older version, holdout rows (no scores)."""
    golden = load_golden(store, run_id)
    if golden is not None:
        return golden
    view = contract.view(dataset.view)
    features = model_feature_names(contract, view)
    frame = read_version(dataset.uri, dataset.version, lake.storage_options)
    holdout = frame.filter(pl.col(SPLIT) == HOLDOUT).head(HEALTH_GATE_SAMPLE_ROWS)
    return GoldenRequests(tuple(features), feature_matrix(holdout, features).tolist())
