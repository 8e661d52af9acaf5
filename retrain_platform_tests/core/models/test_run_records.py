"""What MLflow's UI shows of a cycle, without a cycle: run names, descriptions, UI links.

The same records written by real cycles are checked in `test_retrain_cycle`; these pin the
rules (which address is linked, what a rejection's description says) on their own.
"""

import pytest

from retrain_platform.core.datasets.ref import DatasetRef
from retrain_platform.core.models.gate import BELOW_MINIMUM, GateFailure, GateVerdict
from retrain_platform.core.models.mlflow_store import (
    model_version_ui_url,
    run_ui_url,
    ui_base_url,
)
from retrain_platform.core.models.run_records import (
    gate_section,
    model_version_description,
    provisional_run_name,
    run_name,
)
from retrain_platform.defs.models.metadata import mlflow_links
from retrain_platform.resources.tracking import UI_URL_ENV_VAR, MlflowResource

REF = DatasetRef("/lake/datasets/t_training", 4, "2026-03-01", "2026-04-08", (), None, None)


def _rejected() -> GateVerdict:
    failure = GateFailure(BELOW_MINIMUM, "roc_auc", "challenger", 0.61, 0.7, "policy minimum")
    return GateVerdict(False, "threshold", (failure,), {"roc_auc": 0.61}, {"roc_auc": 0.8})


@pytest.mark.parametrize(
    ("configured", "tracking_uri", "expected"),
    [
        ("https://mlflow.example/", "sqlite:////x/mlflow.db", "https://mlflow.example"),
        (None, "http://mlflow:5000/", "http://mlflow:5000"),
        ("", "https://tracking.example", "https://tracking.example"),
        (None, "sqlite:////x/mlflow.db", None),
        (None, "postgresql+psycopg2://u@db:5432/mlflow", None),
    ],
)
def test_the_ui_is_the_configured_address_else_an_http_tracking_server(
    configured, tracking_uri, expected
):
    assert ui_base_url(configured, tracking_uri) == expected


def test_links_point_at_the_run_and_version_pages_and_are_absent_without_a_ui():
    assert run_ui_url("http://m", "7", "abc") == "http://m/#/experiments/7/runs/abc"
    assert (
        model_version_ui_url("http://m", "fraud v2", 3) == "http://m/#/models/fraud%20v2/versions/3"
    )
    links = mlflow_links("http://m", experiment_id="7", run_id="abc", name="t", version=3)
    assert {k: v.value for k, v in links.items()} == {
        "mlflow_run_url": "http://m/#/experiments/7/runs/abc",
        "model_version_url": "http://m/#/models/t/versions/3",
    }
    assert mlflow_links(None, experiment_id="7", run_id="abc", name="t", version=3) == {}


def test_the_resource_reads_the_ui_address_from_its_field_then_the_environment(monkeypatch):
    monkeypatch.delenv(UI_URL_ENV_VAR, raising=False)
    local = MlflowResource(tracking_uri="sqlite:////x/mlflow.db", artifact_root="/x")
    assert local.ui_base_url() is None
    monkeypatch.setenv(UI_URL_ENV_VAR, "http://ui.example:5000")
    assert local.ui_base_url() == "http://ui.example:5000"
    named = MlflowResource(
        tracking_uri="sqlite:////x/mlflow.db", artifact_root="/x", ui_url="http://own:1"
    )
    assert named.ui_base_url() == "http://own:1"


def test_run_names_tell_runs_apart_by_model_version_and_trigger():
    assert run_name("transactions", 12, "drift") == "transactions-v12-drift"
    assert provisional_run_name("transactions", 4, "drift") == "transactions-ds4-drift"


def test_a_rejected_versions_description_names_its_run_and_every_reason():
    text = model_version_description(
        REF, trigger="age", dagster_run_id="run-1", gate=gate_section(_rejected(), 2, "run-2")
    )
    assert text.startswith("Trained by Dagster run `run-1` on training set v4")
    assert "(window 2026-03-01 .. 2026-04-08), trigger `age`" in text
    assert "**Gate rejected** (threshold, against champion v2), Dagster run `run-2`." in text
    assert "- below_minimum: roc_auc of challenger is 0.6100, bound 0.7000" in text
    pending = model_version_description(REF, trigger="age", dagster_run_id="run-1")
    assert pending.endswith("**Gate pending**.")
