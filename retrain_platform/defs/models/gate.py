"""`evaluation_gate`: the blocking check of challenger against champion on the same holdout.

A rejection is an expected outcome of a retraining cycle, not an error: the check fails with WARN
severity, its description and `failures` metadata are the reasons (Markdown), the run is tagged
`retrain/gate_verdict=rejected`, and the run succeeds. The check is blocking, so
`registered_model` waits for it; that asset then materializes nothing for a rejected version, so
`deployment` is skipped (never failed) and the champion stays. The rejected cycle is appended to
the decision history here, and alerted. Both downstream assets also refuse a version whose
recorded verdict is not `passed`, because a blocking check only orders steps of its own run.
An error of the gate itself (it could not judge) still fails the step and the run. The first
holdout rows it scores are recorded on the candidate run with the challenger's scores (the golden
requests the deployment step replays against the version before it becomes champion). Rows of
the history read the platform clock.
"""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.deployment.decisions import (
    GATE_VERDICT_TAG,
    append_decision,
    from_gate_record,
    gate_verdict_tag,
    read_decisions,
    trigger_and_reason,
)
from retrain_platform.core.deployment.pipeline_health import (
    check_gate_rejection_rate,
    health_metadata,
    with_pending_cycle,
)
from retrain_platform.core.deployment.registry import CHAMPION, PREVIOUS, alias_version
from retrain_platform.core.deployment.verification import (
    GOLDEN_ROWS,
    golden_requests,
    record_golden,
)
from retrain_platform.core.models import candidate_runs as runs
from retrain_platform.core.models.gate import (
    CHAMPION_UNSCORABLE,
    GateFailure,
    evaluate_gate,
    with_failure,
)
from retrain_platform.core.models.inputs import feature_matrix
from retrain_platform.core.models.training import holdout_rows, predict
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.models.metadata import (
    gate_description,
    gate_metadata,
    latest_candidate,
    mlflow_links,
)
from retrain_platform.resources import ClockResource, DeltaLakeResource
from retrain_platform.resources.notifier import NotifierResource
from retrain_platform.resources.tracking import MlflowResource


def build_evaluation_gate(contract: DatasetContract) -> dg.AssetChecksDefinition:
    """`evaluation_gate`: challenger against champion on the same holdout (blocking, WARN)."""

    @dg.asset_check(
        asset=mk.candidate_model_key(contract),
        name=mk.EVALUATION_GATE,
        blocking=True,
        description=(
            "Challenger and champion scored on the challenger's holdout: policy minimums, "
            "maximum regression against the champion, per-slice regression; all failures listed. "
            "A rejection (WARN) keeps the champion: the approval and deployment are skipped."
        ),
    )
    def evaluation_gate(
        context: dg.AssetCheckExecutionContext,
        mlflow: MlflowResource,
        lake: DeltaLakeResource,
        notifier: NotifierResource,
        clock: ClockResource,
    ) -> dg.AssetCheckResult:
        candidate = latest_candidate(context.instance, contract)
        store, client = mlflow.store(), mlflow.client()
        name = candidate.registered_name
        dataset = DatasetRef.from_tags(client.get_run(candidate.run_id).data.tags)
        holdout = holdout_rows(dataset.read(lake.storage_options))
        model = runs.load_booster(store, candidate.version_uri)
        challenger = predict(model, holdout, model.feature_name())
        record_golden(
            store,
            candidate.run_id,
            golden_requests(
                feature_matrix(holdout.head(GOLDEN_ROWS), model.feature_name()),
                challenger,
                model.feature_name(),
            ),
        )
        champion_version = alias_version(client, name, CHAMPION)
        champion, unscorable = None, None
        if champion_version is not None:
            old = runs.load_booster(store, runs.version_uri(name, champion_version))
            try:
                champion = predict(old, holdout, old.feature_name())
            except KeyError as exc:
                unscorable = GateFailure(
                    CHAMPION_UNSCORABLE, "features", f"version {champion_version}", 0, 0, str(exc)
                )
        verdict = evaluate_gate(holdout, challenger, champion, contract)
        if unscorable is not None:
            verdict = with_failure(verdict, unscorable)
        record = runs.record_gate(
            store, candidate, verdict, champion_version, dagster_run_id=context.run.run_id
        )
        if not verdict.passed:
            trigger, reason = trigger_and_reason(context.run.tags)
            append_decision(
                lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)),
                from_gate_record(
                    record,
                    decided_at=clock.now(),
                    dataset=contract.dataset,
                    trigger=trigger,
                    reason=reason,
                    promoted=False,
                    champion_before=champion_version,
                    champion_after=champion_version,
                    previous_after=alias_version(client, name, PREVIOUS),
                    dagster_run_id=context.run.run_id,
                    mlflow_run_id=candidate.run_id,
                    model_version=candidate.version,
                    dataset_version=dataset.version,
                    window=(dataset.window_start, dataset.window_end),
                ),
                lake.storage_options,
            )
            notifier.gate_rejected(contract.dataset, candidate.version, verdict.messages)
            history = read_decisions(
                lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)), lake.storage_options
            )
            health = check_gate_rejection_rate(history, contract.policy)
            if health.alert:
                notifier.gate_rejection_rate_high(
                    contract.dataset, health.rate, health.last_n, health.threshold
                )
        context.instance.add_run_tags(
            context.run.run_id, {GATE_VERDICT_TAG: gate_verdict_tag(verdict.passed)}
        )
        summary = gate_description(verdict, contract, candidate, champion_version)
        (context.log.info if verdict.passed else context.log.warning)(summary)
        # gate rejection rate and champion-metric trend, this cycle included, plotted per cycle
        history = read_decisions(
            lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)), lake.storage_options
        )
        if verdict.passed:
            history = with_pending_cycle(
                history,
                decided_at=clock.now(),
                gate_passed=True,
                champion_roc_auc=(record.get("champion") or {}).get("roc_auc"),
            )
        return dg.AssetCheckResult(
            passed=verdict.passed,
            # a rejection is expected: downstream is skipped by `registered_model`, not failed
            severity=dg.AssetCheckSeverity.WARN,
            description=summary,
            metadata={
                **gate_metadata(verdict, contract, candidate, champion_version, holdout.height),
                **mlflow_links(
                    mlflow.ui_base_url(),
                    experiment_id=candidate.experiment_id,
                    run_id=candidate.run_id,
                    name=name,
                    version=candidate.version,
                ),
                **health_metadata(history, contract.policy),
            },
        )

    return evaluation_gate
