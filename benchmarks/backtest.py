"""Backtest time: the platform's replay of six policies beside a plain loop of LightGBM fits.

Issue #13 item 6's target: a daily series of 900 partitions x 48 rows x 6 features plus 4
declared windowed features, five policies plus the oracle, in at most 60 s on 2 cores.

The data: a keyless half-hourly series generated here (seeded), 900 days from 2023-01-01 with
48 events a day, six numeric features with daily cycles and autocorrelation, and a binary label
(about 15 % positives) that depends on the features and on the last day's mean load; on day
600 the covariates shift (temperature up, price rescaled) and the concept changes (the weights
of load and wind swap). The contract (written to a temp dir with the landing Parquet files, one
per 30 days) is daily, keyless, labels known a day late, with a feature view of 4 windowed
features: mean load over 48 events, mean price over 1d, temperature's std over 48 events and
load's lag 1.

Cases:

- `platform`: `run_backtest` with never, every:1, every:7, every:30, contract and the oracle,
  two worker processes; everything from reading the files to the table;
- `plain_loop`: the same windows (`bank.step_window` at every step the oracle fits), one
  `lgb.train` per window on a numpy matrix of its train and validation rows (the parameters of
  the retrain's final refit: the first default candidate, 100 rounds, one thread), each model
  predicting every later partition and scored per partition (as the oracle needs), in a
  2-process spawn pool. Reading the files and computing the features for it are not timed
  (the `setup` line).

Printed: the platform's table, then wall and CPU seconds (this process and its children) of
each case, fits, the ratio platform / plain loop, the load average before and after, and
whether the platform met the 60 s target. Nothing is asserted (no wall-clock assertions).

Run: `python -m benchmarks.backtest [days]`
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from retrain_platform.contracts import DatasetContract, load_contract
from retrain_platform.core.backtest.bank import Matrix, ModelBank, step_window
from retrain_platform.core.backtest.history import ReplayHistory, build_history
from retrain_platform.core.backtest.policies import BacktestOptions, parse_policies
from retrain_platform.core.backtest.replay import first_fit_step, run_backtest
from retrain_platform.core.backtest.results import BacktestResult, format_table
from retrain_platform.core.backtest.scoring import grouped_scores
from retrain_platform.core.backtest.source import prepare_source
from retrain_platform.core.datasets.window import HOLDOUT, window_spec
from retrain_platform.core.models.training import (
    DEFAULT_CANDIDATES,
    TrainingOptions,
    lightgbm_params,
)

DAYS, EVENTS_PER_DAY, DRIFT_DAY = 900, 48, 600
START = datetime(2023, 1, 1, tzinfo=timezone.utc)
FILE_DAYS = 30
POLICIES = ["never", "every:1", "every:7", "every:30", "contract", "oracle"]
WORKERS = 2
PLAIN_ROUNDS = 100
TARGET_SECONDS = 60.0
SEED = 13
FEATURES = ("load", "temperature", "price", "wind", "humidity", "solar")

CONTRACT_YAML = f"""\
dataset: grid
description: One grid's half-hourly readings; the label says whether a price spike follows.
owner: team:ml-platform

event_timestamp: {{name: event_time, dtype: datetime}}
label:
  name: spike
  dtype: int8
  categories: [0, 1]
  positive: 1
  delay: 1d
features:
{"".join(f"  - {{name: {n}, dtype: float64}}" + chr(10) for n in FEATURES)}
primary_key: [event_time]

partitioning:
  grain: daily
  start: "{START.date().isoformat()}"

expectations:
  min_rows_per_partition: 40
  max_null_share: 0.0

policy:
  decision_threshold: 0.5
  min_roc_auc: 0.6

feature_views:
  - name: grid_history
    window_closure: before
    aggregates:
      - {{column: load, functions: [mean], windows: [48 events]}}
      - {{column: price, functions: [mean], windows: [1d]}}
      - {{column: temperature, functions: [std], windows: [48 events]}}
    lags:
      - {{column: load, lags: [1]}}
