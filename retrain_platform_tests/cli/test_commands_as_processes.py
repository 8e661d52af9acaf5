"""`retrain-platform generate` and `backtest` run as a user runs them, good input and bad."""

import os
import subprocess
import sys
from pathlib import Path

import polars as pl

CLI = Path(sys.executable).with_name("retrain-platform")
PROGRESS_CODES = "\x1b["  # what rich's live progress bars write (cursor moves, colours)


def _cli(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RETRAIN_HOME": str(home.home), "DAGSTER_HOME": str(home.dagster_home)}
    return subprocess.run(
        [str(CLI), *args], env=env, capture_output=True, text=True, check=False, timeout=600
    )


def test_generate_writes_daily_files_into_the_landing_zone(home, contract):
    done = _cli(home, "generate", "--days", "3", "--rows-per-day", "50", "--start", "2026-01-05")
    assert done.returncode == 0, done.stderr[-2000:]
    assert PROGRESS_CODES not in done.stderr  # stderr is a pipe here: no progress bars
    files = sorted((home.landing_root / contract.dataset).glob("*.parquet"))
    assert len(files) >= 3
    rows = sum(pl.read_parquet(f).height for f in files)
    assert rows == 150
    refused = _cli(home, "generate", "--days", "-1")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "generate: days must be >= 1, got -1"


def test_backtest_compares_policies_on_generated_files(home, tmp_path):
    source = tmp_path / "history"
    made = _cli(
        home,
        "generate",
        "--days",
        "16",
        "--rows-per-day",
        "150",
        "--start",
        "2026-01-05",
        "--landing",
        str(source),
    )
    assert made.returncode == 0, made.stderr[-2000:]
    csv = tmp_path / "scores.csv"
    done = _cli(
        home,
        "backtest",
        "--source",
        str(source),
        "--policy",
        "never",
        "--policy",
        "every:4",
        "--policy",
        "contract",
        "--set",
        "window_partitions=6",
        "--set",
        "validation_partitions=1",
        "--set",
        "holdout_partitions=1",
        "--rounds",
        "10",
        "--csv",
        str(csv),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert PROGRESS_CODES not in done.stderr and PROGRESS_CODES not in done.stdout
    assert "never" in done.stdout and "every:4" in done.stdout
    scores = pl.read_csv(csv)
    assert scores.height > 0
    missing = _cli(home, "backtest", "--source", str(tmp_path / "nowhere"))
    assert missing.returncode != 0
    assert "nowhere" in missing.stderr and "Traceback" not in missing.stderr


def test_a_bad_contract_is_reported_with_every_problem(home, tmp_path):
    import yaml

    from retrain_platform.contracts import DEFAULT_CONTRACT_PATH

    raw = yaml.safe_load(DEFAULT_CONTRACT_PATH.read_text())
    raw["partitioning"]["grain"] = "fortnightly"
    raw["policy"]["drift_html"] = "sometimes"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    done = _cli(home, "landing", "--contract", str(bad))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "2 contract errors:"
    assert "unknown grain 'fortnightly'" in lines[1] and "'sometimes'" in lines[2]
    assert "Traceback" not in done.stderr
