"""Drives the real sensors and automation of `defs` in-process, on simulated time.

`LoopDriver` ticks a sensor from its definition in `defs` with the cursor it returned last time
(as the daemon keeps it), evaluates the automation conditions with
`dg.evaluate_automation_conditions` (its cursor kept, the evaluation time simulated) and executes
what they request on the instance, tagged as the daemon tags its runs. It decides nothing itself.
`persist` writes the kept cursors into the instance as the sensors' state, so the daemon of
`make dev` on the same home carries on from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from retrain_platform.contracts import DatasetContract
from retrain_platform.core.deployment.decisions import TRIGGER_TAG
from retrain_platform.core.monitoring.reference import champion_version
from retrain_platform.core.partitions import partition_end
from retrain_platform.defs import keys
from retrain_platform.defs.automation import AUTOMATION_SENSOR_NAME
from retrain_platform.defs.ingest.landing_sensor import landing_sensor_name
from retrain_platform.defs.monitoring import metadata as mon
from retrain_platform.defs.monitoring.retrain_sensor import retrain_sensor_name
from retrain_platform.demo import timeline as lt
from retrain_platform.demo.backfill import QUIET, range_tags
from retrain_platform.demo.sensor_state import automation_cursor_text, persist_sensor_cursors
from retrain_platform.resources import ClockResource
from retrain_platform.resources.tracking import MlflowResource

ARRIVAL_DELAY = timedelta(hours=1)  # a day's file lands this long after the day ends
MAX_AUTOMATION_ROUNDS = 6  # evaluations per day; each round's runs may make the next request more


@dataclass
class SimulatedClock:
    """The loop's simulated "now"."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def set(self, simulated: datetime) -> None:
        self.now = simulated

    def resource(self) -> ClockResource:
        """The clock the retrain sensor reads, fixed at the simulated now."""
        return ClockResource(fixed_at=self.now.isoformat())


def arrival(contract: DatasetContract, day: str) -> datetime:
    """When a day's file lands: `ARRIVAL_DELAY` after the day's partition ends."""
    return partition_end(day, contract.partitioning.grain) + ARRIVAL_DELAY


