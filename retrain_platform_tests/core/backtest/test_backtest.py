"""Backtest: policies replayed through the loop over the first eight years of the real weather
data (monthly partitions, a two-year window, a small candidate search to keep it quick)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from retrain_platform.cli.backtest import add_backtest_command
from retrain_platform.contracts import DatasetContract
from retrain_platform.core import backtest as bt
from retrain_platform.core.models.training import TrainingOptions
from retrain_platform.core.monitoring.triggers import TRIGGERS
from retrain_platform_tests.fixtures.models import with_policy

YEARS = 8
FAST = TrainingOptions(max_rounds=40, early_stopping_rounds=10, folds=2, num_threads=1)
POLICIES = ["never", "every:6", "every:12", "contract", "oracle"]


@pytest.fixture(scope="module")
def weather_slice(weather_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first years of weather.csv as a landing file (dates follow from row positions)."""
    rows = pl.read_csv(weather_csv, infer_schema=False)
    path = tmp_path_factory.mktemp("weather") / "weather_first_years.csv"
    rows.head(round(YEARS * 365.25)).write_csv(path)
    return path


@pytest.fixture(scope="module")
def small_window(weather_contract: DatasetContract) -> DatasetContract:
    return with_policy(
        weather_contract, window_partitions=24, validation_partitions=2, holdout_partitions=2
    )


@pytest.fixture(scope="module")
def prepared(weather_slice: Path, small_window: DatasetContract) -> bt.PreparedSource:
    return bt.prepare_source(weather_slice, small_window)


