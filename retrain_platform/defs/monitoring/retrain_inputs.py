"""What the retrain sensor reads each tick, gathered into a `triggers.TriggerState`.

The champion (MLflow alias and the training window recorded on it), the latest drift report and
live performance per partition (materialization metadata, only those computed against the
current champion), when the policy asks for it the validated rows that arrived after the
training window and whose labels are due (row counts of the validated partitions' newest
materializations), the dataset's retrain runs (in flight, or requested by a trigger: their
`retrain/*` tags) and the deployed model's freshness (`model_freshness`).
"""

import math
from collections.abc import Mapping
from datetime import UTC, datetime

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.deployment.decisions import TRIGGER_TAG
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.core.monitoring.reference import champion_version
from retrain_platform.core.monitoring.triggers import (
    TRIGGERS,
    DriftObservation,
    PastRetrain,
    PerformanceObservation,
    TriggerState,
)
from retrain_platform.core.partitions import partition_end, partition_start
from retrain_platform.defs import keys
from retrain_platform.defs.models import retrain_job_name
from retrain_platform.defs.monitoring import metadata as mon
from retrain_platform.defs.monitoring.model_freshness import observe_model_freshness

ROW_COUNT = "dagster/row_count"  # the validated asset's row count metadata
EPISODE_TAG = "retrain/episode"
MAX_PSI_TAG = "retrain/max_psi"
REQUESTED_AT_TAG = "retrain/requested_at"  # the sensor's "now" when it asked (cooldown reads it)
REPORTS_READ = 200  # newest materializations read per monitoring asset and tick
RUNS_READ = 100  # newest retrain runs read per tick
_S = dg.DagsterRunStatus
IN_FLIGHT = (_S.QUEUED, _S.NOT_STARTED, _S.STARTING, _S.STARTED, _S.CANCELING)


def _latest_per_partition(
    instance: dg.DagsterInstance, key: dg.AssetKey, champion: int
) -> dict[str, dict[str, object]]:
    """Metadata values of each partition's newest materialization made against `champion`."""
    out: dict[str, dict[str, object]] = {}
    for record in instance.fetch_materializations(key, limit=REPORTS_READ).records:
        event = record.asset_materialization
        if event is None or record.partition_key is None or record.partition_key in out:
            continue
        meta = {k: v.value for k, v in event.metadata.items()}
        out[record.partition_key] = meta
    return {
        p: m
        for p, m in out.items()
        if m.get(mon.STATUS) == mon.OK and m.get(mon.CHAMPION_VERSION) == champion
    }


def _drift(instance: dg.DagsterInstance, contract: DatasetContract, champion: int):
    return tuple(
        DriftObservation(
            partition=p,
            # the trigger's statistic (reports made before it existed: the max PSI)
            max_psi=float(m.get(mon.TRIGGER_PSI, m[mon.MAX_PSI])),  # type: ignore[arg-type]
            max_psi_feature=str(m.get(mon.TRIGGER_PSI_FEATURE, m.get(mon.MAX_PSI_FEATURE)) or "")
            or None,
            # a partition whose windowed features are warming up moves the model's scores too:
            # its prediction drift is not evidence of drift
            prediction_ks=(
                float(m[mon.PREDICTION_KS])  # type: ignore[arg-type]
                if m.get(mon.PREDICTION_KS) is not None
                and m.get(mon.PREDICTION_WARMING_UP) is not True
                else None
            ),
        )
        for p, m in _latest_per_partition(
            instance, mon.drift_report_key(contract), champion
        ).items()
    )


def _performance(instance: dg.DagsterInstance, contract: DatasetContract, champion: int):
    key = mon.live_performance_key(contract)
    return tuple(
        PerformanceObservation(p, float(m[mon.ROC_AUC]), int(m.get(mon.ROWS) or 0))  # type: ignore[arg-type]
        for p, m in _latest_per_partition(instance, key, champion).items()
        if m.get(mon.LABELS_KNOWN) is True
        and isinstance(m.get(mon.ROC_AUC), float)
        and math.isfinite(m[mon.ROC_AUC])  # type: ignore[arg-type]
    )


def _new_labelled_rows(
    instance: dg.DagsterInstance, contract: DatasetContract, window_end: datetime, now: datetime
) -> int:
    """Validated rows of the partitions after `window_end` whose labels are due at `now`.

    Each partition counts once, with the row count of its newest materialization (a late file
    re-materializes it with more rows).
    """
    grain = contract.partitioning.grain
    counts: dict[str, int] = {}
    key = keys.validated_key(contract)
    for record in instance.fetch_materializations(key, limit=REPORTS_READ).records:
        event = record.asset_materialization
        partition = record.partition_key
        if event is None or partition is None or partition in counts:
            continue
        rows = event.metadata.get(ROW_COUNT)
        counts[partition] = int(rows.value) if rows is not None else 0  # type: ignore[arg-type]
    return sum(
        rows
        for partition, rows in counts.items()
        if partition_start(partition, grain) >= window_end
        and mon.labels_known_at(contract, partition) <= now
    )


def _aware(moment: datetime | float) -> datetime:
    if isinstance(moment, int | float):
        return datetime.fromtimestamp(moment, UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _requested_at(tags: Mapping[str, str], created: datetime | float) -> datetime:
    """When the sensor asked for a retrain: its `retrain/requested_at` tag (its clock), else the
    run's creation time (runs launched by hand)."""
    text = tags.get(REQUESTED_AT_TAG)
    return _aware(datetime.fromisoformat(text)) if text else _aware(created)


def _runs(instance: dg.DagsterInstance, contract: DatasetContract):
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=retrain_job_name(contract)), limit=RUNS_READ
    )
    in_flight = tuple(r.dagster_run.run_id for r in records if r.dagster_run.status in IN_FLIGHT)
    past = []
    for record in records:
        tags = record.dagster_run.tags
        if tags.get(TRIGGER_TAG) in TRIGGERS and EPISODE_TAG in tags:
            psi = tags.get(MAX_PSI_TAG)
            past.append(
                PastRetrain(
                    trigger=tags[TRIGGER_TAG],
                    episode=tags[EPISODE_TAG],
                    max_psi=float(psi) if psi else None,
                    requested_at=_requested_at(tags, record.create_timestamp),
                )
            )
    return in_flight, tuple(past)


def gather_state(
    instance: dg.DagsterInstance,
    contract: DatasetContract,
    store: MlflowStore,
    name: str,
    now: datetime,
    *,
    simulated_clock: bool = False,
) -> TriggerState:
    """What `decide` needs at `now`, read from the instance and the registry (the model's
    freshness from Dagster's evaluation, or from the clock when it is simulated)."""
    in_flight, past = _runs(instance, contract)
    champion = champion_version(store, name)
    if champion is None:
        return TriggerState(None, None, in_flight=in_flight, past=past)
    dataset = DatasetRef.from_tags(store.client().get_model_version(name, str(champion)).tags)
    window_end = (
        partition_end(dataset.window_end, contract.partitioning.grain)
        if dataset.window_end
        else None
    )
    return TriggerState(
        champion_version=champion,
        champion_window_end=window_end,
        drift=_drift(instance, contract, champion),
        performance=_performance(instance, contract, champion),
        in_flight=in_flight,
        past=past,
        new_labelled_rows=(
            _new_labelled_rows(instance, contract, window_end, now)
            if window_end is not None and contract.policy.retrain_on_new_labelled_rows is not None
            else 0
        ),
        freshness=observe_model_freshness(instance, contract, now, simulated=simulated_clock),
    )
