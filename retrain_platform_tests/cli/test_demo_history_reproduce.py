"""`retrain-platform demo`, then `history` and `reproduce` on its home, run as a user runs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(sys.executable).with_name("retrain-platform")


def _cli(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RETRAIN_HOME": str(home.home), "DAGSTER_HOME": str(home.dagster_home)}
    return subprocess.run(
        [str(CLI), *args], env=env, capture_output=True, text=True, check=False, timeout=1200
    )


@pytest.mark.slow
def test_demo_then_history_and_reproduce_as_processes(home):
    demo = _cli(
        home,
        "demo",
        "--days", "12",
        "--backfill-days", "10",
        "--rows-per-day", "1500",
        "--drift-day", "-1",
        "--faults", "none",
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "2 days in" in demo.stdout and "report:" in demo.stdout
    assert "Warning" not in demo.stdout and "Traceback" not in demo.stderr
    # third-party deprecation warnings are filtered; stderr is a pipe, so no progress bars
    assert "DeprecationWarning" not in demo.stderr and "\x1b[" not in demo.stderr
    assert f"contract: {home.contract_path('transactions')}" in demo.stdout

    history = _cli(home, "history")
    assert history.returncode == 0, history.stderr[-2000:]
    assert "retrain" in history.stdout and "champion" in history.stdout
    rows = [json.loads(line) for line in _cli(home, "history", "--json").stdout.splitlines()]
    assert rows and rows[0]["event"] == "retrain" and rows[0]["promoted"] is True
    champion = rows[0]["champion_after"]

    reproduced = _cli(home, "reproduce", str(champion))
    assert reproduced.returncode == 0, reproduced.stderr[-2000:]
    assert "identical" in reproduced.stdout
    missing = _cli(home, "reproduce", "999")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "version 999" in missing.stderr and "not found" in missing.stderr