"""


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    noise = rng.normal(size=n) * np.sqrt(1 - phi**2)
    out = np.empty(n)
    out[0] = noise[0]
    for i in range(1, n):
        out[i] = phi * out[i - 1] + noise[i]
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def generate_series(days: int = DAYS, seed: int = SEED) -> pl.DataFrame:
    """The keyless series of the module docstring: `days` x 48 events, the label, the drift."""
    rng = np.random.default_rng(seed)
    n = days * EVENTS_PER_DAY
    step = np.arange(n)
    hour = (step % EVENTS_PER_DAY) / 2.0
    day = step // EVENTS_PER_DAY
    after = day >= DRIFT_DAY
    cycle = np.sin(2 * np.pi * (hour - 6) / 24)
    season = np.sin(2 * np.pi * day / 365.25)
    load = 1.2 * cycle + 0.5 * season + _ar1(rng, n, 0.95)
    temperature = 15 + 8 * season + 3 * cycle + 2 * _ar1(rng, n, 0.9) + np.where(after, 4.0, 0)
    price = (50 + 10 * load + 8 * _ar1(rng, n, 0.8)) * np.where(after, 1.5, 1.0)
    wind = rng.gamma(2.0, 2.0, n) * (1 + 0.3 * _ar1(rng, n, 0.97))
    humidity = np.clip(60 - 1.5 * (temperature - 15) + 10 * rng.normal(size=n), 5, 100)
    solar = np.maximum(0, np.sin(np.pi * (hour - 6) / 12)) * rng.uniform(0.3, 1, n)
    day_load = np.convolve(load, np.ones(EVENTS_PER_DAY) / EVENTS_PER_DAY)[:n]
    z = {
        "load": load,
        "wind": (wind - 4) / 3,
        "temperature": (temperature - 15) / 6,
        "price": (price - 50) / 15,
        "day_load": day_load,
    }
    w_load = np.where(after, -0.4, 1.2)  # the concept shift: load and wind swap weights
    w_wind = np.where(after, 1.2, -0.4)
    signal = (
        w_load * z["load"]
        + w_wind * z["wind"]
        + 0.6 * z["temperature"]
        + 0.5 * z["price"]
        + 0.8 * z["day_load"]
        + 0.4 * solar
        - 0.01 * (humidity - 60)
    )
    intercept = np.quantile(signal[~after] + rng.logistic(size=(~after).sum()), 0.85)
    spike = (rng.uniform(size=n) < _sigmoid(signal - intercept)).astype(np.int8)
    times = pl.datetime_range(
        START,
        START + timedelta(minutes=30 * (n - 1)),
        timedelta(minutes=30),
        time_unit="us",
        eager=True,
    )
    values = dict(zip(FEATURES, (load, temperature, price, wind, humidity, solar), strict=True))
    return pl.DataFrame({"event_time": times, **values, "spike": spike})


def write_source(root: Path, days: int) -> tuple[Path, DatasetContract, pl.DataFrame]:
    """The contract YAML and the landing Parquet files (one per `FILE_DAYS` days) under root."""
    contract_path = root / "grid.yaml"
    contract_path.write_text(CONTRACT_YAML)
    source = root / "landing"
    source.mkdir()
    series = generate_series(days)
    rows = FILE_DAYS * EVENTS_PER_DAY
    for i, start in enumerate(range(0, series.height, rows)):
        series.slice(start, rows).write_parquet(source / f"grid_{i:03d}.parquet")
    return source, load_contract(contract_path), series


@dataclass
class Measured:
    wall: float
    cpu: float
    value: Any


def measured(run: Callable[[], Any]) -> Measured:
    """Wall seconds and CPU seconds of this process and its (reaped) children."""

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    cpu_before, started = cpu(), time.perf_counter()
    value = run()
    return Measured(time.perf_counter() - started, cpu() - cpu_before, value)


_PLAIN: dict[str, Any] = {}


def _init_plain(matrix: Matrix, params: dict[str, Any], threshold: float) -> None:
    _PLAIN.update(matrix=matrix, params=params, threshold=threshold)


def _plain_fit(task: tuple[int, tuple[int, ...]]) -> tuple[int, np.ndarray]:
    """One plain fit on the given partitions' rows, scored on every partition after `step`."""
    step, partitions = task
    matrix: Matrix = _PLAIN["matrix"]
    rows = np.concatenate([np.arange(matrix.offsets[p], matrix.offsets[p + 1]) for p in partitions])
    train = lgb.Dataset(matrix.x[rows], matrix.y[rows], free_raw_data=False)
    booster = lgb.train(_PLAIN["params"], train, num_boost_round=PLAIN_ROUNDS)
    start = matrix.offsets[step + 1]
    count = len(matrix.offsets) - step - 2
    auc = np.full(0, np.nan)
    if count > 0:
        scores = booster.predict(matrix.x[start:])
        auc, _ = grouped_scores(
            matrix.y[start:], scores, matrix.group[start:] - (step + 1), count, _PLAIN["threshold"]
        )
    return step, auc