class LoopDriver:
    """Ticks the real sensors and automation on one instance and runs what they request."""

    def __init__(
        self, defs: dg.Definitions, contract: DatasetContract, instance: dg.DagsterInstance
    ) -> None:
        self.defs, self.contract, self.instance = defs, contract, instance
        self.clock = SimulatedClock()
        self.landing = defs.resolve_sensor_def(landing_sensor_name(contract))
        self.retrain = defs.resolve_sensor_def(retrain_sensor_name(contract))
        self.raw_job = defs.get_repository_def().get_job(self.landing.job_name)
        self.asset_job = defs.resolve_implicit_global_asset_job_def()
        self.cursors: dict[str, str | None] = {}
        self.automation_cursor: Any = None

    def _tick(self, sensor: dg.SensorDefinition) -> Any:
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursors.get(sensor.name),
            definitions=self.defs,
            resources={**self.defs.resources, "clock": self.clock.resource()},
        )
        result = sensor.evaluate_tick(context)
        self.cursors[sensor.name] = result.cursor
        return result

    def landing_requests(self) -> list[dg.RunRequest]:
        return list(self._tick(self.landing).run_requests or [])

    def run_landing(self, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        return self.raw_job.execute_in_process(
            instance=self.instance,
            partition_key=request.partition_key,
            tags=request_tags(request),
            run_config=QUIET,
            raise_on_error=False,
        )

    def run_landing_range(self, requests: Sequence[dg.RunRequest]) -> dg.ExecuteInProcessResult:
        """Serve several partitions' requests with one run, as a UI backfill of raw would."""
        partitions = [r.partition_key for r in requests if r.partition_key]
        return self.raw_job.execute_in_process(
            instance=self.instance,
            tags={**range_tags(partitions), TRIGGER_TAG: "landing"},
            run_config=QUIET,
            raise_on_error=False,
        )

    def evaluate_automation(self) -> dict[str, list[dg.AssetKey]]:
        """One evaluation at the simulated time: the requested asset keys by partition."""
        result = dg.evaluate_automation_conditions(
            defs=self.defs,
            instance=self.instance,
            evaluation_time=self.clock.now,
            cursor=self.automation_cursor,
        )
        self.automation_cursor = result.cursor
        by_partition: dict[str, list[dg.AssetKey]] = {}
        for evaluation in result.results:
            key = evaluation.key
            if not isinstance(key, dg.AssetKey):
                continue
            for partition in result.get_requested_partitions(key):
                by_partition.setdefault(partition or "", []).append(key)
        return by_partition

    def settle(self) -> list[dg.ExecuteInProcessResult]:
        """Evaluate and run what the automation requests until it requests nothing more."""
        results = []
        for _ in range(MAX_AUTOMATION_ROUNDS):
            requested = self.evaluate_automation()
            if not requested:
                break
            for partition, asset_keys in sorted(requested.items()):
                results.append(
                    self.asset_job.execute_in_process(
                        instance=self.instance,
                        partition_key=partition or None,
                        asset_selection=asset_keys,
                        tags={
                            "dagster/from_automation_condition": "true",
                            "dagster/sensor_name": AUTOMATION_SENSOR_NAME,
                        },
                        run_config=QUIET,
                        raise_on_error=False,
                    )
                )
        return results

    def retrain_tick(self) -> Any:
        return self._tick(self.retrain)

    def persist(self) -> dict[str, str | None]:
        """Store the sensors' cursors and the automation evaluation state in the instance."""
        cursors = {name: self.cursors.get(name) for name in (self.landing.name, self.retrain.name)}
        cursors[AUTOMATION_SENSOR_NAME] = automation_cursor_text(self.automation_cursor)
        return persist_sensor_cursors(self.instance, self.defs, cursors)

    def champion(self) -> int | None:
        """The registry version the champion alias points to now."""
        mlflow = self.defs.resources["mlflow"]
        assert isinstance(mlflow, MlflowResource)
        return champion_version(mlflow.store(), mlflow.registry_model_name(self.contract))


def request_tags(request: dg.RunRequest) -> dict[str, str]:
    """The request's tags plus its run key, as the daemon tags the run it launches."""
    tags = dict(request.tags)
    if request.run_key:
        tags["dagster/run_key"] = request.run_key
    return tags


def collect_facts(
    contract: DatasetContract,
    day: str,
    results: Sequence[dg.ExecuteInProcessResult],
    facts: dict[str, Any],
) -> list[dict[str, Any]]:
    """Fill `facts` of `day` from the day's runs; return the live performance scores computed.

    Facts: rows landed, quarantined (cast failures and failed row checks) and duplicates removed,
    the validated checks that failed (`blocked` when one of them is blocking), and the drift
    report's numbers. A score is the champion's ROC-AUC on a partition whose labels fell due.
    """
    scores = []
    for result in results:
        for event in result.get_asset_materialization_events():
            key, partition = event.asset_key, event.partition
            meta = {k: v.value for k, v in event.materialization.metadata.items()}
            if key == mon.live_performance_key(contract) and meta.get(mon.STATUS) == mon.OK:
                scores.append(
                    {
                        lt.DAY: day,
                        "partition": partition,
                        "roc_auc": meta.get(mon.ROC_AUC),
                        "rows": meta.get(mon.ROWS),
                        "scored_by": meta.get(mon.CHAMPION_VERSION),
                    }
                )
            if partition != day:
                continue
            if key == keys.raw_key(contract):
                facts["landed"] = meta.get("rows_landed")
                facts["quarantined"] = meta.get("rows_quarantined_cast", 0)
            elif key == keys.validated_key(contract):
                facts["quarantined"] = (facts.get("quarantined") or 0) + meta.get(
                    "rows_quarantined", 0
                )
                facts["duplicates"] = meta.get("duplicates_removed")
            elif key == mon.drift_report_key(contract) and meta.get(mon.STATUS) == mon.OK:
                facts["max_psi"] = meta.get(mon.MAX_PSI)
                facts["max_psi_feature"] = meta.get(mon.MAX_PSI_FEATURE)
                facts["drift_share"] = meta.get(mon.DRIFT_SHARE)
                facts["drifted"] = meta.get("drifted")
        for evaluation in result.get_asset_check_evaluations():
            if (
                evaluation.asset_key == keys.validated_key(contract)
                and evaluation.partition == day
                and not evaluation.passed
            ):
                facts["checks_failed"].append(evaluation.check_name)
                facts["blocked"] = facts.get("blocked", False) or evaluation.blocking
    return scores
