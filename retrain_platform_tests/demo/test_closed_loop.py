"""A small closed loop end to end: backfill, then the real sensors and automation day by day.

Ten backfilled days train the first champion; six more land one by one, with covariate and
concept drift from the fifteenth day and a renamed column on the twelfth. Real Dagster instance,
Delta tables, MLflow registry and Feast online store under a temporary platform home. What is
asserted is what the loop must show: calm days without a retrain, a drift-triggered retrain
that passes the gate, a bad partition whose blocking checks stop its downstream automation, one
timeline row per day, and a report with its plots.
"""

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from retrain_platform.contracts import load_contract
from retrain_platform.core.synthetic import Fault
from retrain_platform.demo.backfill import VALIDATING
from retrain_platform.demo.loop import DAYS, LoopOptions, LoopResult, run_closed_loop
from retrain_platform.demo.report import PLOT_IDS
from retrain_platform_tests.homes import isolate_home

START = date(2026, 6, 1)
BACKFILL_DAYS, DAILY_DAYS, DRIFT_DAY = 10, 6, 14
BAD_DAY = (START + timedelta(days=11)).isoformat()


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory, contract) -> LoopResult:
    with pytest.MonkeyPatch.context() as env:
        home = isolate_home(env, Path(tmp_path_factory.mktemp("loop")) / "home")
        options = LoopOptions(
            days=BACKFILL_DAYS + DAILY_DAYS,
            backfill_days=BACKFILL_DAYS,
            rows_per_day=3_000,
            drift_day=DRIFT_DAY,
            faults=(Fault("renamed_column", date.fromisoformat(BAD_DAY)),),
            start=START,
            retrain_every_days=None,
        )
        result = run_closed_loop(
            contract, home, options, echo=lambda _line: None, progress=_record_progress
        )
        (written,) = home.contract_paths()
        PROGRESS.append(("contract starts", load_contract(written).partitioning.start))
        return result


PROGRESS: list[tuple] = []


def _record_progress(what: str, done: int, total: int) -> None:
    PROGRESS.append((what, done, total))


@pytest.mark.slow
def test_timeline_has_one_row_per_simulated_day(loop):
    expected = [(START + timedelta(days=BACKFILL_DAYS + i)).isoformat() for i in range(DAILY_DAYS)]
    assert loop.timeline.get_column("day").to_list() == expected
    assert loop.timeline.get_column("champion").null_count() == 0


@pytest.mark.slow
def test_some_days_pass_without_a_retrain(loop):
    quiet = loop.timeline.filter(pl.col("decision") == "no retrain")
    assert quiet.height > 0
    assert quiet.get_column("retrain_run_id").null_count() == quiet.height
    # the sensor's reason is recorded for days without a retrain too
    assert quiet.get_column("reason").null_count() == 0


@pytest.mark.slow
def test_drift_triggers_a_retrain_that_passes_the_gate(loop):
    drift_start = (START + timedelta(days=DRIFT_DAY)).isoformat()
    drifted = loop.timeline.filter((pl.col("trigger") == "drift") & (pl.col("day") >= drift_start))
    assert drifted.height >= 1
    first = drifted.row(0, named=True)
    assert first["decision"] == "retrain" and first["gate"] == "passed"
    assert first["max_psi"] > 0.25 and first["reason"].startswith(f"drift on {first['day']}")
    assert first["champion"] == first["challenger"] > 1
    cycles = loop.cycles.filter(pl.col("trigger") == "drift")
    assert cycles.get_column("candidate_roc_auc").null_count() == 0


@pytest.mark.slow
def test_blocking_checks_stop_the_bad_partition(loop):
    bad = loop.timeline.filter(pl.col("day") == BAD_DAY).row(0, named=True)
    assert bad["blocked"] is True and "matches_schema" in bad["checks_failed"]
    assert bad["quarantined"] > 0
    assert bad["max_psi"] is None  # no features, hence no drift report, for that partition
    good = loop.timeline.filter(pl.col("day") != BAD_DAY)
    assert good.get_column("max_psi").null_count() == 0


@pytest.mark.slow
def test_report_is_one_file_with_its_plots(loop):
    text = loop.report.read_text(encoding="utf-8")
    for plot in PLOT_IDS:
        assert f'id="{plot}"' in text
    assert text.count("data:image/png;base64,") == len(PLOT_IDS)
    assert "Gate rejection rate" in text


@pytest.mark.slow
def test_evidently_html_is_rendered_for_drifted_partitions_only(loop, contract):
    from retrain_platform.defs.monitoring.drift import drift_report_path

    days = loop.timeline.filter(pl.col("max_psi").is_not_null())
    drifted = days.filter(pl.col("max_psi") > contract.policy.drift_psi_threshold)
    calm = days.filter(pl.col("max_psi") <= contract.policy.drift_psi_threshold)
    assert drifted.height > 0 and calm.height > 0
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RETRAIN_HOME", str(loop.report.parents[2]))  # <home>/reports/closed_loop/
        assert all(drift_report_path(contract, d).is_file() for d in drifted["day"])
        # a calm partition may still have drifted predictions (then it has its HTML too)
        assert not all(drift_report_path(contract, d).is_file() for d in calm["day"])


@pytest.mark.slow
def test_every_decision_row_carries_the_simulated_clock(loop, contract):
    """Gate, deployment and "no retrain" rows all read the one platform clock (simulated here)."""
    from retrain_platform.core.deployment.decisions import read_decisions
    from retrain_platform.core.lake import table_uri
    from retrain_platform.defs import model_keys as mk
    from retrain_platform.home import HomeLayout

    home = HomeLayout(loop.report.parents[2])
    history = read_decisions(table_uri(home.lake_uri, mk.DEPLOYMENT, mk.decisions_table(contract)))
    assert history.height > 0
    last = START + timedelta(days=BACKFILL_DAYS + DAILY_DAYS + 1)
    days = history.get_column("decided_at").dt.date()
    assert days.min() >= START and days.max() <= last, (days.min(), days.max())


@pytest.mark.slow
def test_progress_is_reported_per_backfilled_partition_and_per_day(loop):
    assert PROGRESS == [
        *((VALIDATING, i, BACKFILL_DAYS) for i in range(1, BACKFILL_DAYS + 1)),
        *((DAYS, i, DAILY_DAYS) for i in range(1, DAILY_DAYS + 1)),
        ("contract starts", START),  # the home's contract: partitions from the data's first day
    ]


@pytest.mark.slow
def test_the_recovery_after_the_onset_is_counted_on_the_live_roc_auc(loop):
    onset = (START + timedelta(days=DRIFT_DAY)).isoformat()
    assert loop.onset == onset
    days = loop.timeline.get_column("day").to_list()
    live = loop.timeline.get_column("live_roc_auc").to_list()
    at = days.index(onset)
    baseline = [v for v in live[max(0, at - 7) : at] if v is not None]
    if loop.recovery_days is None:  # never two good days running after the onset
        bar = sum(baseline) / len(baseline) - 0.03 if baseline else None
        after = live[at:]
        assert bar is None or not any(
            a is not None and b is not None and a >= bar and b >= bar
            for a, b in zip(after, after[1:], strict=False)
        )
    else:
        recovered = live[at + loop.recovery_days : at + loop.recovery_days + 2]
        assert all(v is not None and v >= sum(baseline) / len(baseline) - 0.03 for v in recovered)