def plain_tasks(history: ReplayHistory, contract: DatasetContract) -> list[tuple[int, tuple]]:
    """(step, indexes of the window's train and validation partitions) of every oracle step."""
    spec = window_spec(contract)
    options = BacktestOptions(workers=WORKERS)
    bank = ModelBank(history, spec, options.training, contract, Matrix.of(history))
    first = first_fit_step(bank, options)
    index = {p: i for i, p in enumerate(history.partitions)}
    tasks = []
    for step in range(first, len(history.partitions) - 1):
        window = step_window(history, spec, step)
        assert window is not None
        split = window.split_of()
        tasks.append((step, tuple(index[p] for p in window.partitions if split[p] != HOLDOUT)))
    return tasks


def plain_loop(history: ReplayHistory, contract: DatasetContract) -> int:
    """Fit and score every task in a 2-process spawn pool; the number of fits."""
    tasks = plain_tasks(history, contract)
    params = lightgbm_params(DEFAULT_CANDIDATES[0], TrainingOptions(num_threads=1))
    context = multiprocessing.get_context("spawn")
    initargs = (Matrix.of(history), params, contract.policy.decision_threshold)
    with context.Pool(WORKERS, initializer=_init_plain, initargs=initargs) as pool:
        chunk = max(1, len(tasks) // (WORKERS * 8))
        done = pool.map(_plain_fit, tasks, chunksize=chunk)
    return len(done)


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str]) -> int:
    days = int(argv[1]) if len(argv) > 1 else DAYS
    load_before = load_average()
    print(
        f"python={sys.version.split()[0]} cpu_count={os.cpu_count()} lightgbm={lgb.__version__} "
        f"polars={pl.__version__}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        source, contract, series = write_source(Path(tmp), days)
        spikes = series.get_column("spike")
        split = DRIFT_DAY * EVENTS_PER_DAY
        print(
            f"series: {days} days x {EVENTS_PER_DAY} events x {len(FEATURES)} features "
            f"+ 4 windowed; positives {spikes.head(split).mean():.1%} before day {DRIFT_DAY}, "
            f"{spikes.tail(max(0, spikes.len() - split)).mean() or 0:.1%} after"
        )
        policies = parse_policies(POLICIES)
        platform = measured(
            lambda: run_backtest(source, contract, policies, BacktestOptions(workers=WORKERS))
        )
        result: BacktestResult = platform.value
        print(format_table(result))
        print(
            f"platform: {result.fitted_models} models fitted, {result.fit_seconds:.1f} s of "
            f"fitting in the workers, {result.seconds:.1f} s in run_backtest"
        )
        setup = measured(lambda: build_history(prepare_source(source, contract), contract))
        history: ReplayHistory = setup.value
        plain = measured(lambda: plain_loop(history, contract))
    rows = [
        ("platform", platform.wall, platform.cpu, result.fitted_models),
        ("plain_loop", plain.wall, plain.cpu, plain.value),
        ("setup (not in plain_loop)", setup.wall, setup.cpu, "-"),
    ]
    print(f"\n{'case':<26} {'wall s':>8} {'CPU s':>8} {'fits':>6}")
    for name, wall, cpu, fits in rows:
        print(f"{name:<26} {wall:>8.1f} {cpu:>8.1f} {fits:>6}")
    print(
        f"ratio platform / plain_loop: wall {platform.wall / plain.wall:.1f}x, "
        f"CPU {platform.cpu / plain.cpu:.1f}x"
    )
    print(f"load average before: {load_before}; after: {load_average()}")
    met = "met" if platform.wall <= TARGET_SECONDS else "NOT met"
    print(f"target <= {TARGET_SECONDS:.0f} s on {WORKERS} cores: {met} ({platform.wall:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
