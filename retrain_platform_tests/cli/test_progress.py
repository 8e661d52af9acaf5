"""Progress of the long commands: one callback per unit of work, bars only on a terminal."""

from __future__ import annotations

import io
from datetime import date

from rich.console import Console

from retrain_platform.cli.progress import Bars
from retrain_platform.core.backtest import BacktestOptions, parse_policies, run_backtest
from retrain_platform.core.backtest.fitting import FITTING
from retrain_platform.core.backtest.history import FEATURES
from retrain_platform.core.backtest.source import READING
from retrain_platform.core.models.training import TrainingOptions
from retrain_platform.core.synthetic import write_landing_files
from retrain_platform.core.synthetic.landing import GENERATING
from retrain_platform_tests.fixtures.models import with_policy


def _recorder():
    calls: list[tuple[str, int, int]] = []
    return calls, lambda what, done, total: calls.append((what, done, total))


def test_a_backtest_reports_each_file_and_each_policy_partition_once(contract, tmp_path):
    days = 16
    generated, on_day = _recorder()
    write_landing_files(
        contract,
        tmp_path,
        start=date(2026, 1, 5),
        days=days,
        rows_per_day=150,
        seed=3,
        late_share=0.0,
        progress=on_day,
    )
    assert generated == [(GENERATING, day, days) for day in range(1, days + 1)]

    calls, on_step = _recorder()
    small = with_policy(
        contract, window_partitions=6, validation_partitions=1, holdout_partitions=1
    )
    training = TrainingOptions(max_rounds=10, early_stopping_rounds=5, folds=2, num_threads=1)
    options = BacktestOptions(training=training, workers=1)
    policies = parse_policies(["never", "every:4"])
    result = run_backtest(tmp_path, small, policies, options, steps=on_step)

    files = len(list(tmp_path.glob("*.parquet")))
    assert [c for c in calls if c[0] == READING] == [
        (READING, i, files) for i in range(1, files + 1)
    ]
    fitting = [c for c in calls if c[0] == FITTING]
    assert fitting and fitting[-1][1] == fitting[-1][2]  # every prefitted model reported
    assert [c for c in calls if c[0] == FEATURES][-1][1:] == (days, days)
    evaluated = len(result.partitions)
    for policy in result.policies:
        assert len(policy.steps) == evaluated > 0
        mine = [c for c in calls if c[0] == policy.name]
        assert mine == [(policy.name, i, evaluated) for i in range(1, evaluated + 1)]


def test_bars_draw_on_a_terminal_only():
    piped = io.StringIO()
    with Bars(console=Console(file=piped, force_terminal=False)) as bars:
        bars("work", 1, 2)
    assert not bars.enabled and piped.getvalue() == ""

    asked_not_to = io.StringIO()
    with Bars(enabled=False, console=Console(file=asked_not_to, force_terminal=True)) as bars:
        bars("work", 1, 2)
    assert asked_not_to.getvalue() == ""

    terminal = io.StringIO()
    with Bars(console=Console(file=terminal, force_terminal=True, width=100)) as bars:
        bars("work", 2, 2)
    drawn = terminal.getvalue()
    assert "\x1b[" in drawn and "work" in drawn and "2/2" in drawn
