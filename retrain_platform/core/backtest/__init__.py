"""Backtest of retraining policies: replay a historical source partition by partition.

The question it answers: how much accuracy does a retraining policy buy, for how many fits?
Each policy is replayed over the same history with the same core functions the assets use:
files are read (`landing.read_file`) and typed to the contract (`ingest.conform_file`), rows are
validated (`validate.validate_rows`), models are LightGBM fits with the platform's deterministic
parameters (`training.lightgbm_params`, `training.refit`, `training.predict`), drift is the fast
path of `drift.drift_summary` with the contract's thresholds, and (optionally) every retrained
challenger must pass `gate.evaluate_gate` against the serving model to replace it. No Dagster run
is started per partition: the replay is plain function calls, hence minutes for decades.

Protocol, for partitions p_0 .. p_n in time order: the model that scores partition p_i was
fitted on the training window the platform would have frozen at p_i's start
(`core.datasets.window.select_window` with the contract's policy: the newest W partitions before
p_i whose labels are due then, or all of them for an expanding window; never p_i itself). The
partitions from the first with W labelled partitions before it to p_n are evaluated. Before
scoring p_i a policy decides whether to refit:

- `never`: one fit, at the first evaluated partition;
- `every:N`: a fit at the first evaluated partition and every N partitions after it;
- `drift`: a fit at the first evaluated partition, then whenever any feature of the recent
  partitions (the `drift_window` partitions up to and including p_i; its features, not its
  labels, are known when it is scored) drifts from the serving model's training window (PSI
  above `policy.drift_psi_threshold`). A window of recent partitions rather than p_i alone,
  because a single month of a seasonal source always differs from five years of it.

With `gate=True` a refit's challenger is trained on the window minus its newest partition, the
gate's holdout (as the platform never trains on a holdout), and replaces the serving model only
if the gate passes against it; the first model always serves (there is nothing else to serve).

Determinism: a fixed seed, one thread, a stable row order; two runs give the same numbers.
"""

from retrain_platform.core.backtest.policies import (
    ALL_POLICIES,
    DRIFT,
    EVERY,
    NEVER,
    BacktestOptions,
    RetrainPolicy,
    parse_policies,
    parse_policy,
)
from retrain_platform.core.backtest.replay import PreparedSource, prepare_source, run_backtest
from retrain_platform.core.backtest.results import (
    BacktestResult,
    PartitionScore,
    PolicyResult,
    format_table,
    plot_backtest,
)

__all__ = [
    "ALL_POLICIES",
    "BacktestOptions",
    "BacktestResult",
    "DRIFT",
    "EVERY",
    "NEVER",
    "PartitionScore",
    "PolicyResult",
    "PreparedSource",
    "RetrainPolicy",
    "format_table",
    "parse_policies",
    "parse_policy",
    "plot_backtest",
    "prepare_source",
    "run_backtest",
]
