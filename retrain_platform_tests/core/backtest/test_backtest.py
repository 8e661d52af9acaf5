"""Backtest: policies replayed over the first ten years of the real weather data."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from retrain_platform.cli.backtest import add_backtest_command
from retrain_platform.contracts import DatasetContract
from retrain_platform.core import backtest as bt
from retrain_platform.core import platform_columns as pc

YEARS = 10
WINDOW = 24
MONTHS = YEARS * 12
EVALUATED = MONTHS - WINDOW


@pytest.fixture(scope="module")
def weather_slice(weather_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first ten years of weather.csv as a landing file (dates follow from row positions)."""
    rows = pl.read_csv(weather_csv, infer_schema=False)
    # Enough days for MONTHS whole months; the last partial month adds one more partition.
    path = tmp_path_factory.mktemp("weather") / "weather_first_years.csv"
    rows.head(round(YEARS * 365.25)).write_csv(path)
    return path


@pytest.fixture(scope="module")
def prepared(weather_slice: Path, weather_contract: DatasetContract) -> bt.PreparedSource:
    source = bt.prepare_source(weather_slice, weather_contract)
    # Keep exactly MONTHS whole months so the expected fit counts are exact.
    keep = source.partitions[:MONTHS]
    return bt.PreparedSource(
        rows=source.rows.filter(pl.col(pc.PARTITION).is_in(keep)),
        partitions=keep,
        files=source.files,
        rows_read=source.rows_read,
        rows_rejected=source.rows_rejected,
        rows_quarantined=source.rows_quarantined,
        duplicates=source.duplicates,
    )


@pytest.fixture(scope="module")
def result(prepared: bt.PreparedSource, weather_contract: DatasetContract) -> bt.BacktestResult:
    policies = bt.parse_policies(["all"])
    return bt.run_backtest(prepared, weather_contract, policies, bt.BacktestOptions(window=WINDOW))


def _by_name(result: bt.BacktestResult) -> dict[str, bt.PolicyResult]:
    return {r.policy.name: r for r in result.policies}


def test_source_is_read_typed_and_validated(
    prepared: bt.PreparedSource, weather_contract: DatasetContract
) -> None:
    assert len(prepared.partitions) == MONTHS
    assert prepared.partitions[0] == "1949-01-01"
    assert prepared.rows.get_column(weather_contract.timestamp_name).is_sorted()
    assert prepared.rows_read >= prepared.rows.height


def test_policies_fit_as_scheduled(result: bt.BacktestResult) -> None:
    runs = _by_name(result)
    assert list(runs) == list(bt.ALL_POLICIES)
    assert all(len(r.scores) == EVALUATED for r in runs.values())
    assert runs["never"].fits == 1
    assert runs["every:1"].fits == EVALUATED
    assert runs["every:6"].fits == math.ceil(EVALUATED / 6)
    assert runs["every:12"].fits == math.ceil(EVALUATED / 12)
    refits = [s.partition for s in runs["every:6"].scores if s.refit]
    assert refits == [runs["every:6"].scores[i].partition for i in range(0, EVALUATED, 6)]
    drift = runs["drift"]
    assert 2 <= drift.fits <= EVALUATED
    assert all(s.reason.startswith("drift: feat_") for s in drift.scores[1:] if s.refit)


def test_scores_are_sane(result: bt.BacktestResult) -> None:
    for run in result.policies:
        assert 0.5 < run.mean_accuracy < 1.0, run.policy.name
        assert 0.5 < run.mean_roc_auc < 1.0, run.policy.name
        assert all(0.0 <= s.accuracy <= 1.0 for s in run.scores)
    runs = _by_name(result)
    # Retraining monthly on a drifting source is not worse than never retraining.
    assert runs["every:1"].mean_accuracy >= runs["never"].mean_accuracy - 0.005
    table = result.table()
    assert table.get_column("policy").to_list() == list(bt.ALL_POLICIES)
    assert table.get_column("fits").to_list() == [r.fits for r in result.policies]


def test_backtest_is_deterministic(
    result: bt.BacktestResult, prepared: bt.PreparedSource, weather_contract: DatasetContract
) -> None:
    again = bt.run_backtest(
        prepared,
        weather_contract,
        bt.parse_policies(["every:6", "drift"]),
        bt.BacktestOptions(window=WINDOW),
    )
    first = result.per_partition().filter(pl.col("policy").is_in(["every:6", "drift"]))
    assert_frame_equal(first, again.per_partition())


def test_gated_refits_serve_only_when_they_pass(
    prepared: bt.PreparedSource, weather_contract: DatasetContract
) -> None:
    gated = bt.run_backtest(
        prepared,
        weather_contract,
        [bt.parse_policy("every:12")],
        bt.BacktestOptions(window=WINDOW, gate=True),
    ).policies[0]
    assert gated.fits == math.ceil(EVALUATED / 12)
    assert gated.scores[0].promoted
    assert 1 <= gated.promotions <= gated.fits


@pytest.mark.parametrize("text", ["every:0", "every", "sometimes", "every:x"])
def test_bad_policies_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        bt.parse_policy(text)


def test_all_expands_and_duplicates_collapse() -> None:
    names = [p.name for p in bt.parse_policies(["every:6", "all", "never"])]
    assert names == ["every:6", "never", "every:1", "every:12", "drift"]


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="retrain-platform")
    add_backtest_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_prints_the_table_and_saves_the_plot(
    weather_slice: Path,
    weather_contract: DatasetContract,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plot, csv = tmp_path / "out" / "backtest.png", tmp_path / "scores.csv"
    code = _cli(
        [
            "backtest",
            "--contract",
            weather_contract.source_path,
            "--source",
            str(weather_slice.parent),
            "--policy",
            "never",
            "--policy",
            "every:12",
            "--window",
            str(WINDOW),
            "--plot",
            str(plot),
            "--csv",
            str(csv),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("policy"))
    assert lines[header].split()[:2] == ["policy", "fits"]
    assert lines[header + 1].split()[:2] == ["never", "1"]
    assert lines[header + 2].split()[0] == "every:12"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scores = pl.read_csv(csv)
    assert set(scores.get_column("policy")) == {"never", "every:12"}


def test_cli_rejects_a_bad_policy(
    weather_slice: Path, weather_contract: DatasetContract, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["backtest", "--contract", weather_contract.source_path]
    code = _cli([*argv, "--source", str(weather_slice), "--policy", "weekly"])
    assert code == 2
    assert "unknown policy 'weekly'" in capsys.readouterr().err
