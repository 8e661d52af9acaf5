"""The code location: what `retrain_platform.definitions` exposes and how it is found."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

from retrain_platform.contracts import CONTRACT_ENV_VAR, DEFAULT_CONTRACT_PATH, active_contracts
from retrain_platform.definitions import build_definitions

REPO_ROOT = Path(__file__).resolve().parents[2]

RAW = dg.AssetKey(["raw", "transactions_raw"])
VALIDATED = dg.AssetKey(["validated", "transactions_validated"])
FEATURES = dg.AssetKey(["features", "transactions_card_history"])
DATASET = dg.AssetKey(["datasets", "transactions_training"])
QUARANTINE = dg.AssetKey(["validated", "transactions_quarantine"])

pytestmark = [
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
]

BLOCKING = {"matches_schema", "has_min_rows", "not_all_rows_refused"}
NOT_BLOCKING = {"label_rate_in_band", "null_share_within_limit", "newest_partition_is_fresh"}


@pytest.fixture(scope="module")
def module_defs() -> dg.Definitions:
    if os.environ.get(CONTRACT_ENV_VAR, "").strip():
        pytest.skip(f"{CONTRACT_ENV_VAR} is set: the module-level defs follow it, not the default")
    from retrain_platform.definitions import defs

    return defs


def test_module_defs_are_loadable(module_defs):
    dg.Definitions.validate_loadable(module_defs)


def test_asset_keys_and_groups(module_defs):
    graph = module_defs.resolve_asset_graph()
    groups = {spec.key: spec.group_name for spec in module_defs.resolve_all_asset_specs()}
    assert {
        RAW: "transactions_ingest",
        VALIDATED: "transactions_validate",
        QUARANTINE: "transactions_validate",
        FEATURES: "transactions_features",
        DATASET: "transactions_datasets",
    }.items() <= groups.items()
    assert {key.path[0] for key in groups} == {
        "landing",
        "raw",
        "validated",
        "features",
        "datasets",
        "models",
        "deployment",
        "monitoring",
    }
    assert graph.get(RAW).parent_keys == {dg.AssetKey(["landing", "transactions_landing"])}
    assert graph.get(VALIDATED).parent_keys == {RAW}
    assert graph.get(QUARANTINE).parent_keys == {RAW}
    assert graph.get(FEATURES).parent_keys == {VALIDATED}
    assert {VALIDATED, FEATURES} <= graph.get(DATASET).parent_keys


def test_validated_asset_has_six_checks_three_blocking(module_defs):
    graph = module_defs.resolve_asset_graph()
    specs = {
        key.name: graph.get_check_spec(key) for key in graph.get_check_keys_for_assets({VALIDATED})
    }
    assert set(specs) == BLOCKING | NOT_BLOCKING
    assert {name for name, spec in specs.items() if spec.blocking} == BLOCKING
    assert not graph.get_check_keys_for_assets({RAW, QUARANTINE})
    # blocking checks run in the validate step itself, per partition (without partitions_def a
    # check would load every partition), so a failure stops downstream steps of the same run
    validate = module_defs.resolve_assets_def(VALIDATED)
    step_specs = {spec.name: spec for spec in validate.check_specs}
    assert BLOCKING <= set(step_specs)
    raw_partitions = module_defs.resolve_assets_def(RAW).partitions_def
    assert all(step_specs[name].partitions_def == raw_partitions for name in BLOCKING)
    # validated and quarantine come out of one step
    assert module_defs.resolve_assets_def(QUARANTINE) is validate


def test_sensors_run_by_default(module_defs):
    sensors = {s.name: s for s in module_defs.sensors}
    assert set(sensors) >= {
        "transactions_landing_sensor",
        "retrain_platform_automation",
        "retrain_run_failure_alert",
    }
    for sensor in sensors.values():
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, sensor.name
    assert isinstance(
        sensors["retrain_platform_automation"], dg.AutomationConditionSensorDefinition
    )
    landing_job = module_defs.resolve_job_def(sensors["transactions_landing_sensor"].job_name)
    assert landing_job.asset_layer.executable_asset_keys == {RAW}


def test_jobs_and_backfill_policy(module_defs):
    ingest = module_defs.resolve_job_def("transactions_ingest_job")
    validate = module_defs.resolve_job_def("transactions_validate_job")
    assert ingest.asset_layer.executable_asset_keys == {RAW}
    assert validate.asset_layer.executable_asset_keys == {VALIDATED, QUARANTINE}
    assert ingest.partitions_def == module_defs.resolve_assets_def(RAW).partitions_def
    assert module_defs.resolve_assets_def(RAW).backfill_policy == dg.BackfillPolicy.single_run()


def test_validated_layer_follows_upstream_automation(module_defs):
    specs = {spec.key: spec for spec in module_defs.resolve_all_asset_specs()}
    assert specs[RAW].automation_condition is None
    for key in (VALIDATED, QUARANTINE):
        assert specs[key].automation_condition is not None
        assert specs[key].automation_condition.get_label() == "follows_upstream"


def test_workspace_and_pyproject_point_at_the_same_module():
    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    location = workspace["load_from"][0]["python_module"]
    tool = pyproject["tool"]["dagster"]
    assert location["module_name"] == tool["module_name"] == "retrain_platform.definitions"
    assert location["location_name"] == tool["code_location_name"]


def test_two_contracts_in_one_location(contract, weather_contract, home, monkeypatch):
    """`RETRAIN_CONTRACT` with both shipped contracts selects both, in one code location."""
    paths = [DEFAULT_CONTRACT_PATH, DEFAULT_CONTRACT_PATH.with_name("weather.yaml")]
    monkeypatch.setenv(CONTRACT_ENV_VAR, os.pathsep.join(str(p) for p in paths))
    assert [c.dataset for c in active_contracts()] == ["transactions", "weather"]
    defs = build_definitions(home=home)
    dg.Definitions.validate_loadable(defs)
    keys = set(defs.resolve_asset_graph().get_all_asset_keys())
    assert keys == {
        dg.AssetKey([layer, name])
        for layer, name in [
            ("landing", "transactions_landing"),
            ("landing", "weather_landing"),
            ("raw", "transactions_raw"),
            ("validated", "transactions_validated"),
            ("validated", "transactions_quarantine"),
            ("raw", "weather_raw"),
            ("validated", "weather_validated"),
            ("validated", "weather_quarantine"),
            ("features", "weather_series"),
            ("features", "weather_series_live"),
            ("features", "weather_registry"),
            ("datasets", "weather_training"),
            ("models", "weather_candidate"),
            ("models", "weather_registered"),
            ("deployment", "weather_champion"),
            ("monitoring", "weather_drift"),
            ("monitoring", "weather_performance"),
            ("monitoring", "weather_policy_backtest"),
            ("features", "transactions_card_history"),
            ("features", "transactions_card_history_live"),
            ("features", "transactions_registry"),
            ("datasets", "transactions_training"),
            ("models", "transactions_candidate"),
            ("models", "transactions_registered"),
            ("deployment", "transactions_champion"),
            ("monitoring", "transactions_drift"),
            ("monitoring", "transactions_performance"),
            ("monitoring", "transactions_policy_backtest"),
        ]
    }
    assert {s.name for s in defs.sensors} >= {
        "transactions_landing_sensor",
        "weather_landing_sensor",
        "retrain_platform_automation",
    }
    assert {j.name for j in defs.jobs} >= {
        "transactions_ingest_job",
        "transactions_validate_job",
        "weather_ingest_job",
        "weather_validate_job",
    }
    # each dataset's whole loop, in its own groups: no group holds two datasets' assets
    groups: dict[str, set[str]] = {}
    for spec in defs.resolve_all_asset_specs():
        dataset = spec.tags["dataset"]
        assert spec.group_name and spec.group_name.startswith(f"{dataset}_"), spec.key
        groups.setdefault(spec.group_name, set()).add(dataset)
    assert all(len(datasets) == 1 for datasets in groups.values()), groups
    for dataset in ("transactions", "weather"):
        assert {
            f"{dataset}_{layer}"
            for layer in ("ingest", "validate", "features", "datasets", "models", "deployment")
        } | {f"{dataset}_monitoring"} <= set(groups)
        assert {f"{dataset}_landing_sensor", f"{dataset}_retrain_sensor"} <= {
            s.name for s in defs.sensors
        }
        assert defs.resolve_job_def(f"{dataset}_retrain_job") is not None
    # the Dagster-evaluated freshness policies sit on the real assets
    graph = defs.resolve_asset_graph()
    for dataset in ("transactions", "weather"):
        policy = graph.get(dg.AssetKey(["deployment", f"{dataset}_champion"])).freshness_policy
        assert policy.fail_window.to_timedelta() == timedelta(days=30)
    for key in (VALIDATED, FEATURES):
        assert graph.get(key).freshness_policy.fail_window.to_timedelta() == timedelta(days=3)
    # weather's contract sets no max_staleness: no data freshness policy, no staleness alert
    assert graph.get(dg.AssetKey(["validated", "weather_validated"])).freshness_policy is None
    assert "weather_data_freshness_alert" not in {s.name for s in defs.sensors}
    assert "transactions_data_freshness_alert" in {s.name for s in defs.sensors}
    weather = defs.resolve_assets_def(dg.AssetKey(["raw", "weather_raw"])).partitions_def
    transactions = defs.resolve_assets_def(RAW).partitions_def
    assert isinstance(weather, dg.MonthlyPartitionsDefinition)
    assert isinstance(transactions, dg.DailyPartitionsDefinition)
    # the resources point at the given home, not at the process's default home
    assert defs.resources["landing"].landing_root == str(home.landing_root)
    assert defs.resources["lake"].root_uri == home.lake_uri


@pytest.mark.parametrize(
    "module",
    [
        "retrain_platform.defs.ingest.landing_sensor",
        "retrain_platform.defs.jobs",
        "retrain_platform.defs.validate",
        "retrain_platform.definitions",
        "retrain_platform.demo.backfill",
    ],
)
def test_module_imports_on_its_own(module):
    """Each module must import in a fresh interpreter, whatever was imported before it."""
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
