"""The landing-zone sensor: new or changed files request exactly the partitions they touch."""

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.decisions import TRIGGER_TAG
from retrain_platform.core.ingest.landing import list_landing_files
from retrain_platform.core.ingest.landing_changes import LandingCursor, changed_files, plan_requests
from retrain_platform.core.ingest.landing_index import index_files
from retrain_platform.defs import keys
from retrain_platform.defs.partitions import partitions_for
from retrain_platform.resources import LandingZoneResource

FILES_TAG = "retrain/files"  # the landing files a raw run was requested for


def landing_sensor_name(contract: DatasetContract) -> str:
    return f"{contract.dataset}_landing_sensor"


def build_landing_sensor(contract: DatasetContract) -> dg.SensorDefinition:
    """`<dataset>_landing_sensor`: requests `raw/<dataset>` for each partition a file touches."""
    partitions = partitions_for(contract)

    @dg.sensor(
        name=landing_sensor_name(contract),
        target=[keys.raw_key(contract)],
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Watches the {contract.dataset} landing zone; a new or changed file requests "
            "the raw partitions its rows belong to (late files re-request old ones)."
        ),
    )
    def landing_sensor(
        context: dg.SensorEvaluationContext, landing: LandingZoneResource
    ) -> dg.SensorResult:
        cursor = LandingCursor.parse(context.cursor)
        files, refused = list_landing_files(landing.landing_dir(contract.dataset))
        changed = changed_files(files, cursor)
        entries, _ = index_files(changed, contract, landing.index_dir(contract.dataset))
        valid = set(partitions.get_partition_keys(dynamic_partitions_store=context.instance))
        plan = plan_requests(changed, entries, refused, cursor, valid)
        for item in plan.newly_refused:
            context.log.warning(f"refused landing file {item.name!r}: {item.reason}")
        for name, error in plan.unreadable.items():
            context.log.error(
                f"landing file {name} cannot be read ({error}); the next raw run moves it aside"
            )
        for name, keys_outside in plan.outside_partitions.items():
            context.log.warning(
                f"landing file {name} has rows outside the partition range: "
                f"{', '.join(sorted(keys_outside)[:5])}"
            )
        requests = [
            dg.RunRequest(
                run_key=r.run_key,
                partition_key=r.partition,
                tags={TRIGGER_TAG: "landing", FILES_TAG: ",".join(r.files)[:200]},
            )
            for r in plan.requests
        ]
        if not requests:
            return dg.SensorResult(
                skip_reason=f"no new files among {len(files)}", cursor=plan.cursor.dumps()
            )
        return dg.SensorResult(run_requests=requests, cursor=plan.cursor.dumps())

    return landing_sensor
