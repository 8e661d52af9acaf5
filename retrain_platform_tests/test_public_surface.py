"""A snapshot of the platform's public surface, so moving code between modules cannot change it.

The surface is what users and deployments name: asset keys with their groups, kinds, tags,
partitioning and automation; checks and whether they block; jobs with their op names (run config
names ops); sensors, schedules and resource keys; the MLflow experiment and registered-model
names; the Feast objects `feast apply` finds; the CLI's subcommands and options; the Makefile's
targets; and the string constants (run tags, metadata keys, table suffixes) sensors read back.

It reads the surface only through entry points that outside code uses (`definitions`,
`contracts`, `home`, the `feature_store/` repo, the installed `retrain-platform` script), never
through the modules being moved. `RETRAIN_UPDATE_SNAPSHOT=1` rewrites the snapshot after an
intended change of the surface; review its diff like code.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, load_contract
from retrain_platform.definitions import build_definitions
from retrain_platform.home import HomeLayout

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "retrain_platform"
SNAPSHOT = Path(__file__).with_name("public_surface.json")
SHIPPED_CONTRACTS = sorted(DEFAULT_CONTRACT_PATH.parent.glob("*.yaml"))


def _assets_and_checks(defs: Any) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        condition = node.automation_condition
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "tags": dict(sorted(node.tags.items())),
            "partitions": type(node.partitions_def).__name__ if node.partitions_def else None,
            "automation": condition.get_label() if condition is not None else None,
            "deps": sorted(dep.to_user_string() for dep in node.parent_keys),
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()):
        spec = graph.get_check_spec(check_key)
        checks[check_key.to_user_string()] = {"blocking": spec.blocking}
    return {"assets": assets, "checks": checks}


def _orchestration(defs: Any) -> dict[str, Any]:
    jobs = {
        job.name: sorted(node.name for node in job.nodes)
        for job in defs.resolve_all_job_defs()
        if not job.name.startswith("__")
    }
    return {
        "jobs": dict(sorted(jobs.items())),
        "sensors": sorted(sensor.name for sensor in defs.sensors or []),
        "schedules": sorted(schedule.name for schedule in defs.schedules or []),
        "resources": sorted(defs.resources or {}),
    }


def _mlflow_names(defs: Any, contracts: list[Any]) -> dict[str, dict[str, str]]:
    mlflow = defs.resources["mlflow"]
    return {
        contract.dataset: {
            "experiment": mlflow.experiment_name(contract),
            "registered_model": mlflow.registry_model_name(contract),
        }
        for contract in contracts
    }


def _feast_objects(env: dict[str, str]) -> list[str]:
    """`<type> <name>` of every object the Feast repo module binds, as `feast apply` sees them."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('fd', {str(REPO / 'feature_store' / 'feature_definitions.py')!r})\n"  # noqa: E501
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "import feast\n"
        "kinds = (feast.Entity, feast.FeatureView, feast.FeatureService)\n"
        "for name, obj in sorted(vars(module).items()):\n"
        "    if isinstance(obj, kinds) or type(obj).__name__.endswith('Source'):\n"
        "        print(type(obj).__name__, name)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split("\n")[:-1]


def _cli(env: dict[str, str]) -> dict[str, list[str]]:
    script = Path(sys.executable).with_name("retrain-platform")

    def help_of(*words: str) -> str:
        return subprocess.run(
            [str(script), *words, "--help"], env=env, capture_output=True, text=True, check=True
        ).stdout

    top = help_of()
    choices = re.search(r"\{([a-z,-]+)\}", top)
    assert choices, top
    return {
        command: sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_of(command))))
        for command in sorted(choices.group(1).split(","))
    }


def _makefile_targets() -> list[str]:
    text = (REPO / "Makefile").read_text()
    return sorted(set(re.findall(r"^([a-zA-Z][\w-]*):(?!=)", text, flags=re.MULTILINE)))


def _string_constants() -> list[str]:
    """Values of module-level UPPER_CASE string constants anywhere in the package."""
    values = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            value = getattr(node, "value", None)
            named = [t for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
            if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
                values.add(value.value)
    return sorted(values)


def _run_tags() -> list[str]:
    """Every `retrain/...` run-tag literal in the package."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        found.update(re.findall(r"[\"'](retrain/[a-z_]+)[\"']", path.read_text()))
    return sorted(found)


def current_surface(tmp_path: Path) -> dict[str, Any]:
    home = HomeLayout(tmp_path / "home")
    env = {**os.environ, "RETRAIN_HOME": str(tmp_path / "home")}
    env["RETRAIN_CONTRACT"] = os.pathsep.join(str(path) for path in SHIPPED_CONTRACTS)
    contracts = [load_contract(path) for path in SHIPPED_CONTRACTS]
    defs = build_definitions(contracts, home)
    return {
        **_assets_and_checks(defs),
        **_orchestration(defs),
        "mlflow": _mlflow_names(defs, contracts),
        "feast": _feast_objects(env),
        "cli": _cli(env),
        "makefile_targets": _makefile_targets(),
        "run_tags": _run_tags(),
        "string_constants": _string_constants(),
    }


@pytest.fixture(scope="module")
def surface(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return current_surface(tmp_path_factory.mktemp("surface"))


def test_public_surface_matches_the_snapshot(surface: dict[str, Any]) -> None:
    if os.environ.get("RETRAIN_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(surface, indent=1, sort_keys=True) + "\n")
    recorded = json.loads(SNAPSHOT.read_text())
    # New string constants may appear (a literal given a name); none may disappear.
    missing = sorted(set(recorded.pop("string_constants")) - set(surface["string_constants"]))
    assert missing == [], f"string constants no longer defined anywhere: {missing}"
    current = {key: value for key, value in surface.items() if key != "string_constants"}
    for section in sorted(recorded):
        assert current.get(section) == recorded[section], f"public surface changed: {section}"
    assert sorted(current) == sorted(recorded)


def test_the_snapshot_sees_every_layer(surface: dict[str, Any]) -> None:
    """Guards the probe itself: an empty reading would make the comparison vacuous."""
    layers = {key.split("/")[0] for key in surface["assets"]}
    assert {"raw", "validated", "features", "datasets", "models", "deployment"} <= layers
    assert any(check.endswith("evaluation_gate") for check in surface["checks"])
    assert {"demo", "serve", "backtest", "rollback"} <= set(surface["cli"])
    assert "--contract" in surface["cli"]["backtest"]
    assert {"demo", "test", "lint", "dev"} <= set(surface["makefile_targets"])
    assert any(line.startswith("FeatureView ") for line in surface["feast"])
    assert importlib.util.find_spec("retrain_platform.definitions") is not None
