"""Backtest of retraining policies: the platform's loop replayed over a historical source.

The question it answers: how much performance does a retraining policy buy, for how many fits,
and how close is it to the best any schedule could have done? The replay runs what the platform
runs, as plain function calls: the raw and validated layers' typing and validation, the
contract's feature view (point in time, computed once), the label delay (a partition's labels
are used only once due), the policy's training window and splits (`select_window`), the retrain
job's candidate search and gate, the drift and live-performance reports, and the retrain
sensor's `triggers.decide` on the same observations. See `loop` for one step, `replay` for the
whole run, `oracle` for the hindsight bound and `results` for the figures (C_alpha, recovery).

Determinism: fixed seeds, one thread per fit, a stable row order; two runs give the same numbers.
"""

from retrain_platform.core.backtest.plots import plot_frontier, plot_partitions
from retrain_platform.core.backtest.policies import (
    CONTRACT,
    EVERY,
    NEVER,
    ORACLE,
    BacktestOptions,
    RetrainPolicy,
    default_policies,
    parse_policies,
    parse_policy,
    parse_settings,
    with_settings,
)
from retrain_platform.core.backtest.replay import run_backtest
from retrain_platform.core.backtest.results import (
    BacktestResult,
    PolicyResult,
    StepRecord,
    format_table,
)
from retrain_platform.core.backtest.source import PreparedSource, prepare_source

__all__ = [
    "BacktestOptions",
    "BacktestResult",
    "CONTRACT",
    "EVERY",
    "NEVER",
    "ORACLE",
    "PolicyResult",
    "PreparedSource",
    "RetrainPolicy",
    "StepRecord",
    "default_policies",
    "format_table",
    "parse_policies",
    "parse_policy",
    "parse_settings",
    "plot_frontier",
    "plot_partitions",
    "prepare_source",
    "run_backtest",
    "with_settings",
]
