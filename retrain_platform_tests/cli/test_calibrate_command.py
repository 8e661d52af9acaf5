"""`retrain-platform calibrate` as a user runs it: the recommended block, `--write`, bad input."""

import json
import os
import subprocess
import sys

import polars as pl
import yaml

from retrain_platform.contracts import load_contract
from retrain_platform_tests.conftest import WEATHER_CONTRACT_PATH

YEARS = 8
SMALL_WINDOW = "  window_partitions: 24\n  validation_partitions: 2\n  holdout_partitions: 2\n"


def _cli(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RETRAIN_HOME": str(home.home), "DAGSTER_HOME": str(home.dagster_home)}
    return subprocess.run(
        [sys.executable, "-m", "retrain_platform.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def _recommended(stdout: str) -> dict:
    block = stdout.split("recommended (alpha 0.5):\n", 1)[1].split("\nwrote ", 1)[0]
    return yaml.safe_load(block)["policy"]


def test_calibrate_prints_the_block_and_writes_the_contract(home, tmp_path, weather_csv):
    source = tmp_path / "weather_first_years.csv"
    pl.read_csv(weather_csv, infer_schema=False).head(round(YEARS * 365.25)).write_csv(source)
    contract = tmp_path / "weather.yaml"
    original = WEATHER_CONTRACT_PATH.read_text().replace("  window_partitions: 60\n", SMALL_WINDOW)
    contract.write_text(original)
    report = tmp_path / "calibration.json"
    done = _cli(
        home,
        "calibrate",
        "--contract",
        str(contract),
        "--source",
        str(source),
        "--alpha",
        "0.5",  # a retrain costs half a point of ROC-AUC: monthly retrains cannot be the best
        "--rounds",
        "20",
        "--workers",
        "1",
        "--json",
        str(report),
        "--write",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "searched" in out and "best C_alpha" in out
    table = out.split("report part ", 1)[1]
    for policy in ("calibrated", "contract", "never", "every:1", "every:6", "every:12", "oracle<="):
        assert policy in table
    recommended = _recommended(out)
    saved = json.loads(report.read_text())
    assert saved["changed"]  # the contract's own values retrain nearly every month
    assert f"wrote {len(saved['changed'])} key(s) to {contract}" in out
    policy = load_contract(contract).policy
    for key, value in saved["changed"].items():
        assert getattr(policy, key) == yaml.safe_load(value) == recommended[key]
    assert policy.window_partitions == recommended["window_partitions"] == 24
    before_policy = original.split("\npolicy:\n")[0]
    assert contract.read_text().split("\npolicy:\n")[0] == before_policy  # byte for byte


def test_calibrate_refuses_bad_input_with_exit_2(home, tmp_path):
    missing = _cli(
        home,
        "calibrate",
        "--contract",
        str(WEATHER_CONTRACT_PATH),
        "--source",
        str(tmp_path / "nowhere.csv"),
        "--alpha",
        "0.1",
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("calibrate: ") and "Traceback" not in missing.stderr
    bad_key = _cli(
        home,
        "calibrate",
        "--contract",
        str(WEATHER_CONTRACT_PATH),
        "--source",
        str(tmp_path),
        "--alpha",
        "0.1",
        "--set",
        "no_such_key=1",
    )
    assert bad_key.returncode == 2 and "unknown policy key 'no_such_key'" in bad_key.stderr