def _options(**changes: object) -> bt.BacktestOptions:
    settings: dict[str, object] = {"training": FAST, "workers": 1, **changes}
    return bt.BacktestOptions(**settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def result(prepared: bt.PreparedSource, small_window: DatasetContract) -> bt.BacktestResult:
    return bt.run_backtest(prepared, small_window, bt.parse_policies(POLICIES), _options())


def _by_name(result: bt.BacktestResult) -> dict[str, bt.PolicyResult]:
    return {r.name: r for r in result.policies}


def test_source_is_read_typed_and_validated(prepared: bt.PreparedSource, small_window) -> None:
    assert prepared.partitions[0] == "1949-01-01"
    assert len(prepared.partitions) == YEARS * 12  # 2,922 days: eight whole years
    assert prepared.rows.get_column(small_window.timestamp_name).is_sorted()
    assert prepared.rows_read >= prepared.rows.height


def test_fixed_schedules_fit_as_scheduled(result: bt.BacktestResult) -> None:
    runs = _by_name(result)
    evaluated = len(result.partitions)
    assert all(len(r.steps) == evaluated for r in runs.values())
    assert runs["never"].fits == 1 and runs["never"].promotions == 0
    for every in (6, 12):
        run = runs[f"every:{every}"]
        # a fit at the first step and every N after it; none at the last (nothing to serve)
        assert run.fits == math.ceil(evaluated / every)
        fitted = [i for i, s in enumerate(run.steps) if s.fit]
        assert fitted == list(range(every - 1, evaluated - 1, every))
        assert run.promotions <= run.fits - 1  # gated: a refit may be rejected


def test_the_contract_policy_retrains_only_when_a_trigger_decides(result) -> None:
    contract_run = _by_name(result)["contract"]
    for step in contract_run.steps:
        if step.fit:
            assert step.code == "retrain" and step.trigger in TRIGGERS, step
        else:
            assert step.code != "retrain" or step is contract_run.steps[-1]
        assert step.reason  # every step says why it did or did not retrain


def test_the_oracle_bounds_every_policy_at_its_fit_count(result: bt.BacktestResult) -> None:
    assert result.frontier, "the oracle ran"
    fits = sorted(result.frontier)
    assert [result.frontier[k] for k in fits] == sorted(result.frontier[k] for k in fits)
    for run in result.policies:
        if run.fits in result.frontier:
            assert run.mean("roc_auc") <= result.frontier[run.fits] + 1e-12, run.name
    oracle_rows = [r for r in result.policies if r.name.startswith("oracle")]
    assert oracle_rows
    for row in oracle_rows:  # its replayed schedule scores what the frontier says
        assert row.mean("roc_auc") == pytest.approx(result.frontier[row.fits], abs=1e-9)


def test_the_table_carries_every_figure(result: bt.BacktestResult) -> None:
    table = result.table()
    assert table.get_column("policy").to_list()[:4] == POLICIES[:4]
    assert {"fits", "mean_roc_auc", "mean_accuracy", "below_floor", "c_alpha_area"} <= set(
        table.columns
    )
    for row in table.iter_rows(named=True):
        assert 0.5 < row["mean_roc_auc"] < 1.0 and 0.5 < row["mean_accuracy"] < 1.0, row
        assert row["c_alpha_area"] <= row["mean_roc_auc"] + 1e-12
    never = table.filter(pl.col("policy") == "never").row(0, named=True)
    assert never["c_alpha_area"] == pytest.approx(never["mean_roc_auc"])  # no retrain, no cost


def test_backtest_is_deterministic(result, prepared, small_window) -> None:
    again = bt.run_backtest(
        prepared, small_window, bt.parse_policies(["every:6", "contract"]), _options(workers=2)
    )
    first = result.per_partition().filter(pl.col("policy").is_in(["every:6", "contract"]))
    assert_frame_equal(first, again.per_partition())


@pytest.mark.parametrize("text", ["every:0", "every", "sometimes", "every:x", "contract:x"])
def test_bad_policies_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        bt.parse_policy(text)


def test_all_expands_per_grain_and_duplicates_collapse() -> None:
    names = [p.name for p in bt.parse_policies(["every:6", "all", "never"], "monthly")]
    assert names == ["every:6", "never", "every:1", "every:12", "contract", "oracle"]
    daily = [p.name for p in bt.parse_policies(["all"], "daily")]
    assert daily == ["never", "every:1", "every:7", "every:30", "contract", "oracle"]


def test_set_overrides_every_contract_policy(small_window) -> None:
    policies = bt.with_settings(
        bt.parse_policies(["never", "contract", "contract:min_roc_auc=0.8"]),
        {"drift_psi_threshold": "2"},
    )
    assert [p.name for p in policies] == [
        "never",
        "contract:drift_psi_threshold=2",
        "contract:drift_psi_threshold=2,min_roc_auc=0.8",
    ]
    varied = policies[2].contract_for(small_window).policy
    assert (varied.drift_psi_threshold, varied.min_roc_auc) == (2.0, 0.8)
    with pytest.raises(ValueError, match="unknown policy key"):
        bt.parse_policy("contract:no_such_key=1").contract_for(small_window)


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="retrain-platform")
    add_backtest_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_prints_the_table_and_saves_plots_csv_and_json(
    weather_slice: Path, weather_contract: DatasetContract, tmp_path: Path, capsys
) -> None:
    out_dir = tmp_path / "out"
    paths = {k: out_dir / n for k, n in (("plot", "p.png"), ("frontier", "f.png"))}
    csv, report = tmp_path / "steps.csv", tmp_path / "result.json"
    argv = ["backtest", "--contract", weather_contract.source_path, "--source", str(weather_slice)]
    argv += ["--policy", "never", "--policy", "every:12", "--policy", "oracle", "--rounds", "30"]
    argv += ["--set", "window_partitions=24", "--workers", "1", "--csv", str(csv)]
    argv += ["--plot", str(paths["plot"]), "--frontier", str(paths["frontier"])]
    code = _cli([*argv, "--json", str(report), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("policy"))
    assert lines[header].split()[:2] == ["policy", "fits"]
    assert lines[header + 1].split()[:2] == ["never", "1"]
    assert lines[header + 2].split()[0] == "every:12"
    for path in paths.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(pl.read_csv(csv).get_column("policy")) >= {"never", "every:12"}
    saved = json.loads(report.read_text())
    assert [p["policy"] for p in saved["policies"]][:2] == ["never", "every:12"]
    assert saved["frontier"][0]["fits"] == 1


def test_cli_rejects_a_bad_policy_and_a_bad_setting(weather_slice, weather_contract, capsys):
    argv = ["backtest", "--contract", weather_contract.source_path, "--source", str(weather_slice)]
    assert _cli([*argv, "--policy", "weekly"]) == 2
    assert "unknown policy 'weekly'" in capsys.readouterr().err
    assert _cli([*argv, "--policy", "contract", "--set", "drift_psi_threshold=high"]) == 2
    assert "drift_psi_threshold" in capsys.readouterr().err
