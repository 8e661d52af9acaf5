"""The landing-zone sensor: each tick records file statuses and requests the changed partitions.

Requests are content-based: a partition is requested when the digest of its landing files differs
from the last one ingested (the ledger knows it), whatever the cursor says, so a lost cursor, a
restart or a backfill outside the sensor requests nothing twice. A partition whose requested run
is still queued or running is not requested again; one whose runs all ended without ingesting it
(killed, failed) is requested again under a new run key.
"""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.bounded import clip_text
from retrain_platform.core.deployment.decisions import TRIGGER_TAG
from retrain_platform.core.ingest import ledger
from retrain_platform.core.ingest.landing_changes import PartitionRequest
from retrain_platform.core.ingest.landing_tick import plan_tick
from retrain_platform.defs import keys
from retrain_platform.defs.ingest.ledger import ledger_observation
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.resources import ClockResource, DeltaLakeResource, LandingZoneResource

FILES_TAG = "retrain/files"  # the landing files a raw run was requested for
DIGEST_TAG = "retrain/landing_digest"  # <partition>:<digest of its files> a raw run ingests


def landing_sensor_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_landing_sensor"


def _run_request(instance: dg.DagsterInstance, request: PartitionRequest) -> dg.RunRequest | None:
    """The run request of one partition, or None while an earlier run for it is in flight."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags={DIGEST_TAG: request.content_key}), limit=50
    )
    if any(not run.is_finished for run in runs):
        return None
    attempt = f":attempt{len(runs) + 1}" if runs else ""
    return dg.RunRequest(
        run_key=request.content_key + attempt,
        partition_key=request.partition,
        tags={
            TRIGGER_TAG: "landing",
            FILES_TAG: clip_text(",".join(request.files)),
            DIGEST_TAG: request.content_key,
        },
    )


def build_landing_sensor(contract: DatasetContract) -> dg.SensorDefinition:
    """`<dataset>_landing_sensor`: requests `raw/<dataset>_raw` per partition whose files
    changed."""
    partitions = partitions_for(contract)

    @dg.sensor(
        name=landing_sensor_name(contract),
        target=[keys.raw_key(contract)],
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Watches the {contract.dataset} landing zone: records every file in the landing "
            "ledger, moves unreadable files aside, and requests the raw partitions whose files "
            "changed since they were last ingested (late files re-request old ones)."
        ),
    )
    def landing_sensor(
        context: dg.SensorEvaluationContext,
        landing: LandingZoneResource,
        lake: DeltaLakeResource,
        clock: ClockResource,
    ) -> dg.SensorResult:
        uri = lake.uri(keys.LANDING, keys.ledger_table(contract))
        existing = ledger.read(uri, lake.storage_options)
        plan = plan_tick(
            contract,
            landing_dir=landing.landing_dir(contract.dataset),
            rejected_dir=landing.rejected_dir(contract.dataset),
            index_dir=landing.index_dir(contract.dataset),
            existing=existing,
            valid=set(partitions.get_partition_keys(dynamic_partitions_store=context.instance)),
            now=clock.now(),
            settings=landing.settings(),
        )
        for name in plan.restored:
            context.log.info(f"landing file {name} changed since it was moved aside: read again")
        for message in plan.warnings:
            context.log.warning(message)
        events = []
        if plan.records:
            ledger.append(uri, plan.records, lake.storage_options)
            events.append(ledger_observation(contract, existing, plan.records))
        requests = [r for r in (_run_request(context.instance, p) for p in plan.requests) if r]
        context.log.info(
            f"{plan.files_seen} landing file(s); {len(plan.records)} status change(s); "
            f"{len(requests)} partition(s) requested"
        )
        if not requests:
            return dg.SensorResult(
                skip_reason=f"no partition's files changed among {plan.files_seen} file(s)",
                asset_events=events,
            )
        return dg.SensorResult(run_requests=requests, asset_events=events)

    return landing_sensor
