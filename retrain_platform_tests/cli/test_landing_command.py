"""`retrain-platform landing` run as a user runs it, after a tick over good and bad files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrain_platform_tests.fixtures.landing import LandingHarness, write
from retrain_platform_tests.reliability.test_landing_faults import _out_of_range, good

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "cli"


def _landing(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RETRAIN_HOME": str(home.home), "DAGSTER_HOME": str(home.dagster_home)}
    script = Path(sys.executable).with_name("retrain-platform")
    return subprocess.run(
        [str(script), "landing", *args], env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def settled(contract, home, instance, tmp_path) -> LandingHarness:
    landing = LandingHarness(contract, home, instance)
    write(good(contract, seed=2), landing.dir / "day.parquet")
    _out_of_range(contract, landing.dir / "times.parquet", tmp_path)
    (landing.dir / "broken.parquet").write_bytes(b"not parquet at all")
    (landing.dir / "empty.csv").write_bytes(b"")
    (landing.dir / "bad name.csv").write_text("x\n1\n")
    landing.settle()
    return landing


def test_landing_lists_every_file_with_its_status_and_rows(settled, home):
    done = _landing(home)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for name, status in [
        ("day.parquet", "ingested"),
        ("times.parquet", "ingested"),
        ("broken.parquet", "unreadable"),
        ("empty.csv", "empty"),
        ("bad name.csv", "refused_name"),
    ]:
        line = next(line for line in out.splitlines() if name in line and "│" in line)
        assert status in line, line
    assert "6 row(s) outside the partitions" in out
    assert "rows landed 80 = raw 74 + quarantined 6 + waiting 0 + not yet ingested 0" in out
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "landing.txt").write_text(out)


def test_landing_filters_by_status_and_prints_json(settled, home):
    only = _landing(home, "--status", "unreadable")
    assert only.returncode == 0
    assert "broken.parquet" in only.stdout and "day.parquet" not in only.stdout
    records = json.loads(_landing(home, "--json").stdout)
    by_file = {r["file"]: r for r in records}
    assert by_file["times.parquet"]["quarantined_by_reason"] == '{"outside_partitions": 6}'
    assert by_file["day.parquet"]["rows_raw"] == by_file["day.parquet"]["rows_landed"]
    assert _landing(home, "--status", "nonsense").returncode == 2
