"""`<dataset>_retrain_sensor`: requests the retrain job when drift, performance, age or new
labelled data say so.

A thin layer over `core.triggers.decide`: each tick gathers its inputs (`retrain_inputs`: the
champion, drift and live performance against it, new labelled rows, the dataset's retrain runs,
and the deployed model's freshness, which is Dagster's own freshness state of
`deployment/<dataset>_champion`; the age trigger fires on its FAIL). A retrain request
carries `retrain/trigger`, `retrain/reason`, `retrain/episode` and `retrain/max_psi` and a run key
per episode. A "no retrain" outcome is appended to the decision history when its state changes
(the last recorded state is the sensor's cursor); every tick logs its decision and inputs
(`tick_log`, the tick's "View logs") and records a champion moved by hand (`alias_watch`).
"""

import json
from datetime import datetime, timedelta

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.decisions import REASON_TAG, TRIGGER_TAG, append_decision
from retrain_platform.core.deployment.decisions import Decision as HistoryRow
from retrain_platform.core.monitoring.triggers import (
    Decision,
    TriggerPolicy,
    decide,
)
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.models import retrain_job_name
from retrain_platform.defs.monitoring.alias_watch import notice_alias_moves
from retrain_platform.defs.monitoring.retrain_inputs import (
    EPISODE_TAG,
    MAX_PSI_TAG,
    REQUESTED_AT_TAG,
    gather_state,
)
from retrain_platform.defs.monitoring.tick_log import tick_message
from retrain_platform.resources import ClockResource, DeltaLakeResource
from retrain_platform.resources.tracking import MlflowResource

NO_RETRAIN = "no_retrain"
NO_TRIGGER = "none"


def retrain_sensor_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_retrain_sensor"


def request_tags(decision: Decision, now: datetime) -> dict[str, str]:
    """The run tags of a triggered retrain (read back by the candidate, gate and sensor)."""
    tags = {
        TRIGGER_TAG: decision.trigger or NO_TRIGGER,
        REASON_TAG: decision.reason,
        EPISODE_TAG: decision.episode or "",
        REQUESTED_AT_TAG: now.isoformat(),
    }
    if decision.max_psi is not None:
        tags[MAX_PSI_TAG] = f"{decision.max_psi:.6f}"
    return tags


def build_retrain_sensor(
    contract: DatasetContract,
    *,
    cooldown: timedelta | None = None,
    worsening_factor: float | None = None,
) -> dg.SensorDefinition:
    """`<dataset>_retrain_sensor`: drift > performance > age > new labelled data, with cooldown
    and de-duplication (the policy's `retrain_cooldown_hours` and `drift_worsening_factor`
    unless given)."""
    policy = TriggerPolicy.from_policy(
        contract.policy, cooldown=cooldown, worsening_factor=worsening_factor
    )
    job_name = retrain_job_name(contract)
    deployment = mk.deployment_key(contract).to_user_string()

    @dg.sensor(
        name=retrain_sensor_name(contract),
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Requests {job_name} on drift (PSI > {policy.psi_threshold:g} or prediction KS > "
            f"{policy.ks_threshold:g}), then live ROC-AUC < {policy.min_roc_auc:g}, then model "
            f"age ({deployment}'s freshness policy failed: deployed over "
            f"{policy.max_model_age.days} days ago)"
            + (
                f", then {policy.new_labelled_rows} new labelled rows"
                if policy.new_labelled_rows is not None
                else ""
            )
            + f"; cooldown {policy.cooldown}, one retrain per episode. Every decision not to "
            "retrain is recorded in the decision history."
        ),
    )
    def retrain_sensor(
        context: dg.SensorEvaluationContext,
        mlflow: MlflowResource,
        lake: DeltaLakeResource,
        clock: ClockResource,
    ) -> dg.SensorResult:
        now, instance, name = clock.now(), context.instance, mlflow.registry_model_name(contract)
        simulated = bool(clock.fixed_at)  # wall-time freshness means nothing on simulated time

        def gather():
            return gather_state(
                instance, contract, mlflow.store(), name, now, simulated_clock=simulated
            )

        state = gather()
        if not state.in_flight and notice_alias_moves(context, contract, mlflow, lake, now):
            state = gather()  # the new champion
        decision = decide(state, policy, now)
        context.log.info(tick_message(retrain_sensor_name(contract), state, decision, policy, now))
        cursor = json.loads(context.cursor) if context.cursor else {}
        if decision.retrain:
            return dg.SensorResult(
                run_requests=[
                    dg.RunRequest(
                        run_key=decision.run_key,
                        job_name=job_name,
                        tags=request_tags(decision, now),
                    )
                ],
                cursor=json.dumps(cursor),
            )
        if cursor.get("recorded") != decision.state_key:
            append_decision(
                lake.uri(mk.DEPLOYMENT, mk.decisions_table(contract)),
                HistoryRow(
                    decided_at=now,
                    event=NO_RETRAIN,
                    dataset=contract.dataset,
                    trigger=decision.trigger or NO_TRIGGER,
                    reason=f"{decision.code}: {decision.reason}",
                    promoted=False,
                    champion_before=state.champion_version,
                    champion_after=state.champion_version,
                ),
                lake.storage_options,
            )
            cursor["recorded"] = decision.state_key
        return dg.SensorResult(skip_reason=decision.reason, cursor=json.dumps(cursor))

    return retrain_sensor
