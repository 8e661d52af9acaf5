"""The backtest's retrains train on the platform's window: the policy's, labels due."""

from datetime import timedelta

from retrain_platform.core.backtest.bank import step_window
from retrain_platform.core.backtest.history import build_history
from retrain_platform.core.backtest.source import PreparedSource
from retrain_platform.core.datasets.window import EXPANDING, SLIDING, WindowSpec
from retrain_platform.core.partitions import partition_start
from retrain_platform_tests.fixtures.keyless import keyless_contract, keyless_rows

DAYS = 15


def _history():
    contract = keyless_contract()
    rows = keyless_rows(contract, DAYS)
    partitions = tuple(sorted(rows.get_column("_partition").unique().to_list()))
    prepared = PreparedSource(rows, partitions, (), rows.height, 0, 0, 0)
    return contract, build_history(prepared, contract, arrival_delay=timedelta(hours=1))


def test_sliding_windows_hold_the_newest_partitions_whose_labels_are_due():
    contract, history = _history()
    spec = WindowSpec(SLIDING, 5, 1, 1)
    seen = 0
    for step in range(DAYS):
        window = step_window(history, spec, step)
        if window is None:
            continue
        seen += 1
        known = history.as_of(step) - contract.label.delay
        assert window.as_of == history.as_of(step)
        # the newest partitions whose labels have started to fall due, at most five of them
        due = [p for p in history.partitions[: step + 1] if partition_start(p, "daily") < known]
        assert window.partitions == tuple(due[-5:])
    assert seen >= DAYS - 3


def test_expanding_windows_keep_every_labelled_partition():
    _, history = _history()
    windows = [step_window(history, WindowSpec(EXPANDING, 5, 1, 1), s) for s in range(DAYS)]
    present = [w for w in windows if w is not None]
    assert present and all(w.partitions[0] == history.partitions[0] for w in present)
    assert [len(w.partitions) for w in present] == sorted(len(w.partitions) for w in present)
