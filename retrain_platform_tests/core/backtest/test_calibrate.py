"""Calibration: chosen on the search part only, reported on the rest; the contract edited."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml

from retrain_platform.contracts import DatasetContract, load_contract
from retrain_platform.contracts.policy import POLICY_KEYS
from retrain_platform.core import backtest as bt
from retrain_platform.core import platform_columns as pc
from retrain_platform.core.backtest import calibrate_policy
from retrain_platform.core.backtest.calibrate import calibrate
from retrain_platform.core.backtest.calibrate_policy import (
    default_grid,
    policy_block,
    write_policy,
)
from retrain_platform.core.backtest.calibrate_results import Calibration, c_alpha_of
from retrain_platform.core.backtest.history import build_history
from retrain_platform.core.models.training import TrainingOptions
from retrain_platform.core.partitions import partition_end
from retrain_platform_tests.conftest import WEATHER_CONTRACT_PATH

YEARS = 8
SMALL_WINDOW = "  window_partitions: 24\n  validation_partitions: 2\n  holdout_partitions: 2\n"
# Drift (PSI 3-6 on monthly weather) and age (30 days) fire almost every month at the contract's
# values; these candidates turn each off, so the choice is a real one.
GRID = {"drift_psi_threshold": ("0.25", "10.0"), "max_model_age_days": ("30", "400")}
FAST = bt.BacktestOptions(
    training=TrainingOptions(max_rounds=30, early_stopping_rounds=8, folds=2, num_threads=1),
    workers=1,
)


def small_weather_contract(directory: Path) -> Path:
    """The shipped weather contract (comments and all) with a two-year window."""
    text = WEATHER_CONTRACT_PATH.read_text()
    assert "  window_partitions: 60\n" in text
    path = directory / "weather.yaml"
    path.write_text(text.replace("  window_partitions: 60\n", SMALL_WINDOW))
    return path


@pytest.fixture(scope="module")
def contract_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_weather_contract(tmp_path_factory.mktemp("contract"))


@pytest.fixture(scope="module")
def small_contract(contract_path: Path) -> DatasetContract:
    return load_contract(contract_path)


@pytest.fixture(scope="module")
def prepared(
    weather_csv: Path, small_contract: DatasetContract, tmp_path_factory: pytest.TempPathFactory
) -> bt.PreparedSource:
    path = tmp_path_factory.mktemp("weather") / "weather_first_years.csv"
    pl.read_csv(weather_csv, infer_schema=False).head(round(YEARS * 365.25)).write_csv(path)
    return bt.prepare_source(path, small_contract)


@pytest.fixture(scope="module")
def calibration(prepared: bt.PreparedSource, small_contract: DatasetContract) -> Calibration:
    return calibrate(prepared, small_contract, alpha=0.02, grid=GRID, options=FAST)


def _flip_labels_from(prepared: bt.PreparedSource, partition: str) -> bt.PreparedSource:
    late = pl.col(pc.PARTITION) >= partition
    flipped = pl.when(late).then(1 - pl.col("target")).otherwise(pl.col("target"))
    rows = prepared.rows.with_columns(flipped.cast(prepared.rows.schema["target"]).alias("target"))
    assert rows.filter(late).height > 0
    return bt.PreparedSource(
        rows=rows,
        partitions=prepared.partitions,
        files=prepared.files,
        rows_read=prepared.rows_read,
        rows_rejected=prepared.rows_rejected,
        rows_quarantined=prepared.rows_quarantined,
        duplicates=prepared.duplicates,
    )


def test_the_choice_is_the_best_c_alpha_of_the_search_part(
    calibration: Calibration, prepared: bt.PreparedSource
):
    first, last = (prepared.partitions.index(p) for p in calibration.search_partitions)
    assert last + 1 == prepared.partitions.index(calibration.report_partitions[0])
    searched = last - first + 1
    best = max(calibration.search, key=lambda s: s.c_alpha)
    assert dict(best.overrides) == dict(calibration.changed)
    assert calibration.changed  # the contract's values retrain every month: not the best at 0.02
    assert len(calibration.search) >= 3
    for score in calibration.search:
        assert math.isclose(score.c_alpha, score.mean - 0.02 * (score.fits - 1) / searched)


def test_changing_only_the_report_part_changes_the_report_not_the_choice(
    calibration: Calibration, prepared: bt.PreparedSource, small_contract: DatasetContract
):
    changed = _flip_labels_from(prepared, calibration.report_partitions[0])
    again = calibrate(changed, small_contract, alpha=0.02, grid=GRID, options=FAST)
    assert again.chosen == calibration.chosen
    assert [(s.policy, s.fits, s.mean) for s in again.search] == [
        (s.policy, s.fits, s.mean) for s in calibration.search
    ]
    before = {r.policy: r.mean for r in calibration.report}
    after = {r.policy: r.mean for r in again.report}
    assert after["never"] < 0.5 < before["never"]  # flipped labels: the report part did change


def test_the_report_part_compares_with_schedules_and_the_oracle(calibration: Calibration):
    rows = {r.policy: r for r in calibration.report}
    months = len(calibration.report_result.partitions)
    assert {"calibrated", "contract", "never", "every:1", "every:6", "every:12"} <= set(rows)
    assert rows["never"].fits == 1 and rows["never"].c_alpha == rows["never"].mean
    assert rows["every:1"].fits == months  # one fit a month within the report part
    assert calibration.report_partitions[-1] == calibration.report_result.partitions[-1]
    calibrated = rows["calibrated"]
    assert f"oracle<={calibrated.fits}" in rows
    assert calibrated.oracle == calibration.report_result.frontier[calibrated.fits]


def test_c_alpha_of_a_slice_charges_its_retrains_only():
    steps = [bt.StepRecord(f"p{i}", 1, 0.8, 0.9) for i in range(4)]
    steps[1].fit = True
    steps[2].roc_auc = math.nan  # a partition with one class: no score, still a partition
    assert math.isclose(c_alpha_of(steps, "roc_auc", 0.1), 0.8 - 0.1 * 1 / 4)
    assert c_alpha_of(steps[2:], "roc_auc", 0.1) == 0.8


def test_the_default_grid_searches_policy_keys_only(
    prepared: bt.PreparedSource, small_contract: DatasetContract, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(calibrate_policy.SEARCH_GRID, "no_such_key", lambda c: (1, 2))
    grid = default_grid(build_history(prepared, small_contract), small_contract.policy)
    assert set(grid) == {k for k in calibrate_policy.SEARCH_GRID if k in POLICY_KEYS}
    assert grid["min_roc_auc"] == ("0.6", "0.7", "0.75")
    assert grid["retrain_on_new_labelled_rows"][0] == "null"


def test_cooldowns_and_ages_are_whole_months_whatever_their_lengths(
    prepared: bt.PreparedSource, small_contract: DatasetContract
):
    grid = default_grid(build_history(prepared, small_contract), small_contract.policy)
    spans = [timedelta(hours=float(v)) for v in grid["retrain_cooldown_hours"][1:]]
    spans += [timedelta(days=int(v)) for v in grid["max_model_age_days"]]
    ends = [partition_end(p, "monthly") for p in prepared.partitions]
    for span in spans:  # held (elapsed < span) n - 1 months after a retrain, free at n
        months = round(span / timedelta(days=30.44) + 0.5)
        assert months >= 2
        for i in range(len(ends) - months):
            assert ends[i + months - 1] - ends[i] < span <= ends[i + months] - ends[i]


def test_a_bad_key_is_refused(
    prepared: bt.PreparedSource, small_contract: DatasetContract, tmp_path
):
    with pytest.raises(ValueError, match="window_partitions"):
        calibrate(prepared, small_contract, alpha=0.02, grid={"window_partitions": (12,)})
    with pytest.raises(ValueError, match="no_such_key"):
        calibrate(prepared, small_contract, alpha=0.02, grid={"no_such_key": (1,)})
    path = small_weather_contract(tmp_path)
    before = path.read_text()
    with pytest.raises(ValueError, match="no_such_key"):
        write_policy(path, {"no_such_key": "1"})
    with pytest.raises(ValueError, match="retrain_cooldown_hours"):
        write_policy(path, {"retrain_cooldown_hours": "-5"})  # does not load: restored
    assert path.read_text() == before


def test_write_edits_only_the_policy_keys_and_reloads(tmp_path: Path):
    path = small_weather_contract(tmp_path)
    text = path.read_text().replace("  min_roc_auc: 0.7\n", "  min_roc_auc: 0.7  # the floor\n")
    path.write_text(text)
    write_policy(path, {"min_roc_auc": "0.65", "drift_psi_threshold": "10.0"})
    old, new = text.splitlines(), path.read_text().splitlines()
    assert new[old.index("  min_roc_auc: 0.7  # the floor")] == "  min_roc_auc: 0.65  # the floor"
    after_section = old.index("  max_model_mb: 200") + 1
    assert new[after_section] == "  drift_psi_threshold: 10.0"
    assert [line for line in new if line not in ("  drift_psi_threshold: 10.0",)] == [
        "  min_roc_auc: 0.65  # the floor" if "min_roc_auc" in line else line for line in old
    ]
    policy = load_contract(path).policy
    assert (policy.min_roc_auc, policy.drift_psi_threshold) == (0.65, 10.0)


def test_the_policy_block_is_the_contracts_section_with_the_chosen_values(
    small_contract: DatasetContract,
):
    block = policy_block(
        small_contract, {"max_model_age_days": "400", "drift_psi_threshold": "0.25"}
    )
    policy = yaml.safe_load(block)["policy"]
    assert policy["max_model_age_days"] == 400
    assert policy["drift_psi_threshold"] == 0.25  # a chosen value, shown though the default
    assert policy["min_roc_auc"] == 0.7 and policy["window_partitions"] == 24
    assert "drift_ks_threshold" not in policy  # neither chosen nor set: the default
