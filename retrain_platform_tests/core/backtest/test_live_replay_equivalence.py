"""Live versus replay: one synthetic scenario run through the Dagster loop (the real landing
sensor, automation conditions, retrain sensor and retrain job on an instance, as `make demo`
runs it) and through the backtest's `contract` policy decides the same retrains, for the same
triggers, on the same partitions, with the same gate verdicts and the same champions.

The scenario: 10 backfilled days train the first champion, then 12 days land one by one, with
covariate and concept drift from the 14th day and a new-labelled-data trigger every 3 days of
rows, so the drift, new-data and (after the drift) performance triggers and the gate's
rejections all have their chance. The backtest reads the very files the loop landed, with the
contract the loop ran on, its first fit on the last backfilled day and the loop's candidate
search.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from retrain_platform.contracts import load_contract
from retrain_platform.core import backtest as bt
from retrain_platform.core.models.training import TrainingOptions
from retrain_platform.demo.loop import SMALL_CANDIDATE, LoopOptions, run_closed_loop
from retrain_platform.demo.timeline import PASSED, RETRAIN
from retrain_platform_tests.homes import isolate_home

pytestmark = pytest.mark.slow

START = date(2026, 5, 4)
BACKFILL, DAYS, DRIFT_DAY, ROWS = 10, 22, 14, 1_500


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, contract):
    with pytest.MonkeyPatch.context() as env:
        home = isolate_home(env, Path(tmp_path_factory.mktemp("equivalence")) / "home")
        options = LoopOptions(
            days=DAYS,
            backfill_days=BACKFILL,
            rows_per_day=ROWS,
            drift_day=DRIFT_DAY,
            faults=(),
            start=START,
            training_window=7,
            retrain_every_days=3,
        )
        live = run_closed_loop(contract, home, options, echo=lambda _line: None)
        (written,) = home.contract_paths()
        demo_contract = load_contract(written)
        landed = home.landing_root / contract.dataset
        training = TrainingOptions(**SMALL_CANDIDATE)  # the loop's retrain runs' search
        first_fit = START.toordinal() + BACKFILL - 1
        replay = bt.run_backtest(
            landed,
            demo_contract,
            [bt.parse_policy("contract")],
            bt.BacktestOptions(
                training=training, workers=1, first_fit=date.fromordinal(first_fit).isoformat()
            ),
        )
        return live.timeline, replay.policies[0]


def _live_decisions(timeline: pl.DataFrame) -> list[tuple[str, str | None, str | None, int]]:
    return [
        (
            row["day"],
            row["trigger"] if row["decision"] == RETRAIN else None,
            row["gate"],
            row["champion"],
        )
        for row in timeline.sort("day").iter_rows(named=True)
    ]


def _replayed(result: bt.PolicyResult) -> list[tuple[str, str | None, str | None, int]]:
    rows = []
    for step, following in zip(result.steps, [*result.steps[1:], None], strict=True):
        champion = following.version if following is not None else step.version + step.promoted
        gate = (PASSED if step.promoted else "rejected") if step.fit else None
        rows.append((step.partition, step.trigger if step.fit else None, gate, champion))
    return rows


def test_the_replay_decides_what_the_dagster_loop_decided(scenario):
    timeline, replayed = scenario
    live = _live_decisions(timeline)
    replay = _replayed(replayed)
    assert [d for d, *_ in replay] == [d for d, *_ in live]
    assert replay == live
    retrains = [row for row in live if row[1] is not None]
    assert len(retrains) >= 2, live  # the scenario exercises the triggers at all
    assert {row[1] for row in retrains} >= {"drift"}, live
