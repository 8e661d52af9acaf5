"""The retrain sensor on a real Dagster instance and a real MLflow registry.

Drift reports here are built from real `drift_summary` runs on generated data (stationary days,
and days with injected covariate drift) and reported as materializations of the drift asset;
live performance from scores with a controlled decay. The champion is a registry version whose
tags record its training window, as a trained one has. The age trigger reads Dagster's
freshness state of the deployment: tested with the real daemon in `test_model_freshness.py`.
"""

import logging
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.deployment.decisions import (
    RETRAIN,
    TRIGGER_TAG,
    append_decision,
    read_decisions,
)
from retrain_platform.core.deployment.decisions import Decision as HistoryRow
from retrain_platform.core.deployment.registry import CHAMPION
from retrain_platform.core.lake import table_uri
from retrain_platform.core.models.metrics import classification_metrics
from retrain_platform.core.models.mlflow_store import MlflowStore
from retrain_platform.core.monitoring.drift import (
    build_reference_profile,
    drift_features,
    drift_summary,
)
from retrain_platform.core.synthetic import DriftSpec, generate_day
from retrain_platform.defs import keys
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.monitoring import metadata as mon
from retrain_platform.defs.monitoring.retrain_sensor import build_retrain_sensor
from retrain_platform_tests.fixtures.models import with_policy
from retrain_platform_tests.fixtures.sensors import retrain_sensor_context

DAY0 = date(2026, 3, 1)
DRIFT_DAY = DAY0 + timedelta(days=6)
ROWS = 3000


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> MlflowStore:
    root = Path(tmp_path_factory.mktemp("mlflow"))
    return MlflowStore(f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"))


def register_champion(store: MlflowStore, name: str, window_end: str) -> None:
    """A registry version tagged with its training set, the way a trained champion is."""
    client = store.client()
    client.create_registered_model(name)
    ref = DatasetRef(f"/lake/datasets/{name}", 0, "2026-01-01", window_end, (), None, None)
    version = client.create_model_version(name, source="file:///nowhere", tags=ref.tags())
    client.set_registered_model_alias(name, CHAMPION, version.version)


@pytest.fixture
def champion(contract, store, home, request):
    """A fresh registered model per test (its name from the test), champion window ending
    yesterday, its promotion recorded in the decision history as the deployment step does."""
    name = f"m{abs(hash(request.node.name)) % 10**8}"
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    register_champion(store, name, yesterday)
    promoted = HistoryRow(
        decided_at=datetime.now(UTC) - timedelta(hours=1),
        event=RETRAIN,
        dataset=name,
        trigger="schedule",
        reason="first champion",
        promoted=True,
        champion_before=None,
        champion_after=1,
    )
    append_decision(decisions_uri(home, name), promoted)
    return name


def decisions_uri(home, dataset: str) -> str:
    return table_uri(home.lake_uri, mk.DEPLOYMENT, f"{dataset}_decisions")


def test_a_champion_moved_by_hand_is_recorded_at_the_next_tick(
    contract, champion, store, instance, home
):
    client = store.client()
    ref = DatasetRef(f"/lake/datasets/{champion}", 0, "2026-01-01", "2026-01-02", (), None, None)
    second = client.create_model_version(champion, source="file:///nowhere", tags=ref.tags())
    client.set_registered_model_alias(champion, CHAMPION, second.version)
    sensor = build_retrain_sensor(named(contract, champion))
    first, lines = logged_tick(sensor, instance, home, store)
    history = read_decisions(decisions_uri(home, champion))
    moves = history.filter(pl.col("event") == "alias_move")
    assert moves.select("champion_before", "champion_after").rows() == [(1, 2)]
    assert any("champion moved outside the platform: 1 -> 2" in line for line in lines)
    logged_tick(sensor, instance, home, store, first.cursor)  # noticed once, not again
    assert (
        read_decisions(decisions_uri(home, champion)).filter(pl.col("event") == "alias_move").height
        == 1
    )


@pytest.fixture(scope="module")
def drift_metadata(contract) -> dict[str, dict[str, object]]:
    """Drift-report metadata of a stationary day and a drifted day, from real summaries."""
    numeric, categorical = drift_features(contract)
    spec = DriftSpec(DRIFT_DAY, "covariate")
    reference = pl.concat(
        [generate_day(contract, DAY0 + timedelta(days=i), rows=ROWS, seed=7) for i in range(3)]
    )
    profile = build_reference_profile(reference, numeric, categorical, row_cap=50_000, seed=0)
    out = {}
    for day in (DRIFT_DAY - timedelta(days=1), DRIFT_DAY):
        current = generate_day(contract, day, rows=ROWS, seed=7, drift=spec)
        summary = drift_summary(
            current,
            profile,
            row_cap=50_000,
            seed=0,
            psi_threshold=contract.policy.drift_psi_threshold,
            ks_threshold=contract.policy.drift_ks_threshold,
        )
        out[day.isoformat()] = {
            mon.STATUS: mon.OK,
            mon.CHAMPION_VERSION: 1,
            mon.MAX_PSI: summary.max_psi,
            mon.MAX_PSI_FEATURE: summary.max_psi_feature or "",
            mon.DRIFT_SHARE: summary.drift_share,
            mon.SAMPLE_ROWS: float(summary.current_rows),
        }
    return out


def report(instance, key: dg.AssetKey, partition: str, metadata) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=key, partition=partition, metadata=metadata)
    )


