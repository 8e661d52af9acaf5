"""The project as tools see it: a `dg` project that loads, and imports that only go down."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(args: list[str], cwd: Path, env_home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "RETRAIN_HOME": str(env_home),
        "DAGSTER_HOME": str(env_home / "dagster"),
        "COLUMNS": "200",
    }
    (env_home / "dagster").mkdir(parents=True, exist_ok=True)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_dg_checks_and_lists_the_code_location(tmp_path: Path) -> None:
    checked = _run([str(BIN / "dg"), "check", "defs"], REPO, tmp_path)
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = _run([str(BIN / "dg"), "list", "defs", "--json"], REPO, tmp_path)
    assert listed.returncode == 0, listed.stderr[-3000:]
    sections = json.loads(listed.stdout)
    assets = {asset["asset_key"] for asset in sections["assets"]}
    assert {
        "raw/transactions_raw",
        "models/transactions_candidate",
        "deployment/transactions_champion",
    } <= assets
    assert any(job["name"] == "transactions_retrain_job" for job in sections["jobs"])


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("contracts/model.py", "retrain_platform.core.lake"),
        ("core/lake.py", "retrain_platform.defs.keys"),
        ("defs/keys.py", "retrain_platform.serving.routing"),
    ],
)
def test_lint_imports_refuses_an_upward_import(tmp_path: Path, module: str, upward: str) -> None:
    """The layer contract in pyproject.toml fails on an import that goes up (and passes as is)."""
    shutil.copytree(REPO / "retrain_platform", tmp_path / "retrain_platform")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = [str(BIN / "lint-imports"), "--no-cache"]
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}
    clean = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout[-3000:]
    target = tmp_path / "retrain_platform" / module
    target.write_text(target.read_text() + f"\nimport {upward}  # noqa\n")
    broken = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert broken.returncode == 1, broken.stdout[-3000:]
    importer = "retrain_platform." + module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {upward}" in broken.stdout
