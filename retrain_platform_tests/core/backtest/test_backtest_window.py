"""The backtest's refits train on the platform's window: the policy's, labels due per the delay."""

from retrain_platform.core import backtest as bt
from retrain_platform.core.backtest.replay import refit_windows
from retrain_platform.core.datasets.window import EXPANDING, SLIDING, WindowSpec
from retrain_platform_tests.fixtures.models import with_policy

DAYS = [f"2026-04-{d:02d}" for d in range(1, 16)]  # 04-01 .. 04-15


def test_sliding_refits_train_on_the_newest_labelled_partitions(contract):
    # daily, labels due 2 days late: before scoring day i, labels are complete up to day i - 3
    windows = refit_windows(contract, DAYS, WindowSpec(SLIDING, 5, 0, 0))
    first_index, first_window = windows[0]
    assert (first_index, first_window) == (7, tuple(DAYS[0:5]))  # the first with 5 labelled
    assert windows[-1] == (14, tuple(DAYS[7:12]))
    assert [index for index, _ in windows] == list(range(7, 15))
    assert all(len(window) == 5 and window[-1] == DAYS[i - 3] for i, window in windows)


def test_expanding_refits_keep_every_labelled_partition(contract):
    windows = refit_windows(contract, DAYS, WindowSpec(EXPANDING, 5, 0, 0))
    assert windows[0] == (7, tuple(DAYS[0:5]))
    assert windows[-1] == (14, tuple(DAYS[0:12]))


def test_the_backtest_window_is_the_policys_unless_overridden(contract, weather_contract):
    assert bt.BacktestOptions().window_spec(weather_contract) == WindowSpec(SLIDING, 60, 0, 0)
    expanding = with_policy(contract, training_window=EXPANDING, window_partitions=9)
    assert bt.BacktestOptions(gate=True).window_spec(expanding) == WindowSpec(EXPANDING, 9, 0, 1)
    overridden = bt.BacktestOptions(window=24, training_window=SLIDING)
    assert overridden.window_spec(expanding) == WindowSpec(SLIDING, 24, 0, 0)