def tick(sensor, instance, home, store, cursor=None):
    return sensor.evaluate_tick(retrain_sensor_context(instance, home, store, cursor))


def named(contract, name):
    """The contract under another dataset name, so that each test has its own model."""
    return replace(contract, dataset=name)


def test_injected_drift_fires_and_stationary_data_does_not(
    contract, champion, store, instance, home, drift_metadata
):
    c = named(contract, champion)
    stationary, drifted = sorted(drift_metadata)
    assert drift_metadata[stationary][mon.MAX_PSI] < contract.policy.drift_psi_threshold
    assert drift_metadata[drifted][mon.MAX_PSI] > contract.policy.drift_psi_threshold
    sensor = build_retrain_sensor(c)
    report(instance, mon.drift_report_key(c), stationary, drift_metadata[stationary])
    quiet = tick(sensor, instance, home, store)
    assert quiet.run_requests == [] and "no drift" in quiet.skip_message
    report(instance, mon.drift_report_key(c), drifted, drift_metadata[drifted])
    fired = tick(sensor, instance, home, store, quiet.cursor)
    (request,) = fired.run_requests
    assert request.tags[TRIGGER_TAG] == "drift"
    assert request.run_key == f"drift:1:{drifted}"
    assert f"drift on {drifted}" in request.tags["retrain/reason"]


def test_no_retrain_decisions_are_recorded_once_per_state(
    contract, champion, store, instance, home, drift_metadata
):
    c = named(contract, champion)
    sensor = build_retrain_sensor(c)
    stationary = min(drift_metadata)
    report(instance, mon.drift_report_key(c), stationary, drift_metadata[stationary])
    first = tick(sensor, instance, home, store)
    second = tick(sensor, instance, home, store, first.cursor)
    assert second.run_requests == []
    history = read_decisions(table_uri(home.lake_uri, mk.DEPLOYMENT, mk.decisions_table(c)))
    assert history.get_column("event").to_list() == ["retrain", "no_retrain"]
    assert history.row(1, named=True)["reason"].startswith("healthy")
    assert history.row(1, named=True)["champion_after"] == 1


def test_decayed_live_performance_fires(contract, champion, store, instance, home):
    c = named(contract, champion)
    rng = np.random.default_rng(5)
    labels = rng.random(4000) < 0.06
    key = mon.live_performance_key(c)
    for partition, signal in (("2026-03-01", 3.0), ("2026-03-02", 0.1)):
        scores = 1 / (1 + np.exp(-(signal * labels + rng.normal(size=labels.size))))
        metrics = classification_metrics(labels.astype(np.int8), scores, threshold=0.3)
        report(instance, key, partition, {
            mon.STATUS: mon.OK, mon.CHAMPION_VERSION: 1, mon.LABELS_KNOWN: True,
            mon.ROC_AUC: metrics["roc_auc"], mon.ROWS: labels.size,
        })  # fmt: skip
    (request,) = tick(build_retrain_sensor(c), instance, home, store).run_requests
    assert request.tags[TRIGGER_TAG] == "performance"
    assert request.run_key == "performance:1:2026-03-02"


def test_a_run_in_flight_holds_the_sensor(
    contract, champion, store, instance, home, drift_metadata
):
    c = named(contract, champion)
    drifted = max(drift_metadata)
    report(instance, mon.drift_report_key(c), drifted, drift_metadata[drifted])

    @dg.op
    def noop() -> None:
        """Stands in for the retrain job's steps."""

    @dg.job(name=f"{champion}_retrain_job")
    def queued_retrain() -> None:
        noop()

    instance.create_run_for_job(queued_retrain, status=dg.DagsterRunStatus.STARTED)
    result = tick(build_retrain_sensor(c), instance, home, store)
    assert result.run_requests == [] and "in flight" in result.skip_message


def test_new_labelled_rows_fire_above_the_threshold_and_not_below(contract, store, instance, home):
    name = "new_rows_model"
    register_champion(store, name, "2026-03-01")
    c = with_policy(
        named(contract, name), retrain_on_new_labelled_rows=5000, max_model_age_days=10**5
    )
    sensor = build_retrain_sensor(c)
    validated = keys.validated_key(c)
    today = datetime.now(UTC).date().isoformat()
    # the window's own last day and today's rows (labels not due) do not count
    for partition, rows in (("2026-03-01", 9000), ("2026-03-02", 2000), (today, 9000)):
        report(instance, validated, partition, {"dagster/row_count": rows})
    quiet = tick(sensor, instance, home, store)
    assert quiet.run_requests == [] and "(2000 new labelled rows of 5000)" in quiet.skip_message
    # a late file re-materializes 03-02 with more rows: counted once, with its newest count
    report(instance, validated, "2026-03-02", {"dagster/row_count": 2600})
    report(instance, validated, "2026-03-03", {"dagster/row_count": 2400})
    (request,) = tick(sensor, instance, home, store, quiet.cursor).run_requests
    assert request.tags[TRIGGER_TAG] == "new_data" and request.run_key == "new_data:1:1"
    assert request.tags["retrain/reason"].startswith("5000 labelled rows arrived since")


class _Lines(logging.Handler):
    """The messages a sensor context's logger receives (what the tick's "View logs" shows)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def logged_tick(sensor, instance, home, store, cursor=None):
    """`tick`, and the lines the tick logged."""
    context = retrain_sensor_context(instance, home, store, cursor)
    handler = _Lines()
    context.log.addHandler(handler)
    return sensor.evaluate_tick(context), handler.lines


def test_every_tick_logs_its_decision_and_inputs(
    contract, champion, store, instance, home, drift_metadata
):
    """The tick's log says why: the reason `decide` returned and the inputs it read."""
    c = named(contract, champion)
    sensor = build_retrain_sensor(c)
    stationary, drifted = sorted(drift_metadata)
    report(instance, mon.drift_report_key(c), stationary, drift_metadata[stationary])
    quiet, (line,) = logged_tick(sensor, instance, home, store)
    assert quiet.run_requests == []
    assert line.startswith(f"{champion}_retrain_sensor at ")
    assert f"no retrain (healthy): {quiet.skip_message} | inputs: " in line
    psi = drift_metadata[stationary][mon.MAX_PSI]
    assert f"latest {stationary} max PSI {psi:.3f}" in line
    assert f"(threshold {contract.policy.drift_psi_threshold:g})" in line
    assert "champion v1" in line and "retrain runs in flight: 0" in line
    # the same state again is not recorded in the decision history again, but still logged
    again, (line,) = logged_tick(sensor, instance, home, store, quiet.cursor)
    assert f"no retrain (healthy): {again.skip_message}" in line
    report(instance, mon.drift_report_key(c), drifted, drift_metadata[drifted])
    fired, (line,) = logged_tick(sensor, instance, home, store, again.cursor)
    (request,) = fired.run_requests
    assert f"retrain [drift] (retrain): {request.tags['retrain/reason']}" in line
